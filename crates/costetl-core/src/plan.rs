//! The query plan: which PromQL the engine sends for one window, built from
//! [`EngineConfig`]. Pure text building; see `docs/metrics.md` for the series
//! and `docs/engine.md` for why the queries look the way they do.
//!
//! Every per-container quantity is integrated server-side over the window's
//! steps with a subquery (`sum_over_time(X[R:r])`), evaluated once at the
//! last step, so each query returns one number per container instead of a
//! range vector: the response size does not grow with the window length.

use chrono::TimeDelta;

use crate::error::{Error, Result};
use crate::source::{QueryKind, QuerySpec};
use crate::window::Window;

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
    /// Node labels copied onto the allocations of the node's pods (names as
    /// in Kubernetes, e.g. `topology.kubernetes.io/zone`); pod labels win
    /// on a clash. OpenCost's `ALLOCATION_NODE_LABELS_INCLUDE_LIST`.
    pub node_labels: Vec<String>,
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
            node_labels: DEFAULT_NODE_LABELS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// PromQL duration text for `d` (whole seconds; Prometheus accepts `90s`).
fn dur(d: TimeDelta) -> String {
    let ms = d.num_milliseconds();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Stable ids of the queries in a plan; the engine looks results up by
/// these.
pub mod ids {
    /// Running steps per container and node.
    pub const RUN_STEPS: &str = "run_steps";
    /// First running step (unix seconds).
    pub const RUN_FIRST: &str = "run_first";
    /// Last running step (unix seconds).
    pub const RUN_LAST: &str = "run_last";
    /// Σ CPU request over running steps.
    pub const CPU_REQUEST: &str = "cpu_request";
    /// Σ CPU usage over running steps.
    pub const CPU_USAGE: &str = "cpu_usage";
    /// Σ max(CPU request, usage) over running steps.
    pub const CPU_ALLOC: &str = "cpu_alloc";
    /// Σ max(CPU request, usage) × node CPU price.
    pub const CPU_COST: &str = "cpu_cost";
    /// Max CPU usage.
    pub const CPU_MAX: &str = "cpu_max";
    /// Σ RAM request.
    pub const RAM_REQUEST: &str = "ram_request";
    /// Σ RAM working set.
    pub const RAM_USAGE: &str = "ram_usage";
    /// Σ max(RAM request, working set).
    pub const RAM_ALLOC: &str = "ram_alloc";
    /// Σ max(RAM request, working set) in GiB × node RAM price.
    pub const RAM_COST: &str = "ram_cost";
    /// Max working set.
    pub const RAM_MAX: &str = "ram_max";
    /// Σ GPU request.
    pub const GPU_ALLOC: &str = "gpu_alloc";
    /// Σ GPU request × node GPU price.
    pub const GPU_COST: &str = "gpu_cost";
    /// Per node: steps present.
    pub const NODE_STEPS: &str = "node_steps";
    /// Per node: Σ CPU capacity.
    pub const NODE_CPU: &str = "node_cpu";
    /// Per node: Σ RAM capacity.
    pub const NODE_RAM: &str = "node_ram";
    /// Per node: Σ GPUs.
    pub const NODE_GPU: &str = "node_gpu";
    /// Per node: Σ CPU capacity × price.
    pub const NODE_CPU_COST: &str = "node_cpu_cost";
    /// Per node: Σ RAM capacity (GiB) × price.
    pub const NODE_RAM_COST: &str = "node_ram_cost";
    /// Per node: Σ GPUs × price.
    pub const NODE_GPU_COST: &str = "node_gpu_cost";
    /// Per node: steps with a price.
    pub const NODE_PRICED_STEPS: &str = "node_priced_steps";
    /// Per node: provider id and instance type.
    pub const NODE_INFO: &str = "node_info";
    /// Pod labels.
    pub const POD_LABELS: &str = "pod_labels";
    /// Pod annotations.
    pub const POD_ANNOTATIONS: &str = "pod_annotations";
    /// Namespace labels.
    pub const NAMESPACE_LABELS: &str = "namespace_labels";
    /// Namespace annotations.
    pub const NAMESPACE_ANNOTATIONS: &str = "namespace_annotations";
    /// Pod owners.
    pub const POD_OWNERS: &str = "pod_owners";
    /// ReplicaSet owners.
    pub const REPLICASET_OWNERS: &str = "replicaset_owners";
    /// Earliest container start seen (unix seconds), from kube-state-metrics.
    pub const CONTAINER_STARTED: &str = "container_started";
    /// Pod completion time (unix seconds), from kube-state-metrics.
    pub const POD_COMPLETED: &str = "pod_completed";
    /// Σ per-step PV cost per consumer: a mounting pod, an unmounted claim
    /// or an unclaimed volume.
    pub const PV_COST: &str = "pv_cost";
    /// Σ per-step PV bytes per consumer, as [`PV_COST`].
    pub const PV_BYTES: &str = "pv_bytes";
    /// Per PV: provider id.
    pub const PV_INFO: &str = "pv_info";
    /// Per load balancer: Σ per-step $/h.
    pub const LB_COST: &str = "lb_cost";
    /// Per load balancer: steps active.
    pub const LB_STEPS: &str = "lb_steps";
    /// Service selectors.
    pub const SERVICE_SELECTORS: &str = "service_selectors";
    /// Per pod and node: Σ per-step bytes sent.
    pub const NET_TRANSFER: &str = "net_transfer";
    /// Per pod and node: Σ per-step bytes received.
    pub const NET_RECEIVE: &str = "net_receive";
    /// Per pod and egress class: Σ per-step bytes.
    pub const NET_EGRESS: &str = "net_egress";
    /// Per cluster and egress class: $ per GiB.
    pub const NET_PRICES: &str = "net_prices";
    /// Node labels.
    pub const NODE_LABELS: &str = "node_labels";
    /// Containers with duplicate running series.
    pub const DUPLICATES: &str = "duplicates";
    /// Series without the cluster label, by name.
    pub const MISSING_CLUSTER: &str = "missing_cluster";
}

/// The probe that tells left-open from left-closed subquery ranges: at a
/// step-aligned time, `[2m:1m]` holds 3 steps when left-closed, 2 when open.
pub fn range_probe(window: Window) -> QuerySpec {
    QuerySpec {
        id: "range_probe".into(),
        promql: "count_over_time(vector(1)[2m:1m])".into(),
        // Any minute-aligned time works; the window's hour keeps fixtures
        // of the same window identical.
        kind: QueryKind::Instant {
            time: crate::window::Period::Hour.floor(window.start()),
        },
    }
}

/// Interpret the probe's value.
pub fn range_semantics_from_probe(steps: f64) -> Option<RangeSemantics> {
    match steps as i64 {
        3 => Some(RangeSemantics::LeftClosed),
        2 => Some(RangeSemantics::LeftOpen),
        _ => None,
    }
}

/// The queries for one window, at most `max_query_window` long and aligned
/// to the resolution.
pub fn plan(window: Window, cfg: &EngineConfig, sem: RangeSemantics) -> Result<Vec<QuerySpec>> {
    let r = cfg.resolution;
    let invalid = |reason: String| Error::InvalidWindow {
        input: window.to_string(),
        reason,
    };
    if r <= TimeDelta::zero() {
        return Err(invalid(format!("resolution {} must be positive", dur(r))));
    }
    let rs = r.num_milliseconds();
    if window.start().timestamp_millis() % rs != 0 || window.end().timestamp_millis() % rs != 0 {
        return Err(invalid(format!(
            "window must be aligned to the resolution {}",
            dur(r)
        )));
    }
    if window.duration() < r {
        return Err(invalid(format!(
            "window is shorter than the resolution {}",
            dur(r)
        )));
    }
    if window.duration() > cfg.max_query_window {
        return Err(invalid(format!(
            "window is longer than the longest query window {}; split it first",
            dur(cfg.max_query_window)
        )));
    }
    // Evaluate at the last step; the subquery then covers exactly the
    // window's steps start, start + r, …, end − r.
    let at = window.end() - r;
    let range = match sem {
        RangeSemantics::LeftOpen => window.duration(),
        // Any range in (D − r, D] excludes the step before the window when
        // the left edge is closed; half a step keeps it positive for D = r.
        RangeSemantics::LeftClosed => window.duration() - r / 2,
    };
    let sub = format!("[{}:{}]", dur(range), dur(r));
    // CPU used during step [t, t + r) is measured by a rate over a window
    // ending at t + r (a negative offset, stable since Prometheus 2.33 and
    // supported by VictoriaMetrics): a trailing window would miss the
    // first step of every container. One extra minute keeps two samples in
    // the window at 60 s scrape intervals.
    let (rate_range, rate_lead) = (dur(r + TimeDelta::minutes(1)), dur(r));
    let k = &cfg.cluster_label;
    let f = match &cfg.cluster_filter {
        Some(c) => format!("{k}=\"{}\"", c.replace('\\', "\\\\").replace('"', "\\\"")),
        None => String::new(),
    };
    let sel = |extra: &str| -> String {
        match (extra.is_empty(), f.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{{{extra}}}"),
            (true, false) => format!("{{{f}}}"),
            (false, false) => format!("{{{extra}, {f}}}"),
        }
    };

    // Building blocks (see docs/engine.md). Duplicate series (two
    // kube-state-metrics, HA scrapes) collapse under `max by`.
    let running = format!(
        "(max by ({k}, namespace, pod, uid, container) (kube_pod_container_status_running{}) != 0)",
        sel("")
    );
    let pod_node = format!(
        "max by ({k}, namespace, pod, uid, node) (kube_pod_info{})",
        sel("node!=\"\"")
    );
    let run_n = format!("({running} * on ({k}, namespace, pod, uid) group_left (node) {pod_node})");
    let req = |resource: &str| {
        format!(
            "(max by ({k}, namespace, pod, uid, container) (kube_pod_container_resource_requests{}) \
             * on ({k}, namespace, pod, uid, container) group_left (node) {run_n})",
            sel(&format!("resource=\"{resource}\""))
        )
    };
    // cAdvisor series carry the node but no pod uid: join on the node too,
    // so a pod name re-created on another node never mixes in the old
    // node's series while it is still within the lookback.
    let on_running = |usage: String| {
        format!("({usage} * on ({k}, namespace, pod, container, node) group_left (uid) {run_n})")
    };
    let cpu_use = on_running(format!(
        "max by ({k}, namespace, pod, container, node) \
         (rate(container_cpu_usage_seconds_total{}[{rate_range}] offset -{rate_lead}))",
        sel("container!=\"\", container!=\"POD\"")
    ));
    let ram_use = on_running(format!(
        "max by ({k}, namespace, pod, container, node) (container_memory_working_set_bytes{})",
        sel("container!=\"\", container!=\"POD\"")
    ));
    let max_of = |a: &str, b: &str| format!("(({a} >= {b}) or {b} or {a})");
    let cpu_req = req("cpu");
    let ram_req = req("memory");
    let gpu_req = req("nvidia_com_gpu");
    let cpu_alloc = max_of(&cpu_req, &cpu_use);
    let ram_alloc = max_of(&ram_req, &ram_use);
    let price = |m: &str| format!("avg by ({k}, node) ({m}{})", sel(""));
    let capacity = |resource: &str| {
        format!(
            "max by ({k}, node) (kube_node_status_capacity{})",
            sel(&format!("resource=\"{resource}\""))
        )
    };
    let gib = "1073741824";
    let priced = |x: &str, m: &str| format!("({x} * on ({k}, node) group_left {})", price(m));

    let instant = |id: &str, promql: String| QuerySpec {
        id: id.to_owned(),
        promql,
        kind: QueryKind::Instant { time: at },
    };
    let over = |func: &str, x: &str| format!("{func}({x}{sub})");
    let whole = dur(window.duration());
    // Metadata is looked up over the whole window at its end, not
    // integrated per step.
    let at_end = |id: &str, promql: String| QuerySpec {
        id: id.to_owned(),
        promql,
        kind: QueryKind::Instant { time: window.end() },
    };
    let last = |m: &str, extra: &str| format!("last_over_time({m}{}[{whole}])", sel(extra));

    // Persistent volumes, per step: a PV's $/h (capacity in GiB × price)
    // goes in equal shares to the running pods mounting its claim; a
    // claim nobody mounts keeps it (unmounted, in its namespace); a PV
    // nobody claims keeps it (unmounted, cluster level). The three kinds
    // of result series are told apart by their labels.
    let pv_cap = format!(
        "max by ({k}, persistentvolume) (kube_persistentvolume_capacity_bytes{})",
        sel("")
    );
    let pv_price = format!(
        "avg by ({k}, persistentvolume) (label_replace(pv_hourly_cost{}, \
         \"persistentvolume\", \"$1\", \"volumename\", \"(.+)\"))",
        sel("")
    );
    let claim = format!(
        "max by ({k}, namespace, persistentvolumeclaim, persistentvolume) \
         (label_replace(kube_persistentvolumeclaim_info{}, \
         \"persistentvolume\", \"$1\", \"volumename\", \"(.+)\"))",
        sel("volumename!=\"\"")
    );
    let pod_running = format!("max by ({k}, namespace, pod, uid) ({running} * 0 + 1)");
    let mount = format!(
        "(max by ({k}, namespace, pod, uid, persistentvolumeclaim) \
         (kube_pod_spec_volumes_persistentvolumeclaims_info{}) \
         * on ({k}, namespace, pod, uid) group_left {pod_running})",
        sel("")
    );
    let pv_consumers = |per_pv: &str| {
        let per_claim = format!("({claim} * on ({k}, persistentvolume) group_left () {per_pv})");
        format!(
            "(({mount} * on ({k}, namespace, persistentvolumeclaim) group_left (persistentvolume) \
             ({per_claim} / on ({k}, namespace, persistentvolumeclaim) group_left \
             count by ({k}, namespace, persistentvolumeclaim) ({mount}))) \
             or ({per_claim} unless on ({k}, namespace, persistentvolumeclaim) {mount}) \
             or ({per_pv} unless on ({k}, persistentvolume) {claim}))"
        )
    };
    let pv_rate =
        format!("({pv_cap} / {gib} * on ({k}, persistentvolume) group_left () {pv_price})");
    let lb = format!(
        "avg by ({k}, namespace, service_name, ingress_ip) (kubecost_load_balancer_cost{})",
        sel("")
    );
    // Network bytes in step [t, t + r): a forward-looking rate, like CPU.
    let per_step_rate = |m: &str, extra: &str, by: &str| {
        format!(
            "sum by ({k}, {by}) (rate({m}{}[{rate_range}] offset -{rate_lead}))",
            sel(extra)
        )
    };
    let net_price = |class: &str| {
        format!(
            "label_replace(max by ({k}) (last_over_time(kubecost_network_{class}_egress_cost{}[{whole}])), \
             \"class\", \"{class}\", \"\", \"\")",
            sel("")
        )
    };

    use ids::*;
    let node_gpus = format!(
        "(max by ({k}, node) (node_gpu_count{}) or {})",
        sel(""),
        capacity("nvidia_com_gpu")
    );
    Ok(vec![
        instant(RUN_STEPS, over("count_over_time", &run_n)),
        instant(RUN_FIRST, format!("min_over_time(timestamp({run_n}){sub})")),
        instant(RUN_LAST, format!("max_over_time(timestamp({run_n}){sub})")),
        instant(CPU_REQUEST, over("sum_over_time", &cpu_req)),
        instant(CPU_USAGE, over("sum_over_time", &cpu_use)),
        instant(CPU_ALLOC, over("sum_over_time", &cpu_alloc)),
        instant(
            CPU_COST,
            over("sum_over_time", &priced(&cpu_alloc, "node_cpu_hourly_cost")),
        ),
        instant(CPU_MAX, over("max_over_time", &cpu_use)),
        instant(RAM_REQUEST, over("sum_over_time", &ram_req)),
        instant(RAM_USAGE, over("sum_over_time", &ram_use)),
        instant(RAM_ALLOC, over("sum_over_time", &ram_alloc)),
        instant(
            RAM_COST,
            over(
                "sum_over_time",
                &priced(&format!("({ram_alloc} / {gib})"), "node_ram_hourly_cost"),
            ),
        ),
        instant(RAM_MAX, over("max_over_time", &ram_use)),
        instant(GPU_ALLOC, over("sum_over_time", &gpu_req)),
        instant(
            GPU_COST,
            over("sum_over_time", &priced(&gpu_req, "node_gpu_hourly_cost")),
        ),
        instant(NODE_STEPS, over("count_over_time", &capacity("cpu"))),
        instant(NODE_CPU, over("sum_over_time", &capacity("cpu"))),
        instant(NODE_RAM, over("sum_over_time", &capacity("memory"))),
        instant(NODE_GPU, over("sum_over_time", &node_gpus)),
        instant(
            NODE_CPU_COST,
            over(
                "sum_over_time",
                &priced(&capacity("cpu"), "node_cpu_hourly_cost"),
            ),
        ),
        instant(
            NODE_RAM_COST,
            over(
                "sum_over_time",
                &priced(
                    &format!("({} / {gib})", capacity("memory")),
                    "node_ram_hourly_cost",
                ),
            ),
        ),
        instant(
            NODE_GPU_COST,
            over("sum_over_time", &priced(&node_gpus, "node_gpu_hourly_cost")),
        ),
        instant(
            NODE_PRICED_STEPS,
            over("count_over_time", &price("node_cpu_hourly_cost")),
        ),
        at_end(
            NODE_INFO,
            format!(
                "max by ({k}, node, provider_id, instance_type) ({})",
                last("node_total_hourly_cost", "")
            ),
        ),
        at_end(
            CONTAINER_STARTED,
            format!(
                "min by ({k}, namespace, pod, uid, container) \
                 (min_over_time(kube_pod_container_state_started{}[{whole}]))",
                sel("")
            ),
        ),
        at_end(
            POD_COMPLETED,
            format!(
                "max by ({k}, namespace, pod, uid) \
                 (max_over_time(kube_pod_completion_time{}[{whole}]))",
                sel("")
            ),
        ),
        instant(PV_COST, over("sum_over_time", &pv_consumers(&pv_rate))),
        instant(PV_BYTES, over("sum_over_time", &pv_consumers(&pv_cap))),
        at_end(
            PV_INFO,
            format!(
                "max by ({k}, volumename, provider_id) ({})",
                last("pv_hourly_cost", "")
            ),
        ),
        instant(LB_COST, over("sum_over_time", &lb)),
        instant(LB_STEPS, over("count_over_time", &lb)),
        at_end(SERVICE_SELECTORS, last("service_selector_labels", "")),
        instant(
            NET_TRANSFER,
            over(
                "sum_over_time",
                &per_step_rate(
                    "container_network_transmit_bytes_total",
                    "pod!=\"\"",
                    "namespace, pod, node",
                ),
            ),
        ),
        instant(
            NET_RECEIVE,
            over(
                "sum_over_time",
                &per_step_rate(
                    "container_network_receive_bytes_total",
                    "pod!=\"\"",
                    "namespace, pod, node",
                ),
            ),
        ),
        instant(
            NET_EGRESS,
            over(
                "sum_over_time",
                &per_step_rate(
                    "kubecost_pod_network_egress_bytes_total",
                    "",
                    "namespace, pod_name, internet, same_zone, same_region",
                ),
            ),
        ),
        at_end(
            NET_PRICES,
            format!(
                "{} or {} or {}",
                net_price("zone"),
                net_price("region"),
                net_price("internet")
            ),
        ),
        at_end(NODE_LABELS, last("kube_node_labels", "")),
        at_end(POD_LABELS, last("kube_pod_labels", "")),
        at_end(POD_ANNOTATIONS, last("kube_pod_annotations", "")),
        at_end(NAMESPACE_LABELS, last("kube_namespace_labels", "")),
        at_end(
            NAMESPACE_ANNOTATIONS,
            last("kube_namespace_annotations", ""),
        ),
        at_end(
            POD_OWNERS,
            last("kube_pod_owner", "owner_is_controller=\"true\""),
        ),
        at_end(REPLICASET_OWNERS, last("kube_replicaset_owner", "")),
        instant(
            DUPLICATES,
            format!(
                "count(max_over_time((count by ({k}, namespace, pod, uid, container) \
                 (kube_pod_container_status_running{}) > 1){sub}))",
                sel("")
            ),
        ),
        at_end(
            MISSING_CLUSTER,
            format!(
                "count by (__name__) (last_over_time({{__name__=~\"{}\", {k}=\"\"}}[{whole}]))",
                [
                    "kube_pod_info",
                    "kube_pod_container_status_running",
                    "kube_pod_container_resource_requests",
                    "kube_node_status_capacity",
                    "container_cpu_usage_seconds_total",
                    "container_memory_working_set_bytes",
                    "node_cpu_hourly_cost",
                    "node_ram_hourly_cost",
                    "node_total_hourly_cost",
                ]
                .join("|")
            ),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn day() -> Window {
        let s = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        Window::new(s, s + TimeDelta::days(1)).unwrap()
    }

    #[test]
    fn subquery_range_depends_on_semantics() {
        let cfg = EngineConfig::default();
        let open = plan(day(), &cfg, RangeSemantics::LeftOpen).unwrap();
        let closed = plan(day(), &cfg, RangeSemantics::LeftClosed).unwrap();
        assert!(
            open[0].promql.ends_with("[86400s:60s])"),
            "{}",
            open[0].promql
        );
        assert!(
            closed[0].promql.ends_with("[86370s:60s])"),
            "{}",
            closed[0].promql
        );
        let at = day().end() - TimeDelta::minutes(1);
        assert_eq!(open[0].kind, QueryKind::Instant { time: at });
    }

    #[test]
    fn cluster_filter_and_label_are_used() {
        let cfg = EngineConfig {
            cluster_label: "cluster".into(),
            cluster_filter: Some("prod\"1".into()),
            ..EngineConfig::default()
        };
        let p = plan(day(), &cfg, RangeSemantics::LeftOpen).unwrap();
        let run = &p[0].promql;
        assert!(
            run.contains("kube_pod_container_status_running{cluster=\"prod\\\"1\"}"),
            "{run}"
        );
        assert!(
            run.contains("max by (cluster, namespace, pod, uid, container)"),
            "{run}"
        );
        let ids: std::collections::HashSet<_> = p.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids.len(), p.len(), "query ids are unique");
    }

    #[test]
    fn rejects_unaligned_long_and_short_windows() {
        let cfg = EngineConfig::default();
        let s = day().start() + TimeDelta::seconds(30);
        let unaligned = Window::new(s, s + TimeDelta::hours(1)).unwrap();
        assert!(plan(unaligned, &cfg, RangeSemantics::LeftOpen).is_err());
        let long = Window::new(day().start(), day().end() + TimeDelta::hours(1)).unwrap();
        let e = plan(long, &cfg, RangeSemantics::LeftOpen).unwrap_err();
        assert!(e.to_string().contains("split it first"), "{e}");
        let empty = Window::new(day().start(), day().start()).unwrap();
        assert!(plan(empty, &cfg, RangeSemantics::LeftOpen).is_err());
    }

    #[test]
    fn probe_interpretation() {
        assert_eq!(
            range_semantics_from_probe(3.0),
            Some(RangeSemantics::LeftClosed)
        );
        assert_eq!(
            range_semantics_from_probe(2.0),
            Some(RangeSemantics::LeftOpen)
        );
        assert_eq!(range_semantics_from_probe(5.0), None);
    }
}
