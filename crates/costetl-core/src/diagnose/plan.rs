//! The plan: one instant query per check, built from the engine
//! configuration and the options (evaluation time, lookback, recording
//! rules).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::catalog::*;
use crate::error::{Error, Result};
use crate::plan::EngineConfig;
use crate::plan::promql::{Selectors, dur, quote};
use crate::source::{QueryKind, QuerySpec};

/// What to diagnose besides the engine configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagnoseOptions {
    /// When the queries are evaluated (the core never reads the clock).
    pub at: DateTime<Utc>,
    /// How far back a series counts as present (default one hour).
    pub lookback: TimeDelta,
    /// Recording rules that must have series, e.g.
    /// [`SEED_RECORDING_RULES`]. Not filtered by cluster: rules usually
    /// aggregate the cluster label away.
    pub recording_rules: Vec<String>,
}

impl DiagnoseOptions {
    /// Options evaluated at `at`, looking back one hour, no recording
    /// rules.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            at,
            lookback: TimeDelta::hours(1),
            recording_rules: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(super) enum Kind {
    Presence(&'static Metric),
    KsmVersion,
    ClusterLabel,
    Duplicates(&'static Dup),
    NodePrices,
    PodUid,
    RecordingRule(String),
}

/// One check and the query it runs.
#[derive(Debug)]
pub(super) struct Check {
    pub(super) id: &'static str,
    pub(super) title: String,
    pub(super) kind: Kind,
    pub(super) query: QuerySpec,
}

/// The pieces every query is built from.
pub(super) struct Builder<'a> {
    pub(super) k: &'a str,
    pub(super) s: Selectors,
    pub(super) lookback: String,
    pub(super) step: String,
}

impl Builder<'_> {
    /// `{matchers…, <cluster filter>}`, or nothing.
    pub(super) fn sel(&self, matchers: &[&str]) -> String {
        self.s.sel(matchers)
    }

    pub(super) fn last(&self, metric: &str, matchers: &[&str]) -> String {
        format!(
            "last_over_time({metric}{}[{}])",
            self.sel(matchers),
            self.lookback
        )
    }
}

pub(super) fn checks(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Vec<Check> {
    let k = cfg.cluster_label.as_str();
    let b = Builder {
        k,
        s: Selectors::new(cfg),
        lookback: dur(opts.lookback),
        step: dur(cfg.resolution),
    };
    let spec = |id: String, promql: String| QuerySpec {
        id,
        promql,
        kind: QueryKind::Instant { time: opts.at },
    };
    let mut out = Vec::new();
    let presence = |m: &'static Metric| Check {
        id: m.id,
        title: m.metric.to_owned(),
        kind: Kind::Presence(m),
        query: spec(
            m.id.to_owned(),
            format!("count by ({}) ({})", b.k, b.last(m.metric, m.matchers)),
        ),
    };
    let regex = |names: &[&str]| format!("__name__=~{}", quote(&names.join("|")));

    out.extend(PRESENCE[..6].iter().map(presence));
    let versions: Vec<&str> = KSM_V2.iter().chain(KSM_V1).copied().collect();
    out.push(Check {
        id: "ksm_version",
        title: "kube-state-metrics version".to_owned(),
        kind: Kind::KsmVersion,
        query: spec(
            "ksm_version".to_owned(),
            format!(
                "count by ({k}, __name__) ({})",
                b.last("", &[&regex(&versions)])
            ),
        ),
    });
    out.extend(PRESENCE[6..].iter().map(presence));

    // Not filtered by cluster: what lacks the label is what is looked for.
    out.push(Check {
        id: "cluster_label",
        title: format!("{k} label on every series"),
        kind: Kind::ClusterLabel,
        query: spec(
            "cluster_label".to_owned(),
            format!(
                "count by (__name__) (last_over_time({{{}, {k}=\"\"}}[{}]))",
                regex(FAMILIES),
                b.lookback
            ),
        ),
    });

    for d in [&DUP_KSM, &DUP_CADVISOR] {
        let key = std::iter::once(k)
            .chain(d.key.iter().copied())
            .collect::<Vec<_>>()
            .join(", ");
        let m = format!("{}{}", d.metric, b.sel(d.matchers));
        out.push(Check {
            id: d.id,
            title: d.title.to_owned(),
            kind: Kind::Duplicates(d),
            query: spec(
                d.id.to_owned(),
                format!(
                    "last_over_time(({m} and on ({key}) (count by ({key}) ({m}) > 1))[{}:{}])",
                    b.lookback, b.step
                ),
            ),
        });
    }

    out.push(Check {
        id: "node_prices",
        title: "node prices".to_owned(),
        kind: Kind::NodePrices,
        query: spec(
            "node_prices".to_owned(),
            format!(
                "group by ({k}, node) ({}) unless on ({k}, node) {}",
                b.last("kube_node_info", &[]),
                b.last("node_cpu_hourly_cost", &[])
            ),
        ),
    });

    out.push(Check {
        id: "pod_uid",
        title: "pod uid on kube-state-metrics series".to_owned(),
        kind: Kind::PodUid,
        query: spec(
            "pod_uid".to_owned(),
            format!(
                "count by ({k}, __name__) ({})",
                b.last("", &[&regex(UID_FAMILIES), "uid=\"\""])
            ),
        ),
    });

    let mut seen = BTreeSet::new();
    for rule in &opts.recording_rules {
        if !seen.insert(rule.as_str()) {
            continue;
        }
        out.push(Check {
            id: "recording_rule",
            title: format!("recording rule {rule}"),
            kind: Kind::RecordingRule(rule.clone()),
            query: spec(
                format!("recording_rule:{rule}"),
                format!(
                    "count(last_over_time({{__name__={}}}[{}]))",
                    quote(rule),
                    b.lookback
                ),
            ),
        });
    }
    out
}

pub(super) fn validate(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidWindow {
            input: format!("{} back from {}", dur(opts.lookback), opts.at.to_rfc3339()),
            reason,
        })
    };
    if opts.lookback <= TimeDelta::zero() {
        return invalid("the lookback must be positive".to_owned());
    }
    if cfg.resolution <= TimeDelta::zero() || cfg.resolution > opts.lookback {
        return invalid(format!(
            "the resolution {} must be positive and at most the lookback",
            dur(cfg.resolution)
        ));
    }
    if let Some(r) = opts.recording_rules.iter().find(|r| r.trim().is_empty()) {
        return invalid(format!("recording rule name {r:?} is empty"));
    }
    Ok(())
}

/// The queries of the diagnosis, one per check (ids are unique).
pub fn queries(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Result<Vec<QuerySpec>> {
    validate(cfg, opts)?;
    Ok(checks(cfg, opts).into_iter().map(|c| c.query).collect())
}
