//! The scenario: clusters, nodes, namespaces, pods and containers with
//! continuous lifetimes, requests, usage and prices, plus the options that
//! shape the emitted metrics.
//!
//! A scenario is plain data (serde JSON, or Rust struct literals with
//! `..Default::default()`). Everything the simulator derives from it, both
//! the metrics and the expected allocations, goes through the helpers
//! here, so the two outputs cannot disagree about when something runs or
//! what it costs.
//!
//! Times are RFC 3339 in JSON and are used at millisecond precision (that
//! of Prometheus timestamps); [`Scenario::validate`] rejects finer ones.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use costetl_core::Window;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, invalid};

/// Milliseconds since the Unix epoch: the simulator's internal clock.
pub(crate) type Ms = i64;

/// "Never ends" / "always started" for open intervals.
pub(crate) const OPEN_END: Ms = Ms::MAX;
pub(crate) const OPEN_START: Ms = Ms::MIN;

/// Milliseconds since the epoch of `t` (sub-millisecond parts dropped;
/// validation rejects them).
pub(crate) fn ms(t: DateTime<Utc>) -> Ms {
    t.timestamp_millis()
}

/// The instant `t` milliseconds after the epoch.
pub(crate) fn at(t: Ms) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t).expect("simulator times are within chrono's range")
}

/// A half-open `[start, end)` interval in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: Ms,
    pub(crate) end: Ms,
}

impl Span {
    pub(crate) fn new(start: Ms, end: Ms) -> Self {
        Self { start, end }
    }

    /// The common part, if it has positive length.
    pub(crate) fn intersect(self, other: Span) -> Option<Span> {
        let s = self.start.max(other.start);
        let e = self.end.min(other.end);
        (s < e).then_some(Span::new(s, e))
    }

    pub(crate) fn contains(self, t: Ms) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether `other` lies entirely inside `self`.
    pub(crate) fn covers(self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// A whole simulated world: one metrics backend holding one or more
/// clusters over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// First scrape, and the earliest instant expectations can be asked
    /// for.
    pub start: DateTime<Utc>,
    /// End of the scenario (exclusive for expectations). A final scrape
    /// happens at `end` itself when it falls on the scrape grid, so that
    /// counters have a closing sample for the last step.
    pub end: DateTime<Utc>,
    /// Seconds between scrapes (default 30).
    #[serde(default = "default_scrape_interval")]
    pub scrape_interval_seconds: u32,
    /// Name of the label carrying the cluster id (default `cluster_id`,
    /// OpenCost's `PROM_CLUSTER_ID_LABEL`).
    #[serde(default = "default_cluster_label")]
    pub cluster_label: String,
    /// How the metrics are shaped (stale pods, duplicate exporters, …).
    #[serde(default)]
    pub options: Options,
    /// The clusters, all written to the same backend.
    pub clusters: Vec<Cluster>,
}

fn default_scrape_interval() -> u32 {
    30
}

fn default_cluster_label() -> String {
    "cluster_id".to_owned()
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            start: DateTime::<Utc>::UNIX_EPOCH,
            end: DateTime::<Utc>::UNIX_EPOCH,
            scrape_interval_seconds: default_scrape_interval(),
            cluster_label: default_cluster_label(),
            options: Options::default(),
            clusters: Vec::new(),
        }
    }
}

/// Knobs that change what the metrics look like, not what things cost
/// (except [`Options::default_prices`], which is what an unpriced node
/// costs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Minutes a pod object lingers after its containers stop (a
    /// Completed or terminated pod awaiting deletion). Meanwhile
    /// kube-state-metrics keeps emitting all the pod's series, with
    /// `kube_pod_container_status_running` at 0. Default 5.
    pub terminated_running_zero_minutes: u32,
    /// Emit every kube-state-metrics series twice, with `instance` labels
    /// `ksm-0` and `ksm-1`, as when two replicas are scraped.
    pub duplicate_ksm: bool,
    /// Series (sample names, e.g. `kube_pod_labels` or
    /// `container_cpu_usage_seconds_total`) written without the cluster
    /// label. The expectations do not change: the engine should attribute
    /// them to its default cluster and warn.
    pub drop_cluster_label_for: Vec<String>,
    /// Nodes (`node` in any cluster, or `cluster/node`) written without any
    /// cost-exporter series. The engine must price them at its default
    /// prices, which the expectations take from [`Options::default_prices`].
    pub omit_node_prices_for: Vec<String>,
    /// What an unpriced node costs. Default: OpenCost's `DefaultPricing()`
    /// (CPU 0.021811 $/core-h, RAM 0.002923 $/GiB-h, GPU 0.95 $/GPU-h).
    pub default_prices: Prices,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            terminated_running_zero_minutes: 5,
            duplicate_ksm: false,
            drop_cluster_label_for: Vec::new(),
            omit_node_prices_for: Vec::new(),
            default_prices: Prices::OPENCOST_DEFAULT,
        }
    }
}

/// One cluster: its nodes, namespaces and pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Cluster id, the value of the cluster label.
    pub name: String,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Namespaces; every pod's namespace must be listed. They exist for
    /// the whole scenario.
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    /// Pods (each entry one pod object, i.e. one uid).
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// Persistent volumes, each optionally bound to a claim that pods
    /// mount through [`Pod::volumes`].
    #[serde(default)]
    pub persistent_volumes: Vec<PersistentVolume>,
    /// Services (selectors over pod labels), optionally behind a load
    /// balancer. They exist for the whole scenario.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Egress prices the cost exporter publishes for the cluster (none:
    /// no price series, egress costs nothing).
    #[serde(default)]
    pub network_prices: Option<NetworkPrices>,
}

/// A PersistentVolume, optionally bound to a claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistentVolume {
    /// PV name, unique within its cluster.
    pub name: String,
    /// Capacity in bytes (`kube_persistentvolume_capacity_bytes`).
    pub capacity_bytes: f64,
    /// $ per GiB-hour of capacity (`pv_hourly_cost`).
    pub hourly_cost_per_gib: f64,
    /// Cloud provider id of the disk.
    #[serde(default)]
    pub provider_id: String,
    /// Storage class of the claim.
    #[serde(default)]
    pub storage_class: String,
    /// When the PV appears (default: before the scenario starts).
    #[serde(default)]
    pub active_from: Option<DateTime<Utc>>,
    /// When the PV is deleted (default: after the scenario ends).
    #[serde(default)]
    pub active_to: Option<DateTime<Utc>>,
    /// The claim bound to the PV while it is active, if any.
    #[serde(default)]
    pub claim: Option<Claim>,
}

impl PersistentVolume {
    /// When the PV exists.
    pub(crate) fn active(&self) -> Span {
        Span::new(
            self.active_from.map_or(OPEN_START, ms),
            self.active_to.map_or(OPEN_END, ms),
        )
    }

    /// $ per hour while active: capacity in GiB × price per GiB-hour.
    pub(crate) fn hourly_cost(&self) -> f64 {
        self.capacity_bytes / GIB * self.hourly_cost_per_gib
    }
}

/// A PersistentVolumeClaim bound to a PV.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Namespace of the claim (must be listed in the cluster's
    /// namespaces).
    pub namespace: String,
    /// Claim name, unique within its namespace.
    pub name: String,
    /// Requested storage in bytes.
    #[serde(default)]
    pub requested_bytes: f64,
}

/// A Service: pods of its namespace whose labels include the (non-empty)
/// selector belong to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Namespace (must be listed in the cluster's namespaces).
    pub namespace: String,
    /// Service name, unique within its namespace.
    pub name: String,
    /// Label selector (raw Kubernetes keys); empty selects nothing.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// The cloud load balancer in front of the service, if any.
    #[serde(default)]
    pub load_balancer: Option<LoadBalancer>,
}

impl Service {
    /// Whether the service selects a pod with these labels: a non-empty
    /// selector, every entry of which the pod has.
    pub(crate) fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.selector.is_empty()
            && self
                .selector
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    }
}

/// A service's cloud load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Ingress IP address (IPv4 or IPv6); private when in RFC 1918.
    pub ingress_ip: String,
    /// $ per hour while active.
    pub hourly_cost: f64,
    /// When the LB is provisioned (default: before the scenario starts).
    #[serde(default)]
    pub active_from: Option<DateTime<Utc>>,
    /// When it is released (default: after the scenario ends).
    #[serde(default)]
    pub active_to: Option<DateTime<Utc>>,
}

impl LoadBalancer {
    /// When the LB exists.
    pub(crate) fn active(&self) -> Span {
        Span::new(
            self.active_from.map_or(OPEN_START, ms),
            self.active_to.map_or(OPEN_END, ms),
        )
    }

    /// Whether the ingress IP is private (RFC 1918: 10/8, 172.16/12,
    /// 192.168/16). IPv6 addresses never are.
    pub(crate) fn private(&self) -> bool {
        matches!(self.ingress_ip.parse(), Ok(IpAddr::V4(ip)) if ip.is_private())
    }
}

/// A pod's network traffic, constant over its lifetime (restart gaps
/// included: the pod's network namespace outlives its containers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Bytes sent per second (cAdvisor `container_network_transmit_bytes_total`).
    pub transmit_bytes_per_second: f64,
    /// Bytes received per second (`container_network_receive_bytes_total`).
    pub receive_bytes_per_second: f64,
    /// Egress to another zone of the same region, bytes per second.
    pub egress_zone_bytes_per_second: f64,
    /// Egress to another region, bytes per second.
    pub egress_region_bytes_per_second: f64,
    /// Egress to the internet, bytes per second.
    pub egress_internet_bytes_per_second: f64,
}

/// A cluster's egress prices, $ per GiB (GiB = 1024³ bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkPrices {
    /// Cross-zone egress.
    pub zone_per_gib: f64,
    /// Cross-region egress.
    pub region_per_gib: f64,
    /// Internet egress.
    pub internet_per_gib: f64,
}

/// Hourly prices of one node's resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// $ per core-hour.
    pub cpu: f64,
    /// $ per GiB-hour (GiB = 1024³ bytes).
    pub ram: f64,
    /// $ per GPU-hour.
    #[serde(default)]
    pub gpu: f64,
}

impl Prices {
    /// OpenCost's built-in `DefaultPricing()` (non-spot), used for nodes
    /// without price series.
    pub const OPENCOST_DEFAULT: Prices = Prices {
        cpu: 0.021811,
        ram: 0.002923,
        gpu: 0.95,
    };

    /// Prices of `cpu` $/core-h, `ram` $/GiB-h and `gpu` $/GPU-h.
    pub fn new(cpu: f64, ram: f64, gpu: f64) -> Self {
        Self { cpu, ram, gpu }
    }
}

/// New prices from `at` on (e.g. spot re-pricing).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// When the prices change.
    pub at: DateTime<Utc>,
    /// $ per core-hour from `at`.
    pub cpu: f64,
    /// $ per GiB-hour from `at`.
    pub ram: f64,
    /// $ per GPU-hour from `at`.
    #[serde(default)]
    pub gpu: f64,
}

/// One node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Node name, unique within its cluster.
    pub name: String,
    /// Cloud provider id (`kube_node_info`, cost exporter).
    #[serde(default)]
    pub provider_id: String,
    /// Instance type (cost exporter's `instance_type`).
    #[serde(default)]
    pub instance_type: String,
    /// CPU capacity in cores.
    pub cpu_cores: f64,
    /// RAM capacity in bytes.
    pub ram_bytes: f64,
    /// GPUs.
    #[serde(default)]
    pub gpus: f64,
    /// Whether the node is a spot/preemptible instance.
    #[serde(default)]
    pub spot: bool,
    /// Prices from the start.
    pub prices: Prices,
    /// Later price changes, in time order.
    #[serde(default)]
    pub price_changes: Vec<PriceChange>,
    /// When the node joins (default: before the scenario starts).
    #[serde(default)]
    pub active_from: Option<DateTime<Utc>>,
    /// When the node leaves (default: after the scenario ends).
    #[serde(default)]
    pub active_to: Option<DateTime<Utc>>,
    /// Node labels (raw Kubernetes keys).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Node {
    /// When the node exists.
    pub(crate) fn active(&self) -> Span {
        Span::new(
            self.active_from.map_or(OPEN_START, ms),
            self.active_to.map_or(OPEN_END, ms),
        )
    }

    /// The node's own prices at `t` (ignoring whether it is priced at all).
    pub(crate) fn prices_at(&self, t: Ms) -> Prices {
        let mut p = self.prices;
        for c in &self.price_changes {
            if ms(c.at) <= t {
                p = Prices::new(c.cpu, c.ram, c.gpu);
            }
        }
        p
    }

    /// Instants at which the price changes.
    pub(crate) fn price_breaks(&self) -> impl Iterator<Item = Ms> + '_ {
        self.price_changes.iter().map(|c| ms(c.at))
    }

    /// `node_total_hourly_cost` at prices `p`: every resource's capacity
    /// times its price.
    pub(crate) fn total_hourly_cost(&self, p: Prices) -> f64 {
        self.cpu_cores * p.cpu + self.ram_bytes / GIB * p.ram + self.gpus * p.gpu
    }
}

/// Bytes per GiB: RAM prices are per GiB-hour.
pub(crate) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A namespace and its metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// Namespace name.
    pub name: String,
    /// Labels (raw Kubernetes keys).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations (raw keys).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The kind of a pod's controlling owner, as the scenario states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OwnerKind {
    /// A Deployment: the pod is owned by a ReplicaSet `<deployment>-<hash>`
    /// which the Deployment owns.
    Deployment,
    /// A StatefulSet owns the pod.
    StatefulSet,
    /// A DaemonSet owns the pod.
    DaemonSet,
    /// A Job owns the pod.
    Job,
    /// A bare ReplicaSet (no owner of its own) owns the pod.
    ReplicaSet,
}

/// A pod's controlling owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// What kind of controller.
    pub kind: OwnerKind,
    /// Its name.
    pub name: String,
    /// For a Deployment, the ReplicaSet's name (default: derived,
    /// `<deployment>-<hash>`).
    #[serde(default)]
    pub replicaset: Option<String>,
}

impl Owner {
    /// An owner of `kind` named `name`.
    pub fn new(kind: OwnerKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            replicaset: None,
        }
    }

    /// The ReplicaSet between a Deployment and its pods.
    pub(crate) fn replicaset_name(&self, cluster: &str, namespace: &str) -> Option<String> {
        (self.kind == OwnerKind::Deployment).then(|| {
            self.replicaset.clone().unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    self.name,
                    pod_template_hash(&[cluster, namespace, &self.name])
                )
            })
        })
    }

    /// `(owner_kind, owner_name)` as `kube_pod_owner` shows them.
    pub(crate) fn pod_owner(&self, cluster: &str, namespace: &str) -> (&'static str, String) {
        match self.kind {
            OwnerKind::Deployment => (
                "ReplicaSet",
                self.replicaset_name(cluster, namespace)
                    .expect("a deployment has a replicaset"),
            ),
            OwnerKind::StatefulSet => ("StatefulSet", self.name.clone()),
            OwnerKind::DaemonSet => ("DaemonSet", self.name.clone()),
            OwnerKind::Job => ("Job", self.name.clone()),
            OwnerKind::ReplicaSet => ("ReplicaSet", self.name.clone()),
        }
    }

    /// `(controller_kind, controller)` as the allocation properties carry
    /// them (OpenCost's lower-case kinds).
    pub(crate) fn controller(&self) -> (&'static str, &str) {
        let kind = match self.kind {
            OwnerKind::Deployment => "deployment",
            OwnerKind::StatefulSet => "statefulset",
            OwnerKind::DaemonSet => "daemonset",
            OwnerKind::Job => "job",
            OwnerKind::ReplicaSet => "replicaset",
        };
        (kind, &self.name)
    }
}

/// One pod object (one uid). A pod that "moves" to another node is two
/// entries with the same name, different nodes and successive times.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    /// Namespace (must be listed in the cluster's namespaces).
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod uid (default: derived from cluster, namespace, name and start).
    #[serde(default)]
    pub uid: Option<String>,
    /// Node the pod runs on.
    pub node: String,
    /// When the containers start (default: the scenario start).
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// When the containers stop (default: never, the pod runs past the
    /// scenario end). The pod object is deleted
    /// [`Options::terminated_running_zero_minutes`] later.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// Controlling owner, if any.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Pod labels (raw Kubernetes keys).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pod annotations (raw keys).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Containers.
    pub containers: Vec<Container>,
    /// Claims (names in the pod's namespace, bound to one of the
    /// cluster's [`PersistentVolume`]s) the pod mounts.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Network traffic over the pod's lifetime, if any.
    #[serde(default)]
    pub network: Option<Network>,
}

impl Pod {
    /// The pod's uid, derived when the scenario gives none.
    pub fn uid(&self, cluster: &str, scenario_start: DateTime<Utc>) -> String {
        self.uid.clone().unwrap_or_else(|| {
            let start = self.start.unwrap_or(scenario_start);
            let key = [cluster, &self.namespace, &self.name, &ms(start).to_string()];
            let (a, b) = (fnv1a(&key, 0), fnv1a(&key, 1));
            // Shaped like a Kubernetes uid (UUIDv4 text form).
            format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                0x8000 | ((b >> 48) & 0x3fff),
                b & 0xffff_ffff_ffff
            )
        })
    }

    /// When the containers run, ignoring restart gaps.
    pub(crate) fn running(&self, scenario_start: Ms) -> Span {
        Span::new(
            self.start.map_or(scenario_start, ms),
            self.end.map_or(OPEN_END, ms),
        )
    }

    /// When the pod object exists: from its start until it is deleted,
    /// `linger` after its containers stop.
    pub(crate) fn exists(&self, scenario_start: Ms, linger: Ms) -> Span {
        let run = self.running(scenario_start);
        let end = if run.end == OPEN_END {
            OPEN_END
        } else {
            run.end.saturating_add(linger)
        };
        Span::new(run.start, end)
    }
}

/// One container of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Container name, unique within the pod.
    pub name: String,
    /// CPU request in cores (0 = none: no request series).
    #[serde(default)]
    pub cpu_request: f64,
    /// RAM request in bytes (0 = none).
    #[serde(default)]
    pub ram_request: f64,
    /// GPUs requested (0 = none).
    #[serde(default)]
    pub gpu_request: f64,
    /// CPU and RAM usage.
    #[serde(default)]
    pub usage: Usage,
    /// A stretch during which the container is not running (crash and
    /// restart); it must lie inside the pod's running time.
    #[serde(default)]
    pub restart_gap: Option<Gap>,
}

impl Container {
    /// When the container runs: its pod's running time minus the restart
    /// gap, in time order.
    pub(crate) fn running(&self, pod: &Pod, scenario_start: Ms) -> Vec<Span> {
        let run = pod.running(scenario_start);
        match self.restart_gap {
            None => vec![run],
            Some(g) => {
                let (gs, ge) = (ms(g.from), ms(g.to));
                [Span::new(run.start, gs), Span::new(ge, run.end)]
                    .into_iter()
                    .filter(|s| s.start < s.end)
                    .collect()
            }
        }
    }
}

/// `[from, to)` during which a container is down.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// The container stops.
    pub from: DateTime<Utc>,
    /// The container runs again.
    pub to: DateTime<Utc>,
}

/// CPU and RAM in use at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// CPU cores in use.
    #[serde(default)]
    pub cpu: f64,
    /// Working-set RAM bytes.
    #[serde(default)]
    pub ram: f64,
}

/// New usage from `at` on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageStep {
    /// When the usage changes.
    pub at: DateTime<Utc>,
    /// CPU cores from `at`.
    #[serde(default)]
    pub cpu: f64,
    /// Working-set RAM bytes from `at`.
    #[serde(default)]
    pub ram: f64,
}

/// A container's usage over time: constant, or piecewise constant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Usage {
    /// The same all the time: `{"cpu": 0.2, "ram": 1e8}`.
    Constant(Level),
    /// Steps in time order: `[{"at": …, "cpu": …, "ram": …}, …]`. Each
    /// level holds from its `at` until the next step; before the first
    /// step, the first step's level holds.
    Steps(Vec<UsageStep>),
}

impl Default for Usage {
    fn default() -> Self {
        Usage::Constant(Level::default())
    }
}

impl Usage {
    /// Constant usage of `cpu` cores and `ram` bytes.
    pub fn constant(cpu: f64, ram: f64) -> Self {
        Usage::Constant(Level { cpu, ram })
    }

    /// The usage at `t`.
    pub(crate) fn at(&self, t: Ms) -> Level {
        match self {
            Usage::Constant(l) => *l,
            Usage::Steps(steps) => {
                let mut level = steps.first().map_or(Level::default(), |s| Level {
                    cpu: s.cpu,
                    ram: s.ram,
                });
                for s in steps {
                    if ms(s.at) <= t {
                        level = Level {
                            cpu: s.cpu,
                            ram: s.ram,
                        };
                    }
                }
                level
            }
        }
    }

    /// Instants at which the usage changes.
    pub(crate) fn breaks(&self) -> Vec<Ms> {
        match self {
            Usage::Constant(_) => Vec::new(),
            Usage::Steps(steps) => steps.iter().map(|s| ms(s.at)).collect(),
        }
    }

    /// CPU core-seconds used over `[a, b)` (exact: usage is piecewise
    /// constant). This is what a cAdvisor counter gains in that time.
    pub(crate) fn cpu_seconds(&self, a: Ms, b: Ms) -> f64 {
        let mut total = 0.0;
        for piece in pieces(Span::new(a, b), self.breaks()) {
            total += self.at(piece.start).cpu * secs(piece.end - piece.start);
        }
        total
    }
}

/// Seconds in `d` milliseconds.
pub(crate) fn secs(d: Ms) -> f64 {
    d as f64 / 1000.0
}

/// `span` cut at every break that falls strictly inside it.
pub(crate) fn pieces(span: Span, breaks: impl IntoIterator<Item = Ms>) -> Vec<Span> {
    let mut cuts: Vec<Ms> = breaks
        .into_iter()
        .filter(|&t| span.start < t && t < span.end)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut s = span.start;
    for c in cuts.into_iter().chain(std::iter::once(span.end)) {
        out.push(Span::new(s, c));
        s = c;
    }
    out
}

/// 64-bit FNV-1a over the parts (separated), seeded so two seeds give
/// independent-looking hashes. Stable across platforms and releases,
/// unlike `std`'s hasher, so derived names never change.
fn fnv1a(parts: &[&str], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A ReplicaSet's `pod-template-hash`: 10 characters from Kubernetes'
/// safe alphabet (no vowels, no look-alike digits).
fn pod_template_hash(parts: &[&str]) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = fnv1a(parts, 2);
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize];
            h /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

impl Scenario {
    /// Parse a scenario from JSON and [validate](Self::validate) it.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the text is not a scenario, [`Error::Invalid`] if
    /// it is inconsistent.
    pub fn from_json(text: &str) -> Result<Self> {
        let s: Scenario = serde_json::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Read, parse and validate a scenario file.
    ///
    /// # Errors
    ///
    /// As [`Self::from_json`], plus [`Error::Io`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }

    /// The scenario as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scenario always serialises")
    }

    /// `[start, end)`.
    pub fn window(&self) -> Window {
        Window::new(self.start, self.end).expect("validated: start <= end")
    }

    /// Milliseconds between scrapes.
    pub(crate) fn interval_ms(&self) -> Ms {
        Ms::from(self.scrape_interval_seconds) * 1000
    }

    /// How long a pod object outlives its containers.
    pub(crate) fn linger_ms(&self) -> Ms {
        Ms::from(self.options.terminated_running_zero_minutes) * 60_000
    }

    /// Whether `node` of `cluster` has cost-exporter series.
    pub fn is_priced(&self, cluster: &str, node: &str) -> bool {
        !self
            .options
            .omit_node_prices_for
            .iter()
            .any(|n| n == node || *n == format!("{cluster}/{node}"))
    }

    /// The prices a node is charged at at `t`: its own, or the default
    /// prices when it has no price series.
    pub(crate) fn charged_prices(&self, cluster: &str, node: &Node, t: Ms) -> Prices {
        if self.is_priced(cluster, &node.name) {
            node.prices_at(t)
        } else {
            self.options.default_prices
        }
    }

    /// Check the scenario is consistent: times ordered and at millisecond
    /// precision, names unique, every reference resolvable, pods running
    /// only while their node is active, and no two pods of the same name
    /// running at once (the engine joins cAdvisor series to pods by name).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the first problem found.
    pub fn validate(&self) -> Result<()> {
        self.validate_settings()?;
        let mut clusters = BTreeSet::new();
        let mut known_nodes = BTreeSet::new();
        for (ci, c) in self.clusters.iter().enumerate() {
            let cp = format!("clusters[{ci}]");
            if c.name.is_empty() || !clusters.insert(c.name.as_str()) {
                return Err(invalid(
                    &cp,
                    format!("cluster name {:?} empty or repeated", c.name),
                ));
            }
            let nodes = validate_nodes(c, &cp, &mut known_nodes)?;
            let namespaces = validate_namespaces(c, &cp)?;
            let claims = validate_volumes(c, &cp, &namespaces)?;
            validate_services(c, &cp, &namespaces)?;
            validate_network_prices(c, &cp)?;
            self.validate_pods(c, &cp, &nodes, &namespaces, &claims)?;
        }
        for n in &self.options.omit_node_prices_for {
            if !known_nodes.contains(n) {
                return Err(invalid(
                    "options.omit_node_prices_for",
                    format!("unknown node {n:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The scenario's own settings: its times, scrape interval, cluster
    /// label and default prices.
    fn validate_settings(&self) -> Result<()> {
        whole_ms(self.start, "start")?;
        whole_ms(self.end, "end")?;
        if self.end <= self.start {
            return Err(invalid("end", "must be after start"));
        }
        if self.scrape_interval_seconds == 0 {
            return Err(invalid("scrape_interval_seconds", "must be positive"));
        }
        if self.cluster_label.is_empty() {
            return Err(invalid("cluster_label", "must not be empty"));
        }
        prices_finite(self.options.default_prices, "options.default_prices")
    }

    /// A cluster's pods: each placed on a known, active node in a known
    /// namespace, with valid contents, and no pod name running twice at
    /// once.
    fn validate_pods(
        &self,
        c: &Cluster,
        cp: &str,
        nodes: &BTreeMap<&str, &Node>,
        namespaces: &BTreeSet<&str>,
        claims: &BTreeSet<(&str, &str)>,
    ) -> Result<()> {
        let mut uids = BTreeSet::new();
        let mut by_name: BTreeMap<(&str, &str), Vec<(usize, Span)>> = BTreeMap::new();
        for (pi, p) in c.pods.iter().enumerate() {
            let pp = format!("{cp}.pods[{pi}]");
            let run = self.validate_placement(p, &pp, nodes, namespaces)?;
            if !uids.insert(p.uid(&c.name, self.start)) {
                return Err(invalid(&pp, "uid repeated in the cluster"));
            }
            by_name
                .entry((p.namespace.as_str(), p.name.as_str()))
                .or_default()
                .push((pi, run));
            validate_pod_contents(p, &pp, run, claims)?;
        }
        for ((ns, name), runs) in &by_name {
            for (i, (pa, a)) in runs.iter().enumerate() {
                for (pb, b) in &runs[i + 1..] {
                    if a.intersect(*b).is_some() {
                        return Err(invalid(
                            format!("{cp}.pods[{pb}]"),
                            format!(
                                "pod {ns}/{name} runs at the same time as pods[{pa}]; \
                                 a pod name can only run once at a time"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A pod's name, namespace, node and times; returns its running span.
    fn validate_placement(
        &self,
        p: &Pod,
        pp: &str,
        nodes: &BTreeMap<&str, &Node>,
        namespaces: &BTreeSet<&str>,
    ) -> Result<Span> {
        if p.name.is_empty() {
            return Err(invalid(pp, "pod name is empty"));
        }
        if !namespaces.contains(p.namespace.as_str()) {
            return Err(invalid(
                pp,
                format!(
                    "namespace {:?} is not in the cluster's namespaces",
                    p.namespace
                ),
            ));
        }
        let Some(node) = nodes.get(p.node.as_str()) else {
            return Err(invalid(pp, format!("unknown node {:?}", p.node)));
        };
        for t in [p.start, p.end].into_iter().flatten() {
            whole_ms(t, pp)?;
        }
        let run = p.running(ms(self.start));
        if run.start >= run.end {
            return Err(invalid(pp, "end must be after start"));
        }
        // Only the part inside the scenario is observable.
        let scenario_span = Span::new(ms(self.start), ms(self.end));
        if let Some(seen) = run.intersect(scenario_span)
            && !node.active().covers(seen)
        {
            return Err(invalid(
                pp,
                format!("runs while node {:?} is not active", p.node),
            ));
        }
        Ok(run)
    }
    /// Check `window` lies within `[start, end]`.
    pub(crate) fn check_window(&self, window: Window) -> Result<()> {
        if window.start() < self.start || window.end() > self.end {
            return Err(Error::WindowOutsideScenario {
                window: window.to_string(),
                scenario: self.window().to_string(),
            });
        }
        Ok(())
    }
}

/// `t + minutes`, a convenience for building scenarios in Rust.
pub fn plus_minutes(t: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t + TimeDelta::minutes(minutes)
}

/// `t` at millisecond precision (Prometheus' timestamps) and after 1970.
fn whole_ms(t: DateTime<Utc>, path: &str) -> Result<()> {
    if !t.timestamp_subsec_nanos().is_multiple_of(1_000_000) || t < DateTime::<Utc>::UNIX_EPOCH {
        Err(invalid(
            path,
            format!("{t} must be after 1970 and a whole millisecond"),
        ))
    } else {
        Ok(())
    }
}

/// A quantity or price: finite and not negative.
fn finite(v: f64, path: &str) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(path, format!("{v} must be finite and >= 0")))
    }
}

fn prices_finite(p: Prices, path: &str) -> Result<()> {
    for (v, f) in [(p.cpu, "cpu"), (p.ram, "ram"), (p.gpu, "gpu")] {
        finite(v, &format!("{path}.{f}"))?;
    }
    Ok(())
}

/// An optional activity span: whole milliseconds, and non-empty when
/// bounded on both sides.
fn active_span(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, path: &str) -> Result<()> {
    for t in [from, to].into_iter().flatten() {
        whole_ms(t, path)?;
    }
    if let (Some(a), Some(b)) = (from, to)
        && a >= b
    {
        return Err(invalid(path, "active_to must be after active_from"));
    }
    Ok(())
}

fn known_namespace(namespaces: &BTreeSet<&str>, ns: &str, path: &str) -> Result<()> {
    if namespaces.contains(ns) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("namespace {ns:?} is not in the cluster's namespaces"),
        ))
    }
}

/// A cluster's nodes: unique names, quantities, prices and their changes
/// in time order, activity. Adds each node as `name` and `cluster/name` to
/// `known_nodes`; returns the nodes by name.
fn validate_nodes<'c>(
    c: &'c Cluster,
    cp: &str,
    known_nodes: &mut BTreeSet<String>,
) -> Result<BTreeMap<&'c str, &'c Node>> {
    let mut nodes = BTreeMap::new();
    for (ni, n) in c.nodes.iter().enumerate() {
        let np = format!("{cp}.nodes[{ni}]");
        if n.name.is_empty() || nodes.insert(n.name.as_str(), n).is_some() {
            return Err(invalid(
                &np,
                format!("node name {:?} empty or repeated", n.name),
            ));
        }
        known_nodes.insert(n.name.clone());
        known_nodes.insert(format!("{}/{}", c.name, n.name));
        validate_node(n, &np)?;
    }
    Ok(nodes)
}

fn validate_node(n: &Node, np: &str) -> Result<()> {
    finite(n.cpu_cores, &format!("{np}.cpu_cores"))?;
    finite(n.ram_bytes, &format!("{np}.ram_bytes"))?;
    finite(n.gpus, &format!("{np}.gpus"))?;
    prices_finite(n.prices, &format!("{np}.prices"))?;
    for (pi, pc) in n.price_changes.iter().enumerate() {
        let pp = format!("{np}.price_changes[{pi}]");
        prices_finite(Prices::new(pc.cpu, pc.ram, pc.gpu), &pp)?;
        whole_ms(pc.at, &pp)?;
        if pi > 0 && pc.at <= n.price_changes[pi - 1].at {
            return Err(invalid(&pp, "price changes must be in time order"));
        }
    }
    for t in [n.active_from, n.active_to].into_iter().flatten() {
        whole_ms(t, np)?;
    }
    let a = n.active();
    if a.start >= a.end {
        return Err(invalid(np, "active_to must be after active_from"));
    }
    Ok(())
}

/// A cluster's namespaces: unique names; returns them.
fn validate_namespaces<'c>(c: &'c Cluster, cp: &str) -> Result<BTreeSet<&'c str>> {
    let mut namespaces = BTreeSet::new();
    for (i, ns) in c.namespaces.iter().enumerate() {
        if ns.name.is_empty() || !namespaces.insert(ns.name.as_str()) {
            return Err(invalid(
                format!("{cp}.namespaces[{i}]"),
                format!("namespace name {:?} empty or repeated", ns.name),
            ));
        }
    }
    Ok(namespaces)
}

/// A cluster's persistent volumes and their claims; returns the claims
/// `(namespace, name)` pods may mount.
fn validate_volumes<'c>(
    c: &'c Cluster,
    cp: &str,
    namespaces: &BTreeSet<&str>,
) -> Result<BTreeSet<(&'c str, &'c str)>> {
    let mut pvs = BTreeSet::new();
    let mut claims = BTreeSet::new();
    for (i, pv) in c.persistent_volumes.iter().enumerate() {
        let path = format!("{cp}.persistent_volumes[{i}]");
        if pv.name.is_empty() || !pvs.insert(pv.name.as_str()) {
            return Err(invalid(
                &path,
                format!("persistent volume name {:?} empty or repeated", pv.name),
            ));
        }
        finite(pv.capacity_bytes, &format!("{path}.capacity_bytes"))?;
        finite(
            pv.hourly_cost_per_gib,
            &format!("{path}.hourly_cost_per_gib"),
        )?;
        active_span(pv.active_from, pv.active_to, &path)?;
        if let Some(claim) = &pv.claim {
            let path = format!("{path}.claim");
            known_namespace(namespaces, &claim.namespace, &path)?;
            if claim.name.is_empty()
                || !claims.insert((claim.namespace.as_str(), claim.name.as_str()))
            {
                return Err(invalid(
                    &path,
                    format!(
                        "claim name {:?} empty or bound to two volumes in namespace {:?}",
                        claim.name, claim.namespace
                    ),
                ));
            }
            finite(claim.requested_bytes, &format!("{path}.requested_bytes"))?;
        }
    }
    Ok(claims)
}

/// A cluster's services: unique names in known namespaces, selectors,
/// load balancers.
fn validate_services(c: &Cluster, cp: &str, namespaces: &BTreeSet<&str>) -> Result<()> {
    let mut services = BTreeSet::new();
    for (i, svc) in c.services.iter().enumerate() {
        let path = format!("{cp}.services[{i}]");
        known_namespace(namespaces, &svc.namespace, &path)?;
        if svc.name.is_empty() || !services.insert((&svc.namespace, &svc.name)) {
            return Err(invalid(
                &path,
                format!(
                    "service name {:?} empty or repeated in namespace {:?}",
                    svc.name, svc.namespace
                ),
            ));
        }
        if svc.selector.keys().any(String::is_empty) {
            return Err(invalid(&path, "selector keys must not be empty"));
        }
        if let Some(lb) = &svc.load_balancer {
            let path = format!("{path}.load_balancer");
            if lb.ingress_ip.parse::<IpAddr>().is_err() {
                return Err(invalid(
                    &path,
                    format!("ingress_ip {:?} is not an IP address", lb.ingress_ip),
                ));
            }
            finite(lb.hourly_cost, &format!("{path}.hourly_cost"))?;
            active_span(lb.active_from, lb.active_to, &path)?;
        }
    }
    Ok(())
}

/// A cluster's egress prices, if it has them.
fn validate_network_prices(c: &Cluster, cp: &str) -> Result<()> {
    if let Some(p) = &c.network_prices {
        for (v, f) in [
            (p.zone_per_gib, "zone_per_gib"),
            (p.region_per_gib, "region_per_gib"),
            (p.internet_per_gib, "internet_per_gib"),
        ] {
            finite(v, &format!("{cp}.network_prices.{f}"))?;
        }
    }
    Ok(())
}

/// What a pod holds: its owner's name, containers, mounted claims (known,
/// once each) and network rates.
fn validate_pod_contents(
    p: &Pod,
    pp: &str,
    run: Span,
    claims: &BTreeSet<(&str, &str)>,
) -> Result<()> {
    if let Some(o) = &p.owner
        && o.name.is_empty()
    {
        return Err(invalid(pp, "owner name is empty"));
    }
    if p.containers.is_empty() {
        return Err(invalid(pp, "a pod needs at least one container"));
    }
    let mut mounted = BTreeSet::new();
    for (vi, v) in p.volumes.iter().enumerate() {
        let vp = format!("{pp}.volumes[{vi}]");
        if !claims.contains(&(p.namespace.as_str(), v.as_str())) {
            return Err(invalid(
                &vp,
                format!(
                    "no persistent volume of the cluster is claimed by {:?} \
                     in namespace {:?}",
                    v, p.namespace
                ),
            ));
        }
        if !mounted.insert(v.as_str()) {
            return Err(invalid(&vp, format!("claim {v:?} listed twice")));
        }
    }
    if let Some(n) = &p.network {
        for (v, f) in [
            (n.transmit_bytes_per_second, "transmit_bytes_per_second"),
            (n.receive_bytes_per_second, "receive_bytes_per_second"),
            (
                n.egress_zone_bytes_per_second,
                "egress_zone_bytes_per_second",
            ),
            (
                n.egress_region_bytes_per_second,
                "egress_region_bytes_per_second",
            ),
            (
                n.egress_internet_bytes_per_second,
                "egress_internet_bytes_per_second",
            ),
        ] {
            finite(v, &format!("{pp}.network.{f}"))?;
        }
    }
    let mut names = BTreeSet::new();
    for (ki, k) in p.containers.iter().enumerate() {
        let kp = format!("{pp}.containers[{ki}]");
        if k.name.is_empty() || !names.insert(k.name.as_str()) {
            return Err(invalid(
                &kp,
                format!("container name {:?} empty or repeated", k.name),
            ));
        }
        validate_container(k, &kp, run)?;
    }
    Ok(())
}

/// A container's requests, usage (steps in time order) and restart gap
/// (inside the pod's `run`).
fn validate_container(k: &Container, kp: &str, run: Span) -> Result<()> {
    finite(k.cpu_request, &format!("{kp}.cpu_request"))?;
    finite(k.ram_request, &format!("{kp}.ram_request"))?;
    finite(k.gpu_request, &format!("{kp}.gpu_request"))?;
    match &k.usage {
        Usage::Constant(l) => {
            finite(l.cpu, &format!("{kp}.usage.cpu"))?;
            finite(l.ram, &format!("{kp}.usage.ram"))?;
        }
        Usage::Steps(steps) => {
            if steps.is_empty() {
                return Err(invalid(kp, "usage steps must not be empty"));
            }
            for (si, s) in steps.iter().enumerate() {
                let sp = format!("{kp}.usage[{si}]");
                whole_ms(s.at, &sp)?;
                finite(s.cpu, &format!("{sp}.cpu"))?;
                finite(s.ram, &format!("{sp}.ram"))?;
                if si > 0 && s.at <= steps[si - 1].at {
                    return Err(invalid(&sp, "usage steps must be in time order"));
                }
            }
        }
    }
    if let Some(g) = k.restart_gap {
        whole_ms(g.from, kp)?;
        whole_ms(g.to, kp)?;
        let gap = Span::new(ms(g.from), ms(g.to));
        if gap.start >= gap.end || gap.start <= run.start || gap.end >= run.end {
            return Err(invalid(
                format!("{kp}.restart_gap"),
                "must be non-empty and strictly inside the pod's running time",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_stable_and_well_formed() {
        let p = Pod {
            namespace: "web".into(),
            name: "api-0".into(),
            ..Default::default()
        };
        let uid = p.uid("c1", DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(uid.len(), 36);
        assert_eq!(uid, p.uid("c1", DateTime::<Utc>::UNIX_EPOCH));
        assert_ne!(uid, p.uid("c2", DateTime::<Utc>::UNIX_EPOCH));
        let rs = Owner::new(OwnerKind::Deployment, "api")
            .replicaset_name("c1", "web")
            .unwrap();
        assert!(rs.starts_with("api-") && rs.len() == 14, "{rs}");
    }

    #[test]
    fn usage_steps_hold_until_the_next_step() {
        let t0: DateTime<Utc> = "2023-11-14T00:00:00Z".parse().unwrap();
        let u = Usage::Steps(vec![
            UsageStep {
                at: plus_minutes(t0, 10),
                cpu: 1.0,
                ram: 10.0,
            },
            UsageStep {
                at: plus_minutes(t0, 20),
                cpu: 3.0,
                ram: 30.0,
            },
        ]);
        assert_eq!(u.at(ms(t0)).cpu, 1.0, "the first level holds before it");
        assert_eq!(u.at(ms(plus_minutes(t0, 20))).cpu, 3.0);
        // 5 minutes at 1 core + 5 minutes at 3 cores.
        let s = u.cpu_seconds(ms(plus_minutes(t0, 15)), ms(plus_minutes(t0, 25)));
        assert_eq!(s, 300.0 + 900.0);
    }

    #[test]
    fn json_round_trips_and_rejects_typos() {
        let text = r#"{"start":"2023-11-14T00:00:00Z","end":"2023-11-14T01:00:00Z",
            "clusters":[{"name":"c","nodes":[{"name":"n","cpu_cores":2,"ram_bytes":4e9,
            "prices":{"cpu":0.03,"ram":0.004}}],"namespaces":[{"name":"ns"}],
            "pods":[{"namespace":"ns","name":"p","node":"n","containers":[{"name":"k",
            "cpu_request":0.5,"usage":{"cpu":0.1}}]}]}]}"#;
        let s = Scenario::from_json(text).unwrap();
        assert_eq!(s.scrape_interval_seconds, 30);
        assert_eq!(s.options.terminated_running_zero_minutes, 5);
        assert_eq!(Scenario::from_json(&s.to_json()).unwrap(), s);
        let typo = text.replace("cpu_request", "cpu_requests");
        assert!(matches!(Scenario::from_json(&typo), Err(Error::Json(_))));
    }

    #[test]
    fn validation_catches_inconsistencies() {
        let t0: DateTime<Utc> = "2023-11-14T00:00:00Z".parse().unwrap();
        let pod = |node: &str, start: i64, end: i64| Pod {
            namespace: "ns".into(),
            name: "p".into(),
            node: node.into(),
            start: Some(plus_minutes(t0, start)),
            end: Some(plus_minutes(t0, end)),
            containers: vec![Container {
                name: "k".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let node = |name: &str| Node {
            name: name.into(),
            cpu_cores: 1.0,
            ram_bytes: 1.0,
            active_to: Some(plus_minutes(t0, 50)),
            ..Default::default()
        };
        let s = |pods: Vec<Pod>| Scenario {
            start: t0,
            end: plus_minutes(t0, 60),
            clusters: vec![Cluster {
                name: "c".into(),
                nodes: vec![node("a"), node("b")],
                namespaces: vec![Namespace {
                    name: "ns".into(),
                    ..Default::default()
                }],
                pods,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(
            s(vec![pod("a", 0, 10), pod("b", 10, 20)])
                .validate()
                .is_ok()
        );
        let err = |pods| s(pods).validate().unwrap_err().to_string();
        assert!(err(vec![pod("a", 0, 10), pod("b", 9, 20)]).contains("same time"));
        assert!(err(vec![pod("x", 0, 10)]).contains("unknown node"));
        assert!(err(vec![pod("a", 40, 55)]).contains("not active"));
        assert!(err(vec![pod("a", 10, 10)]).contains("after start"));
    }
}
