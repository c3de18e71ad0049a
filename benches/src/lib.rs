//! A deterministic generator of a synthetic cluster-day, as the exact
//! Prometheus HTTP API response bodies the engine gets back for a one-day
//! window at 1m resolution: both rounds, the plan ([`plan::plan`]) and the
//! follow-ups its results call for ([`engine::followups`]). For the
//! benchmarks in `benches/engine.rs` and `benches/etl.rs` and the `peak-rss`
//! binary (see `docs/benchmarks.md`).
//!
//! Each body holds the label sets the query's `by (…)` clause leaves, and
//! values with the meaning the engine reads them with:
//! - kube-state-metrics per container (`run_steps`, `run_first`,
//!   `run_last`, `container_started`, `request_max` with
//!   `resource` = `cpu|memory|nvidia_com_gpu`): `cluster_id, container,
//!   namespace, pod, uid`;
//! - cAdvisor (`cpu_usage`, `cpu_max`, `ram_usage`, `ram_max`): the
//!   `*_over_time` the query names of the per-second CPU rate or the
//!   working set per container run, by `cluster_id, container, [id,]
//!   namespace, node, pod` as the query says, where `id` is the run's
//!   cgroup (a restarted container has two);
//! - per node (`node_steps`, `node_capacity` per `resource`, `node_gpus`,
//!   `price_sum`/`price_steps`/`price_changes` per `price` =
//!   `cpu|ram|gpu`): `cluster_id, node[, resource|price]`;
//! - volumes by `persistentvolume` / `volumename`, claims, mounts, load
//!   balancers, network, as their `by` clauses say;
//! - the metadata queries (`last_over_time` of kube-state-metrics info
//!   series) keep `__name__`, `instance` and `job` as Prometheus does;
//! - `duplicates` and `missing_cluster` are empty vectors;
//! - each follow-up series carries the term's `by` labels and
//!   `costetl_term` (see `followup.rs`).
//!
//! Series come in a shuffled order (as a sharded query frontend or a merge
//! of backends may return them; [`Day::in_label_order`] gives one
//! Prometheus' order, sorted by label set), and sample values are
//! formatted the way Prometheus formats them (shortest round-trip
//! decimal).
//!
//! The cluster is made of [`Scale::nodes`] nodes (a few of them GPU nodes;
//! 30% spot, a few spot nodes re-priced several times during the day),
//! DaemonSet pods on every node, and Deployments (ReplicaSet → Deployment
//! through `kube_replicaset_owner`, with old ReplicaSets too),
//! StatefulSets and Jobs (some created by CronJobs) spread over
//! [`Scale::namespaces`] namespaces until there are [`Scale::pods`] pods.
//! Most pods run all day; some start or stop during it, Jobs run for
//! minutes, some containers restart (a gap, a new cgroup). A few pods are
//! BestEffort (no requests). Usage per step is a base level with one peak;
//! it stays under the request except for a few containers whose usage
//! crosses it. Everything is drawn from a seeded SplitMix64, so the same
//! [`Scale`] always gives the same bytes.
//!
//! Map: `cluster` (the model, its generation and the integrals over
//! steps), `respond` (first-round bodies), `followup` (second-round
//! bodies), `rng`, and `reference`, the fixed serde_json parse the
//! engine's speed is measured against.
//!
//! [`plan::plan`]: costetl_core::plan::plan

mod cluster;
mod followup;
pub mod reference;
mod respond;
mod rng;

use std::collections::BTreeMap;

use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::aggregate::Aggregated;
use costetl_core::engine::{self, Results};
use costetl_core::plan::{self, EngineConfig, RangeSemantics};
use costetl_core::source::QuerySpec;
use costetl_core::{AggregationOptions, AggregationProperty, AllocationSet, Window};

use cluster::Cluster;
use respond::EMPTY;
use rng::Rng;

/// The subquery semantics the bodies answer for (Prometheus 3).
pub const SEMANTICS: RangeSemantics = RangeSemantics::LeftOpen;

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

    /// Half the fleet-scale day: 500 nodes, 15,000 pods, 30,000
    /// containers, 300 namespaces (the scaling ratio's base).
    pub const FLEET_30K: Scale = Scale {
        nodes: 500,
        gpu_nodes: 16,
        pods: 15_000,
        containers_per_pod: 2,
        namespaces: 300,
        seed: 0x0030_0000,
    };

    /// The scale the project is for: 1,000 nodes, 30,000 pods, 60,000
    /// containers, 600 namespaces.
    pub const FLEET_60K: Scale = Scale {
        nodes: 1_000,
        gpu_nodes: 33,
        pods: 30_000,
        containers_per_pod: 2,
        namespaces: 600,
        seed: 0x0060_0000,
    };

    /// One cluster of a fleet read back from the store: 20 nodes, 300
    /// pods, 600 containers, 30 namespaces (100 of them: 60,000
    /// containers).
    pub const FLEET_MEMBER: Scale = Scale {
        nodes: 20,
        gpu_nodes: 1,
        pods: 300,
        containers_per_pod: 2,
        namespaces: 30,
        seed: 0x00f1_ee70,
    };

    /// A day small enough for unit tests: 10 nodes, 50 pods.
    pub const TINY: Scale = Scale {
        nodes: 10,
        gpu_nodes: 1,
        pods: 50,
        containers_per_pod: 2,
        namespaces: 8,
        seed: 7,
    };

    /// Containers in the day (every pod has [`Scale::containers_per_pod`]).
    pub fn containers(&self) -> usize {
        self.pods * self.containers_per_pod
    }
}

/// What the engine should compute for one container, from the generator's
/// ground truth: per resource (CPU, RAM, GPU), Σ over its running steps of
/// max(request, usage) (GPUs: the request) in resource-hours, and the same
/// priced at its node's price of each step, in $. The engine gets exactly
/// this for a container without `edges` (it stretches one with edges to
/// its start and completion times) and, when it has no request, without
/// a restart (it reads the working set as an average per cgroup).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expected {
    /// The container started or its pod completed inside the day.
    pub edges: bool,
    /// The container restarted (two runs, two cgroups).
    pub restarted: bool,
    /// Running steps.
    pub steps: u32,
    /// Core-hours, byte-hours, GPU-hours.
    pub hours: [f64; 3],
    /// CPU, RAM and GPU cost in $.
    pub cost: [f64; 3],
}

/// One generated cluster-day: the window, the engine configuration the
/// bodies were generated for, and one response body per query of both
/// rounds.
#[derive(Clone, Debug)]
pub struct Day {
    /// The day.
    pub window: Window,
    /// The configuration the plan was built from (defaults: `cluster_id`,
    /// 1m resolution).
    pub cfg: EngineConfig,
    /// Every query of [`plan::plan`], in plan order, then every query of
    /// [`engine::followups`] on their results, each with the body
    /// Prometheus would send back for it: what [`engine::compute`] needs.
    pub bodies: Vec<(QuerySpec, Vec<u8>)>,
    /// How many of `bodies` are the plan's; the rest are follow-ups.
    pub first_round: usize,
    /// Query ids of either round the generator does not know (or, for a
    /// follow-up, whose PromQL it cannot read); they got an empty vector
    /// (`[]`). Empty unless the plan grew a query.
    pub unknown_queries: Vec<String>,
    /// Containers generated (one allocation each).
    pub containers: usize,
    /// Nodes generated (one idle allocation each).
    pub nodes: usize,
    /// Σ over nodes and steps of capacity × that step's price, in $: what
    /// the computed set's CPU, RAM and GPU costs (allocations + idle) add
    /// up to.
    pub node_cost: f64,
    /// Σ of PV, load-balancer and network costs over the day, in $: the
    /// rest of the set's total.
    pub pod_level_cost: f64,
    /// Per container, by (namespace, pod, container): what the engine
    /// should compute.
    pub expected: BTreeMap<(String, String, String), Expected>,
}

impl Day {
    /// Total response bytes of both rounds.
    pub fn total_bytes(&self) -> usize {
        self.bodies.iter().map(|(_, b)| b.len()).sum()
    }

    /// This day with every body's series in the order of their label
    /// sets, as one Prometheus sends them ([`generate`] shuffles them, as
    /// a sharded query frontend or a merge of several backends may).
    pub fn in_label_order(mut self) -> Day {
        for (q, body) in &mut self.bodies {
            *body = respond::in_label_order(body).unwrap_or_else(|| {
                panic!("the generator's body for {} is not an instant vector", q.id)
            });
        }
        self
    }

    /// The follow-up queries and their bodies.
    pub fn followups(&self) -> &[(QuerySpec, Vec<u8>)] {
        &self.bodies[self.first_round..]
    }

    /// Number of allocations [`engine::compute`] should return besides
    /// the `__unmounted__` ones: one per container plus one idle per node.
    pub fn expected_allocations(&self) -> usize {
        self.containers + self.nodes
    }
}

/// Generate the day at `scale` (2023-11-14, one cluster `bench-1`): the
/// plan's bodies, then the follow-ups the engine asks for after decoding
/// them, and their bodies.
pub fn generate(scale: &Scale) -> Day {
    let start = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
    let window = Window::new(start, start + TimeDelta::days(1)).expect("a day is a window");
    let cfg = EngineConfig::default();
    let cluster = Cluster::generate(scale, &cfg, window);
    let mut rng = Rng::new(scale.seed ^ 0x05ee_d0f0_dde5);
    let mut unknown_queries = Vec::new();
    let mut answer = |q: QuerySpec, body: Option<Vec<u8>>| {
        let body = body.unwrap_or_else(|| {
            unknown_queries.push(q.id.clone());
            EMPTY.as_bytes().to_vec()
        });
        (q, body)
    };

    let mut bodies: Vec<(QuerySpec, Vec<u8>)> = plan::plan(window, &cfg, SEMANTICS)
        .expect("a day is plannable")
        .into_iter()
        .map(|q| {
            let body = cluster.body(&q, &mut rng);
            answer(q, body)
        })
        .collect();
    let first_round = bodies.len();
    let results = decode_all(&bodies).expect("the generated bodies decode");
    let more = engine::followups(window, &results, &cfg, SEMANTICS)
        .expect("the engine plans its follow-ups");
    drop(results);
    for q in more {
        let body = cluster.followup_body(&q, &mut rng);
        bodies.push(answer(q, body));
    }
    Day {
        window,
        cfg,
        bodies,
        first_round,
        unknown_queries,
        containers: cluster.pods.iter().map(|p| p.containers.len()).sum(),
        nodes: cluster.nodes.len(),
        node_cost: cluster.node_cost(),
        pod_level_cost: cluster.pod_level_cost(),
        expected: cluster.expected(),
    }
}

/// Decode every body of `bodies`, in parallel ([`Results::decode_all`]).
pub fn decode_all(bodies: &[(QuerySpec, Vec<u8>)]) -> costetl_core::Result<Results> {
    Results::decode_all(bodies)
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
    set.aggregate_by(Some(&BY_NAMESPACE), &share_idle())
}

/// As [`aggregate_namespace_idle`], consuming the set (as a query does).
pub fn into_aggregate_namespace_idle(set: AllocationSet) -> costetl_core::Result<Aggregated> {
    set.into_aggregate_by(Some(&BY_NAMESPACE), &share_idle())
}

/// What the benchmarks aggregate by.
const BY_NAMESPACE: [AggregationProperty; 1] = [AggregationProperty::Namespace];

/// Bytes to namespace costs: decode both rounds, compute, aggregate by
/// namespace with idle shared (consuming the set, as a query does).
pub fn end_to_end(day: &Day) -> costetl_core::Result<Aggregated> {
    let results = decode_all(&day.bodies)?;
    let set = engine::compute(day.window, &results, &day.cfg)?;
    drop(results);
    into_aggregate_namespace_idle(set)
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
