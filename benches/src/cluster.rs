//! The synthetic cluster behind the bodies: nodes (a few of them spot nodes
//! re-priced during the day), namespaces, pods and their containers, with
//! usage per 1m step, and the integrals over steps the queries return.
//!
//! Every per-step quantity is piecewise constant (a container's usage is a
//! base level with one peak, a node's price changes at a few steps), so
//! each sum over steps is computed exactly from interval overlaps rather
//! than step by step.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use costetl_core::Window;
use costetl_core::plan::EngineConfig;

use crate::Scale;
use crate::rng::Rng;

pub(crate) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
pub(crate) const MIB: f64 = 1024.0 * 1024.0;

pub(crate) const CLUSTER: &str = "bench-1";
pub(crate) const KSM_INSTANCE: &str = "10.42.7.19:8080";
pub(crate) const KSM_JOB: &str = "kube-state-metrics";
pub(crate) const EXPORTER_INSTANCE: &str = "10.42.3.7:9003";
pub(crate) const EXPORTER_JOB: &str = "opencost";
/// Steps of the day at 1m resolution; step `t` is minute `t` of the day.
pub(crate) const STEPS: u32 = 1440;
/// Seconds in a step.
pub(crate) const STEP_SECS: f64 = 60.0;

/// Resource slots: CPU cores, RAM bytes (priced per GiB), GPUs.
pub(crate) const CPU: usize = 0;
pub(crate) const RAM: usize = 1;
pub(crate) const GPU: usize = 2;

/// Pod-level costs of the generated day: every [`PV_EVERY`]th pod mounts
/// its own volume, every namespace has one load balancer selecting its
/// team's pods, every pod sends traffic in all three egress classes, and
/// one volume per cluster is unclaimed.
pub(crate) const PV_EVERY: usize = 5;
/// Volume size and price.
pub(crate) const PV_BYTES: f64 = 20.0 * GIB;
pub(crate) const PV_PRICE_GIB_HOUR: f64 = 0.000_137;
/// Chance that a Deployment of several replicas mounts one shared
/// (ReadWriteMany) volume of this size in all its pods, all day.
const SHARED_PV: f64 = 0.1;
pub(crate) const SHARED_PV_BYTES: f64 = 100.0 * GIB;
/// Load balancer $/h.
pub(crate) const LB_HOURLY: f64 = 0.025;
/// Bytes per second per pod: transmit, receive, and egress per class.
pub(crate) const NET_BPS: f64 = 2_000.0;
pub(crate) const EGRESS_BPS: [(&str, &str, &str, f64, f64); 3] = [
    // internet, same_zone, same_region, bytes/s, $/GiB
    ("false", "false", "true", 300.0, 0.01),
    ("false", "false", "false", 200.0, 0.02),
    ("true", "false", "false", 100.0, 0.09),
];

/// Chance that a container with a CPU (RAM) request uses more than it at
/// some step.
const CROSS_CPU: f64 = 0.08;
const CROSS_RAM: f64 = 0.05;
/// Chance that a pod is BestEffort (no requests); higher on spot nodes,
/// where batch work lands.
const BEST_EFFORT: f64 = 0.05;
const BEST_EFFORT_SPOT: f64 = 0.15;

const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "billing",
    "ads",
    "analytics",
    "ml",
    "data",
    "growth",
    "platform",
    "infra",
    "security",
    "support",
    "mobile",
    "web",
    "media",
    "messaging",
    "notifications",
    "orders",
    "inventory",
    "shipping",
    "pricing",
    "reviews",
    "recommendations",
    "fraud",
    "ledger",
    "reporting",
    "gateway",
    "auth",
    "profile",
    "partners",
    "marketing",
    "crm",
    "loyalty",
    "geo",
    "maps",
    "streaming",
    "edge",
];
const ENVS: &[&str] = &["prod", "staging", "dev", "qa", "canary"];
const SERVICES: &[&str] = &[
    "api",
    "web",
    "worker",
    "frontend",
    "backend",
    "gateway",
    "scheduler",
    "consumer",
    "producer",
    "indexer",
    "cache",
    "proxy",
    "sync",
    "importer",
    "exporter",
    "renderer",
    "resolver",
    "auth",
    "session",
    "router",
    "ingest",
    "aggregator",
    "notifier",
    "mailer",
    "uploader",
    "thumbnailer",
    "transcoder",
    "tracker",
    "collector",
    "dispatcher",
];
const DATASTORES: &[&str] = &[
    "postgres",
    "redis",
    "kafka",
    "zookeeper",
    "elasticsearch",
    "mongodb",
    "rabbitmq",
    "cassandra",
    "etcd",
    "mysql",
    "clickhouse",
    "nats",
];
const JOBS: &[&str] = &[
    "backup",
    "report",
    "cleanup",
    "migrate",
    "reindex",
    "export",
    "rollup",
    "compact",
    "vacuum",
    "sync-users",
    "train",
    "score",
];
const SIDECARS: &[&str] = &["istio-proxy", "log-shipper", "config-reloader", "envoy"];
const DAEMONSETS: &[(&str, &str)] = &[
    ("node-exporter", "kube-rbac-proxy"),
    ("fluent-bit", "config-reloader"),
    ("kube-proxy", "healthz"),
];

/// `(instance type, cores, GiB)`.
const NODE_TYPES: &[(&str, f64, f64)] = &[
    ("m5.8xlarge", 32.0, 128.0),
    ("r5.8xlarge", 32.0, 256.0),
    ("c5.9xlarge", 36.0, 72.0),
];
const GPU_NODE_TYPE: (&str, f64, f64, f64) = ("g4dn.12xlarge", 48.0, 192.0, 4.0);

// ---------------------------------------------------------------------------
// Steps, prices per step, usage per step
// ---------------------------------------------------------------------------

/// Steps `[from, to)` of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Steps {
    pub(crate) from: u32,
    pub(crate) to: u32,
}

impl Steps {
    pub(crate) const DAY: Steps = Steps { from: 0, to: STEPS };

    pub(crate) fn len(self) -> u32 {
        self.to.saturating_sub(self.from)
    }

    /// The steps in both (empty when they do not overlap).
    fn and(self, o: Steps) -> Steps {
        let from = self.from.max(o.from);
        Steps {
            from,
            to: self.to.min(o.to).max(from),
        }
    }
}

/// A per-step factor, piecewise constant: `scale` × the factor of the
/// piece `(first step, factor)` a step falls in (the first piece starts at
/// step 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tariff<'a> {
    pieces: &'a [(u32, f64)],
    scale: f64,
}

impl<'a> Tariff<'a> {
    /// 1 at every step: plain sums over steps.
    pub(crate) const ONE: Tariff<'static> = Tariff {
        pieces: &[(0, 1.0)],
        scale: 1.0,
    };

    /// The parts of `s` with their factor.
    fn over(self, s: Steps) -> impl Iterator<Item = (Steps, f64)> + 'a {
        let pieces = self.pieces;
        pieces
            .iter()
            .enumerate()
            .map(move |(i, &(from, f))| {
                let to = pieces.get(i + 1).map_or(STEPS, |p| p.0);
                (Steps { from, to }.and(s), f * self.scale)
            })
            .filter(|(p, _)| p.len() > 0)
    }

    /// Σ of the factor over the steps of `s`.
    pub(crate) fn sum(self, s: Steps) -> f64 {
        self.over(s).map(|(p, f)| f * f64::from(p.len())).sum()
    }

    /// The factor at the last step.
    pub(crate) fn last(self) -> f64 {
        self.pieces.last().map_or(0.0, |p| p.1) * self.scale
    }

    /// How often the factor changes from one step to the next
    /// (PromQL's `changes()`).
    pub(crate) fn changes(self) -> usize {
        if self.scale == 0.0 {
            0
        } else {
            self.pieces.windows(2).filter(|w| w[0].1 != w[1].1).count()
        }
    }
}

/// One container's usage of a resource per step: `base`, except `peak`
/// during `peak_at`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    pub(crate) base: f64,
    pub(crate) peak: f64,
    pub(crate) peak_at: Steps,
}

impl Usage {
    /// The largest usage of a step of `s`.
    pub(crate) fn max(&self, s: Steps) -> Option<f64> {
        let k = s.and(self.peak_at).len();
        let peak = (k > 0).then_some(self.peak);
        let base = (k < s.len()).then_some(self.base);
        match (peak, base) {
            (Some(p), Some(b)) => Some(p.max(b)),
            (p, b) => p.or(b),
        }
    }

    /// Σ over the steps of `s` of `h(usage)` × the tariff.
    pub(crate) fn sum(&self, s: Steps, h: impl Fn(f64) -> f64, t: Tariff<'_>) -> f64 {
        let (hb, hp) = (h(self.base), h(self.peak));
        t.over(s)
            .map(|(p, f)| {
                let k = p.and(self.peak_at).len();
                f * (hb * f64::from(p.len() - k) + hp * f64::from(k))
            })
            .sum()
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) instance_type: &'static str,
    pub(crate) provider_id: String,
    pub(crate) zone: &'static str,
    pub(crate) spot: bool,
    /// Capacity: cores, bytes, GPUs.
    pub(crate) capacity: [f64; 3],
    /// $ per core-hour, GiB-hour, GPU-hour (0 without GPUs) before
    /// re-pricing.
    pub(crate) prices: [f64; 3],
    /// Spot re-pricing: the factor on `prices` from each step on; a single
    /// `(0, 1.0)` for a node whose price does not change.
    pub(crate) reprice: Vec<(u32, f64)>,
}

impl Node {
    /// The price of resource `r` per step ($ per unit-hour; RAM per GiB).
    pub(crate) fn tariff(&self, r: usize) -> Tariff<'_> {
        Tariff {
            pieces: &self.reprice,
            scale: self.prices[r],
        }
    }

    /// $ per hour at the last step, all resources.
    pub(crate) fn hourly_at_end(&self) -> f64 {
        (0..3)
            .map(|r| per_unit(r, self.capacity[r]) * self.tariff(r).last())
            .sum()
    }

    /// Capacity × price over the day, in $.
    fn cost(&self) -> f64 {
        (0..3)
            .map(|r| per_unit(r, self.capacity[r]) * self.tariff(r).sum(Steps::DAY) / 60.0)
            .sum()
    }
}

/// Where pods may go and which workload names are taken.
struct Placement {
    cpu_nodes: Vec<usize>,
    /// One entry per GPU of the GPU nodes, taken by Jobs while any is
    /// left.
    gpu_slots: Vec<usize>,
    /// (namespace, name) of every workload so far.
    used_names: HashSet<(usize, String)>,
}

impl Placement {
    fn new(nodes: &[Node]) -> Self {
        let gpu_nodes: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].capacity[GPU] > 0.0)
            .collect();
        Self {
            cpu_nodes: (0..nodes.len())
                .filter(|&i| nodes[i].capacity[GPU] == 0.0)
                .collect(),
            gpu_slots: gpu_nodes
                .iter()
                .flat_map(|&n| std::iter::repeat_n(n, nodes[n].capacity[GPU] as usize))
                .collect(),
            used_names: HashSet::new(),
        }
    }

    /// `base`, or `base-2`, `base-3`, … if namespace `ns` has it already.
    fn unique(&mut self, ns: usize, base: &str) -> String {
        let mut name = base.to_owned();
        let mut k = 2;
        while !self.used_names.insert((ns, name.clone())) {
            name = format!("{base}-{k}");
            k += 1;
        }
        name
    }
}

/// A pod's labels as kube-state-metrics exports them (sorted), the name of
/// its main container and its first and last running step, by workload.
fn workload_labels(
    rng: &mut Rng,
    wl: &Workload<'_>,
    team: &str,
    pod: &str,
    uid: &str,
) -> (Vec<(String, String)>, String, u32, u32) {
    let mut labels: Vec<(String, String)> = Vec::with_capacity(5);
    let mut l = |k: &str, v: &str| labels.push((format!("label_{k}"), v.to_owned()));
    let (main, first, last) = match *wl {
        Workload::Deployment { name: d, hash } => {
            l("app", d);
            l("app_kubernetes_io_name", d);
            l("pod_template_hash", hash);
            l("team", team);
            let r = rng.f64();
            let (first, last) = if r < 0.8 {
                (0, STEPS - 1)
            } else if r < 0.9 {
                (rng.below(STEPS as usize) as u32, STEPS - 1)
            } else {
                (0, rng.below(STEPS as usize) as u32)
            };
            (d.to_owned(), first, last)
        }
        Workload::StatefulSet { name: s, revision } => {
            l("app", s);
            l("app_kubernetes_io_name", s);
            l("controller_revision_hash", revision);
            l("statefulset_kubernetes_io_pod_name", pod);
            l("team", team);
            (s.to_owned(), 0, STEPS - 1)
        }
        Workload::DaemonSet { name: d, revision } => {
            l("app_kubernetes_io_name", d);
            l("controller_revision_hash", revision);
            l("pod_template_generation", "3");
            (d.to_owned(), 0, STEPS - 1)
        }
        Workload::Job { name: j, cronjob } => {
            l("batch_kubernetes_io_job_name", j);
            l("job_name", j);
            l("batch_kubernetes_io_controller_uid", uid);
            if let Some(cj) = cronjob {
                l("cronjob", cj);
            }
            l("team", team);
            let first = rng.below(STEPS as usize - 60) as u32;
            (
                cronjob.unwrap_or(j).to_owned(),
                first,
                first + rng.below(60) as u32,
            )
        }
    };
    labels.sort();
    (labels, main, first, last)
}

/// Some pods' annotations: a restart time, a scrape flag.
fn annotations(rng: &mut Rng) -> Vec<(String, String)> {
    let mut annotations = Vec::new();
    if rng.chance(0.4) {
        annotations.push((
            "annotation_kubectl_kubernetes_io_restartedAt".to_owned(),
            format!(
                "2023-11-{:02}T{:02}:00:00Z",
                1 + rng.below(13),
                rng.below(24)
            ),
        ));
    }
    if rng.chance(0.3) {
        annotations.push(("annotation_prometheus_io_scrape".to_owned(), "true".into()));
    }
    annotations
}

/// What a pod's containers share: its uid (their cgroups' parent), its
/// running steps, its QoS class and its GPUs.
struct PodShape<'a> {
    uid: &'a str,
    first: u32,
    last: u32,
    best_effort: bool,
    gpus: f64,
}

impl PodShape<'_> {
    fn span(&self) -> Steps {
        Steps {
            from: self.first,
            to: self.last + 1,
        }
    }

    /// Container `i` of the pod: its runs, requests and usage.
    fn container(&self, rng: &mut Rng, i: usize, name: String) -> Container {
        let runs = self.runs(rng);
        let (cpu_req, ram_req) = if self.best_effort {
            (None, None)
        } else if i == 0 {
            (
                Some(*rng.pick(&[0.01, 0.05, 0.1, 0.1, 0.25, 0.25, 0.5, 1.0])),
                Some(MIB * rng.pick(&[64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0])),
            )
        } else {
            (
                Some(*rng.pick(&[0.01, 0.05, 0.1])),
                Some(MIB * rng.pick(&[64.0, 128.0, 256.0])),
            )
        };
        let cpu = self.cpu_usage(rng, cpu_req);
        let ram = self.ram_usage(rng, ram_req);
        Container {
            name,
            runs,
            request: [
                cpu_req,
                ram_req,
                (i == 0 && self.gpus > 0.0).then_some(self.gpus),
            ],
            usage: [cpu, ram],
        }
    }

    /// The pod's span as one run, or, for some containers that restarted,
    /// two runs with a gap of a few steps between them; each run is its
    /// own cgroup.
    fn runs(&self, rng: &mut Rng) -> Vec<(Steps, String)> {
        let (first, last) = (self.first, self.last);
        let span = self.span().len();
        if span > 20 && rng.chance(0.03) {
            let gap = 1 + rng.below(10) as u32;
            let stop = first + 1 + rng.below((span - gap - 1) as usize) as u32;
            vec![
                (
                    Steps {
                        from: first,
                        to: stop,
                    },
                    self.cgroup(rng),
                ),
                (
                    Steps {
                        from: stop + gap,
                        to: last + 1,
                    },
                    self.cgroup(rng),
                ),
            ]
        } else {
            vec![(self.span(), self.cgroup(rng))]
        }
    }

    /// A new cgroup (cAdvisor's `id`) under the pod's.
    fn cgroup(&self, rng: &mut Rng) -> String {
        let slice = if self.best_effort {
            "besteffort"
        } else {
            "burstable"
        };
        format!(
            "/kubepods.slice/kubepods-{slice}.slice/kubepods-{slice}-pod{}.slice/cri-containerd-{}.scope",
            self.uid.replace('-', "_"),
            rng.hex(64)
        )
    }

    /// One peak of up to three hours somewhere in the pod's span.
    fn peak_at(&self, rng: &mut Rng) -> Steps {
        let span = self.span().len();
        let n = 1 + rng.below(span.min(180) as usize) as u32;
        let from = self.first + rng.below((span - n + 1) as usize) as u32;
        Steps { from, to: from + n }
    }

    /// CPU usage (cores): under the request `req`, except for a few
    /// containers whose peak (and sometimes base) crosses it.
    fn cpu_usage(&self, rng: &mut Rng, req: Option<f64>) -> Usage {
        match req {
            Some(q) if rng.chance(CROSS_CPU) => Usage {
                base: q * rng.range(0.5, 1.1),
                peak: q * rng.range(1.3, 3.0),
                peak_at: self.peak_at(rng),
            },
            Some(q) => {
                let base = q * rng.range(0.05, 0.8);
                Usage {
                    base,
                    peak: (base * rng.range(1.1, 1.6)).min(q),
                    peak_at: self.peak_at(rng),
                }
            }
            None => {
                let base = rng.range(0.001, 0.3);
                Usage {
                    base,
                    peak: base * rng.range(1.5, 4.0),
                    peak_at: self.peak_at(rng),
                }
            }
        }
    }

    /// Working-set bytes (whole bytes), like [`Self::cpu_usage`].
    fn ram_usage(&self, rng: &mut Rng, req: Option<f64>) -> Usage {
        match req {
            Some(q) if rng.chance(CROSS_RAM) => Usage {
                base: (q * rng.range(0.6, 0.98)).round(),
                peak: (q * rng.range(1.05, 1.6)).round(),
                peak_at: self.peak_at(rng),
            },
            Some(q) => {
                let base = (q * rng.range(0.2, 0.9)).round();
                Usage {
                    base,
                    peak: (base * rng.range(1.02, 1.25)).round().min(q),
                    peak_at: self.peak_at(rng),
                }
            }
            None => {
                let base = (MIB * rng.range(20.0, 400.0)).round();
                Usage {
                    base,
                    peak: (base * rng.range(1.1, 1.5)).round(),
                    peak_at: self.peak_at(rng),
                }
            }
        }
    }
}

/// An amount of resource `r` in the unit its price is per (GiB for RAM).
pub(crate) fn per_unit(r: usize, amount: f64) -> f64 {
    if r == RAM { amount / GIB } else { amount }
}

pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) team: &'static str,
    pub(crate) env: &'static str,
}

pub(crate) struct Pod {
    pub(crate) ns: usize,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) node: usize,
    pub(crate) owner_kind: &'static str,
    pub(crate) owner_name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) annotations: Vec<(String, String)>,
    /// First and last running step.
    pub(crate) first: u32,
    pub(crate) last: u32,
    pub(crate) containers: Vec<Container>,
}

impl Pod {
    /// The steps from its first running step to its last.
    pub(crate) fn span(&self) -> Steps {
        Steps {
            from: self.first,
            to: self.last + 1,
        }
    }
}

pub(crate) struct Container {
    pub(crate) name: String,
    /// Its runs: the pod's span, or two parts of it with a gap between
    /// when the container restarted; each run is a new cgroup (cAdvisor's
    /// `id` label).
    pub(crate) runs: Vec<(Steps, String)>,
    /// Requests: cores, bytes, GPUs (`None`: no request series).
    pub(crate) request: [Option<f64>; 3],
    /// Usage per step: CPU cores (the per-second rate), working-set bytes.
    pub(crate) usage: [Usage; 2],
}

impl Container {
    /// Running steps.
    pub(crate) fn steps(&self) -> u32 {
        self.runs.iter().map(|(s, _)| s.len()).sum()
    }

    /// Σ over running steps of the tariff (`running × price`).
    pub(crate) fn running(&self, t: Tariff<'_>) -> f64 {
        self.runs.iter().map(|(s, _)| t.sum(*s)).sum()
    }

    /// Σ over running steps of `h(usage of r)` × the tariff (`r`: CPU or
    /// RAM).
    pub(crate) fn sum(&self, r: usize, h: impl Fn(f64) -> f64 + Copy, t: Tariff<'_>) -> f64 {
        self.runs
            .iter()
            .map(|(s, _)| self.usage[r].sum(*s, h, t))
            .sum()
    }
}

/// A volume claimed all day in namespace `ns` and mounted by every pod of
/// one Deployment (`pods`, indices): the steps its pods run at once are
/// shared among them.
pub(crate) struct SharedVolume {
    pub(crate) ns: usize,
    pub(crate) claim: String,
    pub(crate) pv: String,
    pub(crate) pods: Vec<usize>,
}

pub(crate) struct ReplicaSet {
    pub(crate) ns: usize,
    pub(crate) name: String,
    pub(crate) deployment: String,
}

pub(crate) struct Cluster {
    pub(crate) start: DateTime<Utc>,
    pub(crate) cluster_label: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) namespaces: Vec<Namespace>,
    pub(crate) pods: Vec<Pod>,
    pub(crate) replicasets: Vec<ReplicaSet>,
    pub(crate) shared: Vec<SharedVolume>,
}

/// What kind of workload a pod belongs to, for labels and container names.
enum Workload<'a> {
    Deployment {
        name: &'a str,
        hash: &'a str,
    },
    StatefulSet {
        name: &'a str,
        revision: &'a str,
    },
    DaemonSet {
        name: &'a str,
        revision: &'a str,
    },
    Job {
        name: &'a str,
        cronjob: Option<&'a str>,
    },
}

// ---------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------

impl Cluster {
    pub(crate) fn generate(scale: &Scale, cfg: &EngineConfig, window: Window) -> Cluster {
        let mut rng = Rng::new(scale.seed);
        let mut c = Cluster {
            start: window.start(),
            cluster_label: cfg.cluster_label.clone(),
            nodes: Vec::with_capacity(scale.nodes),
            namespaces: Vec::with_capacity(scale.namespaces),
            pods: Vec::with_capacity(scale.pods),
            replicasets: Vec::new(),
            shared: Vec::new(),
        };
        c.gen_nodes(scale, &mut rng);
        c.gen_namespaces(scale);
        c.gen_pods(scale, &mut rng);
        c
    }

    /// Nodes: 30% spot at a third of the on-demand price; of those, one in
    /// a hundred CPU nodes (at least one) and the first GPU node are
    /// re-priced a few times during the day.
    fn gen_nodes(&mut self, scale: &Scale, rng: &mut Rng) {
        let gpu_nodes = scale.gpu_nodes.min(scale.nodes.saturating_sub(1));
        let first_gpu = scale.nodes - gpu_nodes;
        let mut repriced: HashSet<usize> = HashSet::new();
        if first_gpu > 0 {
            for _ in 0..(first_gpu / 100).max(1) {
                repriced.insert(rng.below(first_gpu));
            }
        }
        if gpu_nodes > 0 {
            repriced.insert(first_gpu);
        }
        for i in 0..scale.nodes {
            let zone = ["us-east-1a", "us-east-1b", "us-east-1c"][i % 3];
            let name = format!(
                "ip-10-{}-{}-{}.ec2.internal",
                16 + i % 3,
                i / 200,
                10 + i % 200
            );
            let provider_id = format!("aws:///{zone}/i-0{}", rng.hex(16));
            let spot = repriced.contains(&i) || rng.chance(0.3);
            let discount = if spot { rng.range(0.3, 0.4) } else { 1.0 };
            let (instance_type, cores, gib, gpus) = if i >= first_gpu {
                GPU_NODE_TYPE
            } else {
                let (t, c, g) = *rng.pick(NODE_TYPES);
                (t, c, g, 0.0)
            };
            let mut reprice = vec![(0, 1.0)];
            if repriced.contains(&i) {
                let mut at: Vec<u32> = (0..2 + rng.below(4))
                    .map(|_| 1 + rng.below(STEPS as usize - 1) as u32)
                    .collect();
                at.sort_unstable();
                at.dedup();
                for t in at {
                    reprice.push((t, rng.range(0.7, 1.3)));
                }
            }
            self.nodes.push(Node {
                name,
                instance_type,
                provider_id,
                zone,
                spot,
                capacity: [cores, gib * GIB, gpus],
                prices: [
                    0.031611 * discount,
                    0.004237 * discount,
                    if gpus > 0.0 { 0.95 * discount } else { 0.0 },
                ],
                reprice,
            });
        }
    }
    fn gen_namespaces(&mut self, scale: &Scale) {
        for i in 0..scale.namespaces.max(1) {
            let (name, team, env) = match i {
                0 => ("kube-system".to_owned(), "platform", "prod"),
                1 => ("monitoring".to_owned(), "infra", "prod"),
                _ => {
                    let k = i - 2;
                    let team = TEAMS[k % TEAMS.len()];
                    let env = ENVS[(k / TEAMS.len()) % ENVS.len()];
                    let round = k / (TEAMS.len() * ENVS.len());
                    let name = if round == 0 {
                        format!("{team}-{env}")
                    } else {
                        format!("{team}-{env}-{round}")
                    };
                    (name, team, env)
                }
            };
            self.namespaces.push(Namespace { name, team, env });
        }
    }

    fn gen_pods(&mut self, scale: &Scale, rng: &mut Rng) {
        let mut place = Placement::new(&self.nodes);
        self.gen_daemonsets(scale, rng, &mut place);

        // The rest: Deployments, StatefulSets, Jobs in application
        // namespaces.
        let app_ns = |rng: &mut Rng, n: usize| {
            if n > 2 {
                2 + rng.below(n - 2)
            } else {
                rng.below(n)
            }
        };
        let n_ns = self.namespaces.len();
        while self.pods.len() < scale.pods {
            let left = scale.pods - self.pods.len();
            let ns = app_ns(rng, n_ns);
            let r = rng.f64();
            if r < 0.72 {
                self.gen_deployment(scale, rng, &mut place, ns, left);
            } else if r < 0.87 {
                self.gen_statefulset(scale, rng, &mut place, ns, left);
            } else {
                self.gen_jobs(scale, rng, &mut place, ns, left);
            }
        }
    }

    /// DaemonSets: one pod per node, in kube-system or monitoring.
    fn gen_daemonsets(&mut self, scale: &Scale, rng: &mut Rng, place: &mut Placement) {
        let n_nodes = self.nodes.len();
        let per_node = if scale.pods >= 20 * n_nodes {
            DAEMONSETS.len()
        } else if scale.pods >= 2 * n_nodes {
            1
        } else {
            0
        };
        for (d, (ds, _)) in DAEMONSETS.iter().enumerate().take(per_node) {
            let ns = if d == 0 {
                1.min(self.namespaces.len() - 1)
            } else {
                0
            };
            let ds = place.unique(ns, ds);
            let revision = rng.suffix(10);
            for node in 0..n_nodes {
                let pod = format!("{ds}-{}", rng.suffix(5));
                let wl = Workload::DaemonSet {
                    name: &ds,
                    revision: &revision,
                };
                self.push_pod(rng, ns, pod, node, "DaemonSet", &ds, &wl, scale);
            }
        }
    }

    /// A Deployment of at most `left` replicas in namespace `ns`, with old
    /// ReplicaSets and sometimes a volume all its pods mount.
    fn gen_deployment(
        &mut self,
        scale: &Scale,
        rng: &mut Rng,
        place: &mut Placement,
        ns: usize,
        left: usize,
    ) {
        let name = place.unique(ns, rng.word(SERVICES));
        let replicas = (*rng.pick(&[1usize, 1, 2, 2, 2, 3, 3, 4, 6, 8])).min(left);
        let len = if rng.chance(0.5) { 9 } else { 10 };
        let hash = rng.suffix(len);
        let rs = format!("{name}-{hash}");
        // Old ReplicaSets of earlier rollouts, scaled to zero.
        for _ in 0..rng.below(3) {
            self.replicasets.push(ReplicaSet {
                ns,
                name: format!("{name}-{}", rng.suffix(10)),
                deployment: name.clone(),
            });
        }
        self.replicasets.push(ReplicaSet {
            ns,
            name: rs.clone(),
            deployment: name.clone(),
        });
        if replicas > 1 && rng.chance(SHARED_PV) {
            let first = self.pods.len();
            self.shared.push(SharedVolume {
                ns,
                claim: format!("{name}-shared"),
                pv: format!("pvc-{}", rng.uuid()),
                pods: (first..first + replicas).collect(),
            });
        }
        for _ in 0..replicas {
            let pod = format!("{rs}-{}", rng.suffix(5));
            let node = *rng.pick(&place.cpu_nodes);
            let wl = Workload::Deployment {
                name: &name,
                hash: &hash,
            };
            self.push_pod(rng, ns, pod, node, "ReplicaSet", &rs, &wl, scale);
        }
    }

    /// A StatefulSet of at most `left` replicas in namespace `ns`.
    fn gen_statefulset(
        &mut self,
        scale: &Scale,
        rng: &mut Rng,
        place: &mut Placement,
        ns: usize,
        left: usize,
    ) {
        let name = place.unique(ns, rng.word(DATASTORES));
        let replicas = (*rng.pick(&[1usize, 1, 3, 3, 5])).min(left);
        let revision = format!("{name}-{}", rng.suffix(10));
        for ordinal in 0..replicas {
            let pod = format!("{name}-{ordinal}");
            let node = *rng.pick(&place.cpu_nodes);
            let wl = Workload::StatefulSet {
                name: &name,
                revision: &revision,
            };
            self.push_pod(rng, ns, pod, node, "StatefulSet", &name, &wl, scale);
        }
    }

    /// A Job, or up to four runs of a CronJob (at most `left`), in
    /// namespace `ns`.
    fn gen_jobs(
        &mut self,
        scale: &Scale,
        rng: &mut Rng,
        place: &mut Placement,
        ns: usize,
        left: usize,
    ) {
        let base = place.unique(ns, rng.word(JOBS));
        let cron = rng.chance(0.6);
        let runs = if cron { 1 + rng.below(4) } else { 1 }.min(left);
        for _ in 0..runs {
            let job = if cron {
                // CronJob jobs are named after the scheduled minute.
                format!("{base}-{}", 28_332_000 + rng.below(1440))
            } else {
                base.clone()
            };
            let pod = format!("{job}-{}", rng.suffix(5));
            // GPU requests go to ML-ish batch pods while GPUs are free.
            let node = match place.gpu_slots.pop() {
                Some(n) => n,
                None => *rng.pick(&place.cpu_nodes),
            };
            let wl = Workload::Job {
                name: &job,
                cronjob: cron.then_some(base.as_str()),
            };
            self.push_pod(rng, ns, pod, node, "Job", &job, &wl, scale);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_pod(
        &mut self,
        rng: &mut Rng,
        ns: usize,
        name: String,
        node: usize,
        owner_kind: &'static str,
        owner_name: &str,
        wl: &Workload<'_>,
        scale: &Scale,
    ) {
        let uid = rng.uuid();
        let team = self.namespaces[ns].team;
        let (labels, main, first, last) = workload_labels(rng, wl, team, &name, &uid);
        let annotations = annotations(rng);
        let sidecar = match *wl {
            Workload::DaemonSet { name: d, .. } => DAEMONSETS
                .iter()
                .find(|(n, _)| d.starts_with(n))
                .map_or("sidecar", |(_, s)| s),
            _ => rng.word(SIDECARS),
        };
        let spot = self.nodes[node].spot;
        let best_effort = rng.chance(if spot { BEST_EFFORT_SPOT } else { BEST_EFFORT });
        let gpus = if self.nodes[node].capacity[GPU] > 0.0 && matches!(wl, Workload::Job { .. }) {
            1.0
        } else {
            0.0
        };
        let shape = PodShape {
            uid: &uid,
            first,
            last,
            best_effort,
            gpus,
        };
        let containers = (0..scale.containers_per_pod)
            .map(|i| {
                let name = match i {
                    0 => main.clone(),
                    1 => sidecar.to_owned(),
                    k => format!("sidecar-{k}"),
                };
                shape.container(rng, i, name)
            })
            .collect();
        self.pods.push(Pod {
            ns,
            name,
            uid,
            node,
            owner_kind,
            owner_name: owner_name.to_owned(),
            labels,
            annotations,
            first,
            last,
            containers,
        });
    }

    // -----------------------------------------------------------------------
    // What the engine should compute
    // -----------------------------------------------------------------------

    /// Σ over nodes of capacity × price over the day, in $.
    pub(crate) fn node_cost(&self) -> f64 {
        self.nodes.iter().map(Node::cost).sum()
    }

    /// Σ PV, LB and egress cost over the day, in $ (see [`PV_EVERY`] and
    /// [`SharedVolume`]).
    pub(crate) fn pod_level_cost(&self) -> f64 {
        let hour = 1.0 / 60.0;
        let pv_rate = PV_BYTES / GIB * PV_PRICE_GIB_HOUR;
        let mut cost = f64::from(STEPS) * hour * pv_rate; // the unclaimed volume
        cost += self.shared.len() as f64
            * f64::from(STEPS)
            * hour
            * (SHARED_PV_BYTES / GIB * PV_PRICE_GIB_HOUR);
        for (i, p) in self.pods.iter().enumerate() {
            let steps = f64::from(p.span().len());
            if i % PV_EVERY == 0 {
                cost += steps * hour * pv_rate;
            }
            for (_, _, _, bps, price) in EGRESS_BPS {
                cost += steps * 60.0 * bps / GIB * price;
            }
        }
        cost + self.namespaces.len() as f64 * f64::from(STEPS) * hour * LB_HOURLY
    }

    /// Per container, what the engine should compute from the bodies.
    pub(crate) fn expected(
        &self,
    ) -> std::collections::BTreeMap<(String, String, String), crate::Expected> {
        let mut out = std::collections::BTreeMap::new();
        for p in &self.pods {
            let node = &self.nodes[p.node];
            for c in &p.containers {
                let mut e = crate::Expected {
                    edges: p.first > 0 || p.last + 1 < STEPS,
                    restarted: c.runs.len() > 1,
                    steps: c.steps(),
                    hours: [0.0; 3],
                    cost: [0.0; 3],
                };
                for r in [CPU, RAM] {
                    let q = c.request[r].unwrap_or(0.0);
                    let alloc = |u: f64| u.max(q);
                    e.hours[r] = c.sum(r, alloc, Tariff::ONE) / 60.0;
                    e.cost[r] = per_unit(r, c.sum(r, alloc, node.tariff(r))) / 60.0;
                }
                let gpus = c.request[GPU].unwrap_or(0.0);
                e.hours[GPU] = gpus * f64::from(c.steps()) / 60.0;
                e.cost[GPU] = gpus * c.running(node.tariff(GPU)) / 60.0;
                out.insert(
                    (
                        self.namespaces[p.ns].name.clone(),
                        p.name.clone(),
                        c.name.clone(),
                    ),
                    e,
                );
            }
        }
        out
    }
}
