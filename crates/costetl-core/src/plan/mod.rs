//! The query plan: which PromQL the engine sends for one window. Pure text
//! building; `docs/metrics.md` lists the series, `docs/engine.md` says why
//! the queries look the way they do.
//!
//! No vector matching is ever evaluated per step. Every query is either a
//! function over one series family evaluated once at the window's end
//! (`last_over_time(x[D])`, `min_over_time`, …) or a subquery over a plain
//! selector or a `rate` of one (`sum_over_time(x[R:r])`), with at most a
//! `by` aggregation applied once to its result. The engine joins the
//! results per container in Rust. Where a product over time is needed
//! (usage above the request, node prices that change), [`followups`] asks
//! for it for the few containers concerned only, multiplying by a
//! `scalar()` rather than joining.
//!
//! Map: [`config`] (what the engine is told), [`ids`] (typed query ids),
//! `promql` (text building and the window's timing), `followup` (the
//! second-round queries), `rules` (the recording rules and their probe).

mod config;
mod followup;
mod ids;
pub(crate) mod promql;
mod rules;

pub use config::{DEFAULT_NODE_LABELS, DefaultPricing, EngineConfig, RangeSemantics};
pub use followup::{Followups, Resource, TERM_LABEL, Term, TermPods, followups};
pub use ids::QueryId;
pub use promql::dur as promql_duration;
pub use rules::{
    CPU_IRATE_RULE, Rule, RuleGroup, RulesConfig, RulesMode, rule_groups, rules_mode_from_probe,
    rules_probe,
};

use crate::error::Result;
use crate::source::{QueryKind, QuerySpec};
use crate::window::{Period, Window};

use promql::{Grid, Selectors};

/// The series the cost exporter and kube-state-metrics must carry the
/// cluster label on; `missing_cluster` counts those that do not.
const CLUSTER_LABELLED: &[&str] = &[
    "kube_pod_info",
    "kube_pod_container_status_running",
    "kube_pod_container_resource_requests",
    "kube_node_status_capacity",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_total_hourly_cost",
];

/// The probe that tells left-open from left-closed subquery ranges: at a
/// step-aligned time, `[2m:1m]` holds 3 steps when left-closed, 2 when open.
pub fn range_probe(window: Window) -> QuerySpec {
    QuerySpec {
        id: QueryId::RangeProbe.as_str().into(),
        promql: "count_over_time(vector(1)[2m:1m])".into(),
        // Any minute-aligned time works; the window's hour keeps fixtures
        // of the same window identical.
        kind: QueryKind::Instant {
            time: Period::Hour.floor(window.start()),
        },
    }
}

/// The probe that learns cAdvisor's scrape interval: the most samples any
/// CPU counter has in the window's last hour (`scrape_interval_from_probe`).
pub fn scrape_probe(window: Window) -> QuerySpec {
    QuerySpec {
        id: QueryId::ScrapeProbe.as_str().into(),
        // The window's last hour (or all of a shorter window): a day's
        // samples would cost as much as a query of the plan.
        promql: format!(
            "max(count_over_time(container_cpu_usage_seconds_total{{container!=\"\"}}[{}]))",
            promql::dur(window.duration().min(chrono::TimeDelta::hours(1)))
        ),
        kind: QueryKind::Instant { time: window.end() },
    }
}

/// The scrape interval `samples` in `window`'s last hour imply (whole
/// seconds).
pub fn scrape_interval_from_probe(window: Window, samples: f64) -> Option<chrono::TimeDelta> {
    let span = window
        .duration()
        .min(chrono::TimeDelta::hours(1))
        .as_seconds_f64();
    (samples.is_finite() && samples >= 2.0)
        .then(|| chrono::TimeDelta::seconds((span / samples).round() as i64))
}

/// Interpret the probe's value.
pub fn range_semantics_from_probe(steps: f64) -> Option<RangeSemantics> {
    match steps as i64 {
        3 => Some(RangeSemantics::LeftClosed),
        2 => Some(RangeSemantics::LeftOpen),
        _ => None,
    }
}

/// The first round of queries for one window, at most `max_query_window`
/// long and aligned to the resolution.
pub fn plan(window: Window, cfg: &EngineConfig, sem: RangeSemantics) -> Result<Vec<QuerySpec>> {
    let g = Grid::new(window, cfg, sem)?;
    let s = Selectors::new(cfg);
    let k = s.k.as_str();
    let sub = &g.sub;
    let whole = &g.whole;
    let step = |id: QueryId, promql: String| QuerySpec {
        id: id.as_str().into(),
        promql,
        kind: QueryKind::Instant { time: g.at },
    };
    let at_end = |id: QueryId, promql: String| QuerySpec {
        id: id.as_str().into(),
        promql,
        kind: QueryKind::Instant { time: g.end },
    };
    let last = |m: &str, extra: &[&str]| format!("last_over_time({m}{}{whole})", s.sel(extra));

    let running = format!("kube_pod_container_status_running{}", s.sel(&[]));
    let by_container = format!("{k}, namespace, pod, uid, container");
    // cAdvisor: no uid, but the node; `id` (the cgroup) tells a restarted
    // container's new series from an HA pair's duplicate of the same one.
    let by_cadvisor = format!("{k}, namespace, pod, container, node, id");
    let by_node = format!("{k}, namespace, pod, container, node");
    let cadvisor = |m: &str| format!("{m}{}", s.sel(&["container!=\"\"", "container!=\"POD\""]));
    let cpu_rate = g.forward_rate(&cadvisor("container_cpu_usage_seconds_total"));
    let wss = cadvisor("container_memory_working_set_bytes");
    let requests = format!(
        "kube_pod_container_resource_requests{}",
        s.sel(&["resource=~\"cpu|memory|nvidia_com_gpu\""])
    );
    let capacity = |resources: &str| {
        format!(
            "kube_node_status_capacity{}",
            s.sel(&[&format!("resource=~\"{resources}\"")])
        )
    };
    // Per price metric a subquery of the bare selector (Prometheus'
    // cheapest path), tagged once outside: `label_replace` inside the
    // subquery would run at every step.
    let prices = |f: &str| {
        ["cpu", "ram", "gpu"]
            .map(|p| {
                format!(
                    "label_replace(avg by ({k}, node) ({f}(node_{p}_hourly_cost{}{sub})), \"price\", \"{p}\", \"\", \"\")",
                    s.sel(&[])
                )
            })
            .join(" or ")
    };
    // Counters and gauges whose raw samples say it all read each sample
    // once: `increase` over the window (a subquery of `rate` re-reads each
    // sample at every step its rate window covers: 11 times at 1m).
    let samples = &g.samples;
    let net = |m: &str, extra: &[&str], by: &str| {
        format!(
            "sum by ({k}, {by}) (increase({m}{}{samples}))",
            s.sel(extra)
        )
    };
    let net_price = |class: &str| {
        format!(
            "label_replace(max by ({k}) ({}), \"class\", \"{class}\", \"\", \"\")",
            last(&format!("kubecost_network_{class}_egress_cost"), &[])
        )
    };

    use QueryId::*;
    Ok(vec![
        // Containers. The fetch issues queries in this order, so the
        // heaviest come first and the last to finish are light.
        at_end(
            RequestMax,
            format!("max by ({by_container}, resource) (max_over_time({requests}{whole}))"),
        ),
        // Core-seconds: the counter's increase over the window's samples.
        at_end(
            CpuUsage,
            format!(
                "max by ({by_cadvisor}) (increase({}{samples}))",
                cadvisor("container_cpu_usage_seconds_total")
            ),
        ),
        match cfg.rules {
            // The recorded rate of each scrape interval: one raw pass,
            // whatever the resolution. With the rule evaluated at least once
            // per scrape it bounds the per-step rate from above, which is
            // all the follow-ups need to know.
            RulesMode::Use => at_end(
                CpuMax,
                format!(
                    "max by ({by_cadvisor}) (max_over_time({CPU_IRATE_RULE}{}{samples}))",
                    s.sel(&[])
                ),
            ),
            RulesMode::Auto | RulesMode::Ignore => step(
                CpuMax,
                format!("max by ({by_cadvisor}) (max_over_time({cpu_rate}{sub}))"),
            ),
        },
        // The average and the largest of the samples taken while the
        // container ran (a step grid would also see a stopped container's
        // last sample for the lookback after it stopped, and miss samples
        // between steps coarser than the scrapes).
        at_end(
            RamUsage,
            format!("max by ({by_node}) (avg_over_time({wss}{samples}))"),
        ),
        at_end(
            RamMax,
            format!("max by ({by_cadvisor}) (max_over_time({wss}{samples}))"),
        ),
        step(
            RunSteps,
            format!("max by ({by_container}) (sum_over_time({running}{sub}))"),
        ),
        // At the last step (the lookback finds every series running
        // then): a second kube-state-metrics is scraped all day, not for
        // a moment.
        step(
            Duplicates,
            format!("count(count by ({by_container}) ({running}) > 1)"),
        ),
        at_end(
            PodNode,
            format!(
                "max by ({k}, namespace, pod, uid, node) ({})",
                last("kube_pod_info", &["node!=\"\""])
            ),
        ),
        at_end(
            PodCompleted,
            format!(
                "max by ({k}, namespace, pod, uid) (max_over_time(kube_pod_completion_time{}{whole}))",
                s.sel(&[])
            ),
        ),
        // Network and metadata (the heavier of the second round's rest).
        at_end(
            NetTransfer,
            net(
                "container_network_transmit_bytes_total",
                &["pod!=\"\""],
                "namespace, pod, node",
            ),
        ),
        at_end(
            NetReceive,
            net(
                "container_network_receive_bytes_total",
                &["pod!=\"\""],
                "namespace, pod, node",
            ),
        ),
        at_end(
            NetEgress,
            net(
                "kubecost_pod_network_egress_bytes_total",
                &[],
                "namespace, pod_name, internet, same_zone, same_region",
            ),
        ),
        at_end(
            NetPrices,
            format!(
                "{} or {} or {}",
                net_price("zone"),
                net_price("region"),
                net_price("internet")
            ),
        ),
        at_end(PodLabels, last("kube_pod_labels", &[])),
        at_end(PodAnnotations, last("kube_pod_annotations", &[])),
        at_end(NamespaceLabels, last("kube_namespace_labels", &[])),
        at_end(
            NamespaceAnnotations,
            last("kube_namespace_annotations", &[]),
        ),
        at_end(
            PodOwners,
            last("kube_pod_owner", &["owner_is_controller=\"true\""]),
        ),
        at_end(ReplicasetOwners, last("kube_replicaset_owner", &[])),
        // Nodes: capacity and prices.
        step(
            NodeSteps,
            format!(
                "max by ({k}, node) (count_over_time({}{sub}))",
                capacity("cpu")
            ),
        ),
        step(
            NodeCapacity,
            format!(
                "max by ({k}, node, resource) (sum_over_time({}{sub}))",
                capacity("cpu|memory|nvidia_com_gpu")
            ),
        ),
        step(
            NodeGpus,
            format!(
                "max by ({k}, node) (sum_over_time(node_gpu_count{}{sub}))",
                s.sel(&[])
            ),
        ),
        // Two cost exporters average, as OpenCost's `avg by` does
        // (per step for the sum; for steps and changes, an upper bound).
        step(PriceSum, prices("sum_over_time")),
        step(PriceSteps, prices("count_over_time")),
        step(PriceChanges, prices("changes")),
        at_end(
            NodeInfo,
            format!(
                "max by ({k}, node, provider_id, instance_type) ({})",
                last("node_total_hourly_cost", &[])
            ),
        ),
        at_end(NodeLabels, last("kube_node_labels", &[])),
        // Volumes.
        step(
            PvBytes,
            format!(
                "max by ({k}, persistentvolume) (sum_over_time(kube_persistentvolume_capacity_bytes{}{sub}))",
                s.sel(&[])
            ),
        ),
        step(
            PvSteps,
            format!(
                "max by ({k}, persistentvolume) (count_over_time(kube_persistentvolume_capacity_bytes{}{sub}))",
                s.sel(&[])
            ),
        ),
        step(
            PvPrice,
            format!(
                "avg by ({k}, volumename) (sum_over_time(pv_hourly_cost{}{sub}))",
                s.sel(&[])
            ),
        ),
        at_end(
            PvInfo,
            format!(
                "max by ({k}, volumename, provider_id) ({})",
                last("pv_hourly_cost", &[])
            ),
        ),
        step(
            Claims,
            format!(
                "max by ({k}, namespace, persistentvolumeclaim, volumename) \
                 (count_over_time(kube_persistentvolumeclaim_info{}{sub}))",
                s.sel(&["volumename!=\"\""])
            ),
        ),
        at_end(
            Mounts,
            format!(
                "max by ({k}, namespace, pod, uid, persistentvolumeclaim) ({})",
                last("kube_pod_spec_volumes_persistentvolumeclaims_info", &[])
            ),
        ),
        // Load balancers and services.
        step(
            LbCost,
            format!(
                "avg by ({k}, namespace, service_name, ingress_ip) \
                 (sum_over_time(kubecost_load_balancer_cost{}{sub}))",
                s.sel(&[])
            ),
        ),
        step(
            LbSteps,
            format!(
                "max by ({k}, namespace, service_name, ingress_ip) \
                 (count_over_time(kubecost_load_balancer_cost{}{sub}))",
                s.sel(&[])
            ),
        ),
        at_end(ServiceSelectors, last("service_selector_labels", &[])),
        at_end(
            MissingCluster,
            format!(
                "count by (__name__) (last_over_time({{__name__=~\"{}\", {k}=\"\"}}{whole}))",
                CLUSTER_LABELLED.join("|")
            ),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn day() -> Window {
        let s = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        Window::new(s, s + TimeDelta::days(1)).unwrap()
    }

    #[test]
    fn subquery_range_depends_on_semantics() {
        let cfg = EngineConfig::default();
        let run_steps = |sem| {
            plan(day(), &cfg, sem)
                .unwrap()
                .into_iter()
                .find(|q| q.id == QueryId::RunSteps.as_str())
                .unwrap()
        };
        let (open, closed) = (
            run_steps(RangeSemantics::LeftOpen),
            run_steps(RangeSemantics::LeftClosed),
        );
        assert!(open.promql.ends_with("[1d:1m]))"), "{}", open.promql);
        assert!(
            closed.promql.ends_with("[86370s:1m]))"),
            "{}",
            closed.promql
        );
        let at = day().end() - TimeDelta::minutes(1);
        assert_eq!(open.kind, QueryKind::Instant { time: at });
    }

    #[test]
    fn cluster_filter_and_label_are_used() {
        let cfg = EngineConfig {
            cluster_label: "cluster".into(),
            cluster_filter: Some("prod\"1".into()),
            ..EngineConfig::default()
        };
        let p = plan(day(), &cfg, RangeSemantics::LeftOpen).unwrap();
        let run = &p
            .iter()
            .find(|q| q.id == QueryId::RunSteps.as_str())
            .unwrap()
            .promql;
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
        for q in &p {
            assert!(q.id.parse::<QueryId>().is_ok(), "{}", q.id);
        }
    }

    /// The point of the plan: no binary operator between two vectors
    /// (`* on`, `or`, `unless`, `group_left`) inside a subquery.
    #[test]
    fn no_vector_matching_inside_subqueries() {
        let p = plan(day(), &EngineConfig::default(), RangeSemantics::LeftOpen).unwrap();
        for q in &p {
            for bad in [" on (", "group_left", " unless ", "ignoring"] {
                assert!(!q.promql.contains(bad), "{}: {}", q.id, q.promql);
            }
            // `or` only at the top level, between whole subqueries.
            for part in q.promql.split(" or ") {
                let open = part.matches('(').count();
                let close = part.matches(')').count();
                assert_eq!(
                    open, close,
                    "{}: `or` inside an expression: {}",
                    q.id, q.promql
                );
            }
        }
    }

    /// Functions of the raw samples cover exactly `[start, end)`: the
    /// range `[D] offset 1ms` evaluated at the window's end, not at the
    /// last step.
    #[test]
    fn raw_sample_queries_are_evaluated_at_the_end() {
        let p = plan(day(), &EngineConfig::default(), RangeSemantics::LeftClosed).unwrap();
        let raw: Vec<&str> = p
            .iter()
            .filter(|q| q.promql.contains("[1d] offset 1ms"))
            .map(|q| {
                assert_eq!(q.kind, QueryKind::Instant { time: day().end() }, "{}", q.id);
                q.id.as_str()
            })
            .collect();
        assert_eq!(
            raw,
            [
                "cpu_usage",
                "ram_usage",
                "ram_max",
                "net_transfer",
                "net_receive",
                "net_egress"
            ]
        );
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
