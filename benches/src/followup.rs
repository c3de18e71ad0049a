//! The second round: the follow-up queries
//! [`engine::followups`](costetl_core::engine::followups) asks for, answered
//! as Prometheus would over the generated cluster.
//!
//! A follow-up query is terms joined with `or`, each
//! `label_replace(<agg> by (…) (<f>_over_time(<inner>[…])), "costetl_term", "<i>", "", "")`
//! over one selector. This module reads each term off its PromQL (the
//! `by` labels, the selector's matchers, and the shape of `<inner>`: run
//! edges, start times, running × price, usage or `clamp_min(usage − q, 0)`
//! (× price), a pod's share of the running mounters) and evaluates it over
//! every container the selector matches. The selectors are supersets
//! (namespaces × pods × containers), so containers the engine did not ask
//! for come back too, as they would from Prometheus. A term of a shape not
//! listed here makes the query unknown rather than answered wrongly.

use std::collections::HashSet;

use costetl_core::plan::TERM_LABEL;
use costetl_core::source::QuerySpec;

use crate::cluster::{CLUSTER, CPU, Cluster, Container, GPU, Pod, RAM, STEPS, Tariff};
use crate::respond::{Body, by_labels, instant};
use crate::rng::Rng;

/// What a term evaluates per step and sums (or takes the edge of).
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// `max_over_time((kube_pod_container_status_running{…} / time())[…])`
    /// (1 / the first running step) or `… * time()` (the last running step,
    /// unix seconds).
    RunEdge { last: bool },
    /// `min_over_time(kube_pod_container_state_started{…}[…])`.
    Started,
    /// `sum_over_time(((kube_pod_container_status_running{…} * scalar(avg(node_<r>_hourly_cost{node=…}))) >= 0)[…])`.
    RunPrice { r: usize, node: String },
    /// `sum_over_time(<usage> | clamp_min(<usage> - q, 0) [× price][…])`,
    /// usage of CPU (the rate) or RAM (the working set), per cgroup.
    Usage {
        r: usize,
        excess: Option<f64>,
        price: Option<(usize, String)>,
    },
    /// `sum_over_time((<pod running> / scalar(count(<pods running>)))[…])`:
    /// per pod, Σ over its running steps of 1 / (matched pods running).
    PodShare,
}

/// One term of a follow-up query.
#[derive(Debug)]
struct Term {
    index: String,
    by: Vec<String>,
    shape: Shape,
    /// The selector's cluster matcher: `=` value, or `=~` alternatives.
    clusters: HashSet<String>,
    namespaces: HashSet<String>,
    pods: HashSet<String>,
    /// `None`: no container matcher.
    containers: Option<HashSet<String>>,
    /// The selector's node matcher (cAdvisor series carry the node).
    node: Option<String>,
}

/// One answer series: the pod, the container and run when the series is
/// theirs, the value.
type Answer<'c> = (&'c Term, &'c Pod, Option<usize>, Option<usize>, f64);

impl Cluster {
    /// The body Prometheus returns for follow-up query `q`, or `None` when
    /// its PromQL is not of a shape this generator understands.
    pub(crate) fn followup_body(&self, q: &QuerySpec, rng: &mut Rng) -> Option<Vec<u8>> {
        let mut out = Body::new(instant(q)?);
        let terms = q
            .promql
            .split(" or ")
            .map(|t| parse_term(t, &self.cluster_label))
            .collect::<Option<Vec<Term>>>()?;
        let mut series: Vec<Answer<'_>> = Vec::new();
        for t in &terms {
            self.answer(t, &mut series)?;
        }
        rng.shuffle(&mut series);
        out.reserve(series.len() * 340);
        for (t, p, i, run, v) in series {
            let c = i.map(|i| &p.containers[i]);
            let cadvisor = matches!(t.shape, Shape::Usage { .. });
            let mut labels: Vec<(&str, &str)> =
                t.by.iter()
                    .filter_map(|l| {
                        let v = match l.as_str() {
                            "namespace" => self.namespaces[p.ns].name.as_str(),
                            "pod" => p.name.as_str(),
                            "uid" if !cadvisor => p.uid.as_str(),
                            "container" => c?.name.as_str(),
                            "node" if cadvisor => self.nodes[p.node].name.as_str(),
                            "id" => c?.runs[run?].1.as_str(),
                            k if k == self.cluster_label => CLUSTER,
                            _ => return None,
                        };
                        Some((l.as_str(), v))
                    })
                    .collect();
            labels.push((TERM_LABEL, t.index.as_str()));
            labels.sort_unstable();
            out.series(&labels, v);
        }
        Some(out.finish())
    }

    /// The series of term `t`, appended to `out`; `None` when it names a
    /// node the cluster does not have.
    fn answer<'c>(&'c self, t: &'c Term, out: &mut Vec<Answer<'c>>) -> Option<()> {
        if !t.clusters.contains(CLUSTER) {
            return Some(());
        }
        let start = self.start.timestamp() as f64;
        // A price of a node without price series would be NaN at every
        // step, dropping every step.
        let tariff = |r: usize, name: &str| -> Option<Tariff<'_>> {
            Some(self.nodes.iter().find(|n| n.name == name)?.tariff(r))
        };
        let matched: Vec<&Pod> = self
            .pods
            .iter()
            .filter(|p| {
                t.namespaces.contains(&self.namespaces[p.ns].name) && t.pods.contains(&p.name)
            })
            .collect();
        let wanted = |c: &Container| t.containers.as_ref().is_none_or(|s| s.contains(&c.name));
        if t.shape == Shape::PodShare {
            // Pods running at each step: any matched container running.
            let runs = |p: &Pod, s: u32| {
                p.containers
                    .iter()
                    .filter(|c| wanted(c))
                    .any(|c| c.runs.iter().any(|(r, _)| r.from <= s && s < r.to))
            };
            let running: Vec<Vec<bool>> = matched
                .iter()
                .map(|p| (0..STEPS).map(|s| runs(p, s)).collect())
                .collect();
            let count: Vec<u32> = (0..STEPS as usize)
                .map(|s| running.iter().filter(|r| r[s]).count() as u32)
                .collect();
            for (p, r) in matched.iter().zip(&running) {
                let share: f64 = (0..STEPS as usize)
                    .filter(|&s| r[s])
                    .map(|s| 1.0 / f64::from(count[s]))
                    .sum();
                if r.iter().any(|&x| x) {
                    out.push((t, p, None, None, share));
                }
            }
            return Some(());
        }
        for p in matched {
            for (i, c) in p.containers.iter().enumerate() {
                if !wanted(c) {
                    continue;
                }
                let mut push = |run: Option<usize>, v: f64| out.push((t, p, Some(i), run, v));
                match &t.shape {
                    Shape::RunEdge { last } => {
                        let step = if *last {
                            c.runs.last()?.0.to - 1
                        } else {
                            c.runs.first()?.0.from
                        };
                        let t = start + 60.0 * f64::from(step);
                        push(None, if *last { t } else { 1.0 / t });
                    }
                    Shape::Started => push(None, self.started(p)),
                    // `(running × price) >= 0`: 0 while not running, kept.
                    Shape::RunPrice { r, node } => push(None, c.running(tariff(*r, node)?)),
                    Shape::Usage { r, excess, price } => {
                        if t.node
                            .as_ref()
                            .is_some_and(|n| *n != self.nodes[p.node].name)
                        {
                            continue;
                        }
                        let weight = match price {
                            Some((pr, node)) => tariff(*pr, node)?,
                            None => Tariff::ONE,
                        };
                        let q = *excess;
                        let h = move |u: f64| match q {
                            Some(q) => (u - q).max(0.0),
                            None => u,
                        };
                        let runs = c.runs.iter().map(|(s, _)| c.usage[*r].sum(*s, h, weight));
                        if t.by.iter().any(|l| l == "id") {
                            for (j, v) in runs.enumerate() {
                                push(Some(j), v);
                            }
                        } else if let Some(v) = runs.reduce(f64::max) {
                            // `max by` without the cgroup: the larger run.
                            push(None, v);
                        }
                    }
                    Shape::PodShare => unreachable!("answered above"),
                }
            }
        }
        Some(())
    }
}

fn parse_term(text: &str, cluster_label: &str) -> Option<Term> {
    let index = {
        let pat = format!("\"{TERM_LABEL}\", \"");
        let rest = &text[text.find(&pat)? + pat.len()..];
        rest[..rest.find('"')?].to_owned()
    };
    let by = by_labels(text)?.into_iter().map(str::to_owned).collect();
    // A price's selector follows `scalar(avg(`; everything before it is the
    // summed series' selector.
    let (selector, price) = match text.find("scalar(avg(") {
        Some(i) => (&text[..i], Some(&text[i + "scalar(avg(".len()..])),
        None => (text, None),
    };
    let price = match price {
        // The price's samples are filtered: `(node_<r>_hourly_cost{…} >= 0 <= 1e6)`.
        Some(p) => {
            let p = p.trim_start_matches('(');
            let r = match &p[..p.find('{')?] {
                "node_cpu_hourly_cost" => CPU,
                "node_ram_hourly_cost" => RAM,
                "node_gpu_hourly_cost" => GPU,
                _ => return None,
            };
            Some((r, matcher(p, "node", "=")?))
        }
        None => None,
    };
    let running = "kube_pod_container_status_running{";
    let shape = if selector.contains(&format!("max_over_time(({running}")) {
        if selector.contains(" / time())") {
            Shape::RunEdge { last: false }
        } else if selector.contains(" * time())") {
            Shape::RunEdge { last: true }
        } else {
            return None;
        }
    } else if selector.contains("min_over_time(kube_pod_container_state_started{") {
        Shape::Started
    } else if selector.contains(running) && selector.contains("/ scalar(count(") {
        Shape::PodShare
    } else if selector.contains(&format!("sum_over_time((({running}")) {
        let (r, node) = price?;
        Shape::RunPrice { r, node }
    } else {
        let r = if selector.contains("container_cpu_usage_seconds_total{") {
            CPU
        } else if selector.contains("container_memory_working_set_bytes{") {
            RAM
        } else {
            return None;
        };
        if !selector.contains("sum_over_time(") {
            return None;
        }
        let excess = match selector.find("clamp_min(") {
            Some(i) => {
                let rest = &selector[i..];
                let head = &rest[..rest.find(", 0)")?];
                Some(head[head.rfind(" - ")? + 3..].trim().parse().ok()?)
            }
            None => None,
        };
        Shape::Usage { r, excess, price }
    };
    let clusters = match matcher(selector, cluster_label, "=") {
        Some(c) => [c].into(),
        None => alternatives(&matcher(selector, cluster_label, "=~")?),
    };
    Some(Term {
        index,
        by,
        shape,
        clusters,
        namespaces: alternatives(&matcher(selector, "namespace", "=~")?),
        pods: alternatives(&matcher(selector, "pod", "=~")?),
        containers: matcher(selector, "container", "=~").map(|c| alternatives(&c)),
        node: matcher(selector, "node", "="),
    })
}

/// The string of matcher `name<op>"…"` in `text` (unquoted), where `name`
/// starts a matcher (after `{`, `,` or a space).
fn matcher(text: &str, name: &str, op: &str) -> Option<String> {
    let pat = format!("{name}{op}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&pat) {
        let at = from + i;
        if at == 0 || matches!(text.as_bytes()[at - 1], b'{' | b',' | b' ') {
            return unquote(&text[at + pat.len()..]);
        }
        from = at + pat.len();
    }
    None
}

/// A PromQL string's content up to its closing quote (`s` starts after the
/// opening one).
fn unquote(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// The literal strings of a regex alternation of escaped literals
/// (`a|b\.c`).
fn alternatives(re: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut cur = String::new();
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            '|' => {
                out.insert(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    out.insert(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_read_off_their_promql() {
        let cpu = r#"label_replace(max by (cluster_id, namespace, pod, container, node, id) (sum_over_time(((clamp_min(rate(container_cpu_usage_seconds_total{cluster_id="bench-1", namespace=~"a|b", pod=~"db\\.x|postgres-0", container=~"pg", node="n1"}[2m] offset -1m) - 0.25, 0) * scalar(avg((node_cpu_hourly_cost{cluster_id="bench-1", node="n1"} >= 0 <= 1e6)))) >= 0)[1d:1m])), "costetl_term", "3", "", "")"#;
        let t = parse_term(cpu, "cluster_id").unwrap();
        assert_eq!(t.index, "3");
        assert_eq!(
            t.shape,
            Shape::Usage {
                r: CPU,
                excess: Some(0.25),
                price: Some((CPU, "n1".to_owned()))
            }
        );
        assert_eq!(t.by.len(), 6);
        assert_eq!(t.pods, ["db.x".to_owned(), "postgres-0".to_owned()].into());
        assert_eq!(t.namespaces.len(), 2);
        assert_eq!(t.node.as_deref(), Some("n1"));
        assert_eq!(t.clusters, ["bench-1".to_owned()].into());

        let run = r#"label_replace(max by (cluster_id, namespace, pod, uid, container) (sum_over_time(((kube_pod_container_status_running{cluster_id=~"default-cluster|", namespace=~"a", pod=~"p", container=~"c"} * scalar(avg((node_gpu_hourly_cost{cluster_id=~"default-cluster|", node="g1"} >= 0 <= 1e6)))) >= 0)[1d:1m])), "costetl_term", "0", "", "")"#;
        let t = parse_term(run, "cluster_id").unwrap();
        assert_eq!(
            t.shape,
            Shape::RunPrice {
                r: GPU,
                node: "g1".to_owned()
            }
        );
        assert_eq!(t.node, None);
        assert_eq!(
            t.clusters,
            ["default-cluster".to_owned(), String::new()].into()
        );

        let first = r#"label_replace(max by (cluster_id, namespace, pod, uid, container) (max_over_time((kube_pod_container_status_running{cluster_id="c", namespace=~"a", pod=~"p", container=~"c"} / time())[1d:1m])), "costetl_term", "0", "", "")"#;
        let t = parse_term(first, "cluster_id").unwrap();
        assert_eq!(t.shape, Shape::RunEdge { last: false });

        let shares = r#"label_replace(max by (cluster_id, namespace, pod, uid) (sum_over_time((max by (cluster_id, namespace, pod, uid) (kube_pod_container_status_running{cluster_id="c", namespace=~"a", pod=~"p|q"} > 0) / scalar(count(max by (cluster_id, namespace, pod, uid) (kube_pod_container_status_running{cluster_id="c", namespace=~"a", pod=~"p|q"} > 0))))[1d:1m])), "costetl_term", "1", "", "")"#;
        let t = parse_term(shares, "cluster_id").unwrap();
        assert_eq!(t.shape, Shape::PodShare);
        assert_eq!(t.containers, None);
        assert_eq!(t.by.len(), 4);

        // A shape this reader does not know.
        let other = r#"label_replace(max by (cluster_id) (sum_over_time(up{cluster_id="c", namespace=~"a", pod=~"p"}[1d:1m])), "costetl_term", "0", "", "")"#;
        assert!(parse_term(other, "cluster_id").is_none());
    }
}
