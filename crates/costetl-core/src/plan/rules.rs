//! Recording rules: the groups `costetl rules` prints for Prometheus' or a
//! managed ruler (Amazon Managed Service for Prometheus, Mimir), and the
//! probe that tells the plan whether their series cover a window.
//!
//! Every rule reads one series family with no vector matching, so the
//! ruler pays one pass over each scraped sample; the plan then reads the
//! recorded series raw (`max_over_time(rule[D])`) instead of evaluating a
//! `rate` at every step of a subquery.
//!
//! The Kubecost group is the seed documents' rules with today's cAdvisor
//! labels (`container`, `pod`; `container_name` and `pod_name` went away in
//! Kubernetes 1.16, so the published rules record nothing on a current
//! cluster) and the cluster label kept, so that a ruler evaluating a whole
//! fleet's workspace does not add clusters together. Kubecost's two
//! "Savings" rules are left out: they join Kubecost's own allocation
//! series, which costetl does not emit.

use chrono::TimeDelta;

use crate::source::{QueryKind, QuerySpec};
use crate::window::Window;

use super::QueryId;
use super::config::EngineConfig;
use super::promql::{Selectors, dur};

/// The series costetl's own rule records: per cAdvisor container series
/// (cluster, namespace, pod, container, node, cgroup id), the CPU rate over
/// the last two scrapes.
pub const CPU_IRATE_RULE: &str = "costetl:container_cpu_usage:irate";

/// What the rules are written for.
#[derive(Clone, Debug, PartialEq)]
pub struct RulesConfig {
    /// The cluster label kept by every aggregation.
    pub cluster_label: String,
    /// How often the ruler evaluates the groups.
    pub interval: TimeDelta,
    /// The range of `rate`/`irate`: at least two scrape intervals.
    pub rate_range: TimeDelta,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            cluster_label: EngineConfig::default().cluster_label,
            interval: TimeDelta::minutes(1),
            rate_range: TimeDelta::minutes(5),
        }
    }
}

/// One rule group of a Prometheus rule file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// Evaluation interval.
    pub interval: TimeDelta,
    /// Recording rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// One recording rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The recorded series' name.
    pub record: String,
    /// The PromQL it records.
    pub expr: String,
}

/// The groups `costetl rules` prints: Kubecost's (for Kubecost and
/// OpenCost, which read `kubecost_container_cpu_usage_irate` when present)
/// and costetl's own.
pub fn rule_groups(cfg: &RulesConfig) -> Vec<RuleGroup> {
    let k = &cfg.cluster_label;
    let range = dur(cfg.rate_range);
    let cpu = r#"container_cpu_usage_seconds_total{container!="", container!="POD"}"#;
    // The seed's cluster-wide rate keeps the pause containers.
    let cpu_all = r#"container_cpu_usage_seconds_total{container!=""}"#;
    let wss = r#"container_memory_working_set_bytes{container!="", container!="POD"}"#;
    let rule = |record: &str, expr: String| Rule {
        record: record.into(),
        expr,
    };
    vec![
        RuleGroup {
            name: "kubecost".into(),
            interval: cfg.interval,
            rules: vec![
                rule(
                    "cluster:cpu_usage:rate5m",
                    format!("sum by ({k}) (rate({cpu_all}[{range}]))"),
                ),
                rule(
                    "cluster:cpu_usage_nosum:rate5m",
                    format!("rate({cpu_all}[{range}])"),
                ),
                rule(
                    "kubecost_container_cpu_usage_irate",
                    format!("avg by ({k}, container, pod, namespace) (irate({cpu}[{range}]))"),
                ),
                rule(
                    "kubecost_container_memory_working_set_bytes",
                    format!("sum by ({k}, container, pod, namespace) ({wss})"),
                ),
                rule(
                    "kubecost_cluster_memory_working_set_bytes",
                    format!("sum by ({k}) ({wss})"),
                ),
            ],
        },
        RuleGroup {
            name: "costetl".into(),
            interval: cfg.interval,
            // `max by` the series' identity: an HA pair's duplicate scrape
            // (another `instance`) is one series, not two.
            rules: vec![rule(
                CPU_IRATE_RULE,
                format!(
                    "max by ({k}, namespace, pod, container, node, id) (irate({cpu}[{range}]))"
                ),
            )],
        },
    ]
}

/// Whether the plan reads costetl's recorded series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RulesMode {
    /// Probe each window ([`rules_probe`]) and read the rule when it covers
    /// the window's start.
    #[default]
    Auto,
    /// The probe found the rule: read it.
    Use,
    /// Never read it.
    Ignore,
}

/// The probe for costetl's rule: how many recorded series have samples in
/// the window's first hour (or all of a shorter window). A rule deployed
/// after the window started records nothing there, and the plan falls back
/// to the raw series.
pub fn rules_probe(window: Window, cfg: &EngineConfig) -> QuerySpec {
    let first = window.duration().min(TimeDelta::hours(1));
    let s = Selectors::new(cfg);
    QuerySpec {
        id: QueryId::RulesProbe.as_str().into(),
        promql: format!(
            "count(count_over_time({CPU_IRATE_RULE}{}[{}]))",
            s.sel(&[]),
            dur(first)
        ),
        kind: QueryKind::Instant {
            time: window.start() + first,
        },
    }
}

/// The mode the probe's answer (`count`, or none) calls for.
pub fn rules_mode_from_probe(count: Option<f64>) -> RulesMode {
    match count {
        Some(n) if n.is_finite() && n > 0.0 => RulesMode::Use,
        _ => RulesMode::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_keep_the_cluster_label_and_use_current_cadvisor_labels() {
        let groups = rule_groups(&RulesConfig {
            cluster_label: "cluster".into(),
            ..RulesConfig::default()
        });
        let rules: Vec<&Rule> = groups.iter().flat_map(|g| &g.rules).collect();
        assert_eq!(rules.len(), 6);
        for r in &rules {
            assert!(!r.expr.contains("container_name"), "{}", r.expr);
            if r.expr.contains(" by (") {
                assert!(r.expr.contains("by (cluster"), "{}", r.expr);
            }
            // One family, no vector matching: the ruler's cost is linear.
            for bad in [" on (", "group_left", " unless ", " or ", " * "] {
                assert!(!r.expr.contains(bad), "{}", r.expr);
            }
        }
        let own = rules.iter().find(|r| r.record == CPU_IRATE_RULE).unwrap();
        assert_eq!(
            own.expr,
            "max by (cluster, namespace, pod, container, node, id) \
             (irate(container_cpu_usage_seconds_total{container!=\"\", container!=\"POD\"}[5m]))"
        );
    }

    #[test]
    fn probe_reads_the_first_hour_and_decides() {
        use chrono::{TimeZone, Utc};
        let s = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        let w = Window::new(s, s + TimeDelta::days(1)).unwrap();
        let q = rules_probe(w, &EngineConfig::default());
        assert_eq!(
            q.promql,
            "count(count_over_time(costetl:container_cpu_usage:irate[1h]))"
        );
        assert_eq!(
            q.kind,
            QueryKind::Instant {
                time: s + TimeDelta::hours(1)
            }
        );
        assert_eq!(rules_mode_from_probe(Some(3.0)), RulesMode::Use);
        assert_eq!(rules_mode_from_probe(Some(0.0)), RulesMode::Ignore);
        assert_eq!(rules_mode_from_probe(None), RulesMode::Ignore);
    }
}
