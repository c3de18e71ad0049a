//! A deterministic generator of a synthetic cluster-day, as the exact
//! Prometheus HTTP API response bodies the engine's [`plan`] gets back for a
//! one-day window at 1m resolution, for the benchmarks in `benches/engine.rs`
//! and the `peak-rss` binary (see `docs/benchmarks.md`).
//!
//! The shapes and label sets follow a real capture
//! (`fixtures/two-clusters-day/`): per-container queries return one series
//! per container labelled `cluster_id, container, namespace, node, pod, uid`;
//! per-node queries one series per node labelled `cluster_id, node`; the
//! metadata queries (`last_over_time` of kube-state-metrics series) keep
//! `__name__`, `instance` and `job` as Prometheus does. Series come in a
//! shuffled order, as Prometheus returns them, and sample values are
//! formatted the way Prometheus formats them (shortest round-trip decimal).
//!
//! The cluster is made of [`Scale::nodes`] nodes (a few of them GPU nodes),
//! DaemonSet pods on every node, and Deployments (ReplicaSet → Deployment
//! through `kube_replicaset_owner`, with old ReplicaSets too), StatefulSets
//! and Jobs (some created by CronJobs) spread over [`Scale::namespaces`]
//! namespaces until there are [`Scale::pods`] pods. Most pods run all day;
//! some start or stop during it, Jobs run for minutes, some containers
//! restart (gaps). A few containers are BestEffort (no requests). Everything
//! is drawn from a seeded SplitMix64, so the same [`Scale`] always gives
//! the same bytes.
//!
//! [`plan`]: costetl_core::plan::plan

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use costetl_core::aggregate::Aggregated;
use costetl_core::engine::{self, Results};
use costetl_core::plan::{self, EngineConfig, RangeSemantics, ids};
use costetl_core::promjson;
use costetl_core::source::{QueryKind, QuerySpec};
use costetl_core::{AggregationOptions, AggregationProperty, AllocationSet, Window};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// How big the generated cluster is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Nodes, GPU nodes included.
    pub nodes: usize,
    /// Of which GPU nodes (4 GPUs each, each GPU requested by one pod).
    pub gpu_nodes: usize,
    /// Pods that ran at some time during the day.
    pub pods: usize,
    /// Containers per pod.
    pub containers_per_pod: usize,
    /// Namespaces (`kube-system` and `monitoring` included).
    pub namespaces: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl Scale {
    /// The benchmarked day: 300 nodes, 10,000 pods, 20,000 containers,
    /// 200 namespaces, one cluster.
    pub const LARGE: Scale = Scale {
        nodes: 300,
        gpu_nodes: 10,
        pods: 10_000,
        containers_per_pod: 2,
        namespaces: 200,
        seed: 0x00c0_57e7,
    };

    /// A day small enough for unit tests: 10 nodes, 50 pods.
    pub const TINY: Scale = Scale {
        nodes: 10,
        gpu_nodes: 1,
        pods: 50,
        containers_per_pod: 2,
        namespaces: 8,
        seed: 2,
    };

    /// Containers in the day (every pod has [`Scale::containers_per_pod`]).
    pub fn containers(&self) -> usize {
        self.pods * self.containers_per_pod
    }
}

/// One generated cluster-day: the window, the engine configuration the
/// bodies were generated for, and one response body per query of the plan.
#[derive(Clone, Debug)]
pub struct Day {
    /// The day.
    pub window: Window,
    /// The configuration the plan was built from (defaults: `cluster_id`,
    /// 1m resolution).
    pub cfg: EngineConfig,
    /// Every query of [`plan::plan`] with the body Prometheus would send
    /// back for it, in plan order.
    pub bodies: Vec<(QuerySpec, Vec<u8>)>,
    /// Query ids of the plan the generator does not know; they got an
    /// empty vector (`[]`). Empty unless the plan grew a query.
    pub unknown_queries: Vec<String>,
    /// Containers generated (one allocation each).
    pub containers: usize,
    /// Nodes generated (one idle allocation each).
    pub nodes: usize,
    /// Σ over nodes of capacity × price over the day, in $: what the
    /// computed set's CPU, RAM and GPU costs (allocations + idle) add up
    /// to.
    pub node_cost: f64,
    /// Σ of PV, load-balancer and network costs over the day, in $: the
    /// rest of the set's total.
    pub pod_level_cost: f64,
}

impl Day {
    /// Total response bytes of the plan.
    pub fn total_bytes(&self) -> usize {
        self.bodies.iter().map(|(_, b)| b.len()).sum()
    }

    /// Number of allocations [`engine::compute`] should return: one per
    /// container plus one idle per node.
    pub fn expected_allocations(&self) -> usize {
        self.containers + self.nodes
    }
}

/// Generate the day at `scale` (2023-11-14, one cluster `bench-1`).
pub fn generate(scale: &Scale) -> Day {
    let start = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
    let window = Window::new(start, start + TimeDelta::days(1)).expect("a day is a window");
    let cfg = EngineConfig::default();
    let queries = plan::plan(window, &cfg, RangeSemantics::LeftOpen).expect("a day is plannable");
    let cluster = Cluster::generate(scale, &cfg, window);
    let mut rng = Rng::new(scale.seed ^ 0x05ee_d0f0_dde5);
    let mut unknown_queries = Vec::new();
    let bodies = queries
        .into_iter()
        .map(|q| {
            let body = cluster.body(&q, &mut rng).unwrap_or_else(|| {
                unknown_queries.push(q.id.clone());
                EMPTY.as_bytes().to_vec()
            });
            (q, body)
        })
        .collect();
    Day {
        window,
        cfg,
        bodies,
        unknown_queries,
        containers: cluster.pods.iter().map(|p| p.containers.len()).sum(),
        nodes: cluster.nodes.len(),
        node_cost: cluster.node_cost(),
        pod_level_cost: cluster.pod_level_cost(),
    }
}

/// Pod-level costs of the generated day: every [`PV_EVERY`]th pod mounts
/// its own volume, every namespace has one load balancer selecting its
/// team's deployments, every pod sends traffic in all three egress
/// classes, and one volume per cluster is unclaimed.
const PV_EVERY: usize = 5;
/// Volume size and price.
const PV_BYTES: f64 = 20.0 * GIB;
const PV_PRICE_GIB_HOUR: f64 = 0.000_137;
/// Load balancer $/h.
const LB_HOURLY: f64 = 0.025;
/// Bytes per second per pod: transmit, receive, and egress per class.
const NET_BPS: f64 = 2_000.0;
const EGRESS_BPS: [(&str, &str, &str, f64, f64); 3] = [
    // internet, same_zone, same_region, bytes/s, $/GiB
    ("false", "false", "true", 300.0, 0.01),
    ("false", "false", "false", 200.0, 0.02),
    ("true", "false", "false", 100.0, 0.09),
];

/// Decode every body of `bodies` as the engine's `fetch` does.
pub fn decode_all(bodies: &[(QuerySpec, Vec<u8>)]) -> costetl_core::Result<Results> {
    let mut results = Results::default();
    for (q, body) in bodies {
        results.insert(q.id.clone(), promjson::decode(&q.id, body)?);
    }
    Ok(results)
}

/// The options of the aggregation benchmark: idle shared onto allocations,
/// per cluster, weighted by cost (OpenCost's `shareIdle=true`).
pub fn share_idle() -> AggregationOptions {
    AggregationOptions {
        share_idle: true,
        ..AggregationOptions::default()
    }
}

/// Aggregate a computed set by namespace with idle shared.
pub fn aggregate_namespace_idle(set: &AllocationSet) -> costetl_core::Result<Aggregated> {
    set.aggregate_by(Some(&[AggregationProperty::Namespace]), &share_idle())
}

/// Bytes to namespace costs: decode, compute, aggregate by namespace with
/// idle shared.
pub fn end_to_end(day: &Day) -> costetl_core::Result<Aggregated> {
    let results = decode_all(&day.bodies)?;
    let set = engine::compute(day.window, &results, &day.cfg)?;
    aggregate_namespace_idle(&set)
}

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/// SplitMix64: tiny, seedable, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn word(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }

    /// A random (version 4 shaped) UUID, 36 characters.
    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` characters of Kubernetes' generated-name alphabet.
    fn suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| *self.pick(ALPHABET) as char).collect()
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap())
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The synthetic cluster
// ---------------------------------------------------------------------------

const CLUSTER: &str = "bench-1";
const KSM_INSTANCE: &str = "10.42.7.19:8080";
const KSM_JOB: &str = "kube-state-metrics";
const STEPS: u32 = 1440;

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

struct Node {
    name: String,
    instance_type: &'static str,
    provider_id: String,
    cores: f64,
    mem: f64,
    gpus: f64,
    /// $ per core-hour, GiB-hour, GPU-hour.
    cpu_price: f64,
    ram_price: f64,
    gpu_price: f64,
}

struct Namespace {
    name: String,
    team: &'static str,
    env: &'static str,
}

struct Pod {
    ns: usize,
    name: String,
    uid: String,
    node: usize,
    owner_kind: &'static str,
    owner_name: String,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    /// First and last running step (0-based).
    first: u32,
    last: u32,
    containers: Vec<Container>,
}

/// Per-container values, already integrated over the running steps as the
/// queries return them.
struct Container {
    name: String,
    steps: f64,
    cpu_request: Option<f64>,
    cpu_usage: f64,
    cpu_alloc: f64,
    cpu_max: f64,
    ram_request: Option<f64>,
    ram_usage: f64,
    ram_alloc: f64,
    ram_max: f64,
    gpus: f64,
}

struct ReplicaSet {
    ns: usize,
    name: String,
    deployment: String,
}

struct Cluster {
    start: DateTime<Utc>,
    cluster_label: String,
    nodes: Vec<Node>,
    namespaces: Vec<Namespace>,
    pods: Vec<Pod>,
    replicasets: Vec<ReplicaSet>,
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

impl Cluster {
    fn generate(scale: &Scale, cfg: &EngineConfig, window: Window) -> Cluster {
        let mut rng = Rng::new(scale.seed);
        let mut c = Cluster {
            start: window.start(),
            cluster_label: cfg.cluster_label.clone(),
            nodes: Vec::with_capacity(scale.nodes),
            namespaces: Vec::with_capacity(scale.namespaces),
            pods: Vec::with_capacity(scale.pods),
            replicasets: Vec::new(),
        };
        c.gen_nodes(scale, &mut rng);
        c.gen_namespaces(scale);
        c.gen_pods(scale, &mut rng);
        c
    }

    fn gen_nodes(&mut self, scale: &Scale, rng: &mut Rng) {
        let gpu_nodes = scale.gpu_nodes.min(scale.nodes.saturating_sub(1));
        for i in 0..scale.nodes {
            let zone = ["a", "b", "c"][i % 3];
            let name = format!(
                "ip-10-{}-{}-{}.ec2.internal",
                16 + i % 3,
                i / 200,
                10 + i % 200
            );
            let provider_id = format!("aws:///us-east-1{zone}/i-0{}", rng.hex(16));
            // 30% spot nodes at a third of the on-demand price, with jitter.
            let discount = if rng.chance(0.3) {
                rng.range(0.3, 0.4)
            } else {
                1.0
            };
            let (instance_type, cores, gib, gpus) = if i >= scale.nodes - gpu_nodes {
                GPU_NODE_TYPE
            } else {
                let (t, c, g) = *rng.pick(NODE_TYPES);
                (t, c, g, 0.0)
            };
            self.nodes.push(Node {
                name,
                instance_type,
                provider_id,
                cores,
                mem: gib * GIB,
                gpus,
                cpu_price: 0.031611 * discount,
                ram_price: 0.004237 * discount,
                gpu_price: if gpus > 0.0 { 0.95 * discount } else { 0.0 },
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
        let n_nodes = self.nodes.len();
        let gpu_nodes: Vec<usize> = (0..n_nodes).filter(|&i| self.nodes[i].gpus > 0.0).collect();
        let cpu_nodes: Vec<usize> = (0..n_nodes)
            .filter(|&i| self.nodes[i].gpus == 0.0)
            .collect();
        let mut gpu_slots: Vec<usize> = gpu_nodes
            .iter()
            .flat_map(|&n| std::iter::repeat_n(n, self.nodes[n].gpus as usize))
            .collect();
        let mut used_names: HashSet<(usize, String)> = HashSet::new();
        let mut unique = |ns: usize, base: &str| -> String {
            let mut name = base.to_owned();
            let mut k = 2;
            while !used_names.insert((ns, name.clone())) {
                name = format!("{base}-{k}");
                k += 1;
            }
            name
        };

        // DaemonSets: one pod per node, in kube-system or monitoring.
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
            let ds = unique(ns, ds);
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
                let name = unique(ns, rng.word(SERVICES));
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
                for _ in 0..replicas {
                    let pod = format!("{rs}-{}", rng.suffix(5));
                    let node = *rng.pick(&cpu_nodes);
                    let wl = Workload::Deployment {
                        name: &name,
                        hash: &hash,
                    };
                    self.push_pod(rng, ns, pod, node, "ReplicaSet", &rs, &wl, scale);
                }
            } else if r < 0.87 {
                let name = unique(ns, rng.word(DATASTORES));
                let replicas = (*rng.pick(&[1usize, 1, 3, 3, 5])).min(left);
                let revision = format!("{name}-{}", rng.suffix(10));
                for ordinal in 0..replicas {
                    let pod = format!("{name}-{ordinal}");
                    let node = *rng.pick(&cpu_nodes);
                    let wl = Workload::StatefulSet {
                        name: &name,
                        revision: &revision,
                    };
                    self.push_pod(rng, ns, pod, node, "StatefulSet", &name, &wl, scale);
                }
            } else {
                let base = unique(ns, rng.word(JOBS));
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
                    let node = match gpu_slots.pop() {
                        Some(n) => n,
                        None => *rng.pick(&cpu_nodes),
                    };
                    let wl = Workload::Job {
                        name: &job,
                        cronjob: cron.then_some(base.as_str()),
                    };
                    self.push_pod(rng, ns, pod, node, "Job", &job, &wl, scale);
                }
            }
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
                l("statefulset_kubernetes_io_pod_name", &name);
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
                l("batch_kubernetes_io_controller_uid", &uid);
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
        let sidecar = match *wl {
            Workload::DaemonSet { name: d, .. } => DAEMONSETS
                .iter()
                .find(|(n, _)| d.starts_with(n))
                .map_or("sidecar", |(_, s)| s),
            _ => rng.word(SIDECARS),
        };
        let best_effort = rng.chance(0.05);
        let gpus = if self.nodes[node].gpus > 0.0 && matches!(wl, Workload::Job { .. }) {
            1.0
        } else {
            0.0
        };
        let span = f64::from(last - first + 1);
        let containers = (0..scale.containers_per_pod)
            .map(|i| {
                let name = match i {
                    0 => main.clone(),
                    1 => sidecar.to_owned(),
                    k => format!("sidecar-{k}"),
                };
                // Some containers restarted: a gap of a few steps.
                let gap = if span > 20.0 && rng.chance(0.03) {
                    f64::from(1 + rng.below(10) as u32)
                } else {
                    0.0
                };
                let n = span - gap;
                let (cpu_req, ram_req) = if best_effort {
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
                let cpu = match cpu_req {
                    Some(r) => r * rng.range(0.05, 1.4),
                    None => rng.range(0.001, 0.3),
                };
                let ram = match ram_req {
                    Some(r) => r * rng.range(0.2, 1.3),
                    None => MIB * rng.range(20.0, 400.0),
                };
                // Σ max(request, usage) per step ≥ n × max of the averages.
                let cpu_alloc = n * cpu.max(cpu_req.unwrap_or(0.0)) * rng.range(1.0, 1.08);
                let ram_alloc = n * ram.max(ram_req.unwrap_or(0.0)) * rng.range(1.0, 1.03);
                Container {
                    name,
                    steps: n,
                    cpu_request: cpu_req.map(|r| r * n),
                    cpu_usage: cpu * n,
                    cpu_alloc,
                    cpu_max: cpu * rng.range(1.5, 4.0),
                    ram_request: ram_req.map(|r| r * n),
                    ram_usage: ram * n,
                    ram_alloc,
                    ram_max: ram * rng.range(1.05, 1.5),
                    gpus: if i == 0 { gpus } else { 0.0 },
                }
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

    /// Σ over nodes of capacity × price over the day, in $.
    fn node_cost(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| {
                f64::from(STEPS)
                    * (n.cores * n.cpu_price + n.mem / GIB * n.ram_price + n.gpus * n.gpu_price)
                    / 60.0
            })
            .sum()
    }

    /// Σ PV, LB and egress cost over the day, in $ (see [`PV_EVERY`]).
    fn pod_level_cost(&self) -> f64 {
        let hour = 1.0 / 60.0;
        let pv_rate = PV_BYTES / GIB * PV_PRICE_GIB_HOUR;
        let mut cost = f64::from(STEPS) * hour * pv_rate; // the unclaimed volume
        for (i, p) in self.pods.iter().enumerate() {
            let steps = f64::from(p.last - p.first + 1);
            if i % PV_EVERY == 0 {
                cost += steps * hour * pv_rate;
            }
            for (_, _, _, bps, price) in EGRESS_BPS {
                cost += steps * 60.0 * bps / GIB * price;
            }
        }
        cost + self.namespaces.len() as f64 * f64::from(STEPS) * hour * LB_HOURLY
    }

    /// Bodies of the PV, LB, service, network, node-label and edge-time
    /// queries, or `None` for another query.
    fn pod_level_body(&self, id: &str, out: &mut Body) -> Option<()> {
        let k = self.cluster_label.as_str();
        let start = self.start.timestamp() as f64;
        let pv_rate = PV_BYTES / GIB * PV_PRICE_GIB_HOUR;
        match id {
            ids::CONTAINER_STARTED | ids::POD_COMPLETED => {
                for p in &self.pods {
                    let ns = self.namespaces[p.ns].name.as_str();
                    if id == ids::POD_COMPLETED {
                        if p.last + 1 < STEPS {
                            let mut l = [
                                (k, CLUSTER),
                                ("namespace", ns),
                                ("pod", &p.name),
                                ("uid", &p.uid),
                            ];
                            l.sort_unstable();
                            out.series(&l, start + 60.0 * f64::from(p.last + 1) - 10.0);
                        }
                        continue;
                    }
                    // Started 20 s before the first step that saw it run,
                    // or an hour before the day.
                    let t = if p.first > 0 {
                        start + 60.0 * f64::from(p.first) - 20.0
                    } else {
                        start - 3600.0
                    };
                    for c in &p.containers {
                        let mut l = [
                            (k, CLUSTER),
                            ("container", c.name.as_str()),
                            ("namespace", ns),
                            ("pod", &p.name),
                            ("uid", &p.uid),
                        ];
                        l.sort_unstable();
                        out.series(&l, t);
                    }
                }
            }
            ids::PV_COST | ids::PV_BYTES => {
                let per_step = if id == ids::PV_COST {
                    pv_rate
                } else {
                    PV_BYTES
                };
                for (i, p) in self
                    .pods
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % PV_EVERY == 0)
                {
                    let ns = self.namespaces[p.ns].name.as_str();
                    let (claim, pv) = (format!("data-{i}"), format!("pvc-{}", p.uid));
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", ns),
                        ("persistentvolume", pv.as_str()),
                        ("persistentvolumeclaim", claim.as_str()),
                        ("pod", &p.name),
                        ("uid", &p.uid),
                    ];
                    l.sort_unstable();
                    out.series(&l, f64::from(p.last - p.first + 1) * per_step);
                }
                let mut l = [(k, CLUSTER), ("persistentvolume", "pvc-unclaimed")];
                l.sort_unstable();
                out.series(&l, f64::from(STEPS) * per_step);
            }
            ids::PV_INFO => {
                for (i, p) in self
                    .pods
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % PV_EVERY == 0)
                {
                    let (pv, provider) = (format!("pvc-{}", p.uid), format!("vol-{i:08x}"));
                    let mut l = [
                        (k, CLUSTER),
                        ("provider_id", provider.as_str()),
                        ("volumename", pv.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, PV_PRICE_GIB_HOUR);
                }
            }
            ids::LB_COST | ids::LB_STEPS | ids::SERVICE_SELECTORS => {
                for (i, ns) in self.namespaces.iter().enumerate() {
                    let svc = format!("{}-ingress", ns.team);
                    let ip = format!("34.1.{}.{}", i / 250, i % 250);
                    if id == ids::SERVICE_SELECTORS {
                        let mut l = [
                            (k, CLUSTER),
                            ("label_team", ns.team),
                            ("namespace", ns.name.as_str()),
                            ("service", svc.as_str()),
                        ];
                        l.sort_unstable();
                        out.series(&l, 1.0);
                    } else {
                        let mut l = [
                            (k, CLUSTER),
                            ("ingress_ip", ip.as_str()),
                            ("namespace", ns.name.as_str()),
                            ("service_name", svc.as_str()),
                        ];
                        l.sort_unstable();
                        let v = if id == ids::LB_COST { LB_HOURLY } else { 1.0 };
                        out.series(&l, f64::from(STEPS) * v);
                    }
                }
            }
            ids::NET_TRANSFER | ids::NET_RECEIVE => {
                for p in &self.pods {
                    let steps = f64::from(p.last - p.first + 1);
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", self.namespaces[p.ns].name.as_str()),
                        ("node", self.nodes[p.node].name.as_str()),
                        ("pod", &p.name),
                    ];
                    l.sort_unstable();
                    out.series(&l, steps * NET_BPS);
                }
            }
            ids::NET_EGRESS => {
                for p in &self.pods {
                    let steps = f64::from(p.last - p.first + 1);
                    for (internet, zone, region, bps, _) in EGRESS_BPS {
                        let mut l = [
                            (k, CLUSTER),
                            ("internet", internet),
                            ("namespace", self.namespaces[p.ns].name.as_str()),
                            ("pod_name", &p.name),
                            ("same_region", region),
                            ("same_zone", zone),
                        ];
                        l.sort_unstable();
                        out.series(&l, steps * bps);
                    }
                }
            }
            ids::NET_PRICES => {
                for ((_, _, _, _, price), class) in
                    EGRESS_BPS.iter().zip(["zone", "region", "internet"])
                {
                    let mut l = [("class", class), (k, CLUSTER)];
                    l.sort_unstable();
                    out.series(&l, *price);
                }
            }
            ids::NODE_LABELS => {
                for (i, n) in self.nodes.iter().enumerate() {
                    let zone = ["us-east-1a", "us-east-1b", "us-east-1c"][i % 3];
                    let mut l = [
                        (k, CLUSTER),
                        ("__name__", "kube_node_labels"),
                        ("label_node_kubernetes_io_instance_type", n.instance_type),
                        ("label_topology_kubernetes_io_zone", zone),
                        ("node", n.name.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, 1.0);
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// The body Prometheus returns for `q`, or `None` for a query this
    /// generator does not know.
    fn body(&self, q: &QuerySpec, rng: &mut Rng) -> Option<Vec<u8>> {
        let t = match q.kind {
            QueryKind::Instant { time } => time.timestamp(),
            QueryKind::Range { .. } => return None,
        };
        let mut out = Body::new(t);
        let id = q.id.as_str();
        if let Some(value) = container_value(id) {
            let start = self.start.timestamp() as f64;
            let mut series: Vec<(&Pod, &Container, f64)> = Vec::new();
            for p in &self.pods {
                for c in &p.containers {
                    let v = match id {
                        ids::RUN_FIRST => Some(start + 60.0 * f64::from(p.first)),
                        ids::RUN_LAST => Some(start + 60.0 * f64::from(p.last)),
                        _ => value(c, &self.nodes[p.node]),
                    };
                    if let Some(v) = v {
                        series.push((p, c, v));
                    }
                }
            }
            rng.shuffle(&mut series);
            out.reserve(series.len() * 230);
            for (p, c, v) in series {
                let node = &self.nodes[p.node];
                let ns = &self.namespaces[p.ns];
                let mut labels = [
                    (self.cluster_label.as_str(), CLUSTER),
                    ("container", c.name.as_str()),
                    ("namespace", ns.name.as_str()),
                    ("node", node.name.as_str()),
                    ("pod", p.name.as_str()),
                    ("uid", p.uid.as_str()),
                ];
                labels.sort_unstable();
                out.series(&labels, v);
            }
        } else if let Some(value) = node_value(id) {
            let mut order: Vec<&Node> = self.nodes.iter().collect();
            rng.shuffle(&mut order);
            for n in order {
                let mut labels = [
                    (self.cluster_label.as_str(), CLUSTER),
                    ("node", n.name.as_str()),
                ];
                labels.sort_unstable();
                out.series(&labels, f64::from(STEPS) * value(n));
            }
        } else {
            match id {
                ids::NODE_INFO => {
                    for n in &self.nodes {
                        let mut labels = [
                            (self.cluster_label.as_str(), CLUSTER),
                            ("instance_type", n.instance_type),
                            ("node", n.name.as_str()),
                            ("provider_id", n.provider_id.as_str()),
                        ];
                        labels.sort_unstable();
                        let hourly = n.cores * n.cpu_price
                            + n.mem / GIB * n.ram_price
                            + n.gpus * n.gpu_price;
                        out.series(&labels, hourly);
                    }
                }
                ids::POD_LABELS | ids::POD_ANNOTATIONS | ids::POD_OWNERS => {
                    let mut order: Vec<&Pod> = self.pods.iter().collect();
                    rng.shuffle(&mut order);
                    out.reserve(order.len() * 400);
                    for p in order {
                        let mut labels: Vec<(&str, &str)> = self.ksm_labels(p.ns);
                        labels.extend([("pod", p.name.as_str()), ("uid", p.uid.as_str())]);
                        match id {
                            ids::POD_LABELS => {
                                labels.push(("__name__", "kube_pod_labels"));
                                labels
                                    .extend(p.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                            }
                            ids::POD_ANNOTATIONS => {
                                labels.push(("__name__", "kube_pod_annotations"));
                                labels.extend(
                                    p.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                                );
                            }
                            _ => {
                                labels.extend([
                                    ("__name__", "kube_pod_owner"),
                                    ("owner_is_controller", "true"),
                                    ("owner_kind", p.owner_kind),
                                    ("owner_name", p.owner_name.as_str()),
                                ]);
                            }
                        }
                        labels.sort_unstable();
                        out.series(&labels, 1.0);
                    }
                }
                ids::NAMESPACE_LABELS | ids::NAMESPACE_ANNOTATIONS => {
                    for (i, ns) in self.namespaces.iter().enumerate() {
                        let mut labels = self.ksm_labels(i);
                        if id == ids::NAMESPACE_LABELS {
                            labels.extend([
                                ("__name__", "kube_namespace_labels"),
                                ("label_env", ns.env),
                                ("label_kubernetes_io_metadata_name", ns.name.as_str()),
                                ("label_team", ns.team),
                            ]);
                        } else {
                            labels.extend([
                                ("__name__", "kube_namespace_annotations"),
                                ("annotation_owner", ns.team),
                            ]);
                        }
                        labels.sort_unstable();
                        out.series(&labels, 1.0);
                    }
                }
                ids::REPLICASET_OWNERS => {
                    for rs in &self.replicasets {
                        let mut labels = self.ksm_labels(rs.ns);
                        labels.extend([
                            ("__name__", "kube_replicaset_owner"),
                            ("owner_is_controller", "true"),
                            ("owner_kind", "Deployment"),
                            ("owner_name", rs.deployment.as_str()),
                            ("replicaset", rs.name.as_str()),
                        ]);
                        labels.sort_unstable();
                        out.series(&labels, 1.0);
                    }
                }
                // No duplicate kube-state-metrics, every series labelled:
                // Prometheus answers both with an empty vector.
                ids::DUPLICATES | ids::MISSING_CLUSTER => {}
                _ => self.pod_level_body(id, &mut out)?,
            }
        }
        Some(out.finish())
    }

    /// Labels every kube-state-metrics series of namespace `ns` carries.
    fn ksm_labels(&self, ns: usize) -> Vec<(&str, &str)> {
        let mut v = Vec::with_capacity(16);
        v.extend([
            (self.cluster_label.as_str(), CLUSTER),
            ("instance", KSM_INSTANCE),
            ("job", KSM_JOB),
            ("namespace", self.namespaces[ns].name.as_str()),
        ]);
        v
    }
}

type ContainerValue = fn(&Container, &Node) -> Option<f64>;

/// How a per-container query's value is derived (`run_first`/`run_last`
/// are per pod and handled by the caller; they return `Some` here only to
/// mark them per-container).
fn container_value(id: &str) -> Option<ContainerValue> {
    let f: ContainerValue = match id {
        ids::RUN_STEPS => |c, _| Some(c.steps),
        ids::RUN_FIRST | ids::RUN_LAST => |_, _| None,
        ids::CPU_REQUEST => |c, _| c.cpu_request,
        ids::CPU_USAGE => |c, _| Some(c.cpu_usage),
        ids::CPU_ALLOC => |c, _| Some(c.cpu_alloc),
        ids::CPU_COST => |c, n| Some(c.cpu_alloc * n.cpu_price),
        ids::CPU_MAX => |c, _| Some(c.cpu_max),
        ids::RAM_REQUEST => |c, _| c.ram_request,
        ids::RAM_USAGE => |c, _| Some(c.ram_usage),
        ids::RAM_ALLOC => |c, _| Some(c.ram_alloc),
        ids::RAM_COST => |c, n| Some(c.ram_alloc / GIB * n.ram_price),
        ids::RAM_MAX => |c, _| Some(c.ram_max),
        ids::GPU_ALLOC => |c, _| (c.gpus > 0.0).then_some(c.gpus * c.steps),
        ids::GPU_COST => |c, n| (c.gpus > 0.0).then_some(c.gpus * c.steps * n.gpu_price),
        _ => return None,
    };
    Some(f)
}

/// Per-node queries: the value per step (every node reports all day).
fn node_value(id: &str) -> Option<fn(&Node) -> f64> {
    let f: fn(&Node) -> f64 = match id {
        ids::NODE_STEPS | ids::NODE_PRICED_STEPS => |_| 1.0,
        ids::NODE_CPU => |n| n.cores,
        ids::NODE_RAM => |n| n.mem,
        ids::NODE_GPU => |n| n.gpus,
        ids::NODE_CPU_COST => |n| n.cores * n.cpu_price,
        ids::NODE_RAM_COST => |n| n.mem / GIB * n.ram_price,
        ids::NODE_GPU_COST => |n| n.gpus * n.gpu_price,
        _ => return None,
    };
    Some(f)
}

const EMPTY: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

/// A vector response body being written.
struct Body {
    buf: String,
    time: i64,
    first: bool,
}

impl Body {
    fn new(time: i64) -> Self {
        Self {
            buf: String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#),
            time,
            first: true,
        }
    }

    fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    /// One series; `labels` sorted by name, as Prometheus sends them.
    fn series(&mut self, labels: &[(&str, &str)], value: f64) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push_str(r#"{"metric":{"#);
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            json_str(&mut self.buf, k);
            self.buf.push(':');
            json_str(&mut self.buf, v);
        }
        // Prometheus formats values with Go's FormatFloat(v, 'f', -1, 64):
        // the shortest decimal that round-trips, never an exponent, as
        // Rust's `Display` does.
        let _ = write!(self.buf, r#"}},"value":[{},"{}"]}}"#, self.time, value);
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.push_str("]}}");
        self.buf.into_bytes()
    }
}

/// Append `s` as a JSON string.
fn json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for ch in s.chars() {
        match ch {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// Peak and current resident set size of this process, from
/// `/proc/self/status` (Linux), in bytes: `(VmHWM, VmRSS)`.
pub fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Reset this process's peak RSS (`VmHWM`) to its current RSS by writing
/// `5` to `/proc/self/clear_refs` (Linux ≥ 4.0). Returns whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
