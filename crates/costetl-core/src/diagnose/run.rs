//! Running the plan against a [`MetricsSource`]: the only async part.

use futures::stream::{self, StreamExt};

use super::answers::Answers;
use super::eval::evaluate;
use super::outcome::CheckOutcome;
use super::plan::{DiagnoseOptions, queries};
use crate::error::{Error, Result};
use crate::plan::EngineConfig;
use crate::promjson::{self, QueryResult};
use crate::source::MetricsSource;

/// Run the diagnosis against `src`: every query of [`queries`], at most
/// `cfg.concurrency` in flight, then [`evaluate`]. Fails only on invalid
/// options; a query that fails is a failed check.
pub async fn run<S: MetricsSource>(
    src: &S,
    cfg: &EngineConfig,
    opts: &DiagnoseOptions,
) -> Result<Vec<CheckOutcome>> {
    let queries = queries(cfg, opts)?;
    // Per query rather than `engine::fetch`, which stops at the first
    // failure: here a failure is an outcome.
    let answered: Vec<(String, Result<QueryResult>)> = stream::iter(&queries)
        .map(|q| async move {
            let r = match src.query(q).await {
                Ok(raw) => promjson::decode(&q.id, &raw.body),
                Err(e) => Err(Error::Source {
                    query: q.id.clone(),
                    message: e.message,
                    kind: e.kind,
                }),
            };
            (q.id.clone(), r)
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    let mut answers = Answers::default();
    for (id, r) in answered {
        answers.insert(id, r);
    }
    Ok(evaluate(cfg, opts, &answers))
}
