//! The exact allocations a scenario implies for a window.
//!
//! Everything here is computed from the scenario's continuous times, not
//! from scrapes, so it does not depend on the scrape interval or on the
//! engine's resolution: an engine evaluating at resolution `r` converges
//! to these numbers as `r` shrinks and matches them exactly when every
//! change (pod start/end, usage step, price change, restart gap) falls on
//! its step grid.
//!
//! Usage and prices are piecewise constant, so every integral is a finite
//! sum over the pieces between consecutive changes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use costetl_core::properties::{IDLE, Labels, sanitize_label_name};
use costetl_core::{Allocation, AllocationProperties, AllocationSet, MetadataMerge, Window};

use crate::error::Result;
use crate::scenario::{Cluster, GIB, Ms, Node, Pod, Scenario, Span, at, ms, pieces};

/// Milliseconds per hour.
const HOUR_MS: f64 = 3_600_000.0;

/// What one node costs over (its active part of) a window: capacity times
/// price, integrated. The reference for conservation checks: per node,
/// allocated costs plus idle equal these.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCost {
    /// Cluster id.
    pub cluster: String,
    /// Node name.
    pub node: String,
    /// Provider id of the node.
    pub provider_id: String,
    /// Start of the node's active time within the window.
    pub start: DateTime<Utc>,
    /// End of the node's active time within the window.
    pub end: DateTime<Utc>,
    /// Whether the node has price series; `false` means it is costed at
    /// the scenario's default prices.
    pub priced: bool,
    /// Capacity core-hours.
    pub cpu_core_hours: f64,
    /// Capacity byte-hours.
    pub ram_byte_hours: f64,
    /// Capacity GPU-hours.
    pub gpu_hours: f64,
    /// ∫ cores × CPU price.
    pub cpu_cost: f64,
    /// ∫ GiB × RAM price.
    pub ram_cost: f64,
    /// ∫ GPUs × GPU price.
    pub gpu_cost: f64,
}

impl NodeCost {
    /// CPU + RAM + GPU cost.
    pub fn total_cost(&self) -> f64 {
        self.cpu_cost + self.ram_cost + self.gpu_cost
    }
}

/// Integrals of one allocation, summed over all its running pieces.
#[derive(Default)]
struct Acc {
    props: AllocationProperties,
    start: Ms,
    end: Ms,
    running_ms: Ms,
    cpu_core_hours: f64,
    cpu_request_hours: f64,
    cpu_usage_hours: f64,
    cpu_cost: f64,
    cpu_max: f64,
    ram_byte_hours: f64,
    ram_request_hours: f64,
    ram_usage_hours: f64,
    ram_cost: f64,
    ram_max: f64,
    gpu_hours: f64,
    gpu_cost: f64,
}

fn sanitized(m: &BTreeMap<String, String>) -> Labels {
    m.iter()
        .map(|(k, v)| (sanitize_label_name(k), v.clone()))
        .collect()
}

fn node_of<'a>(cluster: &'a Cluster, name: &str) -> &'a Node {
    cluster
        .nodes
        .iter()
        .find(|n| n.name == name)
        .expect("validated: pods run on known nodes")
}

impl Scenario {
    /// Capacity × price of every node active in `window`, integrated over
    /// its active time there, in cluster then node order.
    ///
    /// # Errors
    ///
    /// [`crate::Error::WindowOutsideScenario`] if `window` is not within
    /// the scenario.
    pub fn node_costs(&self, window: Window) -> Result<Vec<NodeCost>> {
        self.check_window(window)?;
        let w = Span::new(ms(window.start()), ms(window.end()));
        let mut out = Vec::new();
        for c in &self.clusters {
            for n in &c.nodes {
                let Some(active) = n.active().intersect(w) else {
                    continue;
                };
                let mut nc = NodeCost {
                    cluster: c.name.clone(),
                    node: n.name.clone(),
                    provider_id: n.provider_id.clone(),
                    start: at(active.start),
                    end: at(active.end),
                    priced: self.is_priced(&c.name, &n.name),
                    cpu_core_hours: 0.0,
                    ram_byte_hours: 0.0,
                    gpu_hours: 0.0,
                    cpu_cost: 0.0,
                    ram_cost: 0.0,
                    gpu_cost: 0.0,
                };
                for piece in pieces(active, n.price_breaks()) {
                    let h = (piece.end - piece.start) as f64 / HOUR_MS;
                    let p = self.charged_prices(&c.name, n, piece.start);
                    nc.cpu_core_hours += n.cpu_cores * h;
                    nc.ram_byte_hours += n.ram_bytes * h;
                    nc.gpu_hours += n.gpus * h;
                    nc.cpu_cost += n.cpu_cores * p.cpu * h;
                    nc.ram_cost += n.ram_bytes / GIB * p.ram * h;
                    nc.gpu_cost += n.gpus * p.gpu * h;
                }
                out.push(nc);
            }
        }
        Ok(out)
    }

    /// The allocations an engine should compute for `window`: one per
    /// container that ran in it, named `cluster/node/namespace/pod/container`,
    /// plus one `cluster/node/__idle__` per node active in it.
    ///
    /// Per container (over its running time inside the window; a pod name
    /// that ran twice on the same node is one allocation):
    /// - `start`/`end`: first start and last end (restart gaps inside);
    /// - `cpu_core_hours` = ∫ max(request, usage) dt, `ram_byte_hours`
    ///   likewise, `gpu_hours` = ∫ GPU request dt;
    /// - request and usage averages = their integrals divided by the
    ///   running time (gaps excluded), `gpu_usage_average` 0 (no GPU usage
    ///   metrics are simulated);
    /// - costs = ∫ quantity × node price(t) dt (RAM per GiB), at the
    ///   scenario's default prices on unpriced nodes;
    /// - `raw_allocation_only` = peak CPU and RAM usage while running.
    ///
    /// Allocations on an unpriced node have `default_priced` set.
    ///
    /// Idle allocations carry `{cluster, node, provider_id}`, the node's
    /// active time in the window as `start`/`end`, and per resource the
    /// node cost ([`Self::node_costs`]) minus the allocated cost on that
    /// node (likewise capacity hours minus allocated hours); negative when
    /// the node is over-allocated (usage above capacity), kept as is.
    ///
    /// # Errors
    ///
    /// [`crate::Error::WindowOutsideScenario`] if `window` is not within
    /// the scenario.
    pub fn expected_allocations(&self, window: Window) -> Result<AllocationSet> {
        let node_costs = self.node_costs(window)?;
        let w = Span::new(ms(window.start()), ms(window.end()));
        let start = ms(self.start);
        let mut accs: BTreeMap<String, Acc> = BTreeMap::new();
        for c in &self.clusters {
            for p in &c.pods {
                let node = node_of(c, &p.node);
                for k in &p.containers {
                    let name = format!(
                        "{}/{}/{}/{}/{}",
                        c.name, p.node, p.namespace, p.name, k.name
                    );
                    let props = self.properties(c, p, node, &k.name);
                    for run in k.running(p, start) {
                        let Some(run) = run.intersect(w) else {
                            continue;
                        };
                        let acc = accs.entry(name.clone()).or_insert_with(|| Acc {
                            props: props.clone(),
                            start: run.start,
                            end: run.end,
                            ..Acc::default()
                        });
                        if acc.props != props {
                            // The same name twice on one node (a pod
                            // re-created there): keep what either had.
                            acc.props = acc.props.intersect(&props, MetadataMerge::Union);
                        }
                        acc.start = acc.start.min(run.start);
                        acc.end = acc.end.max(run.end);
                        acc.running_ms += run.end - run.start;
                        let breaks = k.usage.breaks().into_iter().chain(node.price_breaks());
                        for piece in pieces(run, breaks) {
                            let h = (piece.end - piece.start) as f64 / HOUR_MS;
                            let u = k.usage.at(piece.start);
                            let price = self.charged_prices(&c.name, node, piece.start);
                            let cpu = k.cpu_request.max(u.cpu);
                            let ram = k.ram_request.max(u.ram);
                            acc.cpu_core_hours += cpu * h;
                            acc.cpu_request_hours += k.cpu_request * h;
                            acc.cpu_usage_hours += u.cpu * h;
                            acc.cpu_cost += cpu * price.cpu * h;
                            acc.cpu_max = acc.cpu_max.max(u.cpu);
                            acc.ram_byte_hours += ram * h;
                            acc.ram_request_hours += k.ram_request * h;
                            acc.ram_usage_hours += u.ram * h;
                            acc.ram_cost += ram / GIB * price.ram * h;
                            acc.ram_max = acc.ram_max.max(u.ram);
                            acc.gpu_hours += k.gpu_request * h;
                            acc.gpu_cost += k.gpu_request * price.gpu * h;
                        }
                    }
                }
            }
        }

        let mut set = AllocationSet::new(window);
        // Allocated cost per (cluster, node), for idle.
        let mut allocated: BTreeMap<(String, String), [f64; 6]> = BTreeMap::new();
        for (name, acc) in accs {
            let hours = acc.running_ms as f64 / HOUR_MS;
            let mut a = Allocation::new(name, window);
            a.start = at(acc.start);
            a.end = at(acc.end);
            a.cpu_core_hours = acc.cpu_core_hours;
            a.cpu_core_request_average = acc.cpu_request_hours / hours;
            a.cpu_core_usage_average = acc.cpu_usage_hours / hours;
            a.cpu_cost = acc.cpu_cost;
            a.ram_byte_hours = acc.ram_byte_hours;
            a.ram_bytes_request_average = acc.ram_request_hours / hours;
            a.ram_bytes_usage_average = acc.ram_usage_hours / hours;
            a.ram_cost = acc.ram_cost;
            a.gpu_hours = acc.gpu_hours;
            a.gpu_request_average = acc.gpu_hours / hours;
            a.gpu_cost = acc.gpu_cost;
            a.raw_allocation_only = Some(costetl_core::RawAllocationOnly {
                cpu_core_usage_max: acc.cpu_max,
                ram_bytes_usage_max: acc.ram_max,
            });
            a.default_priced = !self.is_priced(&acc.props.cluster, &acc.props.node);
            let sum = allocated
                .entry((acc.props.cluster.clone(), acc.props.node.clone()))
                .or_default();
            for (slot, v) in sum.iter_mut().zip([
                a.cpu_cost,
                a.ram_cost,
                a.gpu_cost,
                a.cpu_core_hours,
                a.ram_byte_hours,
                a.gpu_hours,
            ]) {
                *slot += v;
            }
            a.properties = acc.props;
            set.insert(a);
        }
        for nc in node_costs {
            let [cpu, ram, gpu, cpu_h, ram_h, gpu_h] = allocated
                .get(&(nc.cluster.clone(), nc.node.clone()))
                .copied()
                .unwrap_or_default();
            let mut idle = Allocation::new(format!("{}/{}/{IDLE}", nc.cluster, nc.node), window);
            idle.start = nc.start;
            idle.end = nc.end;
            idle.cpu_cost = nc.cpu_cost - cpu;
            idle.ram_cost = nc.ram_cost - ram;
            idle.gpu_cost = nc.gpu_cost - gpu;
            idle.cpu_core_hours = nc.cpu_core_hours - cpu_h;
            idle.ram_byte_hours = nc.ram_byte_hours - ram_h;
            idle.gpu_hours = nc.gpu_hours - gpu_h;
            idle.default_priced = !nc.priced;
            idle.properties = AllocationProperties {
                cluster: nc.cluster,
                node: nc.node,
                provider_id: nc.provider_id,
                ..AllocationProperties::default()
            };
            set.insert(idle);
        }
        Ok(set)
    }

    /// The properties of container `container` of pod `p`.
    fn properties(
        &self,
        c: &Cluster,
        p: &Pod,
        node: &Node,
        container: &str,
    ) -> AllocationProperties {
        let ns = c
            .namespaces
            .iter()
            .find(|n| n.name == p.namespace)
            .expect("validated: pods are in known namespaces");
        let (controller_kind, controller) = p.owner.as_ref().map_or(("", ""), |o| o.controller());
        AllocationProperties {
            cluster: c.name.clone(),
            node: node.name.clone(),
            container: container.to_owned(),
            controller: controller.to_owned(),
            controller_kind: controller_kind.to_owned(),
            namespace: p.namespace.clone(),
            pod: p.name.clone(),
            services: Vec::new(),
            provider_id: node.provider_id.clone(),
            labels: sanitized(&p.labels),
            annotations: sanitized(&p.annotations),
            namespace_labels: sanitized(&ns.labels),
            namespace_annotations: sanitized(&ns.annotations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{
        Container, Gap, Namespace, Owner, OwnerKind, PriceChange, Prices, Usage, UsageStep,
        plus_minutes,
    };

    fn t0() -> DateTime<Utc> {
        "2023-11-14T00:00:00Z".parse().unwrap()
    }

    fn t(min: i64) -> DateTime<Utc> {
        plus_minutes(t0(), min)
    }

    fn win(a: i64, b: i64) -> Window {
        Window::new(t(a), t(b)).unwrap()
    }

    fn node(name: &str, prices: Prices) -> Node {
        Node {
            name: name.into(),
            provider_id: format!("aws:///{name}"),
            cpu_cores: 4.0,
            ram_bytes: 16.0 * GIB,
            prices,
            ..Default::default()
        }
    }

    fn container(cpu_req: f64, ram_req: f64, usage: Usage) -> Container {
        Container {
            name: "main".into(),
            cpu_request: cpu_req,
            ram_request: ram_req,
            usage,
            ..Default::default()
        }
    }

    fn pod(name: &str, node: &str, start: i64, end: Option<i64>, k: Container) -> Pod {
        Pod {
            namespace: "ns".into(),
            name: name.into(),
            node: node.into(),
            start: Some(t(start)),
            end: end.map(t),
            containers: vec![k],
            ..Default::default()
        }
    }

    fn scenario(nodes: Vec<Node>, pods: Vec<Pod>) -> Scenario {
        let s = Scenario {
            start: t0(),
            end: t(120),
            clusters: vec![Cluster {
                name: "c".into(),
                nodes,
                namespaces: vec![Namespace {
                    name: "ns".into(),
                    ..Default::default()
                }],
                pods,
            }],
            ..Default::default()
        };
        s.validate().unwrap();
        s
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    #[track_caller]
    fn assert_close(a: f64, b: f64) {
        assert!(close(a, b), "{a} != {b}");
    }

    #[test]
    fn charges_max_of_request_and_usage_as_usage_crosses_the_request() {
        // Request 1 core / 1 GiB; usage 0.5 then 2 (cores and GiB) from
        // minute 30.
        let usage = Usage::Steps(vec![
            UsageStep {
                at: t(0),
                cpu: 0.5,
                ram: 0.5 * GIB,
            },
            UsageStep {
                at: t(30),
                cpu: 2.0,
                ram: 2.0 * GIB,
            },
        ]);
        let s = scenario(
            vec![node("n1", Prices::new(1.0, 0.1, 0.0))],
            vec![pod("p", "n1", 0, Some(60), container(1.0, GIB, usage))],
        );
        let set = s.expected_allocations(win(0, 120)).unwrap();
        let a = set.get("c/n1/ns/p/main").unwrap();
        assert_close(a.cpu_core_hours, 0.5 * 1.0 + 0.5 * 2.0);
        assert_close(a.cpu_core_request_average, 1.0);
        assert_close(a.cpu_core_usage_average, 1.25);
        assert_close(a.cpu_cost, 1.5);
        assert_close(a.ram_byte_hours, 1.5 * GIB);
        assert_close(a.ram_cost, 0.15);
        assert_close(a.ram_bytes_usage_average, 1.25 * GIB);
        let raw = a.raw_allocation_only.unwrap();
        assert_eq!(
            (raw.cpu_core_usage_max, raw.ram_bytes_usage_max),
            (2.0, 2.0 * GIB)
        );
        assert_eq!((a.start, a.end), (t(0), t(60)));
    }

    #[test]
    fn integrates_price_changes() {
        let mut n = node("n1", Prices::new(1.0, 0.0, 0.0));
        n.price_changes.push(PriceChange {
            at: t(30),
            cpu: 3.0,
            ram: 0.0,
            gpu: 0.0,
        });
        let s = scenario(
            vec![n],
            vec![pod(
                "p",
                "n1",
                0,
                None,
                container(1.0, 0.0, Usage::default()),
            )],
        );
        let set = s.expected_allocations(win(0, 60)).unwrap();
        assert_close(set.get("c/n1/ns/p/main").unwrap().cpu_cost, 0.5 + 1.5);
        let nc = &s.node_costs(win(0, 60)).unwrap()[0];
        assert_close(nc.cpu_cost, 4.0 * 2.0);
        assert_close(set.get("c/n1/__idle__").unwrap().cpu_cost, 8.0 - 2.0);
    }

    #[test]
    fn clips_to_a_partially_overlapping_window() {
        // Starts at 00:17:23, ends at 01:00; the window is [00:30, 01:30).
        let mut p = pod(
            "p",
            "n1",
            0,
            Some(60),
            container(2.0, 0.0, Usage::constant(0.5, 0.0)),
        );
        p.start = Some("2023-11-14T00:17:23Z".parse().unwrap());
        let s = scenario(vec![node("n1", Prices::new(1.0, 0.0, 0.0))], vec![p]);
        let set = s.expected_allocations(win(30, 90)).unwrap();
        let a = set.get("c/n1/ns/p/main").unwrap();
        assert_eq!((a.start, a.end), (t(30), t(60)));
        assert_close(a.cpu_core_hours, 1.0);
        assert_eq!(a.window, win(30, 90));
        // Over the whole scenario it starts at the odd second.
        let all = s.expected_allocations(win(0, 120)).unwrap();
        let a = all.get("c/n1/ns/p/main").unwrap();
        assert_close(
            a.cpu_core_hours,
            2.0 * (3600.0 - 17.0 * 60.0 - 23.0) / 3600.0,
        );
        // A window the pod does not touch has no allocation for it.
        let none = s.expected_allocations(win(60, 120)).unwrap();
        assert!(none.get("c/n1/ns/p/main").is_none());
        assert!(none.get("c/n1/__idle__").is_some());
    }

    #[test]
    fn restart_gap_is_not_charged() {
        let mut k = container(1.0, 0.0, Usage::constant(0.5, 0.0));
        k.restart_gap = Some(Gap {
            from: t(20),
            to: t(30),
        });
        let s = scenario(
            vec![node("n1", Prices::new(1.0, 0.0, 0.0))],
            vec![pod("p", "n1", 0, Some(60), k)],
        );
        let a = s.expected_allocations(win(0, 120)).unwrap();
        let a = a.get("c/n1/ns/p/main").unwrap();
        assert_eq!((a.start, a.end), (t(0), t(60)));
        assert_close(a.cpu_core_hours, 50.0 / 60.0);
        // Averages are over the 50 running minutes.
        assert_close(a.cpu_core_request_average, 1.0);
        assert_close(a.cpu_core_usage_average, 0.5);
        // A window inside the gap sees nothing of it.
        let gap = s.expected_allocations(win(20, 30)).unwrap();
        assert!(gap.get("c/n1/ns/p/main").is_none());
    }

    #[test]
    fn moved_pod_gives_one_allocation_per_node() {
        let k = || container(1.0, 0.0, Usage::default());
        let mut a = pod("web-0", "n1", 0, Some(40), k());
        let mut b = pod("web-0", "n2", 41, None, k());
        for p in [&mut a, &mut b] {
            p.owner = Some(Owner::new(OwnerKind::StatefulSet, "web"));
        }
        let s = scenario(
            vec![
                node("n1", Prices::new(1.0, 0.0, 0.0)),
                node("n2", Prices::new(2.0, 0.0, 0.0)),
            ],
            vec![a, b],
        );
        assert_ne!(
            s.clusters[0].pods[0].uid("c", s.start),
            s.clusters[0].pods[1].uid("c", s.start)
        );
        let set = s.expected_allocations(win(0, 120)).unwrap();
        let on1 = set.get("c/n1/ns/web-0/main").unwrap();
        let on2 = set.get("c/n2/ns/web-0/main").unwrap();
        assert_eq!(
            (on1.properties.node.as_str(), on2.properties.node.as_str()),
            ("n1", "n2")
        );
        assert_eq!(on2.properties.provider_id, "aws:///n2");
        assert_eq!(on1.properties.controller_kind, "statefulset");
        assert_eq!((on1.end, on2.start), (t(40), t(41)));
        assert_close(on1.cpu_cost, 40.0 / 60.0);
        assert_close(on2.cpu_cost, 2.0 * 79.0 / 60.0);
    }

    #[test]
    fn unpriced_node_costs_default_prices_and_idle_conserves() {
        let mut s = scenario(
            vec![node("n1", Prices::new(9.0, 9.0, 9.0))],
            vec![pod(
                "p",
                "n1",
                0,
                None,
                container(1.0, GIB, Usage::default()),
            )],
        );
        s.options.omit_node_prices_for = vec!["c/n1".into()];
        s.validate().unwrap();
        let set = s.expected_allocations(win(0, 60)).unwrap();
        let d = Prices::OPENCOST_DEFAULT;
        let a = set.get("c/n1/ns/p/main").unwrap();
        assert_close(a.cpu_cost, d.cpu);
        assert_close(a.ram_cost, d.ram);
        assert!(a.default_priced && set.get("c/n1/__idle__").unwrap().default_priced);
        let nc = &s.node_costs(win(0, 60)).unwrap()[0];
        assert!(!nc.priced);
        assert_close(nc.total_cost(), 4.0 * d.cpu + 16.0 * d.ram);
        assert_close(set.total_cost(), nc.total_cost());
    }

    #[test]
    fn over_allocation_gives_negative_idle() {
        let s = scenario(
            vec![node("n1", Prices::new(1.0, 0.0, 0.0))],
            vec![pod(
                "p",
                "n1",
                0,
                None,
                container(0.0, 0.0, Usage::constant(6.0, 0.0)),
            )],
        );
        let set = s.expected_allocations(win(0, 60)).unwrap();
        let idle = set.get("c/n1/__idle__").unwrap();
        assert_close(idle.cpu_cost, 4.0 - 6.0);
        assert_close(idle.cpu_core_hours, 4.0 - 6.0);
        assert!(!idle.default_priced);
        // Best effort: no request, usage only.
        let a = set.get("c/n1/ns/p/main").unwrap();
        assert_eq!(a.cpu_core_request_average, 0.0);
        assert_close(a.cpu_core_hours, 6.0);
    }

    #[test]
    fn window_outside_the_scenario_is_an_error() {
        let s = scenario(vec![node("n1", Prices::default())], vec![]);
        let w = Window::new(t(-1), t(10)).unwrap();
        assert!(matches!(
            s.expected_allocations(w),
            Err(crate::Error::WindowOutsideScenario { .. })
        ));
    }
}
