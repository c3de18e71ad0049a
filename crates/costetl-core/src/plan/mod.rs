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
//! `promql` (text building and the window's timing), `first_round` (the
//! first-round queries, by what they measure), `followup` (the
//! second-round queries), `rules` (the recording rules and their probe).

mod config;
mod first_round;
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

use first_round::FirstRound;

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
    let round = FirstRound::new(window, cfg, sem)?;
    // The fetch issues queries in this order, so the heaviest come first
    // and the last to finish are light: containers, then network and
    // metadata (the heavier of the rest), nodes, volumes and balancers.
    let mut queries = round.containers();
    queries.extend(round.network());
    queries.extend(round.metadata());
    queries.extend(round.nodes());
    queries.extend(round.volumes());
    queries.extend(round.balancers());
    queries.push(round.missing_cluster());
    Ok(queries)
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

    /// The fetch issues queries in plan order, so the order is part of the
    /// plan: the heaviest first, whatever the configuration.
    #[test]
    fn heaviest_queries_come_first() {
        let ids = |cfg: &EngineConfig| -> Vec<String> {
            let p = plan(day(), cfg, RangeSemantics::LeftOpen).unwrap();
            p.into_iter().map(|q| q.id).collect()
        };
        let expected = [
            "request_max",
            "cpu_usage",
            "cpu_max",
            "ram_usage",
            "ram_max",
            "run_steps",
            "duplicates",
            "pod_node",
            "pod_completed",
            "net_transfer",
            "net_receive",
            "net_egress",
            "net_prices",
            "pod_labels",
            "pod_annotations",
            "namespace_labels",
            "namespace_annotations",
            "pod_owners",
            "replicaset_owners",
            "node_steps",
            "node_capacity",
            "node_gpus",
            "price_sum",
            "price_steps",
            "price_changes",
            "node_info",
            "node_labels",
            "pv_bytes",
            "pv_steps",
            "pv_price",
            "pv_info",
            "claims",
            "mounts",
            "lb_cost",
            "lb_steps",
            "service_selectors",
            "missing_cluster",
        ];
        assert_eq!(ids(&EngineConfig::default()), expected);
        let rules = EngineConfig {
            rules: RulesMode::Use,
            ..EngineConfig::default()
        };
        assert_eq!(ids(&rules), expected);
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
