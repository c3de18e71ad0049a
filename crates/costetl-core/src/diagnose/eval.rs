//! The evaluation: each check's answer turned into outcomes, per cluster.
//! Pure: the answers come in, the outcomes go out. One file per family of
//! checks implements its part of [`Eval`].

use super::answers::Answers;
use super::outcome::{CheckOutcome, Status};
use super::plan::{Check, DiagnoseOptions, Kind, checks};
use super::scope::Scope;
use crate::plan::EngineConfig;
use crate::plan::promql::dur;

pub(super) struct Eval<'a> {
    pub(super) cfg: &'a EngineConfig,
    pub(super) lookback: String,
    pub(super) scope: Scope<'a>,
    pub(super) out: Vec<CheckOutcome>,
}

impl Eval<'_> {
    pub(super) fn push(
        &mut self,
        c: &Check,
        cluster: Option<&str>,
        status: Status,
        detail: String,
    ) {
        let name = match cluster {
            Some(cl) => format!("cluster {cl}: {}", c.title),
            None => c.title.clone(),
        };
        self.out.push(CheckOutcome {
            check: c.id.to_owned(),
            cluster: cluster.map(str::to_owned),
            name,
            status,
            detail,
            query: c.query.promql.clone(),
        });
    }
}

/// Evaluate the checks of `cfg` and `opts` on the answers to
/// [`queries`](super::queries): outcomes in check order, clusters sorted within a check.
/// A query without an answer, or whose answer is an error, is a failed
/// check naming the error.
pub fn evaluate(
    cfg: &EngineConfig,
    opts: &DiagnoseOptions,
    answers: &Answers,
) -> Vec<CheckOutcome> {
    let checks = checks(cfg, opts);
    let mut e = Eval {
        cfg,
        lookback: dur(opts.lookback),
        scope: Scope::new(cfg, &checks, answers),
        out: Vec::new(),
    };
    for c in &checks {
        let r = match answers.get(&c.query.id) {
            Ok(r) => r,
            Err(err) => {
                e.push(c, None, Status::Fail, format!("query failed: {err}"));
                continue;
            }
        };
        match &c.kind {
            Kind::Presence(m) => e.presence(c, m, r),
            Kind::KsmVersion => e.ksm_version(c, r),
            Kind::ClusterLabel => e.cluster_label(c, r),
            Kind::Duplicates(d) => e.duplicates(c, d, r),
            Kind::NodePrices => e.node_prices(c, r),
            Kind::PodUid => e.pod_uid(c, r),
            Kind::RecordingRule(rule) => e.recording_rule(c, rule, r),
        }
    }
    e.out
}
