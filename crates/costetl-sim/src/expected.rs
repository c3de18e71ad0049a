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

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use costetl_core::properties::{ArcStr, IDLE, Labels, UNMOUNTED, sanitize_label_name};
use costetl_core::{
    Allocation, AllocationProperties, AllocationSet, LbAllocation, MetadataMerge, PvAllocation,
    PvKey, Window,
};

use crate::error::Result;
use crate::scenario::{
    Cluster, Container, GIB, Ms, Node, PersistentVolume, Pod, Scenario, Service, Span, at, ms,
    pieces, secs,
};

/// Milliseconds per hour.
const HOUR_MS: f64 = 3_600_000.0;

/// Node labels copied onto container allocations (raw Kubernetes keys;
/// sanitised like pod labels, and a pod label of the same sanitised name
/// wins). OpenCost copies an include-list of node labels the same way
/// (`ALLOCATION_NODE_LABELS_ENABLED`); this is the part of it the
/// simulator's nodes use, plus Karpenter's capacity type.
pub const ALLOCATION_NODE_LABELS: [&str; 4] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "node.kubernetes.io/instance-type",
    "karpenter.sh/capacity-type",
];

/// What one persistent volume costs over (its active part of) a window:
/// the reference for PV conservation (Σ PV costs over all allocations,
/// unmounted ones included, equals Σ of these).
#[derive(Clone, Debug, PartialEq)]
pub struct PvCost {
    /// Cluster id.
    pub cluster: String,
    /// PV name.
    pub name: String,
    /// Provider id of the disk.
    pub provider_id: String,
    /// Start of the PV's active time within the window.
    pub start: DateTime<Utc>,
    /// End of the PV's active time within the window.
    pub end: DateTime<Utc>,
    /// Capacity byte-hours.
    pub byte_hours: f64,
    /// Capacity in GiB × price × active hours.
    pub cost: f64,
}

/// What one load balancer costs over (its active part of) a window.
#[derive(Clone, Debug, PartialEq)]
pub struct LbCost {
    /// Cluster id.
    pub cluster: String,
    /// Namespace of the service.
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// Ingress IP.
    pub ip: String,
    /// Start of the LB's active time within the window.
    pub start: DateTime<Utc>,
    /// End of the LB's active time within the window.
    pub end: DateTime<Utc>,
    /// Active hours within the window.
    pub hours: f64,
    /// Hourly cost × active hours.
    pub cost: f64,
}

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
    pvs: BTreeMap<PvKey, PvAllocation>,
    load_balancer_cost: f64,
    load_balancers: BTreeMap<ArcStr, LbAllocation>,
    network_transfer_bytes: f64,
    network_receive_bytes: f64,
    network_cross_zone_cost: f64,
    network_cross_region_cost: f64,
    network_internet_cost: f64,
}

/// PV and LB cost without a consumer, per `(cluster, namespace)` (the
/// namespace is [`UNMOUNTED`] for unclaimed PVs).
#[derive(Default)]
struct Unmounted {
    /// Hull of the times it was charged for.
    span: Option<Span>,
    pvs: BTreeMap<PvKey, PvAllocation>,
    load_balancer_cost: f64,
    load_balancers: BTreeMap<ArcStr, LbAllocation>,
    services: BTreeSet<String>,
}

impl Unmounted {
    fn cover(&mut self, s: Span) {
        self.span = Some(
            self.span
                .map_or(s, |h| Span::new(h.start.min(s.start), h.end.max(s.end))),
        );
    }
}

/// Adds `byte_hours` and `cost` of PV `key` to `pvs`.
fn add_pv(
    pvs: &mut BTreeMap<PvKey, PvAllocation>,
    key: &PvKey,
    provider_id: &str,
    byte_hours: f64,
    cost: f64,
) {
    let e = pvs.entry(key.clone()).or_insert_with(|| PvAllocation {
        byte_hours: 0.0,
        cost: 0.0,
        provider_id: provider_id.to_owned(),
    });
    e.byte_hours += byte_hours;
    e.cost += cost;
}

/// `cluster/namespace/service`, the key of [`Allocation::load_balancers`].
fn lb_key(cluster: &str, svc: &Service) -> ArcStr {
    format!("{cluster}/{}/{}", svc.namespace, svc.name).into()
}

/// Adds `cost` of `svc`'s LB (active `hours` in the window) to `lbs`.
fn add_lb(
    lbs: &mut BTreeMap<ArcStr, LbAllocation>,
    cluster: &str,
    svc: &Service,
    hours: f64,
    cost: f64,
) {
    let lb = svc
        .load_balancer
        .as_ref()
        .expect("only services with an LB");
    let e = lbs
        .entry(lb_key(cluster, svc))
        .or_insert_with(|| LbAllocation {
            service: format!("{}/{}", svc.namespace, svc.name).into(),
            cost: 0.0,
            private: lb.private(),
            ip: lb.ingress_ip.as_str().into(),
            hours,
        });
    e.cost += cost;
}

/// One container of a pod that runs in the window: its allocation's name
/// and its running time in the window.
struct InWindow {
    name: String,
    running_ms: Ms,
}

fn sanitized(m: &BTreeMap<String, String>) -> Labels {
    m.iter()
        .map(|(k, v)| (sanitize_label_name(k), v.clone()))
        .collect()
}

/// Indices of the pods that list `pv`'s claim (none if unclaimed).
fn mounting_pods<'a>(c: &'a Cluster, pv: &'a PersistentVolume) -> impl Iterator<Item = usize> + 'a {
    c.pods.iter().enumerate().filter_map(move |(i, p)| {
        let claim = pv.claim.as_ref()?;
        (p.namespace == claim.namespace && p.volumes.contains(&claim.name)).then_some(i)
    })
}

fn node_of<'a>(cluster: &'a Cluster, name: &str) -> &'a Node {
    cluster
        .nodes
        .iter()
        .find(|n| n.name == name)
        .expect("validated: pods run on known nodes")
}

/// A node's idle: its cost minus what its allocations were charged
/// (`allocated`: CPU, RAM, GPU cost, then CPU, RAM, GPU hours).
fn idle_allocation(
    nc: NodeCost,
    allocated: &BTreeMap<(String, String), [f64; 6]>,
    window: Window,
) -> Allocation {
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
        cluster: nc.cluster.into(),
        node: nc.node.into(),
        provider_id: nc.provider_id.into(),
        ..AllocationProperties::default()
    };
    idle
}

/// The allocation of PV and LB cost without a consumer in `namespace`.
fn unmounted_allocation(
    cluster: String,
    namespace: String,
    u: Unmounted,
    window: Window,
) -> Allocation {
    let span = u.span.expect("only created when charged");
    let mut a = Allocation::new(
        format!("{cluster}//{namespace}/{UNMOUNTED}/{UNMOUNTED}"),
        window,
    );
    a.start = at(span.start);
    a.end = at(span.end);
    a.unmounted_pv_cost = u.pvs.values().map(|p| p.cost).sum();
    a.pvs = u.pvs.into();
    a.load_balancer_cost = u.load_balancer_cost;
    a.load_balancers = u.load_balancers.into();
    a.properties = AllocationProperties {
        cluster: cluster.into(),
        namespace: namespace.into(),
        pod: UNMOUNTED.into(),
        container: UNMOUNTED.into(),
        services: u.services.into_iter().map(ArcStr::from).collect(),
        ..AllocationProperties::default()
    };
    a
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
    /// Properties: `labels` are the pod's, over the node's
    /// [`ALLOCATION_NODE_LABELS`]; `services` the names of the services
    /// of the pod's namespace whose non-empty selector the pod's labels
    /// include, sorted.
    ///
    /// Persistent volumes, load balancers and network (`docs/metrics.md`,
    /// "How PV, LB, network and services are attributed"):
    /// - a PV costs capacity (GiB) × price per GiB-hour while active; at
    ///   each instant that goes in equal shares to the pods listing its
    ///   claim with a container running, each pod's share split equally
    ///   among its containers that run in the window (`pvs`, byte-hours of
    ///   capacity likewise);
    /// - a load balancer's cost over its active time in the window is split
    ///   among the containers of the pods its service selects, in
    ///   proportion to their running time in the window (`load_balancers`,
    ///   `load_balancer_cost`);
    /// - a pod's network bytes (rate × its lifetime in the window, restart
    ///   gaps included) are split equally among its containers that run in
    ///   the window; egress costs bytes / GiB × the cluster's price.
    ///
    /// Cost without a consumer goes to an unmounted allocation
    /// `cluster//namespace/__unmounted__/__unmounted__` (node empty): the
    /// claim's namespace for a PV whose claim nobody mounts at the time,
    /// namespace `__unmounted__` for an unclaimed PV, the service's
    /// namespace for an LB selecting no container running in the window
    /// (with the service in `services`). Its `start`/`end` span the times
    /// it was charged for; `unmounted_pv_cost` equals its PV cost.
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
        let mut accs = self.running_containers(w);
        let mut unmounted: BTreeMap<(String, String), Unmounted> = BTreeMap::new();
        for c in &self.clusters {
            let in_window: Vec<Vec<InWindow>> = c
                .pods
                .iter()
                .map(|p| Self::in_window(c, p, start, w))
                .collect();
            self.attribute_pvs(c, w, &in_window, &mut accs, &mut unmounted);
            Self::attribute_lbs(c, w, &in_window, &mut accs, &mut unmounted);
            self.attribute_network(c, w, &in_window, &mut accs);
        }

        let mut set = AllocationSet::new(window);
        // Allocated cost per (cluster, node), for idle.
        let mut allocated: BTreeMap<(String, String), [f64; 6]> = BTreeMap::new();
        for (name, acc) in accs {
            let a = self.container_allocation(name, acc, window);
            let sum = allocated
                .entry((
                    a.properties.cluster.to_string(),
                    a.properties.node.to_string(),
                ))
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
            set.insert(a);
        }
        for nc in node_costs {
            set.insert(idle_allocation(nc, &allocated, window));
        }
        for ((cluster, namespace), u) in unmounted {
            set.insert(unmounted_allocation(cluster, namespace, u, window));
        }
        Ok(set)
    }

    /// Every container's runs within `w`, by allocation name: running
    /// time, requests, usage and their cost.
    fn running_containers(&self, w: Span) -> BTreeMap<String, Acc> {
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
                        self.charge_run(&c.name, node, k, run, acc);
                    }
                }
            }
        }
        accs
    }

    /// Adds container `k`'s use and cost during `run` to `acc`, piece by
    /// piece between changes of its usage and its node's prices.
    fn charge_run(&self, cluster: &str, node: &Node, k: &Container, run: Span, acc: &mut Acc) {
        let breaks = k.usage.breaks().into_iter().chain(node.price_breaks());
        for piece in pieces(run, breaks) {
            let h = (piece.end - piece.start) as f64 / HOUR_MS;
            let u = k.usage.at(piece.start);
            let price = self.charged_prices(cluster, node, piece.start);
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

    /// A container's allocation from what was accumulated for it.
    fn container_allocation(&self, name: String, acc: Acc, window: Window) -> Allocation {
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
        a.pvs = acc.pvs.into();
        a.load_balancer_cost = acc.load_balancer_cost;
        a.load_balancers = acc.load_balancers.into();
        a.network_transfer_bytes = acc.network_transfer_bytes;
        a.network_receive_bytes = acc.network_receive_bytes;
        a.network_cross_zone_cost = acc.network_cross_zone_cost;
        a.network_cross_region_cost = acc.network_cross_region_cost;
        a.network_internet_cost = acc.network_internet_cost;
        a.network_cost =
            acc.network_cross_zone_cost + acc.network_cross_region_cost + acc.network_internet_cost;
        a.default_priced = !self.is_priced(&acc.props.cluster, &acc.props.node);
        a.properties = acc.props;
        a
    }

    /// Every persistent volume active in `window`: capacity × price over
    /// its active time there, in cluster then PV order.
    ///
    /// # Errors
    ///
    /// [`crate::Error::WindowOutsideScenario`] if `window` is not within
    /// the scenario.
    pub fn pv_costs(&self, window: Window) -> Result<Vec<PvCost>> {
        self.check_window(window)?;
        let w = Span::new(ms(window.start()), ms(window.end()));
        let mut out = Vec::new();
        for c in &self.clusters {
            for pv in &c.persistent_volumes {
                let Some(active) = pv.active().intersect(w) else {
                    continue;
                };
                let h = (active.end - active.start) as f64 / HOUR_MS;
                out.push(PvCost {
                    cluster: c.name.clone(),
                    name: pv.name.clone(),
                    provider_id: pv.provider_id.clone(),
                    start: at(active.start),
                    end: at(active.end),
                    byte_hours: pv.capacity_bytes * h,
                    cost: pv.hourly_cost() * h,
                });
            }
        }
        Ok(out)
    }

    /// Every load balancer active in `window`: hourly cost × its active
    /// hours there, in cluster then service order.
    ///
    /// # Errors
    ///
    /// [`crate::Error::WindowOutsideScenario`] if `window` is not within
    /// the scenario.
    pub fn lb_costs(&self, window: Window) -> Result<Vec<LbCost>> {
        self.check_window(window)?;
        let w = Span::new(ms(window.start()), ms(window.end()));
        let mut out = Vec::new();
        for c in &self.clusters {
            for svc in &c.services {
                let Some(lb) = &svc.load_balancer else {
                    continue;
                };
                let Some(active) = lb.active().intersect(w) else {
                    continue;
                };
                let h = (active.end - active.start) as f64 / HOUR_MS;
                out.push(LbCost {
                    cluster: c.name.clone(),
                    namespace: svc.namespace.clone(),
                    service: svc.name.clone(),
                    ip: lb.ingress_ip.as_str().into(),
                    start: at(active.start),
                    end: at(active.end),
                    hours: h,
                    cost: lb.hourly_cost * h,
                });
            }
        }
        Ok(out)
    }

    /// The containers of `p` that run in `w` (those with an allocation),
    /// in the pod's order.
    fn in_window(c: &Cluster, p: &Pod, start: Ms, w: Span) -> Vec<InWindow> {
        p.containers
            .iter()
            .filter_map(|k| {
                let running_ms: Ms = k
                    .running(p, start)
                    .into_iter()
                    .filter_map(|r| r.intersect(w))
                    .map(|r| r.end - r.start)
                    .sum();
                (running_ms > 0).then(|| InWindow {
                    name: format!(
                        "{}/{}/{}/{}/{}",
                        c.name, p.node, p.namespace, p.name, k.name
                    ),
                    running_ms,
                })
            })
            .collect()
    }

    /// PV cost: at each instant, the PV's hourly cost goes in equal shares
    /// to the pods that list its claim and have a container running then,
    /// each share split equally among the pod's containers with an
    /// allocation in the window; with no such pod, to the claim's
    /// namespace's unmounted allocation (unclaimed PVs: the cluster's).
    fn attribute_pvs(
        &self,
        c: &Cluster,
        w: Span,
        in_window: &[Vec<InWindow>],
        accs: &mut BTreeMap<String, Acc>,
        unmounted: &mut BTreeMap<(String, String), Unmounted>,
    ) {
        let start = ms(self.start);
        for pv in &c.persistent_volumes {
            let Some(active) = pv.active().intersect(w) else {
                continue;
            };
            let key = PvKey {
                cluster: c.name.clone(),
                name: pv.name.clone(),
            };
            // Pods listing the claim, with their containers' running spans.
            let mounters: Vec<(usize, Vec<Span>)> = mounting_pods(c, pv)
                .map(|i| {
                    let p = &c.pods[i];
                    let runs = p
                        .containers
                        .iter()
                        .flat_map(|k| k.running(p, start))
                        .collect();
                    (i, runs)
                })
                .collect();
            let breaks = mounters
                .iter()
                .flat_map(|(_, runs)| runs.iter().flat_map(|r| [r.start, r.end]));
            let rate = pv.hourly_cost();
            for piece in pieces(active, breaks.collect::<Vec<_>>()) {
                let h = (piece.end - piece.start) as f64 / HOUR_MS;
                // Running state is constant over a piece.
                let mounted: Vec<usize> = mounters
                    .iter()
                    .filter(|(_, runs)| runs.iter().any(|r| r.contains(piece.start)))
                    .map(|(i, _)| *i)
                    .collect();
                if mounted.is_empty() {
                    let ns = pv
                        .claim
                        .as_ref()
                        .map_or(UNMOUNTED, |claim| claim.namespace.as_str());
                    let u = unmounted
                        .entry((c.name.clone(), ns.to_owned()))
                        .or_default();
                    u.cover(piece);
                    add_pv(
                        &mut u.pvs,
                        &key,
                        &pv.provider_id,
                        pv.capacity_bytes * h,
                        rate * h,
                    );
                    continue;
                }
                let pod_share = 1.0 / mounted.len() as f64;
                for i in mounted {
                    let ks = &in_window[i];
                    let share = pod_share / ks.len() as f64;
                    for k in ks {
                        let acc = accs.get_mut(&k.name).expect("runs in the window");
                        add_pv(
                            &mut acc.pvs,
                            &key,
                            &pv.provider_id,
                            pv.capacity_bytes * h * share,
                            rate * h * share,
                        );
                    }
                }
            }
        }
    }

    /// LB cost: hourly cost × active hours in the window, split among the
    /// containers of the pods the service selects, in proportion to their
    /// running time in the window; with none, to the namespace's unmounted
    /// allocation.
    fn attribute_lbs(
        c: &Cluster,
        w: Span,
        in_window: &[Vec<InWindow>],
        accs: &mut BTreeMap<String, Acc>,
        unmounted: &mut BTreeMap<(String, String), Unmounted>,
    ) {
        for svc in &c.services {
            let Some(lb) = &svc.load_balancer else {
                continue;
            };
            let Some(active) = lb.active().intersect(w) else {
                continue;
            };
            let hours = (active.end - active.start) as f64 / HOUR_MS;
            let cost = lb.hourly_cost * hours;
            let selected: Vec<&InWindow> = c
                .pods
                .iter()
                .zip(in_window)
                .filter(|(p, _)| p.namespace == svc.namespace && svc.selects(&p.labels))
                .flat_map(|(_, ks)| ks)
                .collect();
            let total: Ms = selected.iter().map(|k| k.running_ms).sum();
            if total == 0 {
                let u = unmounted
                    .entry((c.name.clone(), svc.namespace.clone()))
                    .or_default();
                u.cover(active);
                u.load_balancer_cost += cost;
                u.services.insert(svc.name.clone());
                add_lb(&mut u.load_balancers, &c.name, svc, hours, cost);
                continue;
            }
            for k in selected {
                let share = cost * k.running_ms as f64 / total as f64;
                let acc = accs.get_mut(&k.name).expect("runs in the window");
                acc.load_balancer_cost += share;
                add_lb(&mut acc.load_balancers, &c.name, svc, hours, share);
            }
        }
    }

    /// Network: a pod's bytes over its lifetime in the window, split
    /// equally among its containers with an allocation in the window, and
    /// egress priced per GiB at the cluster's prices.
    fn attribute_network(
        &self,
        c: &Cluster,
        w: Span,
        in_window: &[Vec<InWindow>],
        accs: &mut BTreeMap<String, Acc>,
    ) {
        let prices = c.network_prices.unwrap_or_default();
        for (p, ks) in c.pods.iter().zip(in_window) {
            let Some(net) = p.network else { continue };
            let Some(life) = p.running(ms(self.start)).intersect(w) else {
                continue;
            };
            if ks.is_empty() {
                // The window lies inside a restart gap of every
                // container: no allocation to carry the bytes.
                continue;
            }
            let s = secs(life.end - life.start) / ks.len() as f64;
            for k in ks {
                let acc = accs.get_mut(&k.name).expect("runs in the window");
                acc.network_transfer_bytes += net.transmit_bytes_per_second * s;
                acc.network_receive_bytes += net.receive_bytes_per_second * s;
                acc.network_cross_zone_cost +=
                    net.egress_zone_bytes_per_second * s / GIB * prices.zone_per_gib;
                acc.network_cross_region_cost +=
                    net.egress_region_bytes_per_second * s / GIB * prices.region_per_gib;
                acc.network_internet_cost +=
                    net.egress_internet_bytes_per_second * s / GIB * prices.internet_per_gib;
            }
        }
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
        // Allow-listed node labels, then the pod's over them.
        let mut labels: Labels = node
            .labels
            .iter()
            .filter(|(k, _)| ALLOCATION_NODE_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (sanitize_label_name(k), v.clone()))
            .collect();
        labels.extend(sanitized(&p.labels));
        let mut services: Vec<String> = c
            .services
            .iter()
            .filter(|s| s.namespace == p.namespace && s.selects(&p.labels))
            .map(|s| s.name.clone())
            .collect();
        services.sort();
        AllocationProperties {
            cluster: c.name.as_str().into(),
            node: node.name.as_str().into(),
            container: container.into(),
            controller: controller.into(),
            controller_kind: controller_kind.into(),
            namespace: p.namespace.as_str().into(),
            pod: p.name.as_str().into(),
            services: services.into_iter().map(ArcStr::from).collect(),
            provider_id: node.provider_id.as_str().into(),
            labels,
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
        Claim, Container, Gap, LoadBalancer, Namespace, Network, NetworkPrices, Owner, OwnerKind,
        PriceChange, Prices, Usage, UsageStep, plus_minutes,
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
                ..Default::default()
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

    /// A pod of containers named `k0`, `k1`, … each requesting 1 core.
    fn pod_n(name: &str, start: i64, end: Option<i64>, containers: usize) -> Pod {
        let mut p = pod(
            name,
            "n1",
            start,
            end,
            container(1.0, 0.0, Usage::default()),
        );
        p.containers = (0..containers)
            .map(|i| Container {
                name: format!("k{i}"),
                ..container(1.0, 0.0, Usage::default())
            })
            .collect();
        p
    }

    fn pv(name: &str, gib: f64, claim: Option<&str>) -> PersistentVolume {
        PersistentVolume {
            name: name.into(),
            capacity_bytes: gib * GIB,
            hourly_cost_per_gib: 0.5,
            provider_id: format!("disk/{name}"),
            claim: claim.map(|c| Claim {
                namespace: "ns".into(),
                name: c.into(),
                requested_bytes: gib * GIB,
            }),
            ..Default::default()
        }
    }

    fn with(pods: Vec<Pod>, pvs: Vec<PersistentVolume>, services: Vec<Service>) -> Scenario {
        let mut s = scenario(vec![node("n1", Prices::new(1.0, 0.0, 0.0))], vec![]);
        s.clusters[0].pods = pods;
        s.clusters[0].persistent_volumes = pvs;
        s.clusters[0].services = services;
        s.validate().unwrap();
        s
    }

    fn pv_cost(a: &Allocation, pv: &str) -> f64 {
        a.pvs
            .get(&PvKey {
                cluster: "c".into(),
                name: pv.into(),
            })
            .map_or(0.0, |p| p.cost)
    }

    #[test]
    fn shared_claim_splits_per_pod_then_per_container() {
        // p1 [0, 60) one container, p2 [30, 120) two containers; 2 GiB at
        // 0.5 $/GiB-h = 1 $/h.
        let mut p1 = pod_n("p1", 0, Some(60), 1);
        let mut p2 = pod_n("p2", 30, None, 2);
        p1.volumes = vec!["shared".into()];
        p2.volumes = vec!["shared".into()];
        let s = with(vec![p1, p2], vec![pv("pv", 2.0, Some("shared"))], vec![]);
        let set = s.expected_allocations(win(0, 120)).unwrap();
        let p1 = set.get("c/n1/ns/p1/k0").unwrap();
        // Alone for 30 minutes, then half for 30.
        assert_close(pv_cost(p1, "pv"), 0.5 + 0.25);
        let key = PvKey {
            cluster: "c".into(),
            name: "pv".into(),
        };
        assert_close(p1.pvs[&key].byte_hours, 2.0 * GIB * 0.75);
        assert_eq!(p1.pvs[&key].provider_id, "disk/pv");
        for k in ["k0", "k1"] {
            let a = set.get(&format!("c/n1/ns/p2/{k}")).unwrap();
            assert_close(pv_cost(a, "pv"), (0.25 + 1.0) / 2.0);
        }
        assert!(set.iter().all(|a| !a.is_unmounted()));
        let total: f64 = set.iter().map(Allocation::pv_cost).sum();
        assert_close(total, 2.0);
        // A window p1 does not reach: p2 alone, still split between its
        // two containers.
        let late = s.expected_allocations(win(60, 120)).unwrap();
        assert_close(pv_cost(late.get("c/n1/ns/p2/k1").unwrap(), "pv"), 0.5);
    }

    #[test]
    fn restart_gap_of_every_container_unmounts_the_claim() {
        // One container down [20, 30): nobody mounts the claim then, and
        // the PV cost of those 10 minutes goes to the namespace.
        let mut k = container(1.0, 0.0, Usage::default());
        k.restart_gap = Some(Gap {
            from: t(20),
            to: t(30),
        });
        let mut p = pod("p", "n1", 0, None, k);
        p.volumes = vec!["data".into()];
        let s = with(vec![p], vec![pv("pv", 2.0, Some("data"))], vec![]);
        let set = s.expected_allocations(win(0, 60)).unwrap();
        assert_close(
            pv_cost(set.get("c/n1/ns/p/main").unwrap(), "pv"),
            50.0 / 60.0,
        );
        let u = set.get("c//ns/__unmounted__/__unmounted__").unwrap();
        assert_close(u.pv_cost(), 10.0 / 60.0);
        assert_eq!((u.start, u.end), (t(20), t(30)));
    }

    #[test]
    fn unmounted_volumes_go_to_the_namespace_or_the_cluster() {
        // `gone` is mounted until its pod ends at 40; `never` is claimed
        // and never mounted; `orphan` has no claim and is deleted at 90.
        let mut p = pod_n("p", 0, Some(40), 1);
        p.volumes = vec!["gone".into()];
        let mut orphan = pv("orphan", 4.0, None);
        orphan.active_to = Some(t(90));
        let mut never = pv("never", 1.0, Some("never"));
        never.active_from = Some(t(60));
        let s = with(
            vec![p],
            vec![pv("gone", 2.0, Some("gone")), never, orphan],
            vec![],
        );
        let w = win(0, 120);
        let set = s.expected_allocations(w).unwrap();
        let ns = set.get("c//ns/__unmounted__/__unmounted__").unwrap();
        assert_close(pv_cost(ns, "gone"), 80.0 / 60.0);
        assert_close(pv_cost(ns, "never"), 0.5);
        assert_close(ns.unmounted_pv_cost, ns.pv_cost());
        assert_eq!((ns.start, ns.end), (t(40), t(120)));
        let props = &ns.properties;
        assert_eq!(
            (
                props.cluster.as_str(),
                props.node.as_str(),
                props.namespace.as_str(),
                props.pod.as_str(),
                props.container.as_str()
            ),
            ("c", "", "ns", UNMOUNTED, UNMOUNTED)
        );
        let cluster = set
            .get("c//__unmounted__/__unmounted__/__unmounted__")
            .unwrap();
        assert_eq!(cluster.properties.namespace, UNMOUNTED);
        assert_close(pv_cost(cluster, "orphan"), 2.0 * 1.5);
        assert_close(cluster.unmounted_pv_cost, 3.0);
        assert_eq!((cluster.start, cluster.end), (t(0), t(90)));
        assert_close(
            pv_cost(set.get("c/n1/ns/p/k0").unwrap(), "gone"),
            40.0 / 60.0,
        );
        // Conservation against pv_costs.
        let want: f64 = s.pv_costs(w).unwrap().iter().map(|p| p.cost).sum();
        let got: f64 = set.iter().map(Allocation::pv_cost).sum();
        assert_close(got, want);
        assert_close(want, 2.0 + 0.5 + 3.0);
        // Unmounted allocations carry no node cost: idle is unchanged.
        assert_close(
            set.get("c/n1/__idle__").unwrap().cpu_cost,
            4.0 * 2.0 - 40.0 / 60.0,
        );
    }

    fn svc(name: &str, selector: &[(&str, &str)], lb: Option<(&str, i64, i64)>) -> Service {
        Service {
            namespace: "ns".into(),
            name: name.into(),
            selector: selector
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            load_balancer: lb.map(|(ip, from, to)| LoadBalancer {
                ingress_ip: ip.into(),
                hourly_cost: 2.0,
                active_from: Some(t(from)),
                active_to: Some(t(to)),
            }),
        }
    }

    fn labelled(mut p: Pod, labels: &[(&str, &str)]) -> Pod {
        p.labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p
    }

    #[test]
    fn load_balancer_splits_by_running_time() {
        // a: 60 running minutes; b: two containers, 120 and 110 minutes
        // (a restart gap); c is not selected. The LB runs [30, 120): 1.5 h
        // at 2 $/h.
        let a = labelled(pod_n("a", 0, Some(60), 1), &[("app", "web")]);
        let mut b = labelled(pod_n("b", 0, None, 2), &[("app", "web"), ("tier", "x")]);
        b.containers[1].restart_gap = Some(Gap {
            from: t(10),
            to: t(20),
        });
        let c = labelled(pod_n("c", 0, None, 1), &[("app", "db")]);
        let s = with(
            vec![a, b, c],
            vec![],
            vec![svc("web", &[("app", "web")], Some(("10.1.2.3", 30, 120)))],
        );
        let set = s.expected_allocations(win(0, 120)).unwrap();
        let cost = 3.0;
        for (name, minutes) in [("a/k0", 60.0), ("b/k0", 120.0), ("b/k1", 110.0)] {
            let x = set.get(&format!("c/n1/ns/{name}")).unwrap();
            let share = cost * minutes / 290.0;
            assert_close(x.load_balancer_cost, share);
            let lb = &x.load_balancers["c/ns/web"];
            assert_close(lb.cost, share);
            assert_eq!(
                (lb.service.as_str(), lb.ip.as_str(), lb.private),
                ("ns/web", "10.1.2.3", true)
            );
            assert_close(lb.hours, 1.5);
            assert_eq!(x.properties.services, vec!["web".to_owned()]);
        }
        let db = set.get("c/n1/ns/c/k0").unwrap();
        assert!(db.load_balancers.is_empty() && db.properties.services.is_empty());
        let total: f64 = set.iter().map(|a| a.load_balancer_cost).sum();
        assert_close(total, cost);
        assert!(set.iter().all(|a| !a.is_unmounted()));
    }

    #[test]
    fn load_balancer_with_no_running_selected_container_is_unmounted() {
        // `web` selects a pod that ended before the window; `ghost`
        // selects nothing; `off` is not active in the window.
        let a = labelled(pod_n("a", 0, Some(30), 1), &[("app", "web")]);
        let s = with(
            vec![a],
            vec![],
            vec![
                svc("web", &[("app", "web")], Some(("10.1.2.3", 0, 120))),
                svc("ghost", &[("app", "ghost")], Some(("203.0.113.7", 90, 150))),
                svc("off", &[("app", "web")], Some(("10.1.2.4", 0, 40))),
            ],
        );
        let set = s.expected_allocations(win(60, 120)).unwrap();
        let u = set.get("c//ns/__unmounted__/__unmounted__").unwrap();
        assert_close(u.load_balancer_cost, 2.0 + 1.0);
        assert_eq!(
            u.properties.services,
            vec!["ghost".to_owned(), "web".to_owned()]
        );
        let ghost = &u.load_balancers["c/ns/ghost"];
        assert_eq!((ghost.private, ghost.ip.as_str()), (false, "203.0.113.7"));
        assert_close(ghost.hours, 0.5);
        assert_close(ghost.cost, 1.0);
        assert_close(u.load_balancers["c/ns/web"].hours, 1.0);
        assert!(!u.load_balancers.contains_key("c/ns/off"));
        assert_eq!((u.start, u.end), (t(60), t(120)));
        assert_eq!((u.pv_cost(), u.unmounted_pv_cost), (0.0, 0.0));
        let want: f64 = s
            .lb_costs(win(60, 120))
            .unwrap()
            .iter()
            .map(|l| l.cost)
            .sum();
        assert_close(want, 3.0);
    }

    #[test]
    fn services_match_non_empty_selectors_in_the_namespace() {
        let mut other = svc("elsewhere", &[("app", "web")], None);
        other.namespace = "other".into();
        let s = {
            let mut s = with(
                vec![labelled(
                    pod_n("p", 0, None, 1),
                    &[("app", "web"), ("tier", "front")],
                )],
                vec![],
                vec![
                    svc("zeta", &[("app", "web")], None),
                    svc("alpha", &[("app", "web"), ("tier", "front")], None),
                    svc("everything", &[], None),
                    svc("wrong-value", &[("app", "db")], None),
                    svc("superset", &[("app", "web"), ("v", "2")], None),
                ],
            );
            s.clusters[0].namespaces.push(Namespace {
                name: "other".into(),
                ..Default::default()
            });
            s.clusters[0].services.push(other);
            s.validate().unwrap();
            s
        };
        let set = s.expected_allocations(win(0, 60)).unwrap();
        assert_eq!(
            set.get("c/n1/ns/p/k0").unwrap().properties.services,
            vec!["alpha".to_owned(), "zeta".to_owned()]
        );
        assert!(
            set.get("c/n1/__idle__")
                .unwrap()
                .properties
                .services
                .is_empty()
        );
    }

    #[test]
    fn network_bytes_over_the_pod_lifetime_split_among_containers() {
        // Lifetime [0, 60), container k1 down [10, 50): gaps do not stop
        // the pod's traffic. Window [30, 90): 30 minutes of it.
        let mut p = pod_n("p", 0, Some(60), 2);
        p.containers[1].restart_gap = Some(Gap {
            from: t(10),
            to: t(50),
        });
        p.network = Some(Network {
            transmit_bytes_per_second: 100.0,
            receive_bytes_per_second: 200.0,
            egress_zone_bytes_per_second: GIB / 1800.0,
            egress_region_bytes_per_second: 2.0 * GIB / 1800.0,
            egress_internet_bytes_per_second: 4.0 * GIB / 1800.0,
        });
        let mut s = with(vec![p], vec![], vec![]);
        s.clusters[0].network_prices = Some(NetworkPrices {
            zone_per_gib: 0.01,
            region_per_gib: 0.02,
            internet_per_gib: 0.1,
        });
        let set = s.expected_allocations(win(30, 90)).unwrap();
        for k in ["k0", "k1"] {
            let a = set.get(&format!("c/n1/ns/p/{k}")).unwrap();
            assert_close(a.network_transfer_bytes, 100.0 * 1800.0 / 2.0);
            assert_close(a.network_receive_bytes, 200.0 * 1800.0 / 2.0);
            // 1, 2 and 4 GiB in the window, half each.
            assert_close(a.network_cross_zone_cost, 0.5 * 0.01);
            assert_close(a.network_cross_region_cost, 1.0 * 0.02);
            assert_close(a.network_internet_cost, 2.0 * 0.1);
            assert_close(a.network_cost, 0.005 + 0.02 + 0.2);
        }
        // Without prices, bytes but no cost.
        s.clusters[0].network_prices = None;
        let set = s.expected_allocations(win(30, 90)).unwrap();
        let a = set.get("c/n1/ns/p/k0").unwrap();
        assert_eq!(a.network_cost, 0.0);
        assert_close(a.network_transfer_bytes, 90_000.0);
        // A window inside k1's gap: only k0 carries the pod's bytes.
        let gap = s.expected_allocations(win(20, 40)).unwrap();
        assert_close(
            gap.get("c/n1/ns/p/k0").unwrap().network_transfer_bytes,
            100.0 * 1200.0,
        );
        assert!(gap.get("c/n1/ns/p/k1").is_none());
    }

    #[test]
    fn allow_listed_node_labels_merge_under_pod_labels() {
        let mut n = node("n1", Prices::new(1.0, 0.0, 0.0));
        n.labels = [
            ("topology.kubernetes.io/zone", "z1"),
            ("topology.kubernetes.io/region", "r1"),
            ("karpenter.sh/capacity-type", "spot"),
            ("kubernetes.io/hostname", "n1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let p = labelled(
            pod_n("p", 0, None, 1),
            &[("app", "web"), ("topology_kubernetes_io_zone", "mine")],
        );
        let s = scenario(vec![n], vec![p]);
        let set = s.expected_allocations(win(0, 60)).unwrap();
        let labels = &set.get("c/n1/ns/p/k0").unwrap().properties.labels;
        let want: Labels = [
            ("app", "web"),
            ("karpenter_sh_capacity_type", "spot"),
            ("topology_kubernetes_io_region", "r1"),
            ("topology_kubernetes_io_zone", "mine"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(labels, &want);
        assert!(
            set.get("c/n1/__idle__")
                .unwrap()
                .properties
                .labels
                .is_empty()
        );
    }

    #[test]
    fn storage_and_service_references_are_validated() {
        let err = |pods: Vec<Pod>, pvs: Vec<PersistentVolume>, services: Vec<Service>| {
            let mut s = scenario(vec![node("n1", Prices::default())], vec![]);
            s.clusters[0].pods = pods;
            s.clusters[0].persistent_volumes = pvs;
            s.clusters[0].services = services;
            s.validate().unwrap_err().to_string()
        };
        let mut p = pod_n("p", 0, None, 1);
        p.volumes = vec!["nope".into()];
        let e = err(vec![p.clone()], vec![pv("pv", 1.0, Some("data"))], vec![]);
        assert!(
            e.contains("pods[0].volumes[0]") && e.contains("\"nope\""),
            "{e}"
        );
        p.volumes = vec!["data".into(), "data".into()];
        let e = err(vec![p], vec![pv("pv", 1.0, Some("data"))], vec![]);
        assert!(e.contains("listed twice"), "{e}");
        let e = err(
            vec![],
            vec![pv("a", 1.0, Some("data")), pv("b", 1.0, Some("data"))],
            vec![],
        );
        assert!(e.contains("persistent_volumes[1].claim"), "{e}");
        let e = err(vec![], vec![pv("a", 1.0, None), pv("a", 1.0, None)], vec![]);
        assert!(e.contains("repeated"), "{e}");
        let mut bad = pv("a", 1.0, Some("data"));
        bad.claim.as_mut().unwrap().namespace = "missing".into();
        assert!(err(vec![], vec![bad], vec![]).contains("\"missing\""));
        let e = err(
            vec![],
            vec![],
            vec![svc("lb", &[], Some(("not-an-ip", 0, 10)))],
        );
        assert!(
            e.contains("services[0].load_balancer") && e.contains("not-an-ip"),
            "{e}"
        );
        let e = err(
            vec![],
            vec![],
            vec![svc("lb", &[], Some(("10.0.0.1", 10, 10)))],
        );
        assert!(e.contains("active_to"), "{e}");
        let e = err(
            vec![],
            vec![],
            vec![svc("s", &[], None), svc("s", &[], None)],
        );
        assert!(e.contains("services[1]"), "{e}");
    }
}
