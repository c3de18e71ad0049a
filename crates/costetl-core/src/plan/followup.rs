//! The second round: what the first round cannot give, asked for only the
//! containers that need it.
//!
//! - A container that did not run at every step of the window needs its
//!   first and last running step and its start time (kube-state-metrics),
//!   for its exact edges; one that ran throughout has them already.
//! - A container whose usage crosses its request needs
//!   Σ max(0, usage − request) over its steps: `clamp_min(usage − q, 0)`,
//!   one term per distinct request value `q`.
//! - A container on a node whose price changes (spot re-pricing, a price
//!   that starts or stops mid-window) needs Σ running × price (and usage ×
//!   price, excess × price): the price enters as `scalar(avg(price{node}))`,
//!   a per-step number, never as a vector join. A step without a price
//!   gives NaN, which `>= 0` drops: unpriced steps cost nothing.
//!
//! - A node whose price has NaN or ±Inf samples needs its price summed
//!   without them, so that its own cost (and idle) is the finite one its
//!   allocations are priced against.
//!
//! Terms of one query are tagged (`costetl_term="<i>"`) and joined with
//! `or` at the top level, evaluated once, so a series matched by two
//! terms' selectors comes back once per term.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::source::{QueryKind, QuerySpec};
use crate::window::Window;

use super::config::{EngineConfig, RangeSemantics};
use super::ids::QueryId;
use super::promql::{Grid, Selectors, alternation};

/// The label that tags each term's series.
pub const TERM_LABEL: &str = "costetl_term";

/// A resource with a request, a usage and a node price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// CPU cores.
    Cpu,
    /// RAM bytes (priced per GiB).
    Ram,
    /// GPUs (no usage series).
    Gpu,
}

impl Resource {
    fn price_metric(self) -> &'static str {
        match self {
            Resource::Cpu => "node_cpu_hourly_cost",
            Resource::Ram => "node_ram_hourly_cost",
            Resource::Gpu => "node_gpu_hourly_cost",
        }
    }
}

/// A superset selector for the containers of one term: the engine keeps
/// only the series of the containers it asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TermPods {
    /// Cluster id.
    pub cluster: String,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
    /// Pod names.
    pub pods: BTreeSet<String>,
    /// Container names (all of the pods' when empty).
    pub containers: BTreeSet<String>,
    /// The node, when the term is about a node's price (cAdvisor series
    /// carry it).
    pub node: Option<String>,
}

/// One term of a follow-up query.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Which containers.
    pub pods: TermPods,
    /// The request subtracted from usage (excess terms).
    pub request: Option<f64>,
}

/// The follow-up terms per query, decided by the engine from the first
/// round's results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Followups {
    /// Terms by query; an id without terms is not queried.
    pub terms: BTreeMap<QueryId, Vec<Term>>,
}

impl Followups {
    /// Add a term to `id`; returns its index (the `costetl_term` value).
    pub fn push(&mut self, id: QueryId, term: Term) -> usize {
        let v = self.terms.entry(id).or_default();
        v.push(term);
        v.len() - 1
    }
}

/// The follow-up queries for `window`.
pub fn followups(
    window: Window,
    cfg: &EngineConfig,
    sem: RangeSemantics,
    f: &Followups,
) -> Result<Vec<QuerySpec>> {
    let g = Grid::new(window, cfg, sem)?;
    let s = Selectors::new(cfg);
    let b = Builder {
        g: &g,
        s: &s,
        default_cluster: &cfg.default_cluster,
    };
    // Ids that are not follow-ups (a first-round id) have no term text
    // and are left out.
    Ok(f.terms
        .iter()
        .filter_map(|(&id, terms)| {
            let parts = terms
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let term = b.term(id, t)?;
                    Some(format!(
                        "label_replace({term}, \"{TERM_LABEL}\", \"{i}\", \"\", \"\")"
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            (!parts.is_empty()).then(|| QuerySpec {
                id: id.as_str().into(),
                promql: parts.join(" or "),
                kind: QueryKind::Instant { time: g.at },
            })
        })
        .collect())
}

struct Builder<'a> {
    g: &'a Grid,
    s: &'a Selectors,
    default_cluster: &'a str,
}

impl Builder<'_> {
    fn matchers(&self, p: &TermPods, cadvisor: bool) -> Vec<String> {
        let mut m = vec![
            self.s.cluster_matcher(&p.cluster, self.default_cluster),
            format!(
                "namespace=~{}",
                alternation(p.namespaces.iter().map(String::as_str))
            ),
            format!("pod=~{}", alternation(p.pods.iter().map(String::as_str))),
        ];
        if !p.containers.is_empty() {
            m.push(format!(
                "container=~{}",
                alternation(p.containers.iter().map(String::as_str))
            ));
        }
        if cadvisor && let Some(n) = &p.node {
            m.push(format!("node={}", super::promql::quote(n)));
        }
        m
    }

    fn selector(&self, metric: &str, p: &TermPods, cadvisor: bool) -> String {
        let m = self.matchers(p, cadvisor);
        let refs: Vec<&str> = m.iter().map(String::as_str).collect();
        format!("{metric}{}", self.s.sel(&refs))
    }

    fn usage(&self, r: Resource, p: &TermPods) -> String {
        match r {
            Resource::Cpu => {
                self.g
                    .forward_rate(&self.selector("container_cpu_usage_seconds_total", p, true))
            }
            _ => self.selector("container_memory_working_set_bytes", p, true),
        }
    }

    fn price(&self, r: Resource, p: &TermPods) -> String {
        let node = p.node.as_deref().unwrap_or_default();
        let price = format!(
            "{}{{{}, node={}}}",
            r.price_metric(),
            self.s.cluster_matcher(&p.cluster, self.default_cluster),
            super::promql::quote(node)
        );
        format!("scalar(avg({}))", super::promql::price_samples(&price))
    }

    /// Σ usable $/h over the steps, per price (`price` label), of the
    /// term's node; two cost exporters average, as in the first round.
    fn node_price_sum(&self, p: &TermPods) -> String {
        let (k, sub) = (&self.s.k, &self.g.sub);
        let node = p.node.as_deref().unwrap_or_default();
        let cluster = self.s.cluster_matcher(&p.cluster, self.default_cluster);
        ["cpu", "ram", "gpu"]
            .map(|r| {
                let price = format!(
                    "node_{r}_hourly_cost{{{cluster}, node={}}}",
                    super::promql::quote(node)
                );
                format!(
                    "label_replace(avg by ({k}, node) (sum_over_time({}{sub})), \"price\", \"{r}\", \"\", \"\")",
                    super::promql::price_samples(&price)
                )
            })
            .join(" or ")
    }

    fn term(&self, id: QueryId, t: &Term) -> Option<String> {
        use QueryId::*;
        let k = &self.s.k;
        let sub = &self.g.sub;
        let by_container = format!("{k}, namespace, pod, uid, container");
        let by_cadvisor = format!("{k}, namespace, pod, container, node, id");
        let excess = |r: Resource| {
            format!(
                "clamp_min({} - {}, 0)",
                self.usage(r, &t.pods),
                t.request.unwrap_or(0.0)
            )
        };
        let priced = |x: String, r: Resource| format!("(({x} * {}) >= 0)", self.price(r, &t.pods));
        let running = || self.selector("kube_pod_container_status_running", &t.pods, false);
        let per_step =
            |by: &str, inner: String| format!("max by ({by}) (sum_over_time({inner}{sub}))");
        // The last running step is the largest `running × t`; the first,
        // the largest `running / t` (1/t falls with t): one multiplication
        // by a scalar per step, where `timestamp(running > 0)` costs a
        // comparison and a function (2–3× the backend CPU, measured).
        let edge = |op: &str| {
            format!(
                "max by ({by_container}) (max_over_time(({} {op} time()){sub}))",
                running()
            )
        };
        Some(match id {
            RunFirst => edge("/"),
            RunLast => edge("*"),
            ContainerStarted => format!(
                "min by ({by_container}) (min_over_time({}{}))",
                self.selector("kube_pod_container_state_started", &t.pods, false),
                self.g.whole
            ),
            PvShares => {
                let pods = format!("max by ({k}, namespace, pod, uid) ({} > 0)", running());
                format!(
                    "max by ({k}, namespace, pod, uid) (sum_over_time(({pods} / scalar(count({pods}))){sub}))"
                )
            }
            CpuExcess => per_step(&by_cadvisor, excess(Resource::Cpu)),
            RamExcess => per_step(&by_cadvisor, excess(Resource::Ram)),
            CpuExcessPrice => per_step(&by_cadvisor, priced(excess(Resource::Cpu), Resource::Cpu)),
            RamExcessPrice => per_step(&by_cadvisor, priced(excess(Resource::Ram), Resource::Ram)),
            CpuUsagePrice => per_step(
                &by_cadvisor,
                priced(self.usage(Resource::Cpu, &t.pods), Resource::Cpu),
            ),
            RamUsagePrice => per_step(
                &by_cadvisor,
                priced(self.usage(Resource::Ram, &t.pods), Resource::Ram),
            ),
            CpuRunPrice => per_step(&by_container, priced(running(), Resource::Cpu)),
            RamRunPrice => per_step(&by_container, priced(running(), Resource::Ram)),
            GpuRunPrice => per_step(&by_container, priced(running(), Resource::Gpu)),
            NodePriceSum => self.node_price_sum(&t.pods),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    #[test]
    fn terms_are_tagged_and_joined_once_outside_subqueries() {
        let s = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        let w = Window::new(s, s + TimeDelta::days(1)).unwrap();
        let pods = |node: Option<&str>| TermPods {
            cluster: "c".into(),
            namespaces: ["data".to_owned()].into(),
            pods: ["postgres-0".to_owned(), "db.x".to_owned()].into(),
            containers: ["pg".to_owned()].into(),
            node: node.map(str::to_owned),
        };
        let mut f = Followups::default();
        f.push(
            QueryId::CpuExcess,
            Term {
                pods: pods(None),
                request: Some(0.5),
            },
        );
        f.push(
            QueryId::CpuExcess,
            Term {
                pods: pods(None),
                request: Some(2.0),
            },
        );
        f.push(
            QueryId::RamRunPrice,
            Term {
                pods: pods(Some("n1")),
                request: None,
            },
        );
        let q = followups(w, &EngineConfig::default(), RangeSemantics::LeftOpen, &f).unwrap();
        assert_eq!(q.len(), 2);
        let cpu = &q[0].promql;
        assert!(cpu.contains(r#"pod=~"db\\.x|postgres-0""#), "{cpu}");
        assert!(cpu.contains("- 0.5, 0)"), "{cpu}");
        assert!(cpu.contains(r#""costetl_term", "1""#), "{cpu}");
        assert_eq!(cpu.matches(" or ").count(), 1);
        let ram = &q[1].promql;
        assert!(
            ram.contains(
                r#"scalar(avg((node_ram_hourly_cost{cluster_id="c", node="n1"} >= 0 <= 1e6)))"#
            ),
            "{ram}"
        );
        // kube-state-metrics' running series carry no node label: the
        // node selects only the price.
        assert!(
            ram.contains(
                r#"kube_pod_container_status_running{cluster_id="c", namespace=~"data", pod=~"db\\.x|postgres-0", container=~"pg"} * scalar"#
            ),
            "{ram}"
        );
        // A node's price summed without its unusable samples, per price.
        let mut n = Followups::default();
        n.push(
            QueryId::NodePriceSum,
            Term {
                pods: TermPods {
                    cluster: "c".into(),
                    node: Some("n1".into()),
                    ..TermPods::default()
                },
                request: None,
            },
        );
        let q = followups(w, &EngineConfig::default(), RangeSemantics::LeftOpen, &n).unwrap();
        let sum = &q[0].promql;
        for r in ["cpu", "ram", "gpu"] {
            assert!(
                sum.contains(&format!(
                    r#"sum_over_time((node_{r}_hourly_cost{{cluster_id="c", node="n1"}} >= 0 <= 1e6)[1d:1m])), "price", "{r}""#
                )),
                "{sum}"
            );
        }
        // A first-round id is no follow-up.
        let mut g = Followups::default();
        g.push(
            QueryId::RunSteps,
            Term {
                pods: pods(None),
                request: None,
            },
        );
        let none = followups(w, &EngineConfig::default(), RangeSemantics::LeftOpen, &g).unwrap();
        assert!(none.is_empty());
    }
}
