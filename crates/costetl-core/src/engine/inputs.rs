//! The first round's numbers joined per container and per node, and the
//! follow-up terms they call for.
//!
//! A container is (cluster, namespace, pod, uid, container); its node is
//! its pod uid's node (`kube_pod_info`; a pod never changes node). cAdvisor
//! series carry the node but no uid, so their numbers join on (cluster,
//! namespace, pod, container, node); a pod name re-created on the same node
//! within the window shares one cAdvisor series, split by running steps.

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use rayon::prelude::*;
use smallvec::SmallVec;

use crate::error::Result;
use crate::plan::{Followups, QueryId, Resource, Term, TermPods};
use crate::promjson::Series;
use crate::window::Window;

use super::index::ContainerIndex;
use super::keys::{
    CadvisorKey, ContainerKey, JoinMap, Keys, NodeKey, NodeName, join_map, maxima, resolve, value,
};
use super::names;
use super::results::Results;

/// The containers a series belongs to, each with its share: one, or a
/// few incarnations, held inline (a vector each was an allocation per
/// follow-up series).
pub(crate) type Owners = SmallVec<[(usize, f64); 2]>;

/// CPU, RAM, GPU.
pub(crate) const RESOURCES: [Resource; 3] = [Resource::Cpu, Resource::Ram, Resource::Gpu];

pub(crate) fn slot(r: Resource) -> usize {
    match r {
        Resource::Cpu => 0,
        Resource::Ram => 1,
        Resource::Gpu => 2,
    }
}

fn resource_of(s: &Series) -> Option<Resource> {
    match s.label("resource")? {
        "cpu" => Some(Resource::Cpu),
        "memory" => Some(Resource::Ram),
        "nvidia_com_gpu" => Some(Resource::Gpu),
        _ => None,
    }
}

/// One container's first-round numbers (sums are over steps).
#[derive(Clone, Debug, Default)]
pub(crate) struct Container<'s> {
    pub(crate) key: ContainerKey<'s>,
    pub(crate) node: &'s str,
    pub(crate) steps: f64,
    pub(crate) first: Option<f64>,
    pub(crate) last: Option<f64>,
    /// Request per resource (0 without one).
    pub(crate) request: [f64; 3],
    /// Σ usage over running steps and the largest step (CPU, RAM).
    pub(crate) usage: [f64; 2],
    pub(crate) usage_max: [Option<f64>; 2],
    /// Its node's prices when the node is priced (`None`: default prices).
    pub(crate) prices: Option<[Price; 3]>,
}

impl<'s> Container<'s> {
    /// The container as cAdvisor names it.
    pub(crate) fn cadvisor_key(&self) -> CadvisorKey<'s> {
        CadvisorKey {
            cluster: self.key.cluster,
            namespace: self.key.namespace,
            pod: self.key.pod,
            container: self.key.container,
            node: self.node,
        }
    }

    /// The node's price for `r`, when the node is priced.
    pub(crate) fn price(&self, r: Resource) -> Option<Price> {
        self.prices.map(|p| p[slot(r)])
    }

    /// Usage crosses the request at some step: Σ max(request, usage)
    /// needs the excess follow-up.
    pub(crate) fn crosses(&self, r: Resource) -> bool {
        let i = slot(r);
        r != Resource::Gpu
            && self.request[i] > 0.0
            && self.usage_max[i].is_some_and(|m| m > self.request[i])
    }
}

/// How a node is priced over the window, per resource.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Price {
    /// The same $/h at every step the node has capacity.
    Constant(f64),
    /// Changes, or missing at some steps: priced per step by follow-ups.
    Varying,
}

/// One node's first-round numbers.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) steps: f64,
    /// Σ capacity over steps (cores, bytes, GPUs).
    pub(crate) capacity: [f64; 3],
    /// Σ $/h over steps, per resource.
    pub(crate) price_sum: [f64; 3],
    /// Per resource: priced at some steps, but the sum is not a number (a
    /// NaN or ±Inf sample). The `node_price_sum` follow-up then gives
    /// `price_sum` without those steps.
    pub(crate) price_broken: [bool; 3],
    /// Steps with a usable price, per resource (NaN, ±Inf, negative and
    /// implausible samples are filtered in the query).
    pub(crate) priced_steps: [f64; 3],
    pub(crate) price: [Price; 3],
}

impl Node {
    /// A node with no CPU price series is priced with defaults.
    pub(crate) fn is_priced(&self) -> bool {
        self.priced_steps[0] > 0.0
    }
}

/// The first round, joined.
pub(crate) struct Inputs<'s> {
    /// The running containers, in the order of their allocations' names.
    pub(crate) containers: Vec<Container<'s>>,
    pub(crate) nodes: BTreeMap<NodeKey, Node>,
    /// The containers' positions by key and by cAdvisor key.
    index: ContainerIndex,
    /// Per-container queries whose series all failed to join (id, series).
    pub(crate) unjoined: Vec<(QueryId, usize)>,
    /// Steps in the window.
    all_steps: f64,
}

impl<'s> Inputs<'s> {
    /// The first round of `window` at resolution `step`. Containers that
    /// ran at every step get their edges here; the others from
    /// [`Inputs::read_edges`].
    pub(crate) fn read(
        results: &'s Results,
        keys: &Keys<'s>,
        window: Window,
        step: TimeDelta,
    ) -> Result<Self> {
        let steps = maxima(results.get(QueryId::RunSteps)?, |s| keys.container(s));
        let pod_nodes = PodNodes::read(results, keys)?;
        let all_steps = (window.duration().num_milliseconds() / step.num_milliseconds()) as f64;
        let secs = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis() as f64 / 1000.0;
        let whole = (secs(window.start()), secs(window.end() - step));

        let mut running: Vec<(ContainerKey<'s>, &'s str, f64)> = (steps.into_iter())
            .filter(|(_, n)| *n > 0.0)
            .map(|(key, n)| (key, pod_nodes.node(&key).unwrap_or_default(), n))
            .collect();
        // In the order of the allocations' names (cluster/node/namespace/
        // pod/container): the set is sorted by name at the end, and a
        // fleet's allocations (35 MiB at 60,000) moved into that order at
        // random were cache misses that grew faster than the day; built in
        // it, they are merged with the few others (idle, unmounted) in one
        // pass. The uid last puts the incarnations cAdvisor does not tell
        // apart next to each other (`ContainerIndex` needs them so). Keys of
        // a map are unique, so an unstable sort is deterministic.
        let parts = |(k, node, _): &(ContainerKey<'s>, &'s str, f64)| names::parts(k, node);
        running.par_sort_unstable_by(|a, b| {
            names::cmp(&parts(a), &parts(b)).then_with(|| a.0.uid.cmp(b.0.uid))
        });
        let mut containers: Vec<Container<'s>> = running
            .into_par_iter()
            .map(|(key, node, n)| Container {
                key,
                node,
                steps: n,
                first: (n >= all_steps).then_some(whole.0),
                last: (n >= all_steps).then_some(whole.1),
                ..Container::default()
            })
            .collect();
        let index = ContainerIndex::new(&containers);
        let mut unjoined: Vec<(QueryId, usize)> = requests(results, keys, &index, &mut containers)?
            .into_iter()
            .collect();
        unjoined.extend(usage(results, keys, &index, step, &mut containers)?);
        let nodes = nodes(results, keys)?;
        set_prices(&nodes, &mut containers);
        Ok(Self {
            unjoined,
            containers,
            nodes,
            index,
            all_steps,
        })
    }

    /// A container that did not run at every step: its edges come from
    /// follow-ups.
    fn is_partial(&self, c: &Container<'_>) -> bool {
        c.steps < self.all_steps
    }

    /// First and last running steps of the partial containers, from the
    /// follow-ups (when `f` asked for them).
    pub(crate) fn read_edges(
        &mut self,
        results: &'s Results,
        keys: &Keys<'s>,
        f: &Followups,
    ) -> Result<()> {
        if !f.terms.contains_key(&QueryId::RunFirst) {
            return Ok(());
        }
        let first = maxima(results.get(QueryId::RunFirst)?, |s| keys.container(s));
        let last = maxima(results.get(QueryId::RunLast)?, |s| keys.container(s));
        // 0 (never running) and anything not a time are no edge.
        let time = |t: f64| (t.is_finite() && t > 0.0).then_some(t);
        let partial: Vec<usize> = (0..self.containers.len())
            .filter(|&i| self.is_partial(&self.containers[i]))
            .collect();
        for i in partial {
            let c = &mut self.containers[i];
            c.first = first.get(&c.key).map(|v| 1.0 / v).and_then(time);
            c.last = last.get(&c.key).copied().and_then(time);
        }
        Ok(())
    }

    /// The containers a cAdvisor series belongs to, each with its share
    /// (running steps over those of all incarnations on that node).
    pub(crate) fn cadvisor_shares(&self, key: &CadvisorKey<'_>) -> Owners {
        let run = self.index.cadvisor(&self.containers, key);
        let total: f64 = self.containers[run.clone()].iter().map(|c| c.steps).sum();
        run.map(|i| (i, self.containers[i].steps / total.max(f64::MIN_POSITIVE)))
            .collect()
    }

    /// The position of the container called `key`.
    pub(crate) fn position(&self, key: &ContainerKey<'_>) -> Option<usize> {
        self.index.get(&self.containers, key)
    }

    /// The follow-up terms this window needs, and for each (query, term)
    /// the containers it covers, ascending.
    pub(crate) fn followups(
        &self,
        selectors: Selectors,
    ) -> (Followups, BTreeMap<(QueryId, usize), Vec<usize>>) {
        // Keys borrowed from the labels: a fleet's containers enter several
        // groups each, and an owned key per entry was an allocation each.
        let mut groups: BTreeMap<(QueryId, GroupKey<'_>), Vec<usize>> = BTreeMap::new();
        for (i, c) in self.containers.iter().enumerate() {
            for r in RESOURCES {
                let s = slot(r);
                let varying = c.price(r) == Some(Price::Varying);
                let has_request = c.request[s] > 0.0;
                let crosses = c.crosses(r);
                let request = crosses.then(|| c.request[s].to_bits());
                let node = varying.then_some(c.node);
                let mut add = |id: QueryId, request: Option<u64>, node: Option<&'s str>| {
                    groups
                        .entry((id, (c.key.cluster, request, node)))
                        .or_default()
                        .push(i);
                };
                if crosses {
                    add(excess_id(r), request, None);
                }
                if varying {
                    if has_request {
                        add(run_price_id(r), None, node);
                        if crosses {
                            add(excess_price_id(r), request, node);
                        }
                    } else if r != Resource::Gpu {
                        add(usage_price_id(r), None, node);
                    }
                }
            }
        }
        let mut f = Followups::default();
        let mut covers = BTreeMap::new();
        let mut partial: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, c) in self.containers.iter().enumerate() {
            if self.is_partial(c) {
                partial.entry(c.key.cluster).or_default().push(i);
            }
        }
        for (cluster, members) in partial {
            let pods = self.term_pods(cluster, None, &members, selectors);
            for id in [
                QueryId::RunFirst,
                QueryId::RunLast,
                QueryId::ContainerStarted,
            ] {
                f.push(
                    id,
                    Term {
                        pods: pods.clone(),
                        request: None,
                    },
                );
            }
        }
        for ((id, (cluster, request, node)), members) in groups {
            let term = f.push(
                id,
                Term {
                    pods: self.term_pods(cluster, node, &members, selectors),
                    request: request.map(f64::from_bits),
                },
            );
            covers.insert((id, term), members);
        }
        for (node, n) in &self.nodes {
            if n.price_broken.contains(&true) {
                f.push(
                    QueryId::NodePriceSum,
                    Term {
                        pods: TermPods {
                            cluster: node.cluster.clone(),
                            node: Some(node.node.clone()),
                            ..TermPods::default()
                        },
                        request: None,
                    },
                );
            }
        }
        (f, covers)
    }

    /// The selector of a term covering `members` (containers of `cluster`,
    /// on `node` when given). Each name is copied once, not once per
    /// container.
    fn term_pods(
        &self,
        cluster: &str,
        node: Option<&str>,
        members: &[usize],
        selectors: Selectors,
    ) -> TermPods {
        let names = |name: fn(&ContainerKey<'s>) -> &'s str| -> BTreeSet<String> {
            if selectors == Selectors::Skipped {
                return BTreeSet::new();
            }
            let set: BTreeSet<&str> = members
                .iter()
                .map(|&i| name(&self.containers[i].key))
                .collect();
            set.into_iter().map(str::to_owned).collect()
        };
        TermPods {
            cluster: cluster.to_owned(),
            namespaces: names(|k| k.namespace),
            pods: names(|k| k.pod),
            containers: names(|k| k.container),
            node: node.map(str::to_owned),
        }
    }

    /// The price sums, without their NaN and ±Inf steps, of the nodes
    /// whose first-round sum was not a number (when `f` asked for them).
    /// A price with no usable step at all sums to 0.
    pub(crate) fn read_node_prices(
        &mut self,
        results: &Results,
        keys: &Keys<'_>,
        f: &Followups,
    ) -> Result<()> {
        if !f.terms.contains_key(&QueryId::NodePriceSum) {
            return Ok(());
        }
        let sums = maxima(results.get(QueryId::NodePriceSum)?, |s| {
            (keys.node(s), price_slot(s))
        });
        for (k, n) in &mut self.nodes {
            for i in 0..3 {
                if n.price_broken[i] {
                    n.price_sum[i] = sums.get(&(k.clone(), i)).copied().unwrap_or(0.0);
                }
            }
        }
        Ok(())
    }
}

/// Whether [`Inputs::followups`] builds each term's selector (its
/// namespaces, pods and containers), which the follow-up queries need, or
/// skips it, when the answers are in and only the terms' order and members
/// matter: a fleet's selectors are tens of thousands of names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selectors {
    Built,
    Skipped,
}

/// The resource slot of a price series (its `price` label).
fn price_slot(s: &Series) -> usize {
    match s.label("price") {
        Some("cpu") => 0,
        Some("ram") => 1,
        _ => 2,
    }
}

/// (cluster, request bits, node) of a follow-up group.
type GroupKey<'s> = (&'s str, Option<u64>, Option<&'s str>);

pub(crate) fn excess_id(r: Resource) -> QueryId {
    match r {
        Resource::Cpu => QueryId::CpuExcess,
        _ => QueryId::RamExcess,
    }
}

pub(crate) fn excess_price_id(r: Resource) -> QueryId {
    match r {
        Resource::Cpu => QueryId::CpuExcessPrice,
        _ => QueryId::RamExcessPrice,
    }
}

pub(crate) fn usage_price_id(r: Resource) -> QueryId {
    match r {
        Resource::Cpu => QueryId::CpuUsagePrice,
        _ => QueryId::RamUsagePrice,
    }
}

pub(crate) fn run_price_id(r: Resource) -> QueryId {
    match r {
        Resource::Cpu => QueryId::CpuRunPrice,
        Resource::Ram => QueryId::RamRunPrice,
        Resource::Gpu => QueryId::GpuRunPrice,
    }
}

/// Each container's node prices, looked up once (the containers' nodes
/// are borrowed names, the nodes' keys owned).
fn set_prices(nodes: &BTreeMap<NodeKey, Node>, containers: &mut [Container<'_>]) {
    let priced: JoinMap<NodeName<'_>, [Price; 3]> = nodes
        .iter()
        .filter(|(_, n)| n.is_priced())
        .map(|(k, n)| ((k.cluster.as_str(), k.node.as_str()), n.price))
        .collect();
    for c in containers {
        c.prices = priced.get(&(c.key.cluster, c.node)).copied();
    }
}

/// The node of each pod uid. A container whose pod has no `kube_pod_info`
/// with its uid (kube-state-metrics v1 put the uid on fewer series) takes
/// the node of the only pod of that name.
struct PodNodes<'s> {
    /// By pod uid (a container key without container).
    by_uid: JoinMap<ContainerKey<'s>, &'s str>,
    /// By pod name (without uid and container): the node, `None` when the
    /// name ran on several.
    by_name: JoinMap<ContainerKey<'s>, Option<&'s str>>,
}

impl<'s> PodNodes<'s> {
    fn read(results: &'s Results, keys: &Keys<'s>) -> Result<Self> {
        let series = &results.get(QueryId::PodNode)?.series;
        let mut out = Self {
            by_uid: join_map(series.len()),
            by_name: join_map(series.len()),
        };
        for s in series {
            let k = ContainerKey {
                container: "",
                ..keys.container(s)
            };
            let node = s.label("node").unwrap_or_default();
            out.by_uid.insert(k, node);
            out.by_name
                .entry(ContainerKey { uid: "", ..k })
                .and_modify(|n| *n = n.filter(|n| *n == node))
                .or_insert(Some(node));
        }
        Ok(out)
    }

    fn node(&self, c: &ContainerKey<'s>) -> Option<&'s str> {
        let pod = ContainerKey {
            container: "",
            ..*c
        };
        (self.by_uid.get(&pod).copied()).or_else(|| {
            self.by_name
                .get(&ContainerKey { uid: "", ..pod })
                .copied()?
        })
    }
}

fn requests<'s>(
    results: &'s Results,
    keys: &Keys<'s>,
    index: &ContainerIndex,
    containers: &mut [Container<'s>],
) -> Result<Option<(QueryId, usize)>> {
    // The largest request in the window: an in-place resize is charged at
    // its larger value (docs/engine.md, known gaps).
    let r = results.get(QueryId::RequestMax)?;
    let running: &[Container<'s>] = containers;
    let found = resolve(r, |s, v| {
        // A negative request is an exporter's fault (`sanity` reports it).
        let res = resource_of(s).filter(|_| v >= 0.0)?;
        Some((index.get(running, &keys.container(s))?, res, v))
    });
    let joined = found.len();
    for (i, res, v) in found {
        containers[i].request[slot(res)] = v;
    }
    Ok(unjoined(
        QueryId::RequestMax,
        r.series.len(),
        joined,
        containers,
    ))
}

/// `(id, series)` when `id` answered series and none joined one of the
/// (some) running containers: labels that do not match kube-state-metrics'
/// (another cluster label, relabelled names), or an answer of another
/// shape; the join would otherwise drop them without a word.
fn unjoined(
    id: QueryId,
    series: usize,
    joined: usize,
    containers: &[Container<'_>],
) -> Option<(QueryId, usize)> {
    (series > 0 && joined == 0 && !containers.is_empty()).then_some((id, series))
}

/// CPU and RAM usage per container, read straight off each cAdvisor
/// series into the containers it belongs to (a key's series add up, and
/// their peaks give its peak).
fn usage<'s>(
    results: &'s Results,
    keys: &Keys<'s>,
    index: &ContainerIndex,
    step: TimeDelta,
    containers: &mut [Container<'s>],
) -> Result<Vec<(QueryId, usize)>> {
    let r_secs = step.num_milliseconds() as f64 / 1000.0;
    let mut lost = Vec::new();
    for (j, sum_id, max_id) in [
        (0, QueryId::CpuUsage, QueryId::CpuMax),
        (1, QueryId::RamUsage, QueryId::RamMax),
    ] {
        for (id, peak) in [(sum_id, false), (max_id, true)] {
            let r = results.get(id)?;
            let running: &[Container<'s>] = containers;
            let found = resolve(r, |s, v| {
                let run = index.cadvisor(running, &keys.cadvisor(s));
                (!run.is_empty()).then_some((v, run))
            });
            let joined = found.len();
            for (v, run) in found {
                let n: f64 = containers[run.clone()].iter().map(|c| c.steps).sum();
                for i in run {
                    let c = &mut containers[i];
                    if peak {
                        c.usage_max[j] = Some(c.usage_max[j].map_or(v, |m| m.max(v)));
                    } else if j == 0 {
                        // CPU is core-seconds (as core-steps), shared by
                        // running steps; RAM an average of the samples,
                        // held over running steps.
                        c.usage[j] += v / r_secs * c.steps / n;
                    } else {
                        c.usage[j] += v * c.steps;
                    }
                }
            }
            lost.extend(unjoined(id, r.series.len(), joined, containers));
        }
    }
    Ok(lost)
}

fn nodes(results: &Results, keys: &Keys<'_>) -> Result<BTreeMap<NodeKey, Node>> {
    let steps = maxima(results.get(QueryId::NodeSteps)?, |s| keys.node(s));
    let capacity = results.get(QueryId::NodeCapacity)?;
    let gpus = maxima(results.get(QueryId::NodeGpus)?, |s| keys.node(s));
    let per_price = |id| -> Result<JoinMap<(NodeKey, usize), f64>> {
        Ok(maxima(results.get(id)?, |s| (keys.node(s), price_slot(s))))
    };
    let (price_sum, price_steps, price_changes) = (
        per_price(QueryId::PriceSum)?,
        per_price(QueryId::PriceSteps)?,
        per_price(QueryId::PriceChanges)?,
    );
    let mut out: BTreeMap<NodeKey, Node> = BTreeMap::new();
    for (k, n) in steps {
        if n <= 0.0 {
            continue;
        }
        let get = |m: &JoinMap<(NodeKey, usize), f64>, i| m.get(&(k.clone(), i)).copied();
        let price = std::array::from_fn(|i| {
            let (sum, count) = (get(&price_sum, i), get(&price_steps, i).unwrap_or(0.0));
            let changes = get(&price_changes, i).unwrap_or(0.0);
            match sum {
                // No price for a resource at all (a node without GPUs).
                None if count == 0.0 => Price::Constant(0.0),
                Some(s) if changes == 0.0 && count >= n => Price::Constant(s / count),
                _ => Price::Varying,
            }
        });
        out.insert(
            k.clone(),
            Node {
                steps: n,
                capacity: [0.0; 3],
                price_sum: std::array::from_fn(|i| get(&price_sum, i).unwrap_or(0.0)),
                price_broken: std::array::from_fn(|i| {
                    get(&price_sum, i).is_none() && get(&price_steps, i).is_some_and(|c| c > 0.0)
                }),
                priced_steps: std::array::from_fn(|i| get(&price_steps, i).unwrap_or(0.0)),
                price,
            },
        );
    }
    for s in &capacity.series {
        let (Some(r), Some(v)) = (resource_of(s), value(s)) else {
            continue;
        };
        if let Some(n) = out.get_mut(&keys.node(s)) {
            n.capacity[slot(r)] = n.capacity[slot(r)].max(v);
        }
    }
    // `node_gpu_count` (the cost exporter's) wins over the capacity.
    for (k, g) in gpus {
        if let Some(n) = out.get_mut(&k) {
            n.capacity[2] = g;
        }
    }
    Ok(out)
}
