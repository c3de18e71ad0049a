//! The engine: from query results to a priced [`AllocationSet`] with idle,
//! and the runtime-agnostic driver that fetches a plan from any
//! [`MetricsSource`].
//!
//! [`compute`] is pure: it takes the decoded results of [`plan`]'s queries
//! for one window and joins them per container (cluster, namespace, pod,
//! uid, container, node). Every quantity arrives already integrated over
//! the window's steps, so the join is a handful of hash lookups per
//! container. Conservation holds by construction: per node and resource,
//! Σ allocations + idle = node cost; idle below zero is kept and reported
//! as over-allocation, never clamped.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::allocation::Allocation;
use crate::attribution::{self, Containers};
use crate::error::{Error, Result};
use crate::plan::{self, EngineConfig, RangeSemantics, ids};
use crate::promjson::{self, QueryResult, Series};
use crate::properties::{AllocationProperties, IDLE, Labels, sanitize_label_name};
use crate::set::{AllocationSet, AllocationSetRange};
use crate::source::{MetricsSource, QuerySpec};
use crate::window::{Period, Window};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Decoded results of one window's plan, by query id.
#[derive(Clone, Debug, Default)]
pub struct Results {
    by_id: HashMap<String, QueryResult>,
}

impl Results {
    /// Record the result of query `id`.
    pub fn insert(&mut self, id: impl Into<String>, r: QueryResult) {
        self.by_id.insert(id.into(), r);
    }

    pub(crate) fn get(&self, id: &str) -> Result<&QueryResult> {
        self.by_id.get(id).ok_or_else(|| Error::Source {
            query: id.to_owned(),
            message: "no result was supplied for this query".into(),
            kind: crate::source::SourceErrorKind::Permanent,
        })
    }
}

/// What fetching one window cost: the figure to compare with OpenCost's
/// plan on the same data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Queries sent.
    pub queries: usize,
    /// Response bytes received.
    pub bytes: usize,
    /// Series received.
    pub series: usize,
    /// Samples received.
    pub samples: usize,
}

impl FetchStats {
    fn add(&mut self, o: FetchStats) {
        self.queries += o.queries;
        self.bytes += o.bytes;
        self.series += o.series;
        self.samples += o.samples;
    }
}

/// The per-query maps of the join, keyed by container or node. Keys come
/// from the cluster, not from an attacker on the request path, and
/// foldhash (seeded, hashbrown's default) hashes them several times faster
/// than std's SipHash.
type JoinMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Identity of one container on one node, borrowed from the series'
/// labels: the per-container maps of a large day hold 20,000 keys each,
/// and owned keys meant six `String`s per series to build and drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ContainerKey<'s> {
    cluster: &'s str,
    namespace: &'s str,
    pod: &'s str,
    uid: &'s str,
    container: &'s str,
    node: &'s str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct NodeKey {
    cluster: String,
    node: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PodKey {
    cluster: String,
    namespace: String,
    pod: String,
}

/// Reads series labels with the configured cluster label and default.
pub(crate) struct Keys<'a> {
    cfg: &'a EngineConfig,
}

impl<'a> Keys<'a> {
    pub(crate) fn cluster(&self, s: &Series) -> String {
        self.cluster_str(s).to_owned()
    }

    fn cluster_str<'s>(&self, s: &'s Series) -> &'s str
    where
        'a: 's,
    {
        match s.label(&self.cfg.cluster_label) {
            Some(c) if !c.is_empty() => c,
            _ => &self.cfg.default_cluster,
        }
    }

    fn label(s: &Series, name: &str) -> String {
        s.label(name).unwrap_or_default().to_owned()
    }

    fn container<'s>(&self, s: &'s Series) -> ContainerKey<'s>
    where
        'a: 's,
    {
        let label = |name| s.label(name).unwrap_or_default();
        ContainerKey {
            cluster: self.cluster_str(s),
            namespace: label("namespace"),
            pod: label("pod"),
            uid: label("uid"),
            container: label("container"),
            node: label("node"),
        }
    }

    fn node(&self, s: &Series) -> NodeKey {
        NodeKey {
            cluster: self.cluster(s),
            node: Self::label(s, "node"),
        }
    }

    fn pod(&self, s: &Series) -> PodKey {
        PodKey {
            cluster: self.cluster(s),
            namespace: Self::label(s, "namespace"),
            pod: Self::label(s, "pod"),
        }
    }

    fn per_container<'s>(&self, r: &'s QueryResult) -> JoinMap<ContainerKey<'s>, f64>
    where
        'a: 's,
    {
        values(r, |s| self.container(s))
    }

    fn per_node(&self, r: &QueryResult) -> JoinMap<NodeKey, f64> {
        values(r, |s| self.node(s))
    }
}

/// The last finite value of each series, keyed; duplicate keys add up
/// (they only arise from series the backend kept apart by a label we do
/// not key on).
fn values<'r, K: std::hash::Hash + Eq>(
    r: &'r QueryResult,
    key: impl Fn(&'r Series) -> K,
) -> JoinMap<K, f64> {
    let mut out = JoinMap::with_capacity_and_hasher(r.series.len(), Default::default());
    for s in &r.series {
        if let Some(v) = s.last_value().filter(|v| v.is_finite()) {
            *out.entry(key(s)).or_insert(0.0) += v;
        }
    }
    out
}

/// Labels with a prefix (`label_`, `annotation_`) stripped, merged over all
/// series of a key.
fn prefixed(
    r: &QueryResult,
    prefix: &str,
    key: impl Fn(&Series) -> Option<PodKey>,
) -> HashMap<PodKey, Labels> {
    let mut out: HashMap<PodKey, Labels> = HashMap::new();
    for s in &r.series {
        let Some(k) = key(s) else { continue };
        let entry = out.entry(k).or_default();
        for (name, value) in &s.labels {
            if let Some(stripped) = name.strip_prefix(prefix) {
                entry.insert(stripped.to_owned(), value.clone());
            }
        }
    }
    out
}

/// `<cronjob>-<10 or 8 digits>` is a Job a CronJob created: report the
/// CronJob, as OpenCost does.
fn job_controller(name: &str) -> &str {
    if let Some((base, suffix)) = name.rsplit_once('-')
        && (suffix.len() == 10 || suffix.len() == 8)
        && suffix.bytes().all(|b| b.is_ascii_digit())
    {
        return base;
    }
    name
}

/// Controllers per pod from `kube_pod_owner` and `kube_replicaset_owner`.
fn controllers(
    keys: &Keys<'_>,
    pod_owners: &QueryResult,
    rs_owners: &QueryResult,
) -> HashMap<PodKey, (String, String)> {
    let mut rs: HashMap<(String, String, String), (String, String)> = HashMap::new();
    for s in &rs_owners.series {
        rs.insert(
            (
                keys.cluster(s),
                Keys::label(s, "namespace"),
                Keys::label(s, "replicaset"),
            ),
            (Keys::label(s, "owner_kind"), Keys::label(s, "owner_name")),
        );
    }
    let mut out = HashMap::new();
    for s in &pod_owners.series {
        let pod = keys.pod(s);
        let kind = Keys::label(s, "owner_kind");
        let name = Keys::label(s, "owner_name");
        let controller = match kind.as_str() {
            "ReplicaSet" => {
                match rs.get(&(pod.cluster.clone(), pod.namespace.clone(), name.clone())) {
                    Some((k, n)) if k == "Deployment" => ("deployment".to_owned(), n.clone()),
                    Some((k, n)) if k == "Rollout" => ("rollout".to_owned(), n.clone()),
                    _ => ("replicaset".to_owned(), name),
                }
            }
            "Job" => ("job".to_owned(), job_controller(&name).to_owned()),
            "" | "<none>" => continue,
            other => (other.to_ascii_lowercase(), name),
        };
        out.insert(pod, controller);
    }
    out
}

/// Compute the allocation set of one window from the results of
/// [`plan::plan`] for that window.
pub fn compute(window: Window, results: &Results, cfg: &EngineConfig) -> Result<AllocationSet> {
    let keys = Keys { cfg };
    let r_hours = cfg.resolution.num_milliseconds() as f64 / 3_600_000.0;
    let step = cfg.resolution;
    let mut set = AllocationSet::new(window);

    let per_c = |id: &str| results.get(id).map(|r| keys.per_container(r));
    let per_n = |id: &str| results.get(id).map(|r| keys.per_node(r));

    let steps = per_c(ids::RUN_STEPS)?;
    let first = per_c(ids::RUN_FIRST)?;
    let last = per_c(ids::RUN_LAST)?;
    let [cpu_req, cpu_use, cpu_alloc, cpu_cost, cpu_max] = [
        ids::CPU_REQUEST,
        ids::CPU_USAGE,
        ids::CPU_ALLOC,
        ids::CPU_COST,
        ids::CPU_MAX,
    ]
    .map(per_c);
    let [ram_req, ram_use, ram_alloc, ram_cost, ram_max] = [
        ids::RAM_REQUEST,
        ids::RAM_USAGE,
        ids::RAM_ALLOC,
        ids::RAM_COST,
        ids::RAM_MAX,
    ]
    .map(per_c);
    let (cpu_req, cpu_use, cpu_alloc, cpu_cost, cpu_max) =
        (cpu_req?, cpu_use?, cpu_alloc?, cpu_cost?, cpu_max?);
    let (ram_req, ram_use, ram_alloc, ram_cost, ram_max) =
        (ram_req?, ram_use?, ram_alloc?, ram_cost?, ram_max?);
    let gpu_alloc = per_c(ids::GPU_ALLOC)?;
    let gpu_cost = per_c(ids::GPU_COST)?;

    let node_steps = per_n(ids::NODE_STEPS)?;
    let node_priced = per_n(ids::NODE_PRICED_STEPS)?;
    let [
        node_cpu,
        node_ram,
        node_gpu,
        node_cpu_cost,
        node_ram_cost,
        node_gpu_cost,
    ] = [
        ids::NODE_CPU,
        ids::NODE_RAM,
        ids::NODE_GPU,
        ids::NODE_CPU_COST,
        ids::NODE_RAM_COST,
        ids::NODE_GPU_COST,
    ]
    .map(per_n);
    let (node_cpu, node_ram, node_gpu) = (node_cpu?, node_ram?, node_gpu?);
    let (node_cpu_cost, node_ram_cost, node_gpu_cost) =
        (node_cpu_cost?, node_ram_cost?, node_gpu_cost?);
    let mut provider_ids: HashMap<NodeKey, String> = HashMap::new();
    for s in &results.get(ids::NODE_INFO)?.series {
        if let Some(p) = s.label("provider_id").filter(|p| !p.is_empty()) {
            provider_ids.insert(keys.node(s), p.to_owned());
        }
    }

    let pod_key = |s: &Series| Some(keys.pod(s));
    let ns_key = |s: &Series| {
        Some(PodKey {
            cluster: keys.cluster(s),
            namespace: Keys::label(s, "namespace"),
            pod: String::new(),
        })
    };
    let pod_labels = prefixed(results.get(ids::POD_LABELS)?, "label_", pod_key);
    let pod_annotations = prefixed(results.get(ids::POD_ANNOTATIONS)?, "annotation_", pod_key);
    let ns_labels = prefixed(results.get(ids::NAMESPACE_LABELS)?, "label_", ns_key);
    let ns_annotations = prefixed(
        results.get(ids::NAMESPACE_ANNOTATIONS)?,
        "annotation_",
        ns_key,
    );
    let owners = controllers(
        &keys,
        results.get(ids::POD_OWNERS)?,
        results.get(ids::REPLICASET_OWNERS)?,
    );

    // Node labels on the allow-list, under their sanitized names as
    // kube-state-metrics writes them.
    let allowed: Vec<String> = cfg
        .node_labels
        .iter()
        .map(|l| sanitize_label_name(l))
        .collect();
    let mut node_labels: HashMap<NodeKey, Labels> = HashMap::new();
    for s in &results.get(ids::NODE_LABELS)?.series {
        let entry = node_labels.entry(keys.node(s)).or_default();
        for (name, value) in &s.labels {
            if let Some(l) = name.strip_prefix("label_")
                && allowed.iter().any(|a| a == l)
            {
                entry.insert(l.to_owned(), value.clone());
            }
        }
    }
    // Sub-step edges: when a container started and its pod completed, to
    // the millisecond (kube-state-metrics), keyed without the node.
    let started = per_c(ids::CONTAINER_STARTED)?;
    let completed = per_c(ids::POD_COMPLETED)?;
    let to_time = |t: f64| DateTime::<Utc>::from_timestamp_millis((t * 1000.0).round() as i64);

    // The backend's own warnings (Thanos partial responses, Mimir
    // truncation, Prometheus' PromQL infos) travel with the set.
    let mut ids_sorted: Vec<&String> = results.by_id.keys().collect();
    ids_sorted.sort();
    for id in ids_sorted {
        let r = &results.by_id[id];
        for w in &r.warnings {
            set.warnings
                .push(format!("query {id}: backend warning: {w}"));
        }
        for i in &r.infos {
            set.warnings.push(format!("query {id}: backend info: {i}"));
        }
    }

    // Warnings about the inputs themselves.
    for s in &results.get(ids::MISSING_CLUSTER)?.series {
        set.warnings.push(format!(
            "{} series of {} have no {} label; attributed to cluster {:?}",
            s.last_value().unwrap_or(0.0),
            s.label("__name__").unwrap_or("?"),
            cfg.cluster_label,
            cfg.default_cluster
        ));
    }
    if let Some(n) = results
        .get(ids::DUPLICATES)?
        .series
        .first()
        .and_then(Series::last_value)
        && n > 0.0
    {
        set.warnings.push(format!(
            "{n} containers have duplicate kube_pod_container_status_running series \
             (two kube-state-metrics or an HA pair scraped); counted once"
        ));
    }

    let pricing = cfg.default_pricing;
    let is_priced = |n: &NodeKey| node_priced.get(n).is_some_and(|v| *v > 0.0);
    let mut allocated: BTreeMap<NodeKey, [f64; 6]> = BTreeMap::new();
    let mut default_priced_nodes: BTreeMap<NodeKey, usize> = BTreeMap::new();
    let get = |m: &JoinMap<ContainerKey, f64>, k: &ContainerKey| m.get(k).copied().unwrap_or(0.0);

    let mut c = Containers {
        allocs: BTreeMap::new(),
        run_hours: HashMap::new(),
        uids: HashMap::new(),
        pod_labels: HashMap::new(),
    };
    let lookback = TimeDelta::minutes(5);
    let mut containers: Vec<(&ContainerKey, &f64)> = steps.iter().collect();
    containers.sort_by(|a, b| a.0.cmp(b.0));
    for (k, &n) in containers {
        if n <= 0.0 {
            continue;
        }
        let node = NodeKey {
            cluster: k.cluster.to_owned(),
            node: k.node.to_owned(),
        };
        let name = format!(
            "{}/{}/{}/{}/{}",
            k.cluster, k.node, k.namespace, k.pod, k.container
        );
        let mut a = Allocation::new(name, window);
        let ts = |m: &JoinMap<ContainerKey, f64>| {
            m.get(k)
                .and_then(|t| DateTime::<Utc>::from_timestamp_millis((t * 1000.0).round() as i64))
        };
        a.start = ts(&first).unwrap_or(window.start()).max(window.start());
        a.end = ts(&last)
            .map_or(window.end(), |t| t + step)
            .min(window.end());
        // The steps say a container ran over [first step, last step + r);
        // kube-state-metrics' start and completion times move those edges
        // to the exact instants when they are plausibly the same edges: a
        // start within two steps before the first running step, a
        // completion between the lookback before the last step's end and
        // a step after it. Elsewhere (started before the window, a
        // container that stopped before its pod) the steps stand.
        let nodeless = ContainerKey { node: "", ..*k };
        let pod_uid = ContainerKey {
            container: "",
            ..nodeless
        };
        let mut edge_hours = 0.0;
        if let Some(s) = started.get(&nodeless).copied().and_then(to_time)
            && s >= window.start()
            && s >= a.start - step * 2
            && s < a.start + step
        {
            edge_hours += (a.start - s).as_seconds_f64() / 3600.0;
            a.start = s;
        }
        if let Some(e) = completed.get(&pod_uid).copied().and_then(to_time)
            && e <= window.end()
            && e > a.start
            && e >= a.end - lookback - step
            && e <= a.end + step
        {
            edge_hours += (e - a.end).as_seconds_f64() / 3600.0;
            a.end = e;
        }
        let counted_hours = n * r_hours;
        // Edges are priced at the container's average rate over its steps.
        let scale = ((counted_hours + edge_hours) / counted_hours).max(0.0);
        let pod = PodKey {
            cluster: k.cluster.to_owned(),
            namespace: k.namespace.to_owned(),
            pod: k.pod.to_owned(),
        };
        let ns = PodKey {
            pod: String::new(),
            ..pod.clone()
        };
        let (controller_kind, controller) = owners.get(&pod).cloned().unwrap_or_default();
        let own_labels = pod_labels.get(&pod).cloned().unwrap_or_default();
        let mut labels = node_labels.get(&node).cloned().unwrap_or_default();
        labels.extend(own_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        a.properties = AllocationProperties {
            cluster: k.cluster.to_owned(),
            node: k.node.to_owned(),
            namespace: k.namespace.to_owned(),
            pod: k.pod.to_owned(),
            container: k.container.to_owned(),
            controller,
            controller_kind,
            provider_id: provider_ids.get(&node).cloned().unwrap_or_default(),
            labels,
            annotations: pod_annotations.get(&pod).cloned().unwrap_or_default(),
            namespace_labels: ns_labels.get(&ns).cloned().unwrap_or_default(),
            namespace_annotations: ns_annotations.get(&ns).cloned().unwrap_or_default(),
            ..AllocationProperties::default()
        };
        a.cpu_core_hours = get(&cpu_alloc, k) * r_hours * scale;
        a.cpu_core_request_average = get(&cpu_req, k) / n;
        a.cpu_core_usage_average = get(&cpu_use, k) / n;
        a.ram_byte_hours = get(&ram_alloc, k) * r_hours * scale;
        a.ram_bytes_request_average = get(&ram_req, k) / n;
        a.ram_bytes_usage_average = get(&ram_use, k) / n;
        a.gpu_hours = get(&gpu_alloc, k) * r_hours * scale;
        a.gpu_request_average = get(&gpu_alloc, k) / n;
        if cpu_max.contains_key(k) || ram_max.contains_key(k) {
            a.raw_allocation_only = Some(crate::allocation::RawAllocationOnly {
                cpu_core_usage_max: get(&cpu_max, k),
                ram_bytes_usage_max: get(&ram_max, k),
            });
        }
        if is_priced(&node) {
            a.cpu_cost = get(&cpu_cost, k) * r_hours * scale;
            a.ram_cost = get(&ram_cost, k) * r_hours * scale;
            a.gpu_cost = get(&gpu_cost, k) * r_hours * scale;
        } else {
            a.cpu_cost = a.cpu_core_hours * pricing.cpu;
            a.ram_cost = a.ram_byte_hours / GIB * pricing.ram_gib;
            a.gpu_cost = a.gpu_hours * pricing.gpu;
            a.default_priced = true;
            *default_priced_nodes.entry(node.clone()).or_default() += 1;
        }
        let acc = allocated.entry(node).or_default();
        for (slot, v) in acc.iter_mut().zip([
            a.cpu_cost,
            a.ram_cost,
            a.gpu_cost,
            a.cpu_core_hours,
            a.ram_byte_hours,
            a.gpu_hours,
        ]) {
            *slot += v;
        }
        c.run_hours
            .insert(a.name.clone(), counted_hours + edge_hours);
        c.uids.insert(a.name.clone(), k.uid.to_owned());
        c.pod_labels
            .insert((pod.cluster, pod.namespace, pod.pod), own_labels);
        c.allocs.insert(a.name.clone(), a);
    }
    let unmounted =
        attribution::attribute(window, results, &keys, r_hours, &mut c, &mut set.warnings)?;
    for a in c.allocs.into_values().chain(unmounted) {
        set.insert(a);
    }
    for (node, count) in &default_priced_nodes {
        set.warnings.push(format!(
            "node {}/{} has no price series: {count} allocation(s) priced with default prices \
             (CPU ${}/core-h, RAM ${}/GiB-h, GPU ${}/GPU-h)",
            node.cluster, node.node, pricing.cpu, pricing.ram_gib, pricing.gpu
        ));
    }

    // Idle per node: node cost minus what was allocated on it.
    let mut nodes: Vec<(&NodeKey, &f64)> = node_steps.iter().collect();
    nodes.sort_by(|a, b| a.0.cmp(b.0));
    for (node, &n) in nodes {
        if n <= 0.0 {
            continue;
        }
        let g = |m: &JoinMap<NodeKey, f64>| m.get(node).copied().unwrap_or(0.0);
        let hours = [
            g(&node_cpu) * r_hours,
            g(&node_ram) * r_hours,
            g(&node_gpu) * r_hours,
        ];
        let cost = if is_priced(node) {
            let partial = g(&node_priced) < n;
            if partial {
                set.warnings.push(format!(
                    "node {}/{} has prices for {} of its {} steps; unpriced steps cost nothing",
                    node.cluster,
                    node.node,
                    g(&node_priced),
                    n
                ));
            }
            [
                g(&node_cpu_cost) * r_hours,
                g(&node_ram_cost) * r_hours,
                g(&node_gpu_cost) * r_hours,
            ]
        } else {
            [
                hours[0] * pricing.cpu,
                hours[1] / GIB * pricing.ram_gib,
                hours[2] * pricing.gpu,
            ]
        };
        let used = allocated.remove(node).unwrap_or_default();
        let mut idle = Allocation::new(format!("{}/{}/{IDLE}", node.cluster, node.node), window);
        idle.properties.cluster = node.cluster.clone();
        idle.properties.node = node.node.clone();
        idle.properties.provider_id = provider_ids.get(node).cloned().unwrap_or_default();
        idle.cpu_cost = cost[0] - used[0];
        idle.ram_cost = cost[1] - used[1];
        idle.gpu_cost = cost[2] - used[2];
        idle.cpu_core_hours = hours[0] - used[3];
        idle.ram_byte_hours = hours[1] - used[4];
        idle.gpu_hours = hours[2] - used[5];
        idle.default_priced = !is_priced(node);
        // A few cents of float noise is not over-allocation.
        let tolerance = 1e-9 * (cost[0] + cost[1] + cost[2]).abs().max(1.0);
        for (what, v) in [
            ("CPU", idle.cpu_cost),
            ("RAM", idle.ram_cost),
            ("GPU", idle.gpu_cost),
        ] {
            if v < -tolerance {
                set.warnings.push(format!(
                    "node {}/{} is over-allocated: {what} idle is {v:.6} (more requested or used \
                     than its capacity)",
                    node.cluster, node.node
                ));
            }
        }
        set.insert(idle);
    }
    for node in allocated.keys() {
        set.warnings.push(format!(
            "allocations on node {}/{} whose capacity is unknown: no idle computed for it",
            node.cluster, node.node
        ));
    }
    Ok(set)
}

/// The windows a long window is queried in: at most `max` each, split at
/// UTC midnights when `max` is a day so that daily sets line up with days.
pub fn query_windows(window: Window, max: TimeDelta) -> Vec<Window> {
    if max == TimeDelta::days(1) {
        window.split_at(Period::Day)
    } else {
        window.split(max)
    }
}

/// Fetch `queries` with at most `concurrency` in flight and decode them.
pub async fn fetch<S: MetricsSource>(
    src: &S,
    queries: &[QuerySpec],
    concurrency: usize,
) -> Result<(Results, FetchStats)> {
    let decoded: Vec<(String, QueryResult, usize)> = stream::iter(queries)
        .map(|q| async move {
            let raw = src.query(q).await.map_err(|e| Error::Source {
                query: q.id.clone(),
                message: e.message,
                kind: e.kind,
            })?;
            let result = promjson::decode(&q.id, &raw.body)?;
            Ok::<_, Error>((q.id.clone(), result, raw.body.len()))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut results = Results::default();
    let mut stats = FetchStats::default();
    for (id, r, bytes) in decoded {
        stats.add(FetchStats {
            queries: 1,
            bytes,
            series: r.series.len(),
            samples: r.series.iter().map(|s| s.samples.len()).sum(),
        });
        results.insert(id, r);
    }
    Ok((results, stats))
}

/// Learn the backend's subquery range semantics with one tiny query.
pub async fn probe_range_semantics<S: MetricsSource>(
    src: &S,
    window: Window,
) -> Result<RangeSemantics> {
    let q = plan::range_probe(window);
    let (results, _) = fetch(src, std::slice::from_ref(&q), 1).await?;
    let r = results.get(&q.id)?;
    let v = r
        .series
        .first()
        .and_then(Series::last_value)
        .unwrap_or(f64::NAN);
    plan::range_semantics_from_probe(v).ok_or_else(|| Error::Backend {
        query: q.id.clone(),
        error_type: "unexpected".into(),
        message: format!("{} returned {v}, expected 2 or 3", q.promql),
    })
}

/// Everything [`allocations`] produced besides the sets.
#[derive(Clone, Debug)]
pub struct Computation {
    /// One set per query window.
    pub range: AllocationSetRange,
    /// What the fetch cost, summed over windows.
    pub stats: FetchStats,
    /// The backend's subquery semantics as probed.
    pub semantics: RangeSemantics,
}

/// Compute allocations for `window` from `src`: probe the backend, split
/// the window into query windows, fetch each plan and join it.
///
/// When the backend refuses a query as too large (too many samples, a
/// response over its size limit, a chunk limit), that query window is
/// halved and each half computed on its own, down to
/// [`EngineConfig::min_query_window`]; the halves are merged into one set
/// for the window, with a warning saying so.
pub async fn allocations<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
) -> Result<Computation> {
    let semantics = probe_range_semantics(src, window).await?;
    let mut sets = Vec::new();
    let mut stats = FetchStats::default();
    let max = cfg
        .max_query_window
        .min(cfg.resolution * i32::try_from(cfg.max_steps_per_query.max(1)).unwrap_or(i32::MAX));
    for w in query_windows(window, max) {
        sets.push(window_set(src, w, cfg, semantics, &mut stats).await?);
    }
    Ok(Computation {
        range: AllocationSetRange::new(sets),
        stats,
        semantics,
    })
}

/// One query window's set, halving the window while the backend says the
/// queries are too large.
async fn window_set<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
    semantics: RangeSemantics,
    stats: &mut FetchStats,
) -> Result<AllocationSet> {
    // Depth-first, earliest part first, so the parts merge in time order.
    let mut pending = vec![window];
    let mut merged: Option<AllocationSet> = None;
    let mut splits = Vec::new();
    while let Some(w) = pending.pop() {
        let queries = plan::plan(w, cfg, semantics)?;
        match fetch(src, &queries, cfg.concurrency).await {
            Ok((results, s)) => {
                stats.add(s);
                let set = compute(w, &results, cfg)?;
                match merged.as_mut() {
                    Some(m) => m.accumulate(&set),
                    None => merged = Some(set),
                }
            }
            Err(e) if e.is_too_large() => {
                let Some((a, b)) = halve(w, cfg) else {
                    return Err(e);
                };
                splits.push(format!("{w} ({e})"));
                pending.push(b);
                pending.push(a);
            }
            Err(e) => return Err(e),
        }
    }
    let mut set = merged.unwrap_or_else(|| AllocationSet::new(window));
    for s in splits {
        set.warnings.push(format!(
            "the backend refused a query over {s}; computed the window in halves"
        ));
    }
    Ok(set)
}

/// Two halves of `w` on the resolution grid, unless a half would be
/// shorter than the configured minimum.
fn halve(w: Window, cfg: &EngineConfig) -> Option<(Window, Window)> {
    let r = cfg.resolution.num_milliseconds().max(1);
    let steps = w.duration().num_milliseconds() / r;
    let half = TimeDelta::milliseconds(steps / 2 * r);
    if half < cfg.min_query_window.max(cfg.resolution) {
        return None;
    }
    let mid = w.start() + half;
    Some((
        Window::new(w.start(), mid).ok()?,
        Window::new(mid, w.end()).ok()?,
    ))
}
