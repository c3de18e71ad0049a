//! What the engine needs to know about the backend and the cluster(s):
//! [`EngineConfig`], the default prices for unpriced nodes, and the
//! backend's subquery range semantics.

use chrono::TimeDelta;

use super::rules::RulesMode;

/// Default prices for nodes without price series (OpenCost's
/// `DefaultPricing`), in $ per hour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DefaultPricing {
    /// $ per core-hour.
    pub cpu: f64,
    /// $ per GiB-hour.
    pub ram_gib: f64,
    /// $ per GPU-hour.
    pub gpu: f64,
}

impl Default for DefaultPricing {
    fn default() -> Self {
        Self {
            cpu: 0.021811,
            ram_gib: 0.002923,
            gpu: 0.95,
        }
    }
}

/// How a backend bounds subquery ranges: Prometheus 2 includes a step at
/// exactly `T − range` (left-closed), Prometheus 3 does not (left-open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeSemantics {
    /// `[T − range, T]` (Prometheus 2, VictoriaMetrics).
    LeftClosed,
    /// `(T − range, T]` (Prometheus 3).
    LeftOpen,
}

/// What the engine needs to know about the backend and the cluster(s).
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Label carrying the cluster id (OpenCost's `PROM_CLUSTER_ID_LABEL`).
    pub cluster_label: String,
    /// Only this cluster (OpenCost's `CLUSTER_ID` with
    /// `CURRENT_CLUSTER_ID_FILTER_ENABLED`).
    pub cluster_filter: Option<String>,
    /// Cluster id for series without the cluster label (OpenCost's
    /// `CLUSTER_ID`).
    pub default_cluster: String,
    /// Step of the integration (OpenCost's resolution; default 1m).
    pub resolution: TimeDelta,
    /// Longest window sent in one query (default one day).
    pub max_query_window: TimeDelta,
    /// Prices for nodes without price series.
    pub default_pricing: DefaultPricing,
    /// Queries in flight at once.
    pub concurrency: usize,
    /// Shortest window the engine splits down to when the backend says a
    /// query is too large (default one hour).
    pub min_query_window: TimeDelta,
    /// Most steps one query may integrate: Prometheus refuses range queries
    /// over 11,000 points per series, and other backends cap subqueries
    /// similarly, so windows are split to stay within it.
    pub max_steps_per_query: i64,
    /// cAdvisor's scrape interval; `None` (the default): learnt from the
    /// data by [`crate::engine::allocations`]. Per-step CPU rates span at
    /// least two scrapes, so that a step always has a rate.
    pub scrape_interval: Option<TimeDelta>,
    /// Node labels copied onto the allocations of the node's pods (names as
    /// in Kubernetes, e.g. `topology.kubernetes.io/zone`); pod labels win
    /// on a clash. OpenCost's `ALLOCATION_NODE_LABELS_INCLUDE_LIST`.
    pub node_labels: Vec<String>,
    /// Whether to read costetl's recording rule (`costetl rules`) where it
    /// covers the window; [`RulesMode::Auto`] (the default) probes.
    pub rules: RulesMode,
}

/// Node labels attached to allocations by default: where a pod ran and on
/// what kind of capacity, the questions chargeback reports ask first.
pub const DEFAULT_NODE_LABELS: &[&str] = &[
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "node.kubernetes.io/instance-type",
    "karpenter.sh/capacity-type",
];

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cluster_label: "cluster_id".into(),
            cluster_filter: None,
            default_cluster: "default-cluster".into(),
            resolution: TimeDelta::minutes(1),
            max_query_window: TimeDelta::days(1),
            default_pricing: DefaultPricing::default(),
            concurrency: 5,
            min_query_window: TimeDelta::hours(1),
            max_steps_per_query: 11_000,
            scrape_interval: None,
            node_labels: DEFAULT_NODE_LABELS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            rules: RulesMode::Auto,
        }
    }
}
