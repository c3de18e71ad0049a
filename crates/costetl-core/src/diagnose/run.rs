//! Running the plan against a [`MetricsSource`]: the only async part.

use futures::stream::{self, StreamExt};

use super::answers::Answers;
use super::eval::evaluate;
use super::outcome::Diagnosis;
use super::plan::{DiagnoseOptions, queries};
use super::probe::probe_query;
use crate::error::{Error, Result};
use crate::plan::EngineConfig;
use crate::promjson::{self, QueryResult};
use crate::source::{MetricsSource, QuerySpec};

/// Run the diagnosis against `src`: the connectivity query alone, then,
/// if it was answered, every other query of [`queries`] with at most
/// `cfg.concurrency` in flight, then the [`probe_query`] if every presence check
/// came back empty; then [`evaluate`]. Fails only on invalid
/// options; a query that fails is a failed check.
pub async fn run<S: MetricsSource>(
    src: &S,
    cfg: &EngineConfig,
    opts: &DiagnoseOptions,
) -> Result<Diagnosis> {
    let queries = queries(cfg, opts)?;
    let mut answers = Answers::default();
    let Some((first, rest)) = queries.split_first() else {
        return Ok(evaluate(cfg, opts, &answers));
    };
    let (id, r) = ask(src, first).await;
    let reached = r.is_ok();
    answers.insert(id, r);
    if reached {
        // Per query rather than `engine::fetch`, which stops at the first
        // failure: here a failure is an outcome.
        let answered: Vec<(String, Result<QueryResult>)> = stream::iter(rest)
            .map(|q| ask(src, q))
            .buffer_unordered(cfg.concurrency.max(1))
            .collect()
            .await;
        for (id, r) in answered {
            answers.insert(id, r);
        }
    }
    if let Some(q) = probe_query(cfg, opts, &answers) {
        let (id, r) = ask(src, &q).await;
        answers.insert(id, r);
    }
    Ok(evaluate(cfg, opts, &answers))
}

/// One query's decoded answer, or its error, by id.
async fn ask<S: MetricsSource>(src: &S, q: &QuerySpec) -> (String, Result<QueryResult>) {
    let r = match src.query(q).await {
        Ok(raw) => promjson::decode(&q.id, &raw.body),
        Err(e) => Err(Error::Source {
            query: q.id.clone(),
            message: e.message,
            kind: e.kind,
        }),
    };
    (q.id.clone(), r)
}
