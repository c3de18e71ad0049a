//! Diagnostics: is the data the engine needs in the backend, per cluster?
//!
//! The checks of the seed documents' troubleshooting sections (Kubecost's
//! "the below queries must return data", OpenCost's `RunDiagnostic`), as
//! a pure plan and a pure evaluation:
//!
//! - [`queries`] builds the PromQL from an [`EngineConfig`] (cluster label,
//!   cluster filter, resolution) and [`DiagnoseOptions`] (evaluation time,
//!   lookback, recording rules): one instant query per check, all at
//!   [`DiagnoseOptions::at`], looking back [`DiagnoseOptions::lookback`];
//! - [`evaluate`] turns the decoded answers (or the errors) into one
//!   [`CheckOutcome`] per check and cluster: pass, fail or warn, a detail
//!   naming the culprits, and the PromQL it ran;
//! - [`run`] fetches the queries from any [`MetricsSource`] with bounded
//!   concurrency and evaluates them. A query that fails is a failed check
//!   naming the error, never an abort.
//!
//! The checks (see `docs/diagnose.md` for what to do when one fails):
//!
//! | check id | what | status when not met |
//! |---|---|---|
//! | `cadvisor_memory`, `cadvisor_cpu` | cAdvisor working set and CPU counter with `container!=""` | fail |
//! | `ksm_running`, `ksm_requests`, `ksm_pod_info`, `ksm_node_capacity` | kube-state-metrics v2 series | fail |
//! | `cost_node_total`, `cost_node_cpu`, `cost_node_ram` | cost exporter node prices | fail |
//! | `cost_pv`, `cost_load_balancer`, `cost_network_*`, `network_pod_egress` | optional cost series | warn |
//! | `ksm_version` | v2 names, not v1's `kube_pod_container_resource_requests_cpu_cores` | fail (v1 only), warn (both) |
//! | `cluster_label` | every series the engine reads carries the cluster label | fail (mixed), warn (none at all) |
//! | `duplicate_ksm` | one running series per container at any instant | fail |
//! | `duplicate_cadvisor` | one working-set series per container at any instant | warn |
//! | `node_prices` | every node in `kube_node_info` has `node_cpu_hourly_cost` | fail |
//! | `pod_uid` | pod info, requests and volume mounts carry the pod `uid` (kube-state-metrics v2) | warn |
//! | `recording_rule` | each configured recording rule has series | fail |
//!
//! Clusters are the values of the cluster label found by the presence
//! queries (`count by (<cluster label>)` over the lookback), or only the
//! filtered cluster with a cluster filter. Series without the label count
//! for the configured default cluster where the engine would join them
//! correctly (no series carries the label at all, or the default cluster is
//! one of the labelled ones); otherwise they are named as unattributed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt};

use crate::error::{Error, Result};
use crate::plan::EngineConfig;
use crate::plan::promql::{Selectors, dur, quote};
use crate::promjson::{self, QueryResult, Series};
use crate::source::{MetricsSource, QueryKind, QuerySpec};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The data is there.
    Pass,
    /// Something optional is missing, or a problem the engine works around.
    Warn,
    /// Costs will be wrong or missing until this is fixed.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check for one cluster (or for the whole backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Stable id of the check (`cadvisor_memory`, `duplicate_ksm`, …; see
    /// the module docs).
    pub check: String,
    /// The cluster the outcome is about, when the check is per cluster.
    pub cluster: Option<String>,
    /// What was checked, for people: `cluster a: container_memory_working_set_bytes`.
    pub name: String,
    /// Pass, warn or fail.
    pub status: Status,
    /// What was found, naming the culprits and the consequence.
    pub detail: String,
    /// The PromQL that was run.
    pub query: String,
}

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

/// The kube-state-metrics families the engine joins by pod uid.
const UID_FAMILIES: &[&str] = &[
    "kube_pod_info",
    "kube_pod_container_resource_requests",
    "kube_pod_spec_volumes_persistentvolumeclaims_info",
];

/// The recording rules the seed documents (Kubecost's AMP guide) suggest.
pub const SEED_RECORDING_RULES: &[&str] = &[
    "cluster:cpu_usage:rate5m",
    "cluster:cpu_usage_nosum:rate5m",
    "kubecost_container_cpu_usage_irate",
    "kubecost_container_memory_working_set_bytes",
    "kubecost_cluster_memory_working_set_bytes",
    "kubecost_savings_cpu_allocation",
    "kubecost_savings_memory_allocation_bytes",
];

/// Every series family the engine reads (`docs/metrics.md`), for the
/// cluster-label check (and for tests that need the whole list).
pub const FAMILIES: &[&str] = &[
    "kube_pod_info",
    "kube_pod_container_status_running",
    "kube_pod_container_state_started",
    "kube_pod_completion_time",
    "kube_pod_container_resource_requests",
    "kube_pod_labels",
    "kube_pod_annotations",
    "kube_namespace_labels",
    "kube_namespace_annotations",
    "kube_pod_owner",
    "kube_replicaset_owner",
    "kube_node_status_capacity",
    "kube_node_info",
    "kube_node_labels",
    "kube_persistentvolume_capacity_bytes",
    "kube_persistentvolumeclaim_info",
    "kube_persistentvolumeclaim_resource_requests_storage_bytes",
    "kube_pod_spec_volumes_persistentvolumeclaims_info",
    "service_selector_labels",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_gpu_hourly_cost",
    "node_total_hourly_cost",
    "node_gpu_count",
    "kubecost_node_is_spot",
    "pv_hourly_cost",
    "kubecost_load_balancer_cost",
    "kubecost_network_zone_egress_cost",
    "kubecost_network_region_egress_cost",
    "kubecost_network_internet_egress_cost",
    "kubecost_pod_network_egress_bytes_total",
];

/// kube-state-metrics v2 names the engine reads, for the version check.
const KSM_V2: &[&str] = &[
    "kube_pod_container_resource_requests",
    "kube_node_status_capacity",
];

/// kube-state-metrics v1 names (removed in v2).
const KSM_V1: &[&str] = &[
    "kube_pod_container_resource_requests_cpu_cores",
    "kube_pod_container_resource_requests_memory_bytes",
    "kube_node_status_capacity_cpu_cores",
    "kube_node_status_capacity_memory_bytes",
];

/// A series family that must (or should) be present in every cluster.
#[derive(Debug)]
struct Metric {
    id: &'static str,
    metric: &'static str,
    matchers: &'static [&'static str],
    required: bool,
    /// What goes wrong without it, and where it comes from.
    missing: &'static str,
}

const NOT_CONTAINER_OR_POD: &[&str] = &["container!=\"\"", "container!=\"POD\""];

const PRESENCE: &[Metric] = &[
    Metric {
        id: "cadvisor_memory",
        metric: "container_memory_working_set_bytes",
        matchers: NOT_CONTAINER_OR_POD,
        required: true,
        missing: "RAM usage is unknown (cAdvisor via the kubelet's /metrics/cadvisor is not \
                  scraped, or its series lack the container label)",
    },
    Metric {
        id: "cadvisor_cpu",
        metric: "container_cpu_usage_seconds_total",
        matchers: NOT_CONTAINER_OR_POD,
        required: true,
        missing: "CPU usage is unknown (cAdvisor via the kubelet's /metrics/cadvisor is not \
                  scraped, or its series lack the container label)",
    },
    Metric {
        id: "ksm_running",
        metric: "kube_pod_container_status_running",
        matchers: &[],
        required: true,
        missing: "no container is known to run, so nothing is allocated (kube-state-metrics \
                  is not scraped)",
    },
    Metric {
        id: "ksm_requests",
        metric: "kube_pod_container_resource_requests",
        matchers: &[],
        required: true,
        missing: "requests are unknown, only usage is charged (kube-state-metrics v2 is not \
                  scraped; see the kube-state-metrics version check)",
    },
    Metric {
        id: "ksm_pod_info",
        metric: "kube_pod_info",
        matchers: &["node!=\"\""],
        required: true,
        missing: "pods cannot be placed on nodes, so nothing is allocated \
                  (kube-state-metrics is not scraped)",
    },
    Metric {
        id: "ksm_node_capacity",
        metric: "kube_node_status_capacity",
        matchers: &[],
        required: true,
        missing: "node capacity is unknown, so no idle cost is computed (kube-state-metrics \
                  v2 is not scraped)",
    },
    Metric {
        id: "cost_node_total",
        metric: "node_total_hourly_cost",
        matchers: &[],
        required: true,
        missing: "the cost exporter (OpenCost/Kubecost) is not scraped for this cluster",
    },
    Metric {
        id: "cost_node_cpu",
        metric: "node_cpu_hourly_cost",
        matchers: &[],
        required: true,
        missing: "nodes are priced at the default prices (the cost exporter is not scraped \
                  for this cluster)",
    },
    Metric {
        id: "cost_node_ram",
        metric: "node_ram_hourly_cost",
        matchers: &[],
        required: true,
        missing: "nodes are priced at the default prices (the cost exporter is not scraped \
                  for this cluster)",
    },
    Metric {
        id: "cost_pv",
        metric: "pv_hourly_cost",
        matchers: &[],
        required: false,
        missing: "optional: persistent volumes cost nothing",
    },
    Metric {
        id: "cost_load_balancer",
        metric: "kubecost_load_balancer_cost",
        matchers: &[],
        required: false,
        missing: "optional: load balancers cost nothing",
    },
    Metric {
        id: "cost_network_zone",
        metric: "kubecost_network_zone_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: cross-zone egress costs nothing",
    },
    Metric {
        id: "cost_network_region",
        metric: "kubecost_network_region_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: cross-region egress costs nothing",
    },
    Metric {
        id: "cost_network_internet",
        metric: "kubecost_network_internet_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: internet egress costs nothing",
    },
    Metric {
        id: "network_pod_egress",
        metric: "kubecost_pod_network_egress_bytes_total",
        matchers: &[],
        required: false,
        missing: "optional: no network traffic per pod (the network-costs daemonset is not \
                  scraped), so network cost is not allocated",
    },
];

/// A family that must have one series per object at any instant.
#[derive(Debug)]
struct Dup {
    id: &'static str,
    title: &'static str,
    metric: &'static str,
    matchers: &'static [&'static str],
    /// Labels identifying the object, besides the cluster label.
    key: &'static [&'static str],
    status: Status,
    cause: &'static str,
}

const DUP_KSM: Dup = Dup {
    id: "duplicate_ksm",
    title: "duplicate kube-state-metrics series",
    metric: "kube_pod_container_status_running",
    matchers: &[],
    key: &["namespace", "pod", "uid", "container"],
    status: Status::Fail,
    cause: "two kube-state-metrics (replicas or releases) are scraped, or an HA Prometheus \
            pair is queried without deduplication; costetl counts each container once, \
            but sums over these series (dashboards, OpenCost's sum-based queries) double",
};

const DUP_CADVISOR: Dup = Dup {
    id: "duplicate_cadvisor",
    title: "duplicate cAdvisor series",
    metric: "container_memory_working_set_bytes",
    matchers: NOT_CONTAINER_OR_POD,
    key: &["namespace", "pod", "container", "node"],
    status: Status::Warn,
    cause: "the kubelet's cAdvisor endpoint is scraped by two jobs (e.g. \
            kubernetes-nodes-cadvisor and kubelet); costetl takes the maximum, sums double",
};

#[derive(Debug)]
enum Kind {
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
struct Check {
    id: &'static str,
    title: String,
    kind: Kind,
    query: QuerySpec,
}

/// The pieces every query is built from.
struct Builder<'a> {
    k: &'a str,
    s: Selectors,
    lookback: String,
    step: String,
}

impl Builder<'_> {
    /// `{matchers…, <cluster filter>}`, or nothing.
    fn sel(&self, matchers: &[&str]) -> String {
        self.s.sel(matchers)
    }

    fn last(&self, metric: &str, matchers: &[&str]) -> String {
        format!(
            "last_over_time({metric}{}[{}])",
            self.sel(matchers),
            self.lookback
        )
    }
}

#[allow(clippy::too_many_lines, reason = "split by the diagnose rewrite")]
fn checks(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Vec<Check> {
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

fn validate(cfg: &EngineConfig, opts: &DiagnoseOptions) -> Result<()> {
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

/// The decoded answer (or the error) of each query, by query id.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    by_id: HashMap<String, Result<QueryResult>>,
}

impl Answers {
    /// Record the outcome of query `id`.
    pub fn insert(&mut self, id: impl Into<String>, r: Result<QueryResult>) {
        self.by_id.insert(id.into(), r);
    }

    /// Decode and record a response body for query `id`.
    pub fn insert_body(&mut self, id: &str, body: &[u8]) {
        self.insert(id, promjson::decode(id, body));
    }

    fn get(&self, id: &str) -> std::result::Result<&QueryResult, String> {
        match self.by_id.get(id) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("query {id}: no answer was supplied")),
        }
    }
}

/// The clusters the diagnosis reports on, and where unlabelled series go.
struct Scope<'a> {
    label: &'a str,
    clusters: BTreeSet<String>,
    /// The cluster unlabelled series count for, if the engine would join
    /// them correctly.
    unlabeled_to: Option<String>,
}

impl<'a> Scope<'a> {
    fn new(cfg: &'a EngineConfig, checks: &[Check], answers: &Answers) -> Self {
        let label = cfg.cluster_label.as_str();
        if let Some(c) = &cfg.cluster_filter {
            return Self {
                label,
                clusters: BTreeSet::from([c.clone()]),
                unlabeled_to: None,
            };
        }
        let mut clusters = BTreeSet::new();
        let mut unlabeled = false;
        for c in checks {
            if !matches!(c.kind, Kind::Presence(_) | Kind::KsmVersion) {
                continue;
            }
            for s in answers
                .get(&c.query.id)
                .map_or(&[][..], |r| r.series.as_slice())
            {
                match s.label(label) {
                    Some(v) if !v.is_empty() => {
                        clusters.insert(v.to_owned());
                    }
                    _ => unlabeled = true,
                }
            }
        }
        let default = &cfg.default_cluster;
        let unlabeled_to = if clusters.is_empty() && unlabeled {
            clusters.insert(default.clone());
            Some(default.clone())
        } else {
            clusters.contains(default).then(|| default.clone())
        };
        Self {
            label,
            clusters,
            unlabeled_to,
        }
    }

    fn cluster_of(&self, s: &Series) -> Option<String> {
        match s.label(self.label) {
            Some(c) if !c.is_empty() => Some(c.to_owned()),
            _ => self.unlabeled_to.clone(),
        }
    }

    /// Every cluster to report on: the scope's and any other found.
    fn keys<T>(&self, found: &BTreeMap<Option<String>, T>) -> Vec<Option<String>> {
        let mut keys: BTreeSet<Option<String>> = self.clusters.iter().cloned().map(Some).collect();
        keys.extend(found.keys().cloned());
        keys.into_iter().collect()
    }
}

/// `1234.0` → `1,234`.
fn count(v: f64) -> String {
    let n = if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first `max` items and how many more there are.
fn list(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

fn value(s: &Series) -> f64 {
    s.last_value().filter(|v| v.is_finite()).unwrap_or(0.0)
}

struct Eval<'a> {
    cfg: &'a EngineConfig,
    lookback: String,
    scope: Scope<'a>,
    out: Vec<CheckOutcome>,
}

impl Eval<'_> {
    fn push(&mut self, c: &Check, cluster: Option<&str>, status: Status, detail: String) {
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

    fn presence(&mut self, c: &Check, m: &Metric, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, f64> = BTreeMap::new();
        for s in &r.series {
            *found.entry(self.scope.cluster_of(s)).or_default() += value(s);
        }
        let unlabeled = found.remove(&None).unwrap_or(0.0);
        let miss = if m.required {
            Status::Fail
        } else {
            Status::Warn
        };
        let note = if unlabeled > 0.0 {
            format!(
                "; {} series have no {} label (see the cluster label check)",
                count(unlabeled),
                self.scope.label
            )
        } else {
            String::new()
        };
        if self.scope.clusters.is_empty() {
            let detail = format!(
                "no series in any cluster in the last {}{note}: {}",
                self.lookback, m.missing
            );
            self.push(c, None, miss, detail);
            return;
        }
        for cl in self.scope.clusters.clone() {
            match found.get(&Some(cl.clone())) {
                Some(n) if *n > 0.0 => {
                    let detail = format!(
                        "present ({} series in the last {})",
                        count(*n),
                        self.lookback
                    );
                    self.push(c, Some(&cl), Status::Pass, detail);
                }
                _ => {
                    let detail = format!(
                        "missing: no series in the last {}{note}; {}",
                        self.lookback, m.missing
                    );
                    self.push(c, Some(&cl), miss, detail);
                }
            }
        }
    }

    fn ksm_version(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for s in &r.series {
            if value(s) > 0.0 {
                let name = s.label("__name__").unwrap_or_default().to_owned();
                found
                    .entry(self.scope.cluster_of(s))
                    .or_default()
                    .insert(name);
            }
        }
        let keys = self.scope.keys(&found);
        if keys.is_empty() {
            let detail = format!(
                "no kube-state-metrics request or capacity series (v2 {} or v1 {}) in the last {}",
                KSM_V2.join(", "),
                KSM_V1.join(", "),
                self.lookback
            );
            self.push(c, None, Status::Fail, detail);
            return;
        }
        for cl in keys {
            let names = found.get(&cl).cloned().unwrap_or_default();
            let pick = |set: &[&str]| -> Vec<String> {
                set.iter()
                    .filter(|n| names.contains(**n))
                    .map(|n| (*n).to_owned())
                    .collect()
            };
            let (v2, v1) = (pick(KSM_V2), pick(KSM_V1));
            let (status, detail) = match (v2.is_empty(), v1.is_empty()) {
                (false, true) => (Status::Pass, format!("v2 series names ({})", v2.join(", "))),
                (false, false) => (
                    Status::Warn,
                    format!(
                        "v1 series names ({}) next to v2 ({}): kube-state-metrics 1.9 (which \
                         emits both) or a second, older kube-state-metrics is scraped; costetl \
                         reads only the v2 names",
                        v1.join(", "),
                        v2.join(", ")
                    ),
                ),
                (true, false) => (
                    Status::Fail,
                    format!(
                        "only v1 series names ({}): costetl reads the v2 names ({}); upgrade \
                         kube-state-metrics to 2.x",
                        v1.join(", "),
                        KSM_V2.join(", ")
                    ),
                ),
                (true, true) => (
                    Status::Fail,
                    format!(
                        "no kube-state-metrics request or capacity series (v2 {} or v1 {}) in \
                         the last {}",
                        KSM_V2.join(", "),
                        KSM_V1.join(", "),
                        self.lookback
                    ),
                ),
            };
            self.push(c, cl.as_deref(), status, detail);
        }
    }

    fn cluster_label(&mut self, c: &Check, r: &QueryResult) {
        let k = self.scope.label;
        let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
        for s in &r.series {
            let name = s.label("__name__").unwrap_or("?").to_owned();
            *by_name.entry(name).or_default() += value(s);
        }
        by_name.retain(|_, n| *n > 0.0);
        if by_name.is_empty() {
            let detail = format!(
                "every series of the {} families costetl reads carries {k} (last {})",
                FAMILIES.len(),
                self.lookback
            );
            self.push(c, None, Status::Pass, detail);
            return;
        }
        let names: Vec<String> = by_name
            .iter()
            .map(|(n, v)| format!("{n} ({} series)", count(*v)))
            .collect();
        let names = list(&names, 12);
        let default = &self.cfg.default_cluster;
        let (status, detail) = if let Some(f) = &self.cfg.cluster_filter {
            (
                Status::Warn,
                format!("series without {k}: {names}; the cluster filter {k}={f:?} ignores them"),
            )
        } else if self.scope.unlabeled_to.is_some() && self.scope.clusters.len() == 1 {
            (
                Status::Warn,
                format!(
                    "series without {k}: {names}; they count for the default cluster \
                     {default:?}, which is fine for a single cluster; label every series \
                     (Prometheus external_labels or relabelling) before adding another"
                ),
            )
        } else if self.scope.unlabeled_to.is_some() {
            (
                Status::Warn,
                format!(
                    "series without {k}: {names}; they count for the default cluster \
                     {default:?}, which is also a labelled cluster; label every series"
                ),
            )
        } else {
            let labeled: Vec<String> = self.scope.clusters.iter().cloned().collect();
            (
                Status::Fail,
                format!(
                    "series without {k}: {names}; other series carry it (clusters {}), so \
                     these are attributed to the default cluster {default:?} and not joined \
                     with their own cluster's series; add {k} to them (Prometheus \
                     external_labels, the scrape job's relabelling, or the remote_write \
                     configuration) or set --cluster-id to their cluster",
                    list(&labeled, 5)
                ),
            )
        };
        self.push(c, None, status, detail);
    }

    fn duplicates(&mut self, c: &Check, d: &Dup, r: &QueryResult) {
        let k = self.scope.label;
        type Key = (Option<String>, Vec<String>);
        let mut groups: BTreeMap<Key, Vec<&Series>> = BTreeMap::new();
        for s in &r.series {
            let key: Vec<String> = std::iter::once(k)
                .chain(d.key.iter().copied())
                .map(|l| s.label(l).unwrap_or_default().to_owned())
                .collect();
            groups
                .entry((self.scope.cluster_of(s), key))
                .or_default()
                .push(s);
        }
        groups.retain(|_, v| v.len() > 1);
        // Per cluster: each duplicated object's key values and series.
        type Group<'s> = (&'s [String], &'s [&'s Series]);
        let mut found: BTreeMap<Option<String>, Vec<Group<'_>>> = BTreeMap::new();
        for ((cl, key), series) in &groups {
            found.entry(cl.clone()).or_default().push((key, series));
        }
        let keys = self.scope.keys(&found);
        let clean = format!(
            "no object has more than one {} series at once (last {})",
            d.metric, self.lookback
        );
        if keys.is_empty() {
            self.push(c, None, Status::Pass, clean);
            return;
        }
        for cl in keys {
            let Some(dups) = found.get(&cl) else {
                self.push(c, cl.as_deref(), Status::Pass, clean.clone());
                continue;
            };
            let (key, series) = dups[0];
            let labels: Vec<String> = std::iter::once(k)
                .chain(d.key.iter().copied())
                .zip(key)
                .filter(|(_, v)| !v.is_empty())
                .map(|(l, v)| format!("{l}={}", quote(v)))
                .collect();
            let mut skip: Vec<&str> = vec![k, "__name__"];
            skip.extend(d.key);
            let differing = differing(series, &skip);
            let differ = if differing.is_empty() {
                "no other label differs".to_owned()
            } else {
                format!("differing in {}", differing.join("; "))
            };
            let detail = format!(
                "{} object(s) have more than one {} series at once, e.g. {{{}}} ({} series, \
                 {differ}): {}",
                dups.len(),
                d.metric,
                labels.join(", "),
                series.len(),
                d.cause
            );
            self.push(c, cl.as_deref(), d.status, detail);
        }
    }

    fn node_prices(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for s in &r.series {
            let node = s.label("node").unwrap_or_default().to_owned();
            found
                .entry(self.scope.cluster_of(s))
                .or_default()
                .insert(node);
        }
        let keys = self.scope.keys(&found);
        let clean = format!(
            "every node in kube_node_info has node_cpu_hourly_cost (last {})",
            self.lookback
        );
        if keys.is_empty() {
            self.push(c, None, Status::Pass, clean);
            return;
        }
        let p = self.cfg.default_pricing;
        for cl in keys {
            let Some(nodes) = found.get(&cl) else {
                self.push(c, cl.as_deref(), Status::Pass, clean.clone());
                continue;
            };
            let nodes: Vec<String> = nodes.iter().cloned().collect();
            let detail = format!(
                "{} node(s) in kube_node_info have no node_cpu_hourly_cost series in the last \
                 {}: {}; their allocations and idle are priced at the default prices (CPU \
                 ${}/core-h, RAM ${}/GiB-h, GPU ${}/GPU-h); check that the cost exporter \
                 prices every node (and carries the same {} and node labels)",
                nodes.len(),
                self.lookback,
                list(&nodes, 10),
                p.cpu,
                p.ram_gib,
                p.gpu,
                self.scope.label
            );
            self.push(c, cl.as_deref(), Status::Fail, detail);
        }
    }

    fn pod_uid(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for s in r.series.iter().filter(|s| value(s) > 0.0) {
            let name = s.label("__name__").unwrap_or("?");
            found
                .entry(self.scope.cluster_of(s))
                .or_default()
                .push(format!("{name} ({} series)", count(value(s))));
        }
        let clean = format!(
            "{} carry the pod uid (last {})",
            UID_FAMILIES.join(", "),
            self.lookback
        );
        let keys = self.scope.keys(&found);
        if keys.is_empty() {
            self.push(c, None, Status::Pass, clean);
            return;
        }
        for cl in keys {
            let Some(names) = found.get(&cl) else {
                self.push(c, cl.as_deref(), Status::Pass, clean.clone());
                continue;
            };
            let detail = format!(
                "series without the pod uid: {}; kube-state-metrics v1 (or a mix of versions) \
                 is scraped. costetl joins them by (cluster, namespace, pod) as OpenCost does \
                 and warns; a pod name re-created within a window cannot be told apart: \
                 upgrade to kube-state-metrics v2",
                list(names, 5)
            );
            self.push(c, cl.as_deref(), Status::Warn, detail);
        }
    }

    fn recording_rule(&mut self, c: &Check, rule: &str, r: &QueryResult) {
        let n: f64 = r.series.iter().map(value).sum();
        if n > 0.0 {
            let detail = format!(
                "present ({} series in the last {})",
                count(n),
                self.lookback
            );
            self.push(c, None, Status::Pass, detail);
        } else {
            let detail = format!(
                "no series named {rule} in the last {}: the rule is not loaded (Prometheus \
                 rule_files, or the AMP/Mimir ruler for remote-write setups), is named \
                 differently, or its inputs are missing",
                self.lookback
            );
            self.push(c, None, Status::Fail, detail);
        }
    }
}

/// Labels (except `skip`) whose values differ between `series`, as
/// `label: "a", "b"`.
fn differing(series: &[&Series], skip: &[&str]) -> Vec<String> {
    let names: BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.labels.iter().map(|(n, _)| n.as_str()))
        .filter(|n| !skip.contains(n))
        .collect();
    names
        .into_iter()
        .filter_map(|n| {
            let values: BTreeSet<&str> = series
                .iter()
                .map(|s| s.label(n).unwrap_or_default())
                .collect();
            (values.len() > 1).then(|| {
                let v: Vec<String> = values.into_iter().map(quote).collect();
                format!("{n}: {}", v.join(", "))
            })
        })
        .collect()
}

/// Evaluate the checks of `cfg` and `opts` on the answers to
/// [`queries`]: outcomes in check order, clusters sorted within a check.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{RawResponse, SourceError, SourceErrorKind};
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 11, 14, 2, 0, 0).unwrap()
    }

    fn opts() -> DiagnoseOptions {
        DiagnoseOptions::new(at())
    }

    /// A vector body with one sample per series.
    fn body(series: &[(&[(&str, &str)], f64)]) -> Vec<u8> {
        let result: Vec<serde_json::Value> = series
            .iter()
            .map(|(labels, v)| {
                let metric: serde_json::Map<String, serde_json::Value> = labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                    .collect();
                serde_json::json!({"metric": metric, "value": [1_699_927_200, v.to_string()]})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "status": "success",
            "data": {"resultType": "vector", "result": result}
        }))
        .unwrap()
    }

    /// Answers where every query returns nothing, then `set` overrides.
    fn answers(cfg: &EngineConfig, o: &DiagnoseOptions, set: &[(&str, Vec<u8>)]) -> Answers {
        let mut a = Answers::default();
        for q in queries(cfg, o).unwrap() {
            a.insert_body(&q.id, &body(&[]));
        }
        for (id, b) in set {
            a.insert_body(id, b);
        }
        a
    }

    fn body_v(series: &[(Vec<(&str, &str)>, f64)]) -> Vec<u8> {
        let v: Vec<(&[(&str, &str)], f64)> =
            series.iter().map(|(l, v)| (l.as_slice(), *v)).collect();
        body(&v)
    }

    /// Every required metric present in `clusters`, v2 names, optional
    /// series too.
    fn healthy(clusters: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
        let per: Vec<(Vec<(&str, &str)>, f64)> = clusters
            .iter()
            .map(|c| (vec![("cluster_id", *c)], 10.0))
            .collect();
        let mut out: Vec<(&'static str, Vec<u8>)> =
            PRESENCE.iter().map(|m| (m.id, body_v(&per))).collect();
        let versions: Vec<(Vec<(&str, &str)>, f64)> = clusters
            .iter()
            .flat_map(|c| {
                KSM_V2
                    .iter()
                    .map(move |n| (vec![("__name__", *n), ("cluster_id", *c)], 5.0))
            })
            .collect();
        out.push(("ksm_version", body_v(&versions)));
        out
    }

    fn find<'a>(out: &'a [CheckOutcome], check: &str, cluster: Option<&str>) -> &'a CheckOutcome {
        out.iter()
            .find(|o| o.check == check && o.cluster.as_deref() == cluster)
            .unwrap_or_else(|| panic!("no outcome {check} {cluster:?} in {out:#?}"))
    }

    fn failed(out: &[CheckOutcome]) -> Vec<(String, Option<String>)> {
        out.iter()
            .filter(|o| o.status == Status::Fail)
            .map(|o| (o.check.clone(), o.cluster.clone()))
            .collect()
    }

    #[test]
    fn healthy_clusters_pass_everything() {
        let cfg = EngineConfig::default();
        let o = opts();
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &healthy(&["a", "b"])));
        let bad: Vec<_> = out.iter().filter(|o| o.status != Status::Pass).collect();
        assert!(bad.is_empty(), "{bad:#?}");
        let m = find(&out, "cadvisor_memory", Some("a"));
        assert_eq!(m.name, "cluster a: container_memory_working_set_bytes");
        assert_eq!(m.detail, "present (10 series in the last 1h)");
        assert_eq!(
            m.query,
            "count by (cluster_id) (last_over_time(container_memory_working_set_bytes\
             {container!=\"\", container!=\"POD\"}[1h]))"
        );
        assert_eq!(find(&out, "ksm_version", Some("b")).status, Status::Pass);
        // Every outcome names the PromQL it ran.
        assert!(out.iter().all(|o| !o.query.is_empty()));
    }

    #[test]
    fn series_without_the_pod_uid_warn_for_their_cluster() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a", "b"]);
        set.push((
            "pod_uid",
            body_v(&[(
                vec![
                    ("__name__", "kube_pod_container_resource_requests"),
                    ("cluster_id", "b"),
                ],
                7.0,
            )]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(find(&out, "pod_uid", Some("a")).status, Status::Pass);
        let b = find(&out, "pod_uid", Some("b"));
        assert_eq!(b.status, Status::Warn);
        assert!(
            b.detail.starts_with(
                "series without the pod uid: kube_pod_container_resource_requests (7 series)"
            ),
            "{}",
            b.detail
        );
        assert!(
            b.query.contains("uid=\"\"") && b.query.contains("kube_pod_info"),
            "{}",
            b.query
        );
    }

    #[test]
    fn metric_missing_in_one_cluster_fails_for_that_cluster() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a", "b"]);
        set.push((
            "cost_node_total",
            body(&[
                (&[("cluster_id", "a")], 3.0),
                (&[], 2.0), // no cluster label
            ]),
        ));
        set.push(("cost_pv", body(&[(&[("cluster_id", "a")], 3.0)])));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(
            failed(&out),
            [("cost_node_total".to_owned(), Some("b".to_owned()))]
        );
        let f = find(&out, "cost_node_total", Some("b"));
        assert!(
            f.detail.starts_with("missing: no series in the last 1h"),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains("2 series have no cluster_id label"),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("cost exporter"), "{}", f.detail);
        // Optional series missing is a warning.
        assert_eq!(find(&out, "cost_pv", Some("b")).status, Status::Warn);
        assert_eq!(find(&out, "cost_pv", Some("a")).status, Status::Pass);
    }

    #[test]
    fn nothing_at_all_fails_once_per_check() {
        let cfg = EngineConfig::default();
        let o = opts();
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &[]));
        let m = find(&out, "cadvisor_cpu", None);
        assert_eq!(m.status, Status::Fail);
        assert!(
            m.detail.starts_with("no series in any cluster"),
            "{}",
            m.detail
        );
        assert_eq!(find(&out, "cost_pv", None).status, Status::Warn);
        assert_eq!(find(&out, "ksm_version", None).status, Status::Fail);
        assert_eq!(find(&out, "cluster_label", None).status, Status::Pass);
    }

    #[test]
    fn single_cluster_without_label_is_the_default_cluster() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set: Vec<(&str, Vec<u8>)> = PRESENCE
            .iter()
            .map(|m| (m.id, body(&[(&[], 4.0)])))
            .collect();
        set.push((
            "ksm_version",
            body(&[(&[("__name__", "kube_pod_container_resource_requests")], 4.0)]),
        ));
        set.push((
            "cluster_label",
            body(&[(&[("__name__", "kube_pod_info")], 4.0)]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert!(failed(&out).is_empty(), "{out:#?}");
        assert_eq!(
            find(&out, "ksm_running", Some("default-cluster")).status,
            Status::Pass
        );
        let l = find(&out, "cluster_label", None);
        assert_eq!(l.status, Status::Warn);
        assert!(
            l.detail.contains("kube_pod_info (4 series)"),
            "{}",
            l.detail
        );
        assert!(
            l.detail.contains("fine for a single cluster"),
            "{}",
            l.detail
        );
    }

    #[test]
    fn family_without_label_next_to_labelled_ones_fails() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a"]);
        set.push((
            "cluster_label",
            body(&[(&[("__name__", "kube_pod_labels")], 1234.0)]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(failed(&out), [("cluster_label".to_owned(), None)]);
        let l = find(&out, "cluster_label", None);
        assert!(
            l.detail.contains("kube_pod_labels (1,234 series)"),
            "{}",
            l.detail
        );
        assert!(l.detail.contains("\"default-cluster\""), "{}", l.detail);
        assert!(l.query.contains("cluster_id=\"\""), "{}", l.query);

        // Not a failure when the default cluster is that cluster.
        let cfg = EngineConfig {
            default_cluster: "a".into(),
            ..EngineConfig::default()
        };
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(find(&out, "cluster_label", None).status, Status::Warn);
    }

    #[test]
    fn ksm_versions() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a", "b", "c"]);
        set.push((
            "ksm_version",
            body(&[
                (
                    &[
                        ("__name__", "kube_pod_container_resource_requests"),
                        ("cluster_id", "a"),
                    ],
                    5.0,
                ),
                (
                    &[
                        ("__name__", "kube_node_status_capacity"),
                        ("cluster_id", "a"),
                    ],
                    5.0,
                ),
                (
                    &[
                        ("__name__", "kube_pod_container_resource_requests_cpu_cores"),
                        ("cluster_id", "b"),
                    ],
                    5.0,
                ),
                (
                    &[
                        ("__name__", "kube_node_status_capacity_cpu_cores"),
                        ("cluster_id", "b"),
                    ],
                    5.0,
                ),
                (
                    &[
                        ("__name__", "kube_pod_container_resource_requests"),
                        ("cluster_id", "c"),
                    ],
                    5.0,
                ),
                (
                    &[
                        ("__name__", "kube_pod_container_resource_requests_cpu_cores"),
                        ("cluster_id", "c"),
                    ],
                    5.0,
                ),
            ]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(find(&out, "ksm_version", Some("a")).status, Status::Pass);
        let b = find(&out, "ksm_version", Some("b"));
        assert_eq!(b.status, Status::Fail);
        assert!(
            b.detail.starts_with(
                "only v1 series names (kube_pod_container_resource_requests_cpu_cores, \
                 kube_node_status_capacity_cpu_cores)"
            ),
            "{}",
            b.detail
        );
        assert!(
            b.detail.contains("upgrade kube-state-metrics"),
            "{}",
            b.detail
        );
        assert_eq!(find(&out, "ksm_version", Some("c")).status, Status::Warn);
    }

    #[test]
    fn duplicates_name_an_example_and_the_differing_labels() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a", "b"]);
        let s = |pod: &'static str, inst: &'static str| -> Vec<(&'static str, &'static str)> {
            vec![
                ("__name__", "kube_pod_container_status_running"),
                ("cluster_id", "a"),
                ("container", "app"),
                ("instance", inst),
                ("job", "kube-state-metrics"),
                ("namespace", "web"),
                ("pod", pod),
                ("uid", "u-1"),
            ]
        };
        let (a0, a1, b0, b1, c0) = (
            s("api-1", "10.0.0.1:8080"),
            s("api-1", "10.0.0.2:8080"),
            s("api-2", "10.0.0.1:8080"),
            s("api-2", "10.0.0.2:8080"),
            s("api-3", "10.0.0.1:8080"),
        );
        set.push((
            "duplicate_ksm",
            body_v(&[(a0, 1.0), (a1, 1.0), (b0, 1.0), (b1, 1.0), (c0, 1.0)]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(
            failed(&out),
            [("duplicate_ksm".to_owned(), Some("a".to_owned()))]
        );
        let d = find(&out, "duplicate_ksm", Some("a"));
        assert!(
            d.detail.starts_with(
                "2 object(s) have more than one kube_pod_container_status_running series at once, \
                 e.g. {cluster_id=\"a\", namespace=\"web\", pod=\"api-1\", uid=\"u-1\", \
                 container=\"app\"} (2 series, differing in instance: \"10.0.0.1:8080\", \
                 \"10.0.0.2:8080\")"
            ),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("two kube-state-metrics"), "{}", d.detail);
        assert_eq!(find(&out, "duplicate_ksm", Some("b")).status, Status::Pass);
        assert_eq!(
            find(&out, "duplicate_cadvisor", Some("a")).status,
            Status::Pass
        );
    }

    #[test]
    fn unpriced_nodes_are_listed_per_cluster() {
        let cfg = EngineConfig::default();
        let o = opts();
        let mut set = healthy(&["a", "b"]);
        set.push((
            "node_prices",
            body(&[
                (&[("cluster_id", "b"), ("node", "n2")], 1.0),
                (&[("cluster_id", "b"), ("node", "n1")], 1.0),
            ]),
        ));
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set));
        assert_eq!(
            failed(&out),
            [("node_prices".to_owned(), Some("b".to_owned()))]
        );
        let n = find(&out, "node_prices", Some("b"));
        assert!(
            n.detail.starts_with(
                "2 node(s) in kube_node_info have no node_cpu_hourly_cost series in the last \
                 1h: n1, n2;"
            ),
            "{}",
            n.detail
        );
        assert!(n.detail.contains("$0.021811/core-h"), "{}", n.detail);
        assert_eq!(find(&out, "node_prices", Some("a")).status, Status::Pass);
    }

    #[test]
    fn recording_rules_and_failed_queries() {
        let cfg = EngineConfig::default();
        let o = DiagnoseOptions {
            recording_rules: vec![
                "kubecost_container_cpu_usage_irate".into(),
                "cluster:cpu_usage:rate5m".into(),
                "kubecost_container_cpu_usage_irate".into(),
            ],
            ..opts()
        };
        let mut set = healthy(&["a"]);
        set.push((
            "recording_rule:cluster:cpu_usage:rate5m",
            body(&[(&[], 1.0)]),
        ));
        let mut a = answers(&cfg, &o, &set);
        a.insert(
            "cadvisor_cpu",
            Err(Error::Backend {
                query: "cadvisor_cpu".into(),
                error_type: "timeout".into(),
                message: "query timed out in query queue".into(),
            }),
        );
        let out = evaluate(&cfg, &o, &a);
        assert_eq!(
            failed(&out),
            [
                ("cadvisor_cpu".to_owned(), None),
                ("recording_rule".to_owned(), None)
            ]
        );
        let e = find(&out, "cadvisor_cpu", None);
        assert_eq!(
            e.detail,
            "query failed: query cadvisor_cpu: backend error timeout: query timed out in query queue"
        );
        let rules: Vec<&CheckOutcome> =
            out.iter().filter(|o| o.check == "recording_rule").collect();
        assert_eq!(rules.len(), 2, "duplicates are checked once");
        assert_eq!(
            rules[0].name,
            "recording rule kubecost_container_cpu_usage_irate"
        );
        assert_eq!(
            rules[0].query,
            "count(last_over_time({__name__=\"kubecost_container_cpu_usage_irate\"}[1h]))"
        );
        assert_eq!(rules[1].status, Status::Pass);
    }

    #[test]
    fn queries_use_the_cluster_label_filter_and_lookback() {
        let cfg = EngineConfig {
            cluster_label: "cluster".into(),
            cluster_filter: Some("prod\"1".into()),
            resolution: TimeDelta::minutes(5),
            ..EngineConfig::default()
        };
        let o = DiagnoseOptions {
            lookback: TimeDelta::hours(6),
            recording_rules: vec!["kubecost_container_cpu_usage_irate".into()],
            ..opts()
        };
        let qs = queries(&cfg, &o).unwrap();
        let ids: BTreeSet<&str> = qs.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids.len(), qs.len(), "query ids are unique");
        for q in &qs {
            assert_eq!(q.kind, QueryKind::Instant { time: at() });
            assert!(q.promql.contains("[6h"), "{}", q.promql);
            let unfiltered = q.id == "cluster_label" || q.id.starts_with("recording_rule:");
            assert_eq!(
                q.promql.contains("cluster=\"prod\\\"1\""),
                !unfiltered,
                "{}",
                q.promql
            );
        }
        let dup = qs.iter().find(|q| q.id == "duplicate_ksm").unwrap();
        assert_eq!(
            dup.promql,
            "last_over_time((kube_pod_container_status_running{cluster=\"prod\\\"1\"} and on \
             (cluster, namespace, pod, uid, container) (count by (cluster, namespace, pod, uid, \
             container) (kube_pod_container_status_running{cluster=\"prod\\\"1\"}) > 1))[6h:5m])"
        );
        // With a filter, only that cluster is reported on.
        let out = evaluate(&cfg, &o, &answers(&cfg, &o, &[]));
        let m = find(&out, "ksm_running", Some("prod\"1"));
        assert_eq!(m.status, Status::Fail);
    }

    #[test]
    fn invalid_options_are_rejected() {
        let cfg = EngineConfig::default();
        let zero = DiagnoseOptions {
            lookback: TimeDelta::zero(),
            ..opts()
        };
        assert!(queries(&cfg, &zero).is_err());
        let short = DiagnoseOptions {
            lookback: TimeDelta::seconds(30),
            ..opts()
        };
        let e = queries(&cfg, &short).unwrap_err();
        assert!(e.to_string().contains("at most the lookback"), "{e}");
        let empty = DiagnoseOptions {
            recording_rules: vec![" ".into()],
            ..opts()
        };
        assert!(queries(&cfg, &empty).is_err());
    }

    /// The cluster-label check covers every series of the contract the
    /// engine reads.
    #[test]
    fn families_cover_the_metrics_contract() {
        let doc = include_str!("../../../docs/metrics.md");
        // Exported by OpenCost, but not read by the engine.
        let unread = [
            "container_cpu_allocation",
            "container_memory_allocation_bytes",
        ];
        let mut missing = Vec::new();
        for line in doc.lines() {
            let Some(name) = line
                .strip_prefix("| `")
                .and_then(|l| l.split_once('`'))
                .map(|(n, _)| n)
            else {
                continue;
            };
            if !FAMILIES.contains(&name) && !unread.contains(&name) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "add to FAMILIES: {missing:?}");
        let checked: BTreeSet<&str> = PRESENCE.iter().map(|m| m.metric).collect();
        assert!(checked.iter().all(|m| FAMILIES.contains(m)), "{checked:?}");
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1234.0), "1,234");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(dur(TimeDelta::hours(1)), "1h");
        assert_eq!(dur(TimeDelta::minutes(90)), "90m");
        assert_eq!(dur(TimeDelta::days(2)), "2d");
        assert_eq!(dur(TimeDelta::seconds(45)), "45s");
        assert_eq!(dur(TimeDelta::milliseconds(1500)), "1500ms");
        let items: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
        assert_eq!(list(&items, 2), "n1, n2 and 2 more");
    }

    /// A source that answers every query with an empty vector, except one
    /// that fails.
    struct Flaky;

    impl MetricsSource for Flaky {
        fn query(
            &self,
            q: &QuerySpec,
        ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
        {
            let r = if q.id == "cost_node_ram" {
                Err(SourceError::new(
                    SourceErrorKind::Transient,
                    "POST http://prom/api/v1/query: connection refused",
                ))
            } else {
                Ok(RawResponse {
                    body: body(&[(&[("cluster_id", "a")], 1.0)]),
                })
            };
            std::future::ready(r)
        }
    }

    #[test]
    fn run_turns_a_failing_query_into_a_failed_check() {
        let cfg = EngineConfig::default();
        let out = futures::executor::block_on(run(&Flaky, &cfg, &opts())).unwrap();
        let f = find(&out, "cost_node_ram", None);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.detail,
            "query failed: query cost_node_ram failed: POST http://prom/api/v1/query: connection refused"
        );
        assert_eq!(find(&out, "cost_node_cpu", Some("a")).status, Status::Pass);
        // Every check has at least one outcome.
        let checks: BTreeSet<&str> = out.iter().map(|o| o.check.as_str()).collect();
        assert_eq!(checks.len(), PRESENCE.len() + 6);
    }
}
