//! Generated scenarios: realistic clusters of any size from a seed.
//!
//! [`generate`] builds a [`Scenario`] with `clusters` clusters of `nodes`
//! nodes each and `pods` pod objects in all (split evenly over the
//! clusters), over `hours` hours. The same options always give the same
//! scenario: the only randomness is a xorshift generator seeded from
//! [`GenerateOptions::seed`], and nothing depends on the clock or on hash
//! order.
//!
//! What a cluster holds (the shares are of the pod objects):
//!
//! - nodes of a few instance types with per-resource prices, zone and
//!   region labels; about 15% spot (cheaper, `karpenter.sh/capacity-type:
//!   spot`), half of those re-priced around mid-window; one node joining
//!   late and one leaving early (when there are enough nodes); one GPU
//!   node from 10 nodes up, reserved for a GPU training job;
//! - DaemonSets with one pod per node (up to 4, about a quarter of the
//!   pods at the default density), started after a late node joins and
//!   stopped before an early one leaves;
//! - Deployments (pods owned by a ReplicaSet owned by the Deployment, 1 to
//!   3 containers each), some rolled out mid-window to a second
//!   ReplicaSet, some scaled up onto the late node, some evicted from the
//!   leaving node and replaced elsewhere; a few BestEffort;
//! - StatefulSets, most with a volume claim per replica, some pods moved
//!   to another node (same name, new uid);
//! - CronJob runs and one-off Jobs: short runs completing mid-window, the
//!   pod lingering as Completed;
//! - bare pods (short BestEffort debug pods, a long-lived worker) and a
//!   pod of a bare ReplicaSet;
//! - usage below or above requests, stepping during the day; restart
//!   gaps; services selecting Deployments and StatefulSets, a few behind
//!   load balancers (one provisioned mid-window); network traffic and
//!   egress on some pods, egress prices per cluster.
//!
//! Every generated start, end, join, leave, restart and price change
//! falls between scrapes (never on `start + k × scrape_seconds`), and
//! events are spread over the whole window. The result passes
//! [`Scenario::validate`].
//!
//! ```
//! use costetl_sim::generate::{GenerateOptions, generate};
//!
//! let s = generate(&GenerateOptions { pods: 40, nodes: 4, hours: 2, ..Default::default() }).unwrap();
//! assert_eq!(s.clusters.iter().map(|c| c.pods.len()).sum::<usize>(), 40);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::error::{Result, invalid};
use crate::scenario::{
    Claim, Cluster, Container, GIB, Gap, Level, LoadBalancer, Ms, Namespace, Network,
    NetworkPrices, Node, Owner, OwnerKind, PersistentVolume, Pod, PriceChange, Prices, Scenario,
    Service, Usage, UsageStep, at, ms,
};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Clusters, all in the one backend.
    pub clusters: u32,
    /// Nodes per cluster.
    pub nodes: u32,
    /// Pod objects (uids) in all, split evenly over the clusters. A pod
    /// that moves to another node is two objects.
    pub pods: u32,
    /// Length of the scenario.
    pub hours: u32,
    /// Seconds between scrapes.
    pub scrape_seconds: u32,
    /// Seed of the random generator.
    pub seed: u64,
    /// First scrape.
    pub start: DateTime<Utc>,
}

impl Default for GenerateOptions {
    /// Two clusters of 60 nodes, 1,000 pods (about 1,800 containers), one
    /// day from 2023-11-14T00:00:00Z, 30 s scrapes, seed 1.
    fn default() -> Self {
        Self {
            clusters: 2,
            nodes: 60,
            pods: 1000,
            hours: 24,
            scrape_seconds: 30,
            seed: 1,
            start: DateTime::<Utc>::from_timestamp(1_699_920_000, 0).expect("a valid instant"),
        }
    }
}

/// Generate the scenario `opts` describes.
///
/// # Errors
///
/// [`Error::Invalid`](crate::Error::Invalid) when an option is out of
/// range (no clusters, no nodes, no hours, a zero scrape interval, fewer
/// pods than clusters, a start that is not a whole millisecond), or, which
/// would be a bug here, when the generated scenario does not validate.
pub fn generate(opts: &GenerateOptions) -> Result<Scenario> {
    let bad = |what: &str, why: &str| Err(invalid(format!("generate.{what}"), why));
    if opts.clusters == 0 {
        return bad("clusters", "must be at least 1");
    }
    if opts.nodes == 0 {
        return bad("nodes", "must be at least 1");
    }
    if opts.pods < opts.clusters {
        return bad("pods", "must be at least one per cluster");
    }
    if opts.hours == 0 {
        return bad("hours", "must be at least 1");
    }
    if opts.scrape_seconds == 0 || opts.scrape_seconds > 3600 {
        return bad("scrape_seconds", "must be between 1 and 3600");
    }
    let mut s = Scenario {
        start: opts.start,
        end: opts.start + chrono::TimeDelta::hours(i64::from(opts.hours)),
        scrape_interval_seconds: opts.scrape_seconds,
        ..Default::default()
    };
    for ci in 0..opts.clusters {
        let share = opts.pods / opts.clusters + u32::from(ci < opts.pods % opts.clusters);
        let seed = opts.seed ^ u64::from(ci).wrapping_mul(0xa076_1d64_78bd_642f);
        let g = Gen::new(opts, ci as usize, seed);
        s.clusters.push(g.cluster(share as usize));
    }
    s.validate()?;
    Ok(s)
}

/// xorshift64* seeded through splitmix64: small, fast, stable forever (a
/// crate's generator could change its stream between releases, and with
/// it every generated scenario).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }

    /// Uniform milliseconds in `[a, b)` (`a < b`).
    fn ms(&mut self, a: Ms, b: Ms) -> Ms {
        a + self.below((b - a).max(1) as u64) as Ms
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self.below(u64::from(total)) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }

    /// `n` characters of Kubernetes' name-suffix alphabet.
    fn suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n).map(|_| char::from(*self.pick(ALPHABET))).collect()
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

const MI: f64 = 1024.0 * 1024.0;

/// Instance types: name, cores, GiB, $/core-h, $/GiB-h (on-demand), and
/// how often each is drawn.
const INSTANCE_TYPES: &[(&str, f64, f64, f64, f64)] = &[
    ("m5.xlarge", 4.0, 16.0, 0.031611, 0.004237),
    ("m5.2xlarge", 8.0, 32.0, 0.031611, 0.004237),
    ("m5.4xlarge", 16.0, 64.0, 0.031611, 0.004237),
    ("c5.2xlarge", 8.0, 16.0, 0.033982, 0.002831),
    ("r5.2xlarge", 8.0, 64.0, 0.025214, 0.005613),
];
const INSTANCE_WEIGHTS: &[u32] = &[3, 4, 2, 2, 1];

/// Regions the clusters live in, with a price factor.
const REGIONS: &[(&str, f64)] = &[
    ("us-east-1", 1.0),
    ("eu-west-1", 1.1),
    ("us-west-2", 1.0),
    ("ap-southeast-2", 1.15),
    ("eu-central-1", 1.12),
];

/// Application namespaces and their teams.
const APP_NAMESPACES: &[(&str, &str)] = &[
    ("web", "storefront"),
    ("api", "platform-api"),
    ("data", "data"),
    ("batch", "analytics"),
    ("payments", "payments"),
    ("search", "discovery"),
    ("checkout", "storefront"),
    ("ml", "ml-platform"),
    ("auth", "identity"),
    ("notifications", "engagement"),
    ("catalog", "discovery"),
    ("orders", "fulfilment"),
    ("reporting", "analytics"),
    ("shipping", "fulfilment"),
    ("ads", "growth"),
    ("media", "content"),
];

const DEPLOYMENT_NAMES: &[&str] = &[
    "api",
    "frontend",
    "checkout",
    "cart",
    "payments",
    "search",
    "auth",
    "gateway",
    "worker",
    "notifier",
    "recommender",
    "catalog",
    "inventory",
    "orders",
    "users",
    "sessions",
    "billing",
    "shipping",
    "reviews",
    "images",
    "thumbnailer",
    "mailer",
    "scheduler",
    "webhooks",
    "graphql",
    "admin",
    "pricing",
    "ledger",
    "fraud-check",
    "feature-flags",
    "ingest",
    "indexer",
];
const SIDECARS: &[&str] = &[
    "istio-proxy",
    "log-shipper",
    "otel-agent",
    "cloudsql-proxy",
    "vault-agent",
];
const STATEFULSET_NAMES: &[&str] = &[
    "postgres",
    "redis",
    "kafka",
    "zookeeper",
    "elasticsearch",
    "rabbitmq",
    "mongodb",
    "cassandra",
    "etcd",
    "minio",
    "clickhouse",
    "nats",
];
const CRONJOB_NAMES: &[&str] = &[
    "report",
    "cleanup",
    "backup",
    "sync",
    "export",
    "digest",
    "reindex",
    "rollup",
    "invoice-run",
    "sitemap",
];
const JOB_NAMES: &[&str] = &[
    "db-migrate",
    "backfill",
    "import",
    "rebuild-index",
    "load-test",
];
const DEBUG_NAMES: &[&str] = &["debug-shell", "netshoot", "curl-test", "psql-client"];

/// DaemonSets in the order they are added: name, namespace, containers
/// (name, cores, bytes requested).
type DaemonSet = (
    &'static str,
    &'static str,
    &'static [(&'static str, f64, f64)],
);
const DAEMONSETS: &[DaemonSet] = &[
    (
        "node-exporter",
        "monitoring",
        &[("node-exporter", 0.1, 64.0 * MI)],
    ),
    (
        "aws-node",
        "kube-system",
        &[
            ("aws-node", 0.025, 128.0 * MI),
            ("aws-eks-nodeagent", 0.025, 64.0 * MI),
        ],
    ),
    (
        "fluent-bit",
        "logging",
        &[
            ("fluent-bit", 0.1, 128.0 * MI),
            ("config-reloader", 0.01, 32.0 * MI),
        ],
    ),
    (
        "kube-proxy",
        "kube-system",
        &[("kube-proxy", 0.1, 128.0 * MI)],
    ),
];

/// A node as the generator schedules onto it.
struct Slot {
    /// Offsets (ms from the start) of joining and leaving, if inside the
    /// window.
    from: Option<Ms>,
    to: Option<Ms>,
    gpu: bool,
}

/// A pod's running time as offsets from the start; `None` is open (from
/// before the start, or past the end).
#[derive(Clone, Copy, Debug)]
struct Run {
    start: Option<Ms>,
    end: Option<Ms>,
}

impl Run {
    const ALL: Run = Run {
        start: None,
        end: None,
    };

    fn new(start: Option<Ms>, end: Option<Ms>) -> Self {
        Run { start, end }
    }
}

/// One cluster being generated.
struct Gen<'o> {
    opts: &'o GenerateOptions,
    index: usize,
    rng: Rng,
    /// Window length and scrape interval, ms.
    len: Ms,
    grid: Ms,
    start: Ms,
    cluster: Cluster,
    slots: Vec<Slot>,
    region: &'static str,
    zones: Vec<String>,
    app_namespaces: Vec<String>,
    /// `(namespace, name)` of pods and of workloads already used.
    pod_names: BTreeSet<(String, String)>,
    workloads: BTreeSet<(String, String)>,
    ips: BTreeSet<String>,
    load_balancers: usize,
    max_load_balancers: usize,
}

/// A container's requests, shared by a workload's replicas.
#[derive(Clone, Debug)]
struct Spec {
    name: String,
    cpu: f64,
    ram: f64,
    gpu: f64,
}

impl<'o> Gen<'o> {
    fn new(opts: &'o GenerateOptions, index: usize, seed: u64) -> Self {
        let (region, _) = REGIONS[index % REGIONS.len()];
        Self {
            opts,
            index,
            rng: Rng::new(seed),
            len: i64::from(opts.hours) * 3_600_000,
            grid: i64::from(opts.scrape_seconds) * 1000,
            start: ms(opts.start),
            cluster: Cluster::default(),
            slots: Vec::new(),
            region,
            zones: ["a", "b", "c"]
                .iter()
                .map(|z| format!("{region}{z}"))
                .collect(),
            app_namespaces: Vec::new(),
            pod_names: BTreeSet::new(),
            workloads: BTreeSet::new(),
            ips: BTreeSet::new(),
            load_balancers: 0,
            max_load_balancers: 0,
        }
    }

    /// `off` moved off the scrape grid (by 1.013 s) if it is on it.
    fn off_grid(&self, off: Ms) -> Ms {
        if off.rem_euclid(self.grid) == 0 {
            off + 1013
        } else {
            off
        }
    }

    /// `t` plus a random delay in `[a, b)` ms, off the scrape grid.
    fn after(&mut self, t: Ms, a: Ms, b: Ms) -> Ms {
        let d = self.rng.ms(a, b);
        self.off_grid(t + d)
    }

    /// `t` minus a random delay in `[a, b)` ms, off the scrape grid
    /// (moving off the grid adds 1.013 s: keep `a` above that).
    fn before(&mut self, t: Ms, a: Ms, b: Ms) -> Ms {
        let d = self.rng.ms(a, b);
        self.off_grid(t - d)
    }

    /// A random instant in `[a, b)` (offsets), off the scrape grid.
    fn when(&mut self, a: Ms, b: Ms) -> Ms {
        let t = self.rng.ms(a, b);
        self.off_grid(t)
    }

    fn time(&self, off: Ms) -> DateTime<Utc> {
        at(self.start + off)
    }

    /// A fraction of the window, in ms.
    fn frac(&self, f: f64) -> Ms {
        (self.len as f64 * f) as Ms
    }

    fn cluster(mut self, pods: usize) -> Cluster {
        let n = REGIONS.len();
        self.cluster.name = if self.index < n {
            format!("prod-{}", self.region)
        } else {
            format!("prod-{}-{}", self.region, self.index / n + 1)
        };
        let factor = REGIONS[self.index % n].1;
        self.nodes(factor);
        self.namespaces(pods);
        self.cluster.network_prices = Some(NetworkPrices {
            zone_per_gib: 0.01,
            region_per_gib: 0.02,
            internet_per_gib: round(0.09 * factor, 4),
        });
        self.max_load_balancers = 1 + pods / 150;

        let mut left = pods;
        left -= self.daemonsets(pods);
        // Shares of what is left; deployments take the rounding.
        let sts = left * 10 / 100;
        let jobs = left * 19 / 100;
        let bare = (left * 4 / 100).max(usize::from(left >= 12));
        let deployments = left - sts - jobs - bare;
        self.deployments(deployments);
        self.statefulsets(sts);
        self.jobs(jobs);
        self.bare(bare);
        // One balancer provisioned during the window.
        let t = self.time(self.off_grid(self.frac(0.37) + 7_919));
        if let Some(lb) = self
            .cluster
            .services
            .iter_mut()
            .filter_map(|s| s.load_balancer.as_mut())
            .nth(1)
        {
            lb.active_from = Some(t);
        }
        debug_assert_eq!(self.cluster.pods.len(), pods);
        self.cluster
    }

    fn nodes(&mut self, factor: f64) {
        let n = self.opts.nodes as usize;
        let gpu = (n >= 10).then_some(1);
        let late = (n >= 3).then(|| n - 1);
        let early = (n >= 4).then(|| n - 2);
        let spot_count = (n as f64 * 0.15).round() as usize;
        let mut candidates: Vec<usize> = (0..n).filter(|&i| Some(i) != gpu).collect();
        let mut spot = BTreeSet::new();
        while spot.len() < spot_count.min(candidates.len()) {
            let i = self.rng.below(candidates.len() as u64) as usize;
            spot.insert(candidates.swap_remove(i));
        }
        let repriced: BTreeSet<usize> = spot.iter().copied().step_by(2).collect();
        let mut names = BTreeSet::new();
        for i in 0..n {
            let zone = self.zones[i % self.zones.len()].clone();
            let (itype, cores, gib, mut cpu, mut ram, mut gpu_price, gpus) = if Some(i) == gpu {
                ("g4dn.xlarge", 4.0, 16.0, 0.0318, 0.0043, 0.379, 1.0)
            } else {
                let (t, c, g, p, r) = INSTANCE_TYPES[self.rng.weighted(INSTANCE_WEIGHTS)];
                (t, c, g, p, r, 0.0, 0.0)
            };
            cpu *= factor;
            ram *= factor;
            gpu_price *= factor;
            let is_spot = spot.contains(&i);
            if is_spot {
                let d = self.rng.range(0.28, 0.4);
                cpu *= d;
                ram *= d;
            }
            let name = self.node_name(&mut names);
            let labels = self.node_labels(&zone, itype, is_spot, gpus > 0.0);
            let mut price_changes = Vec::new();
            if repriced.contains(&i) {
                price_changes.push(self.reprice(cpu, ram));
            }
            let from = (Some(i) == late).then(|| {
                let (a, b) = (self.frac(0.2), self.frac(0.35));
                self.when(a, b)
            });
            let to = (Some(i) == early).then(|| {
                let (a, b) = (self.frac(0.65), self.frac(0.8));
                self.when(a, b)
            });
            let instance = self.rng.hex(16);
            self.cluster.nodes.push(Node {
                name,
                provider_id: format!("aws:///{zone}/i-{instance}"),
                instance_type: itype.to_owned(),
                cpu_cores: cores,
                ram_bytes: gib * GIB,
                gpus,
                spot: is_spot,
                prices: Prices::new(round(cpu, 6), round(ram, 6), round(gpu_price, 6)),
                price_changes,
                active_from: from.map(|t| self.time(t)),
                active_to: to.map(|t| self.time(t)),
                labels,
            });
            self.slots.push(Slot {
                from,
                to,
                gpu: gpus > 0.0,
            });
        }
    }

    /// A node name not in `names` yet (added to it), in the cluster's
    /// region.
    fn node_name(&mut self, names: &mut BTreeSet<String>) -> String {
        loop {
            let name = format!(
                "ip-10-{}-{}-{}.{}.compute.internal",
                self.index % 256,
                self.rng.below(256),
                self.rng.below(256),
                self.region
            );
            if names.insert(name.clone()) {
                break name;
            }
        }
    }

    /// The well-known labels of a node: where it is, what it is, how it is
    /// bought.
    fn node_labels(
        &self,
        zone: &str,
        itype: &str,
        is_spot: bool,
        gpu: bool,
    ) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            ("topology.kubernetes.io/zone".to_owned(), zone.to_owned()),
            (
                "topology.kubernetes.io/region".to_owned(),
                self.region.to_owned(),
            ),
            (
                "node.kubernetes.io/instance-type".to_owned(),
                itype.to_owned(),
            ),
            (
                "karpenter.sh/capacity-type".to_owned(),
                if is_spot { "spot" } else { "on-demand" }.to_owned(),
            ),
            ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ]);
        if gpu {
            labels.insert("nvidia.com/gpu.present".to_owned(), "true".to_owned());
        }
        labels
    }

    /// A spot re-pricing mid-window: CPU and RAM up by 15-50%.
    fn reprice(&mut self, cpu: f64, ram: f64) -> PriceChange {
        let t = self.when(self.frac(0.4), self.frac(0.6));
        let up = self.rng.range(1.15, 1.5);
        PriceChange {
            at: self.time(t),
            cpu: round(cpu * up, 6),
            ram: round(ram * up, 6),
            gpu: 0.0,
        }
    }

    fn namespaces(&mut self, pods: usize) {
        let mut add = |name: &str, team: &str| {
            let mut labels =
                BTreeMap::from([("kubernetes.io/metadata.name".to_owned(), name.to_owned())]);
            let mut annotations = BTreeMap::new();
            if !team.is_empty() {
                labels.insert("team".to_owned(), team.to_owned());
                labels.insert("env".to_owned(), "prod".to_owned());
                annotations.insert("owner".to_owned(), format!("{team}@example.com"));
            }
            self.cluster.namespaces.push(Namespace {
                name: name.to_owned(),
                labels,
                annotations,
            });
        };
        for ns in ["kube-system", "monitoring", "logging", "ingress-nginx"] {
            add(ns, "");
        }
        let count = (pods / 50).clamp(2, 40);
        for i in 0..count {
            let (name, team) = APP_NAMESPACES[i % APP_NAMESPACES.len()];
            let name = if i < APP_NAMESPACES.len() {
                name.to_owned()
            } else {
                format!("{name}-{}", i / APP_NAMESPACES.len() + 1)
            };
            add(&name, team);
            self.app_namespaces.push(name);
        }
    }

    /// A workload name not yet used in `namespace`.
    fn workload_name(&mut self, namespace: &str, words: &[&str]) -> String {
        let mut n = 0;
        loop {
            let word = *self.rng.pick(words);
            let name = if n < 8 {
                word.to_owned()
            } else {
                format!("{word}-{}", n - 6)
            };
            if self.workloads.insert((namespace.to_owned(), name.clone())) {
                return name;
            }
            n += 1;
        }
    }

    /// `prefix-xxxxx`, not yet used in `namespace`.
    fn pod_name(&mut self, namespace: &str, prefix: &str) -> String {
        loop {
            let name = format!("{prefix}-{}", self.rng.suffix(5));
            if self.pod_names.insert((namespace.to_owned(), name.clone())) {
                return name;
            }
        }
    }

    /// A random node (never the GPU node) active all through `run`;
    /// `avoid` is skipped when there is another choice.
    fn node_for(&mut self, run: Run, avoid: Option<usize>) -> usize {
        let s = run.start.unwrap_or(Ms::MIN);
        let e = run.end.unwrap_or(Ms::MAX);
        let fits: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                let n = &self.slots[i];
                !n.gpu && n.from.is_none_or(|f| f <= s) && n.to.is_none_or(|t| e <= t)
            })
            .collect();
        let preferred: Vec<usize> = fits.iter().copied().filter(|&i| Some(i) != avoid).collect();
        let from = if preferred.is_empty() {
            &fits
        } else {
            &preferred
        };
        // Every cluster has a node with no join or leave: the GPU node
        // exists only from 10 nodes up, and node 0 is never late or early.
        *self.rng.pick(if from.is_empty() { &[0][..] } else { from })
    }

    /// The late-joining and early-leaving nodes, if any.
    fn late_node(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.from.is_some())
    }

    fn early_node(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.to.is_some())
    }

    /// Usage for a container requesting `cpu` cores and `ram` bytes over
    /// `run`: below the request, sometimes above it, sometimes in steps.
    fn usage(&mut self, cpu: f64, ram: f64, run: Run, over: f64) -> Usage {
        let above = self.rng.chance(over);
        let level = |rng: &mut Rng| {
            let r = if above {
                rng.range(1.1, 1.8)
            } else {
                rng.range(0.1, 0.9)
            };
            let c = if cpu > 0.0 {
                cpu * r
            } else {
                rng.range(0.002, 0.15)
            };
            let m = if ram > 0.0 {
                ram * if above {
                    rng.range(1.02, 1.4)
                } else {
                    rng.range(0.3, 0.95)
                }
            } else {
                rng.range(16.0, 400.0) * MI
            };
            Level {
                cpu: round(c, 4),
                ram: (m / 4096.0).round() * 4096.0,
            }
        };
        if !self.rng.chance(0.35) {
            return Usage::Constant(level(&mut self.rng));
        }
        // Two to four levels during the run, the first from its start.
        let a = run.start.unwrap_or(0);
        let b = run.end.unwrap_or(self.len).min(self.len).max(a + 4);
        let steps = 2 + self.rng.below(3) as usize;
        let mut times: Vec<Ms> = (1..steps).map(|_| self.rng.ms(a + 1, b)).collect();
        times.push(a);
        times.sort_unstable();
        times.dedup();
        let mut out = Vec::with_capacity(times.len());
        for t in times {
            let l = level(&mut self.rng);
            out.push(UsageStep {
                at: self.time(t),
                cpu: l.cpu,
                ram: l.ram,
            });
        }
        Usage::Steps(out)
    }

    /// A restart gap for a container running over `run`, with chance `p`
    /// (only in runs of 20 minutes or more inside the window).
    fn restart(&mut self, run: Run, p: f64) -> Option<Gap> {
        let a = run.start.unwrap_or(0);
        let b = run.end.unwrap_or(self.len).min(self.len);
        if b - a < 20 * 60_000 || !self.rng.chance(p) {
            return None;
        }
        let from = self.when(a + (b - a) / 10, a + (b - a) * 8 / 10);
        let down = self.rng.ms(20_000, ((b - a) / 10).min(600_000));
        let to = self.off_grid(from + down);
        (to < b).then(|| Gap {
            from: self.time(from),
            to: self.time(to),
        })
    }

    /// Containers from specs, each with its own usage and maybe a
    /// restart.
    fn containers(&mut self, specs: &[Spec], run: Run, over: f64, restart: f64) -> Vec<Container> {
        specs
            .iter()
            .map(|k| Container {
                name: k.name.clone(),
                cpu_request: k.cpu,
                ram_request: k.ram,
                gpu_request: k.gpu,
                usage: self.usage(k.cpu, k.ram, run, over),
                restart_gap: self.restart(run, restart),
            })
            .collect()
    }

    /// Network traffic: `public` pods send more to the internet.
    fn network(&mut self, public: bool) -> Network {
        let tx = (10f64).powf(self.rng.range(3.0, 6.5)).round();
        let rx = (10f64).powf(self.rng.range(3.0, 6.5)).round();
        let region = if self.rng.chance(0.15) {
            (tx * self.rng.range(0.01, 0.1)).round()
        } else {
            0.0
        };
        let internet = if public || self.rng.chance(0.2) {
            (tx * self.rng.range(0.05, 0.4)).round()
        } else {
            0.0
        };
        Network {
            transmit_bytes_per_second: tx,
            receive_bytes_per_second: rx,
            egress_zone_bytes_per_second: (tx * self.rng.range(0.0, 0.3)).round(),
            egress_region_bytes_per_second: region,
            egress_internet_bytes_per_second: internet,
        }
    }

    /// A new ingress IP: public, or private (an internal balancer).
    fn ingress_ip(&mut self, public: bool) -> String {
        loop {
            let ip = if public {
                format!(
                    "34.{}.{}.{}",
                    200 + self.rng.below(40),
                    self.rng.below(256),
                    1 + self.rng.below(254)
                )
            } else {
                format!(
                    "10.{}.{}.{}",
                    100 + self.index % 100,
                    self.rng.below(256),
                    1 + self.rng.below(254)
                )
            };
            if self.ips.insert(ip.clone()) {
                return ip;
            }
        }
    }

    /// A service selecting `app=<app>` in `namespace`, behind a balancer
    /// with chance `lb` while balancers are left.
    fn service(&mut self, namespace: &str, name: &str, app: &str, lb: f64) -> bool {
        let load_balancer = (self.load_balancers < self.max_load_balancers && self.rng.chance(lb))
            .then(|| {
                self.load_balancers += 1;
                let public = self.rng.chance(0.7);
                LoadBalancer {
                    ingress_ip: self.ingress_ip(public),
                    hourly_cost: 0.025,
                    active_from: None,
                    active_to: None,
                }
            });
        let has_lb = load_balancer.is_some();
        self.cluster.services.push(Service {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            selector: BTreeMap::from([("app".to_owned(), app.to_owned())]),
            load_balancer,
        });
        has_lb
    }

    fn team_of(&self, namespace: &str) -> Option<String> {
        self.cluster
            .namespaces
            .iter()
            .find(|n| n.name == namespace)
            .and_then(|n| n.labels.get("team").cloned())
    }

    fn labels(&self, namespace: &str, app: &str) -> BTreeMap<String, String> {
        let mut l = BTreeMap::from([
            ("app".to_owned(), app.to_owned()),
            ("app.kubernetes.io/name".to_owned(), app.to_owned()),
        ]);
        if let Some(team) = self.team_of(namespace) {
            l.insert("team".to_owned(), team);
        }
        l
    }

    #[allow(clippy::too_many_arguments)]
    fn push_pod(
        &mut self,
        namespace: &str,
        name: String,
        node: usize,
        run: Run,
        owner: Option<Owner>,
        labels: BTreeMap<String, String>,
        containers: Vec<Container>,
    ) -> &mut Pod {
        let mut annotations = BTreeMap::new();
        if self.rng.chance(0.3) {
            annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
        }
        let pod = Pod {
            namespace: namespace.to_owned(),
            name,
            uid: None,
            node: self.cluster.nodes[node].name.clone(),
            start: run.start.map(|t| self.time(t)),
            end: run.end.map(|t| self.time(t)),
            owner,
            labels,
            annotations,
            containers,
            volumes: Vec::new(),
            network: None,
        };
        self.cluster.pods.push(pod);
        self.cluster.pods.last_mut().expect("just pushed")
    }

    /// DaemonSets, one pod per node; returns the pods added.
    fn daemonsets(&mut self, pods: usize) -> usize {
        let n = self.slots.len();
        let mut k = ((pods as f64 * 0.25) / n as f64).floor() as usize;
        if k == 0 && n * 2 <= pods {
            k = 1;
        }
        for &(ds, namespace, specs) in &DAEMONSETS[..k.min(DAEMONSETS.len())] {
            let specs: Vec<Spec> = specs
                .iter()
                .map(|&(name, cpu, ram)| Spec {
                    name: name.to_owned(),
                    cpu,
                    ram,
                    gpu: 0.0,
                })
                .collect();
            for node in 0..n {
                let start = self.slots[node].from.map(|f| {
                    let t = f + self.rng.ms(10_000, 90_000);
                    self.off_grid(t)
                });
                let end = self.slots[node].to.map(|t| {
                    let t = t - self.rng.ms(5_000, 60_000);
                    self.off_grid(t)
                });
                let run = Run::new(start, end);
                let containers = self.containers(&specs, run, 0.05, 0.03);
                let name = self.pod_name(namespace, ds);
                let labels = self.labels(namespace, ds);
                self.push_pod(
                    namespace,
                    name,
                    node,
                    run,
                    Some(Owner::new(OwnerKind::DaemonSet, ds)),
                    labels,
                    containers,
                );
            }
        }
        k.min(DAEMONSETS.len()) * n
    }

    /// The containers of a new Deployment: its main one and 0 to 2
    /// sidecars (1.8 containers a pod on average over all pods).
    fn deployment_specs(&mut self, main: &str, best_effort: bool) -> Vec<Spec> {
        let count = 1 + self.rng.weighted(&[20, 40, 40]);
        let mut specs = vec![Spec {
            name: main.to_owned(),
            cpu: [0.1, 0.25, 0.5, 1.0, 2.0][self.rng.weighted(&[15, 30, 30, 18, 7])],
            ram: [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0]
                [self.rng.weighted(&[10, 25, 30, 20, 10, 5])]
                * MI,
            gpu: 0.0,
        }];
        let mut sidecars: Vec<&str> = SIDECARS.to_vec();
        for _ in 1..count {
            let i = self.rng.below(sidecars.len() as u64) as usize;
            specs.push(Spec {
                name: sidecars.swap_remove(i).to_owned(),
                cpu: *self.rng.pick(&[0.01, 0.05, 0.1]),
                ram: *self.rng.pick(&[32.0, 64.0, 128.0]) * MI,
                gpu: 0.0,
            });
        }
        if best_effort {
            for s in &mut specs {
                s.cpu = 0.0;
                s.ram = 0.0;
            }
        }
        specs
    }

    /// Deployments until `quota` pods: a few platform ones first, then
    /// random ones in the application namespaces.
    fn deployments(&mut self, mut quota: usize) {
        let platform: &[(&str, &str, usize)] = &[
            ("coredns", "kube-system", 2),
            ("ingress-nginx-controller", "ingress-nginx", 2),
            ("kube-state-metrics", "monitoring", 1),
        ];
        let mut i = 0;
        while quota > 0 {
            let (namespace, name, replicas) = if let Some(&(name, ns, r)) = platform.get(i) {
                self.workloads.insert((ns.to_owned(), name.to_owned()));
                (ns.to_owned(), name.to_owned(), r)
            } else {
                let ns = self.rng.pick(&self.app_namespaces).clone();
                let name = self.workload_name(&ns, DEPLOYMENT_NAMES);
                let r = [1, 2, 3, 4, 6, 8, 12][self.rng.weighted(&[15, 30, 25, 12, 10, 5, 3])];
                (ns, name, r)
            };
            i += 1;
            let replicas = replicas.min(quota);
            quota -= self.deployment(&namespace, &name, replicas, quota);
        }
    }

    /// One Deployment of `replicas` pods; it may roll out or have pods
    /// replaced while `room` pods are left. Returns the pods added.
    fn deployment(&mut self, namespace: &str, name: &str, replicas: usize, room: usize) -> usize {
        let best_effort = self.rng.chance(0.03);
        let specs = self.deployment_specs(name, best_effort);
        let public = name == "ingress-nginx-controller";
        let has_lb = if public {
            self.service(namespace, name, name, 1.0)
        } else if self.rng.chance(0.25) {
            self.service(namespace, name, name, 0.3)
        } else {
            false
        };
        let networked = has_lb || self.rng.chance(0.4);
        let owner = Owner::new(OwnerKind::Deployment, name);
        let rs = owner
            .replicaset_name(&self.cluster.name, namespace)
            .expect("a deployment has a replicaset");
        let mut added = 0;
        let rollout = room >= 2 * replicas && self.rng.chance(0.1);
        let rollout_at = self.when(self.frac(0.1), self.frac(0.9));
        let new_rs = format!("{name}-{}", self.rng.suffix(10));
        let late = self.late_node();
        let early = self.early_node();
        let n = self.slots.len().max(1) as f64;
        for r in 0..replicas {
            // Old and new ReplicaSet during a rollout: each new pod starts
            // shortly before an old one stops (surge).
            let runs: Vec<(Run, Option<String>)> = if rollout {
                let t = self.off_grid(rollout_at + r as Ms * 25_000);
                let s = self.before(t, 3_000, 15_000);
                vec![
                    (Run::new(None, Some(t)), None),
                    (Run::new(Some(s), None), Some(new_rs.clone())),
                ]
            } else {
                vec![(Run::ALL, None)]
            };
            for (run, replicaset) in runs {
                let mut run = run;
                let mut node = self.node_for(run, None);
                let mut replaced = None;
                if !rollout {
                    if let (Some(l), true) = (late, self.rng.chance(1.0 / n)) {
                        // Scaled up onto the node that joined.
                        let f = self.slots[l].from.expect("late node");
                        run.start = Some(self.after(f, 30_000, 1_200_000));
                        node = l;
                    } else if let (Some(e), true) = (
                        early,
                        room - added > replicas - r && self.rng.chance(1.0 / n),
                    ) {
                        // Evicted from the leaving node, replaced elsewhere.
                        let t = self.slots[e].to.expect("early node");
                        let end = self.before(t, 30_000, 300_000);
                        run.end = Some(end);
                        node = e;
                        replaced = Some(self.after(end, 5_000, 60_000));
                    }
                }
                let rs_name = replicaset.clone().unwrap_or_else(|| rs.clone());
                let mut o = owner.clone();
                o.replicaset = replicaset;
                let mut placements = vec![(run, node)];
                if let Some(s) = replaced {
                    let run = Run::new(Some(s), None);
                    let other = self.node_for(run, Some(node));
                    placements.push((run, other));
                }
                for (run, node) in placements {
                    let containers = self.containers(&specs, run, 0.12, 0.04);
                    let pod = self.pod_name(namespace, &rs_name);
                    let mut labels = self.labels(namespace, name);
                    labels.insert(
                        "pod-template-hash".to_owned(),
                        rs_name[name.len() + 1..].to_owned(),
                    );
                    let network = networked.then(|| self.network(has_lb));
                    self.push_pod(
                        namespace,
                        pod,
                        node,
                        run,
                        Some(o.clone()),
                        labels,
                        containers,
                    )
                    .network = network;
                    added += 1;
                }
            }
        }
        added
    }

    /// StatefulSets until `quota` pods: Prometheus first, then random
    /// ones, most with a claim per replica; some pods move to another node.
    fn statefulsets(&mut self, mut quota: usize) {
        let mut first = true;
        while quota > 0 {
            let (namespace, name) = if first {
                self.workloads
                    .insert(("monitoring".to_owned(), "prometheus".to_owned()));
                ("monitoring".to_owned(), "prometheus".to_owned())
            } else {
                let ns = self.rng.pick(&self.app_namespaces).clone();
                let name = self.workload_name(&ns, STATEFULSET_NAMES);
                (ns, name)
            };
            first = false;
            let replicas = [1, 2, 3][self.rng.weighted(&[30, 20, 50])].min(quota);
            let specs = self.statefulset_specs(&name);
            let claims = name == "prometheus" || self.rng.chance(0.6);
            let gib = *self.rng.pick(&[20.0, 50.0, 100.0, 200.0, 500.0]);
            if self.rng.chance(0.5) {
                let svc = format!("{name}-headless");
                self.service(&namespace, &svc, &name, 0.0);
            }
            let networked = self.rng.chance(0.7);
            let early = self.early_node();
            let n = self.slots.len().max(1) as f64;
            for r in 0..replicas {
                let pod = format!("{name}-{r}");
                self.pod_names.insert((namespace.clone(), pod.clone()));
                let mut volumes = Vec::new();
                if claims {
                    volumes.push(self.claim_volume(&namespace, &pod, gib));
                }
                // A move takes two pods: room for them and for the
                // replicas still to come?
                let placements = if quota > replicas - r && self.rng.chance(0.12 + 1.0 / n) {
                    self.moved(early).to_vec()
                } else {
                    let node = self.node_for(Run::ALL, None);
                    vec![(Run::ALL, node)]
                };
                for (run, node) in placements {
                    let containers = self.containers(&specs, run, 0.15, 0.04);
                    let mut labels = self.labels(&namespace, &name);
                    labels.insert("statefulset.kubernetes.io/pod-name".to_owned(), pod.clone());
                    let network = networked.then(|| self.network(false));
                    let p = self.push_pod(
                        &namespace,
                        pod.clone(),
                        node,
                        run,
                        Some(Owner::new(OwnerKind::StatefulSet, name.as_str())),
                        labels,
                        containers,
                    );
                    p.volumes = volumes.clone();
                    p.network = network;
                    quota -= 1;
                }
            }
        }
    }

    /// A StatefulSet's containers: the server and, mostly, a sidecar.
    fn statefulset_specs(&mut self, name: &str) -> Vec<Spec> {
        let mut specs = vec![Spec {
            name: name.to_owned(),
            cpu: *self.rng.pick(&[0.25, 0.5, 1.0, 2.0]),
            ram: *self.rng.pick(&[512.0, 1024.0, 2048.0, 4096.0, 8192.0]) * MI,
            gpu: 0.0,
        }];
        if self.rng.chance(0.8) {
            specs.push(Spec {
                name: if name == "prometheus" {
                    "config-reloader".to_owned()
                } else {
                    format!("{name}-exporter")
                },
                cpu: 0.05,
                ram: 64.0 * MI,
                gpu: 0.0,
            });
        }
        specs
    }

    /// A `gib` GiB volume bound to replica `pod`'s claim `data-<pod>`;
    /// returns the claim's name.
    fn claim_volume(&mut self, namespace: &str, pod: &str, gib: f64) -> String {
        let claim = format!("data-{pod}");
        let zone = self.rng.pick(&self.zones).clone();
        let pv = format!(
            "pvc-{}-{}-{}-{}-{}",
            self.rng.hex(8),
            self.rng.hex(4),
            self.rng.hex(4),
            self.rng.hex(4),
            self.rng.hex(12)
        );
        let vol = self.rng.hex(17);
        self.cluster.persistent_volumes.push(PersistentVolume {
            name: pv,
            capacity_bytes: gib * GIB,
            hourly_cost_per_gib: 0.000137,
            provider_id: format!("aws:///{zone}/vol-{vol}"),
            storage_class: "gp3".to_owned(),
            active_from: None,
            active_to: None,
            claim: Some(Claim {
                namespace: namespace.to_owned(),
                name: claim.clone(),
                requested_bytes: gib * GIB,
            }),
        });
        claim
    }

    /// A replica that moves: from the leaving node (`early`) before it
    /// leaves, or at any time from any node; then on another node.
    fn moved(&mut self, early: Option<usize>) -> [(Run, usize); 2] {
        let (t, from) = match early {
            Some(e) if self.rng.chance(0.5) => {
                let t = self.slots[e].to.expect("early node");
                (self.before(t, 30_000, 600_000), Some(e))
            }
            _ => (self.when(self.frac(0.05), self.frac(0.95)), None),
        };
        let first = Run::new(None, Some(t));
        let a = from.unwrap_or_else(|| self.node_for(first, None));
        let second = Run::new(Some(self.after(t, 20_000, 180_000)), None);
        let b = self.node_for(second, Some(a));
        [(first, a), (second, b)]
    }

    /// Jobs until `quota` pods: a GPU training job when there is a GPU
    /// node, CronJob runs (about 70%) and one-off Jobs.
    fn jobs(&mut self, mut quota: usize) {
        if let Some(gpu) = self.slots.iter().position(|s| s.gpu)
            && quota > 0
        {
            let ns = if self.app_namespaces.iter().any(|n| n == "ml") {
                "ml".to_owned()
            } else {
                self.app_namespaces[0].clone()
            };
            let job = format!("ml-train-{}", self.rng.suffix(5));
            let s = self.when(self.frac(0.1), self.frac(0.4));
            let e = self.when(s + self.frac(0.1), self.frac(0.8));
            let run = Run::new(Some(s), Some(e));
            let spec = Spec {
                name: "trainer".to_owned(),
                cpu: 3.0,
                ram: 12.0 * GIB,
                gpu: 1.0,
            };
            let containers = self.containers(&[spec], run, 0.6, 0.0);
            let pod = self.pod_name(&ns, &job);
            let mut labels = self.labels(&ns, "ml-train");
            labels.insert("job-name".to_owned(), job.clone());
            let network = self.network(false);
            self.push_pod(
                &ns,
                pod,
                gpu,
                run,
                Some(Owner::new(OwnerKind::Job, job)),
                labels,
                containers,
            )
            .network = Some(network);
            quota -= 1;
        }
        let cron_quota = quota * 7 / 10;
        let mut once = quota - cron_quota;
        let mut cron = cron_quota;
        while cron > 0 {
            cron -= self.cronjob(cron);
        }
        while once > 0 {
            self.job();
            once -= 1;
        }
    }

    /// Runs of one CronJob (at most `quota`); returns how many.
    fn cronjob(&mut self, quota: usize) -> usize {
        let ns = self.rng.pick(&self.app_namespaces).clone();
        let name = self.workload_name(&ns, CRONJOB_NAMES);
        let period: Ms =
            [15, 30, 60, 120, 240, 360][self.rng.weighted(&[1, 3, 4, 3, 2, 1])] * 60_000;
        let offset = self.rng.ms(0, period.min(self.len)) / 60_000 * 60_000;
        let best_effort = self.rng.chance(0.05);
        let mut specs = vec![Spec {
            name: name.clone(),
            cpu: if best_effort {
                0.0
            } else {
                *self.rng.pick(&[0.1, 0.25, 0.5, 1.0])
            },
            ram: if best_effort {
                0.0
            } else {
                *self.rng.pick(&[128.0, 256.0, 512.0, 1024.0]) * MI
            },
            gpu: 0.0,
        }];
        if !best_effort && self.rng.chance(0.1) {
            specs.push(Spec {
                name: "cloudsql-proxy".to_owned(),
                cpu: 0.05,
                ram: 64.0 * MI,
                gpu: 0.0,
            });
        }
        let longest = (period * 8 / 10).clamp(60_000, 45 * 60_000);
        let mut runs = 0;
        let mut t = offset;
        while t < self.len && runs < quota {
            // Kubernetes names a CronJob's job after the scheduled minute.
            let minute = (self.start + t) / 60_000;
            let job = format!("{name}-{minute}");
            let s = self.after(t, 1_000, 30_000);
            let e = self.after(s, 45_000, longest);
            if s >= self.len {
                break;
            }
            // A run still going at the end of the window has no end.
            let run = Run::new(Some(s), (e < self.len).then_some(e));
            let node = self.node_for(run, None);
            let containers = self.containers(&specs, run, 0.3, 0.0);
            let pod = self.pod_name(&ns, &job);
            let mut labels = self.labels(&ns, &name);
            labels.insert("job-name".to_owned(), job.clone());
            self.push_pod(
                &ns,
                pod,
                node,
                run,
                Some(Owner::new(OwnerKind::Job, job)),
                labels,
                containers,
            );
            runs += 1;
            t += period;
        }
        if runs == 0 {
            // The first run would start after the end: run once now.
            let s = self.when(0, self.len);
            let job = format!("{name}-{}", (self.start + s) / 60_000);
            let run = Run::new(Some(s), None);
            let node = self.node_for(run, None);
            let containers = self.containers(&specs, run, 0.3, 0.0);
            let pod = self.pod_name(&ns, &job);
            let labels = self.labels(&ns, &name);
            self.push_pod(
                &ns,
                pod,
                node,
                run,
                Some(Owner::new(OwnerKind::Job, job)),
                labels,
                containers,
            );
            runs = 1;
        }
        runs
    }

    /// One one-off Job, 5 minutes to 4 hours long, anywhere in the window.
    fn job(&mut self) {
        let ns = self.rng.pick(&self.app_namespaces).clone();
        let word = *self.rng.pick(JOB_NAMES);
        let job = loop {
            let j = format!("{word}-{}", self.rng.suffix(5));
            if self.workloads.insert((ns.clone(), j.clone())) {
                break j;
            }
        };
        let dur = self.rng.ms(5 * 60_000, 4 * 3_600_000).min(self.len / 2);
        let s = self.when(0, (self.len - dur).max(1));
        let e = self.off_grid(s + dur);
        let run = Run::new(Some(s), (e < self.len).then_some(e));
        let spec = Spec {
            name: word.to_owned(),
            cpu: *self.rng.pick(&[0.5, 1.0, 2.0]),
            ram: *self.rng.pick(&[512.0, 1024.0, 4096.0]) * MI,
            gpu: 0.0,
        };
        let node = self.node_for(run, None);
        let containers = self.containers(&[spec], run, 0.35, 0.05);
        let pod = self.pod_name(&ns, &job);
        let mut labels = self.labels(&ns, word);
        labels.insert("job-name".to_owned(), job.clone());
        let network = self.rng.chance(0.3).then(|| self.network(false));
        self.push_pod(
            &ns,
            pod,
            node,
            run,
            Some(Owner::new(OwnerKind::Job, job)),
            labels,
            containers,
        )
        .network = network;
    }

    /// Pods without a controller until `quota`: a long-lived worker and a
    /// pod of a bare ReplicaSet first, then short BestEffort debug pods.
    fn bare(&mut self, quota: usize) {
        for i in 0..quota {
            let ns = self.rng.pick(&self.app_namespaces).clone();
            match i {
                0 => {
                    let run = Run::ALL;
                    let spec = Spec {
                        name: "worker".to_owned(),
                        cpu: 0.5,
                        ram: 1024.0 * MI,
                        gpu: 0.0,
                    };
                    let node = self.node_for(run, None);
                    let containers = self.containers(&[spec], run, 0.2, 0.3);
                    let pod = self.pod_name(&ns, "legacy-worker");
                    let labels = self.labels(&ns, "legacy-worker");
                    self.push_pod(&ns, pod, node, run, None, labels, containers);
                }
                1 => {
                    let rs = self.workload_name(&ns, &["legacy-rs"]);
                    let s = self.when(0, self.frac(0.5));
                    let run = Run::new(Some(s), None);
                    let spec = Spec {
                        name: "app".to_owned(),
                        cpu: 0.25,
                        ram: 256.0 * MI,
                        gpu: 0.0,
                    };
                    let node = self.node_for(run, None);
                    let containers = self.containers(&[spec], run, 0.1, 0.0);
                    let pod = self.pod_name(&ns, &rs);
                    let labels = self.labels(&ns, &rs);
                    self.push_pod(
                        &ns,
                        pod,
                        node,
                        run,
                        Some(Owner::new(OwnerKind::ReplicaSet, rs.as_str())),
                        labels,
                        containers,
                    );
                }
                _ => {
                    let word = *self.rng.pick(DEBUG_NAMES);
                    let dur = self.rng.ms(2 * 60_000, 90 * 60_000).min(self.len / 2);
                    let s = self.when(0, (self.len - dur).max(1));
                    let run = Run::new(Some(s), Some(self.off_grid(s + dur)));
                    let spec = Spec {
                        name: word.to_owned(),
                        cpu: 0.0,
                        ram: 0.0,
                        gpu: 0.0,
                    };
                    let node = self.node_for(run, None);
                    let containers = self.containers(&[spec], run, 0.0, 0.0);
                    let pod = self.pod_name(&ns, word);
                    let labels = BTreeMap::from([("run".to_owned(), word.to_owned())]);
                    self.push_pod(&ns, pod, node, run, None, labels, containers);
                }
            }
        }
    }
}

/// `x` rounded to `digits` decimals.
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(s: &Scenario) -> (usize, usize) {
        let pods = s.clusters.iter().map(|c| c.pods.len()).sum();
        let containers = s
            .clusters
            .iter()
            .flat_map(|c| &c.pods)
            .map(|p| p.containers.len())
            .sum();
        (pods, containers)
    }

    #[test]
    fn the_same_seed_gives_the_same_scenario() {
        let o = GenerateOptions {
            pods: 200,
            nodes: 12,
            ..Default::default()
        };
        let a = generate(&o).unwrap().to_json();
        assert_eq!(a, generate(&o).unwrap().to_json());
        let other = generate(&GenerateOptions { seed: 2, ..o })
            .unwrap()
            .to_json();
        assert_ne!(a, other);
    }

    #[test]
    fn default_size_counts_and_features() {
        let s = generate(&GenerateOptions::default()).unwrap();
        let (pods, containers) = count(&s);
        assert_eq!(pods, 1000);
        assert!(
            (1650..=1950).contains(&containers),
            "{containers} containers"
        );
        assert_eq!(s.clusters.len(), 2);
        let grid = Ms::from(s.scrape_interval_seconds) * 1000;
        let start = ms(s.start);
        let off_grid = |t: DateTime<Utc>| (ms(t) - start).rem_euclid(grid) != 0;
        for c in &s.clusters {
            assert_eq!(c.nodes.len(), 60);
            let spot = c.nodes.iter().filter(|n| n.spot).count();
            assert_eq!(spot, 9, "15% spot");
            assert!(c.nodes.iter().any(|n| !n.price_changes.is_empty()));
            assert!(c.nodes.iter().any(|n| n.active_from.is_some()));
            assert!(c.nodes.iter().any(|n| n.active_to.is_some()));
            assert!(c.nodes.iter().any(|n| n.gpus > 0.0));
            for n in &c.nodes {
                for t in n.active_from.iter().chain(&n.active_to) {
                    assert!(off_grid(*t), "node {} at {t}", n.name);
                }
            }
            let kinds: BTreeSet<_> = c
                .pods
                .iter()
                .map(|p| p.owner.as_ref().map(|o| format!("{:?}", o.kind)))
                .collect();
            assert_eq!(kinds.len(), 6, "every owner kind and none: {kinds:?}");
            let mut names = BTreeMap::<(&str, &str), usize>::new();
            for p in &c.pods {
                *names.entry((&p.namespace, &p.name)).or_default() += 1;
                for t in p.start.iter().chain(&p.end) {
                    assert!(off_grid(*t), "pod {} at {t}", p.name);
                }
                for k in &p.containers {
                    if let Some(g) = k.restart_gap {
                        assert!(off_grid(g.from) && off_grid(g.to));
                    }
                }
            }
            assert!(names.values().any(|&n| n == 2), "a pod moved");
            let flat = || c.pods.iter().flat_map(|p| &p.containers);
            assert!(flat().any(|k| k.restart_gap.is_some()));
            assert!(flat().any(|k| matches!(k.usage, Usage::Steps(_))));
            assert!(flat().any(|k| k.gpu_request > 0.0));
            assert!(flat().any(|k| match &k.usage {
                Usage::Constant(l) => k.cpu_request > 0.0 && l.cpu > k.cpu_request,
                Usage::Steps(_) => false,
            }));
            assert!(
                c.pods.iter().any(|p| p
                    .containers
                    .iter()
                    .all(|k| k.cpu_request == 0.0 && k.ram_request == 0.0)),
                "BestEffort"
            );
            assert!(c.pods.iter().any(|p| p.end.is_some_and(|e| e < s.end)));
            assert!(c.pods.iter().any(|p| !p.volumes.is_empty()));
            assert!(c.pods.iter().any(|p| p.network.is_some()));
            assert!(c.services.iter().any(|v| v.load_balancer.is_some()));
            // Events spread over the window: pods start in every quarter.
            for q in 0..4 {
                let (a, b) = (start + q * 21_600_000, start + (q + 1) * 21_600_000);
                assert!(
                    c.pods
                        .iter()
                        .filter_map(|p| p.start)
                        .any(|t| (a..b).contains(&ms(t))),
                    "quarter {q}"
                );
            }
        }
    }

    #[test]
    fn a_small_scenario_loads_and_computes() {
        let o = GenerateOptions {
            clusters: 2,
            nodes: 6,
            pods: 50,
            hours: 6,
            scrape_seconds: 300,
            seed: 7,
            ..Default::default()
        };
        let s = generate(&o).unwrap();
        assert_eq!(count(&s).0, 50);
        let back = Scenario::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        let set = s.expected_allocations(s.window()).unwrap();
        assert!(set.total_cost() > 0.0);
        let mut om = Vec::new();
        let stats = s.write_openmetrics(&mut om).unwrap();
        assert!(stats.samples > 0);
    }

    #[test]
    fn tiny_and_odd_sizes_still_validate() {
        for (clusters, nodes, pods) in [(1, 1, 1), (1, 2, 3), (3, 3, 7), (2, 40, 10), (1, 5, 400)] {
            let o = GenerateOptions {
                clusters,
                nodes,
                pods,
                hours: 3,
                ..Default::default()
            };
            let s = generate(&o).unwrap_or_else(|e| panic!("{o:?}: {e}"));
            assert_eq!(count(&s).0, pods as usize, "{o:?}");
        }
        assert!(
            generate(&GenerateOptions {
                clusters: 0,
                ..Default::default()
            })
            .is_err()
        );
    }
}
