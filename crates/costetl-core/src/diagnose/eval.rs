//! The evaluation: each check's answer turned into outcomes, per cluster.
//! Pure: the answers come in, the outcomes go out. One file per family of
//! checks implements its part of [`Eval`].

use std::collections::BTreeMap;

use super::answers::Answers;
use super::outcome::{CheckOutcome, Diagnosis, Status};
use super::plan::{Check, DiagnoseOptions, Kind, Subject, SubjectSource, checks};
use super::probe;
use super::scope::Scope;
use super::text::{count, value};
use crate::plan::EngineConfig;
use crate::plan::promql::dur;

pub(super) struct Eval<'a> {
    pub(super) cfg: &'a EngineConfig,
    pub(super) answers: &'a Answers,
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

    /// The clusters to report a culprit-finding check on: every cluster in
    /// scope and any other with culprits; the whole backend (`None`) when
    /// there is none at all.
    pub(super) fn report_keys<T>(
        &self,
        found: &BTreeMap<Option<String>, T>,
    ) -> Vec<Option<String>> {
        let keys = self.scope.keys(found);
        if keys.is_empty() { vec![None] } else { keys }
    }

    /// The clusters in scope with any series of the presence checks.
    fn clusters_found(&self, checks: &[Check]) -> Vec<String> {
        let presence: Vec<&str> = checks
            .iter()
            .filter(|c| matches!(c.kind, Kind::Presence(_)))
            .map(|c| c.query.id.as_str())
            .collect();
        self.scope
            .clusters
            .iter()
            .filter(|cl| self.sum(&presence, Some(cl)).is_ok_and(|n| n > 0.0))
            .cloned()
            .collect()
    }

    /// How big subject `s` is in `cluster` (in every cluster for `None`):
    /// series or nodes summed over its answers, or why that is unknown.
    fn subject_size(&self, s: &Subject, cluster: Option<&str>) -> Result<f64, String> {
        let ids: Vec<&str> = match &s.source {
            SubjectSource::Presence(ids) => ids.clone(),
            SubjectSource::Query(q) => vec![q.id.as_str()],
        };
        self.sum(&ids, cluster)
    }

    /// The values of the answers to `ids` in `cluster` (every cluster for
    /// `None`), summed: counts of series or nodes. An error only when none
    /// has any and a query failed.
    pub(super) fn sum(&self, ids: &[&str], cluster: Option<&str>) -> Result<f64, String> {
        let mut n = 0.0;
        let mut failed = None;
        for &id in ids {
            let r = match self.answers.get(id) {
                Ok(r) => r,
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
            };
            for series in &r.series {
                let mine = self.scope.cluster_of(series);
                if cluster.is_none() || mine.as_deref() == cluster {
                    n += value(series);
                }
            }
        }
        // One answer with series is enough; none, with a query failed, is
        // unknown.
        match failed {
            Some(e) if n <= 0.0 => Err(e),
            _ => Ok(n),
        }
    }

    /// The outcome where `c` found no culprit in `cluster`: `pass(size of
    /// the subject, lookback)` when it had a subject to look at; otherwise
    /// `absent`, saying what was missing, since a check that looked at
    /// nothing has not passed.
    pub(super) fn clean(
        &mut self,
        c: &Check,
        cluster: Option<&str>,
        absent: Status,
        pass: impl FnOnce(&str, &str) -> String,
    ) {
        let Some(s) = &c.subject else {
            // Every culprit-finding check has a subject; one without would
            // pass as checks did before subjects.
            let detail = pass("", &self.lookback);
            return self.push(c, cluster, Status::Pass, detail);
        };
        let (status, detail) = match self.subject_size(s, cluster) {
            Ok(n) if n > 0.0 => (Status::Pass, pass(&count(n), &self.lookback)),
            Ok(_) => (
                absent,
                format!(
                    "not checked: no {} in the last {}, so there was nothing to check{}",
                    s.what,
                    self.lookback,
                    see(&s.source)
                ),
            ),
            Err(e) => (absent, format!("not checked: {e}")),
        };
        let query = match &s.source {
            SubjectSource::Query(q) if status != Status::Pass => Some(q.promql.clone()),
            _ => None,
        };
        self.push(c, cluster, status, detail);
        if let (Some(q), Some(o)) = (query, self.out.last_mut()) {
            // The query that came back empty is the one to reproduce.
            o.query = q;
        }
    }
}

/// Where to look next when a subject is missing.
fn see(source: &SubjectSource) -> String {
    match source {
        SubjectSource::Presence(ids) if ids.len() <= 2 => format!(" (see {})", ids.join(", ")),
        SubjectSource::Presence(_) => " (see the presence checks)".to_owned(),
        SubjectSource::Query(_) => String::new(),
    }
}

/// Evaluate the checks of `cfg` and `opts` on the answers to
/// [`queries`](super::queries): outcomes in check order, clusters sorted
/// within a check. When the connectivity query failed (or has no answer),
/// only its outcome. Any other query without an answer, or whose answer
/// is an error, is a failed check naming the error.
pub fn evaluate(cfg: &EngineConfig, opts: &DiagnoseOptions, answers: &Answers) -> Diagnosis {
    let checks = checks(cfg, opts);
    let mut e = Eval {
        cfg,
        answers,
        lookback: dur(opts.lookback),
        scope: Scope::new(cfg, &checks, answers),
        out: Vec::new(),
    };
    for c in &checks {
        let r = match answers.get(&c.query.id) {
            Ok(r) => r,
            Err(err) if matches!(c.kind, Kind::Connectivity) => {
                e.unreachable(c, &err, answers.error(&c.query.id));
                return Diagnosis {
                    clusters: Vec::new(),
                    outcomes: e.out,
                    hint: None,
                };
            }
            Err(err) => {
                e.push(c, None, Status::Fail, format!("query failed: {err}"));
                continue;
            }
        };
        match &c.kind {
            Kind::Connectivity => e.connected(c),
            Kind::Presence(m) => e.presence(c, m, r),
            Kind::KsmVersion => e.ksm_version(c, r),
            Kind::ClusterLabel => e.cluster_label(c, r),
            Kind::Duplicates(d) => e.duplicates(c, d, r),
            Kind::NodePrices => e.node_prices(c, r),
            Kind::GpuCapacity(nodes) => e.gpu_capacity(c, nodes, r),
            Kind::PodUid => e.pod_uid(c, r),
            Kind::RecordingRule(rule) => e.recording_rule(c, rule, r),
        }
    }
    let hint =
        probe::found_nothing(&checks, answers).then(|| probe::hint(opts.at, &e.lookback, answers));
    Diagnosis {
        clusters: e.clusters_found(&checks),
        outcomes: e.out,
        hint,
    }
}
