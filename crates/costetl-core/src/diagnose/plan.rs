//! The plan: the PromQL of every check (one instant query each, and for
//! some a count of what they look at), built from the engine configuration
//! and the options (evaluation time, lookback, recording rules).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::catalog::*;
use super::connectivity;
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
    Connectivity,
    Presence(&'static Metric),
    KsmVersion,
    ClusterLabel,
    Duplicates(&'static Dup),
    NodePrices,
    /// With the query counting the nodes that need GPU capacity.
    GpuCapacity(QuerySpec),
    PodUid,
    RecordingRule(String),
}

/// What a check looks at. A check that looks for culprits (duplicates,
/// unpriced nodes, nodes without GPU capacity, series without a label)
/// and finds none has passed only if there was something to look at:
/// without its subject it has checked nothing, which is not a pass.
#[derive(Debug)]
pub(super) struct Subject {
    /// For people: `kube_pod_container_status_running series`.
    pub(super) what: &'static str,
    pub(super) source: SubjectSource,
}

/// Where a subject's size per cluster comes from.
#[derive(Debug)]
pub(super) enum SubjectSource {
    /// The answers of these presence checks (no query of its own).
    Presence(Vec<&'static str>),
    /// A `count by (<cluster label>)` query of its own.
    Query(QuerySpec),
}

/// One check and the query it runs.
#[derive(Debug)]
pub(super) struct Check {
    pub(super) id: &'static str,
    pub(super) title: String,
    pub(super) kind: Kind,
    pub(super) query: QuerySpec,
    /// `None` for the checks that are about presence themselves.
    pub(super) subject: Option<Subject>,
}

impl Check {
    /// The check's query, then any query of its own that it needs.
    pub(super) fn into_queries(self) -> Vec<QuerySpec> {
        let mut out = vec![self.query];
        if let Some(Subject {
            source: SubjectSource::Query(q),
            ..
        }) = self.subject
        {
            out.push(q);
        }
        if let Kind::GpuCapacity(q) = self.kind {
            out.push(q);
        }
        out
    }
}

/// The pieces every query is built from.
pub(super) struct Builder<'a> {
    pub(super) k: &'a str,
    pub(super) s: Selectors,
    pub(super) lookback: String,
    pub(super) step: String,
    pub(super) at: DateTime<Utc>,
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

    /// An instant query at the evaluation time.
    pub(super) fn spec(&self, id: impl Into<String>, promql: String) -> QuerySpec {
        QuerySpec {
            id: id.into(),
            promql,
            kind: QueryKind::Instant { time: self.at },
        }
    }

    /// A check without a subject of its own.
    pub(super) fn check(
        &self,
        id: &'static str,
        title: String,
        kind: Kind,
        promql: String,
    ) -> Check {
        Check {
            id,
            title,
            kind,
            query: self.spec(id, promql),
            subject: None,
        }
    }
}

/// `__name__=~"a|b|…"`.
fn names(names: &[&str]) -> String {
    format!("__name__=~{}", quote(&names.join("|")))
}

/// Every check, in the order they are reported.
pub(super) fn checks(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Vec<Check> {
    let b = Builder {
        k: cfg.cluster_label.as_str(),
        s: Selectors::new(cfg),
        lookback: dur(opts.lookback),
        step: dur(cfg.resolution),
        at: opts.at,
    };
    // The version check right after the kube-state-metrics families.
    let (ksm, cost) = PRESENCE.split_at(
        PRESENCE
            .iter()
            .position(|m| m.id.starts_with("cost_"))
            .unwrap_or(PRESENCE.len()),
    );
    let mut out = vec![connectivity::check(&b)];
    out.extend(ksm.iter().map(|m| presence(&b, m)));
    out.push(ksm_version(&b));
    out.extend(cost.iter().map(|m| presence(&b, m)));
    out.push(cluster_label(&b));
    out.extend([&DUP_KSM, &DUP_CADVISOR].map(|d| duplicates(&b, d)));
    out.push(node_prices(&b));
    out.push(gpu_capacity(&b));
    out.push(pod_uid(&b));
    out.extend(recording_rules(&b, &opts.recording_rules));
    out
}

fn presence(b: &Builder<'_>, m: &'static Metric) -> Check {
    let promql = format!("count by ({}) ({})", b.k, b.last(m.metric, m.matchers));
    b.check(m.id, m.metric.to_owned(), Kind::Presence(m), promql)
}

fn ksm_version(b: &Builder<'_>) -> Check {
    let versions: Vec<&str> = KSM_V2.iter().chain(KSM_V1).copied().collect();
    let promql = format!(
        "count by ({}, __name__) ({})",
        b.k,
        b.last("", &[&names(&versions)])
    );
    let title = "kube-state-metrics version".to_owned();
    b.check("ksm_version", title, Kind::KsmVersion, promql)
}

fn cluster_label(b: &Builder<'_>) -> Check {
    let k = b.k;
    // Not filtered by cluster: what lacks the label is what is looked for.
    let promql = format!(
        "count by (__name__) (last_over_time({{{}, {k}=\"\"}}[{}]))",
        names(FAMILIES),
        b.lookback
    );
    let title = format!("{k} label on every series");
    let mut c = b.check("cluster_label", title, Kind::ClusterLabel, promql);
    // The presence checks' answers stand for "series of the families":
    // counting every series of every family again would cost the backend
    // as much as the label check itself.
    c.subject = Some(Subject {
        what: "series of the families costetl reads",
        source: SubjectSource::Presence(PRESENCE.iter().map(|m| m.id).collect()),
    });
    c
}

fn duplicates(b: &Builder<'_>, d: &'static Dup) -> Check {
    let key = std::iter::once(b.k)
        .chain(d.key.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    let m = format!("{}{}", d.metric, b.sel(d.matchers));
    let promql = format!(
        "last_over_time(({m} and on ({key}) (count by ({key}) ({m}) > 1))[{}:{}])",
        b.lookback, b.step
    );
    let mut c = b.check(d.id, d.title.to_owned(), Kind::Duplicates(d), promql);
    c.subject = Some(Subject {
        what: d.subject_what,
        source: SubjectSource::Presence(vec![d.subject]),
    });
    c
}

/// The nodes kube-state-metrics knows: `kube_node_info`, or the engine's
/// own node list (the CPU capacity) where `kube_node_info` is dropped.
fn ksm_nodes(b: &Builder<'_>) -> String {
    format!(
        "group by ({k}, node) ({} or {})",
        b.last("kube_node_info", &[]),
        b.last("kube_node_status_capacity", &["resource=\"cpu\""]),
        k = b.k
    )
}

fn node_prices(b: &Builder<'_>) -> Check {
    let k = b.k;
    let promql = format!(
        "{} unless on ({k}, node) {}",
        ksm_nodes(b),
        b.last("node_cpu_hourly_cost", &[])
    );
    let mut c = b.check(
        "node_prices",
        "node prices".to_owned(),
        Kind::NodePrices,
        promql,
    );
    c.subject = Some(Subject {
        what: "nodes in kube_node_info or kube_node_status_capacity",
        source: SubjectSource::Query(b.spec(
            "node_prices:nodes",
            format!("count by ({k}) ({})", ksm_nodes(b)),
        )),
    });
    c
}

/// Nodes that need GPU capacity, tagged `need="price"` (a GPU price
/// above 0) or `need="requests"` (GPU requests of pods placed on them).
fn gpu_need(b: &Builder<'_>) -> String {
    let tag = |promql: String, need: &str| {
        format!("label_replace({promql} > 0, \"need\", \"{need}\", \"\", \"\")")
    };
    let max = |metric: &str, matchers: &[&str]| {
        format!("max_over_time({metric}{}[{}])", b.sel(matchers), b.lookback)
    };
    format!(
        "max by ({}, node, need) ({} or {})",
        b.k,
        tag(max("node_gpu_hourly_cost", &[]), "price"),
        tag(
            max(
                "kube_pod_container_resource_requests",
                &["node!=\"\"", "resource=\"nvidia_com_gpu\""]
            ),
            "requests"
        )
    )
}

/// The GPU capacity the engine sees per node: the cost exporter's
/// `node_gpu_count` where it is exported (it wins, a 0 included), else
/// kube-state-metrics' capacity (see `engine::inputs`).
fn gpu_capacity_seen(b: &Builder<'_>) -> String {
    let k = b.k;
    format!(
        "max by ({k}, node) (max_over_time(node_gpu_count{}[{lb}])) or max by ({k}, node) \
         (max_over_time(kube_node_status_capacity{}[{lb}]))",
        b.sel(&[]),
        b.sel(&["resource=\"nvidia_com_gpu\""]),
        lb = b.lookback
    )
}

fn gpu_capacity(b: &Builder<'_>) -> Check {
    let k = b.k;
    let need = gpu_need(b);
    let promql = format!(
        "{need} unless on ({k}, node) (({}) > 0)",
        gpu_capacity_seen(b)
    );
    let nodes = b.spec(
        "gpu_capacity:nodes",
        format!("count by ({k}) (group by ({k}, node) ({need}))"),
    );
    let title = "GPU capacity".to_owned();
    let mut c = b.check("gpu_capacity", title, Kind::GpuCapacity(nodes), promql);
    // Without requests and prices there is no telling whether GPUs are
    // used at all.
    c.subject = Some(Subject {
        what: "kube_pod_container_resource_requests or node_cpu_hourly_cost series",
        source: SubjectSource::Presence(vec!["ksm_requests", "cost_node_cpu"]),
    });
    c
}

fn pod_uid(b: &Builder<'_>) -> Check {
    let promql = format!(
        "count by ({}, __name__) ({})",
        b.k,
        b.last("", &[&names(UID_FAMILIES), "uid=\"\""])
    );
    let title = "pod uid on kube-state-metrics series".to_owned();
    let mut c = b.check("pod_uid", title, Kind::PodUid, promql);
    c.subject = Some(Subject {
        what: "kube_pod_info or kube_pod_container_resource_requests series",
        source: SubjectSource::Presence(vec!["ksm_pod_info", "ksm_requests"]),
    });
    c
}

/// One check per distinct rule name.
fn recording_rules(b: &Builder<'_>, rules: &[String]) -> Vec<Check> {
    let mut seen = BTreeSet::new();
    rules
        .iter()
        .filter(|r| seen.insert(r.as_str()))
        .map(|rule| Check {
            id: "recording_rule",
            title: format!("recording rule {rule}"),
            kind: Kind::RecordingRule(rule.clone()),
            query: b.spec(
                format!("recording_rule:{rule}"),
                format!(
                    "count(last_over_time({{__name__={}}}[{}]))",
                    quote(rule),
                    b.lookback
                ),
            ),
            subject: None,
        })
        .collect()
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

/// The queries of the diagnosis: one per check, and the subject counts
/// some checks need (ids are unique). The first is the connectivity
/// check's: [`run`](super::run) asks it alone, and the others only if it
/// is answered.
pub fn queries(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Result<Vec<QuerySpec>> {
    validate(cfg, opts)?;
    Ok(checks(cfg, opts)
        .into_iter()
        .flat_map(Check::into_queries)
        .collect())
}
