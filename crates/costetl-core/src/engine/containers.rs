//! One allocation per container: running time and edges, max(request,
//! usage) per step, priced at the node's price per step.
//!
//! Σ_t max(q, u_t) over running steps = q·N + Σ_t max(0, u_t − q) for a
//! constant request q: the excess is zero unless usage crosses the request
//! (then a follow-up measures it), and a container without a request is
//! charged its usage. At a constant price the cost is that times the price;
//! at a varying one, follow-ups give Σ running × price (× q) and Σ excess ×
//! price directly.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use rayon::prelude::*;

use crate::allocation::{Allocation, RawAllocationOnly};
use crate::error::Result;
use crate::plan::{EngineConfig, Followups, QueryId, Resource, TERM_LABEL};
use crate::promjson::Series;
use crate::properties::{AllocationProperties, Labels};
use crate::window::Window;

use super::inputs::{
    Container, Inputs, Owners, Price, RESOURCES, excess_id, excess_price_id, run_price_id, slot,
    usage_price_id,
};
use super::keys::{
    ContainerKey, GIB, JoinMap, Keys, NodeKey, NodeName, PodName, maxima, step_hours, value,
};
use super::metadata::Metadata;
use super::names;
use super::results::Results;
use super::strings::Strings;

/// Follow-up sums by query, one per container (indexed like
/// `Inputs::containers`).
pub(crate) struct FollowupSums {
    by_id: BTreeMap<QueryId, Vec<f64>>,
}

impl FollowupSums {
    /// Read the per-container follow-ups (`covers`: the containers of
    /// each term) from `results`.
    pub(crate) fn read(
        inputs: &Inputs<'_>,
        covers: &BTreeMap<(QueryId, usize), Vec<usize>>,
        results: &Results,
        keys: &Keys<'_>,
    ) -> Result<Self> {
        let mut by_id: BTreeMap<QueryId, Vec<f64>> = BTreeMap::new();
        let ids: BTreeSet<QueryId> = covers.keys().map(|(id, _)| *id).collect();
        for id in ids {
            let sums = by_id
                .entry(id)
                .or_insert_with(|| vec![0.0; inputs.containers.len()]);
            for s in &results.get(id)?.series {
                let (Some(term), Some(v)) = (term_of(s), value(s)) else {
                    continue;
                };
                let Some(members) = covers.get(&(id, term)) else {
                    continue;
                };
                // Members ascend (`Inputs::followups`); a term of a fleet
                // covers thousands, so no linear scan per series.
                for (i, share) in owners(inputs, keys, s) {
                    if members.binary_search(&i).is_ok() {
                        sums[i] += v * share;
                    }
                }
            }
        }
        Ok(Self { by_id })
    }

    fn get(&self, id: QueryId, i: usize) -> f64 {
        self.by_id.get(&id).map_or(0.0, |v| v[i])
    }
}

fn term_of(s: &Series) -> Option<usize> {
    s.label(TERM_LABEL)?.parse().ok()
}

/// The containers a result series belongs to: by uid for kube-state-metrics
/// series, by node for cAdvisor's.
fn owners(inputs: &Inputs<'_>, keys: &Keys<'_>, s: &Series) -> Owners {
    if s.label("uid").is_some() {
        (inputs.position(&keys.container(s)).into_iter())
            .map(|i| (i, 1.0))
            .collect()
    } else {
        inputs.cadvisor_shares(&keys.cadvisor(s))
    }
}

/// What building the container allocations produced besides them.
pub(crate) struct Built {
    /// Per node: Σ allocated [CPU $, RAM $, GPU $, core-h, byte-h, GPU-h].
    pub(crate) allocated: BTreeMap<NodeKey, [f64; 6]>,
    /// Nodes priced with defaults and their allocation counts.
    pub(crate) default_priced: BTreeMap<NodeKey, usize>,
}

/// One allocation per container of [`Inputs::containers`], at the same
/// index (two incarnations of a pod name on one node are two entries until
/// the set merges them by name), and what the attribution of pod-level
/// costs needs besides.
pub(crate) struct Containers<'s> {
    pub(crate) allocs: Vec<Allocation>,
    /// Run hours of each (restart gaps excluded) for proportional splits.
    pub(crate) run_hours: Vec<f64>,
    /// Pod labels as kube-state-metrics reported them (before node labels
    /// were merged in), by pod.
    pub(crate) pod_labels: JoinMap<PodName<'s>, Labels>,
}

/// The sub-step edges kube-state-metrics gives, to the millisecond.
pub(crate) struct Edges<'r> {
    started: JoinMap<ContainerKey<'r>, f64>,
    completed: JoinMap<ContainerKey<'r>, f64>,
}

impl<'r> Edges<'r> {
    /// Start times come with the partial containers' follow-ups (`f`);
    /// completion times with the first round.
    pub(crate) fn read(results: &'r Results, keys: &Keys<'r>, f: &Followups) -> Result<Self> {
        let started = if f.terms.contains_key(&QueryId::ContainerStarted) {
            maxima(results.get(QueryId::ContainerStarted)?, |s| {
                keys.container(s)
            })
        } else {
            Default::default()
        };
        Ok(Self {
            started,
            completed: maxima(results.get(QueryId::PodCompleted)?, |s| keys.container(s)),
        })
    }
}

fn to_time(t: f64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis((t * 1000.0).round() as i64)
}

/// Containers per parallel task of [`build`] at least: each task starts
/// its own table of strings.
const MIN_TASK: usize = 1024;

/// What [`build`] needs besides the containers.
struct BuildCtx<'a, 's> {
    window: Window,
    cfg: &'a EngineConfig,
    inputs: &'a Inputs<'s>,
    extra: &'a FollowupSums,
    edges: &'a Edges<'a>,
    meta: &'a Metadata<'a>,
}

/// What building one container's allocation produced besides it, summed
/// by [`build`] in container order.
struct Tally<'s> {
    node: NodeName<'s>,
    /// [CPU $, RAM $, GPU $, core-h, byte-h, GPU-h].
    allocated: [f64; 6],
    default_priced: bool,
    run_hours: f64,
    /// The pod's labels, with its first container.
    pod_labels: Option<(PodName<'s>, Labels)>,
}

/// A parallel task's state: the properties of the pod at hand (a pod's
/// containers are adjacent and share them, label maps included) and the
/// strings they are made of.
#[derive(Default)]
struct Template<'s> {
    pod: Option<((PodName<'s>, &'s str), AllocationProperties)>,
    strings: Strings<'s>,
}

/// Build one allocation per running container, in parallel, straight into
/// the vector the set is sorted in: a fleet's allocations are 35 MiB, and
/// building them in per-task vectors to concatenate after moved them twice
/// past the last-level cache.
pub(crate) fn build<'s>(
    window: Window,
    cfg: &EngineConfig,
    inputs: &Inputs<'s>,
    extra: &FollowupSums,
    edges: &Edges<'_>,
    meta: &Metadata<'_>,
) -> (Containers<'s>, Built) {
    let cx = BuildCtx {
        window,
        cfg,
        inputs,
        extra,
        edges,
        meta,
    };
    let n = inputs.containers.len();
    // Room for what the compute appends before sorting in place: an idle
    // and an unmounted allocation per node at most (per cluster when idle
    // is by cluster). Growing a fleet's 35 MiB vector then would copy it
    // into freshly faulted pages.
    let mut allocs = Vec::with_capacity(n + 2 * inputs.nodes.len());
    let mut tallies = Vec::with_capacity(n);
    (0..n)
        .into_par_iter()
        .with_min_len(MIN_TASK)
        .map_init(Template::default, |t, i| build_one(&cx, t, i))
        .unzip_into_vecs(&mut allocs, &mut tallies);
    let (run_hours, pod_labels, built) = sum_tallies(tallies);
    let out = Containers {
        allocs,
        run_hours,
        pod_labels,
    };
    (out, built)
}

/// The tallies' run hours and pod labels, and their sums per node, each
/// node's added in container order (its containers are adjacent).
fn sum_tallies<'s>(tallies: Vec<Tally<'s>>) -> (Vec<f64>, JoinMap<PodName<'s>, Labels>, Built) {
    let mut run_hours = Vec::with_capacity(tallies.len());
    let mut pod_labels = JoinMap::default();
    let mut allocated: BTreeMap<NodeKey, [f64; 6]> = BTreeMap::new();
    let mut default_priced: BTreeMap<NodeKey, usize> = BTreeMap::new();
    let owned = |(cluster, node): NodeName<'_>| NodeKey {
        cluster: cluster.to_owned(),
        node: node.to_owned(),
    };
    let mut node: Option<(NodeName<'s>, [f64; 6], usize)> = None;
    let mut flush = |(name, sums, priced): (NodeName<'s>, [f64; 6], usize)| {
        let acc = allocated.entry(owned(name)).or_default();
        acc.iter_mut().zip(sums).for_each(|(a, v)| *a += v);
        if priced > 0 {
            *default_priced.entry(owned(name)).or_default() += priced;
        }
    };
    for t in tallies {
        run_hours.push(t.run_hours);
        pod_labels.extend(t.pod_labels);
        let at = match &mut node {
            Some(at) if at.0 == t.node => at,
            _ => {
                if let Some(done) = node.take() {
                    flush(done);
                }
                node.insert((t.node, [0.0; 6], 0))
            }
        };
        at.1.iter_mut().zip(t.allocated).for_each(|(a, v)| *a += v);
        at.2 += usize::from(t.default_priced);
    }
    if let Some(done) = node {
        flush(done);
    }
    let built = Built {
        allocated,
        default_priced,
    };
    (run_hours, pod_labels, built)
}

/// The allocation of container `i`, with its tally.
fn build_one<'a, 's: 'a>(
    cx: &BuildCtx<'a, 's>,
    t: &mut Template<'a>,
    i: usize,
) -> (Allocation, Tally<'s>) {
    let r_hours = step_hours(cx.cfg);
    let c = &cx.inputs.containers[i];
    let k = &c.key;
    let name = names::name(names::parts(k, c.node));
    let mut a = Allocation::new(name, cx.window);
    let (edge_hours, start, end) = place(cx.window, cx.cfg.resolution, c, cx.edges);
    a.start = start;
    a.end = end;
    let counted_hours = c.steps * r_hours;
    // Edges are priced at the container's average rate over its steps.
    let scale = ((counted_hours + edge_hours) / counted_hours).max(0.0) * r_hours;
    let pod = k.pod_name();
    let first_of_pod = i == 0 || cx.inputs.containers[i - 1].key.pod_name() != pod;
    let of_pod = match &t.pod {
        Some((at, props)) if *at == (pod, c.node) => props,
        _ => {
            let props = cx.meta.properties(&pod, c.node, &mut t.strings);
            &t.pod.insert(((pod, c.node), props)).1
        }
    };
    a.properties = AllocationProperties {
        container: t.strings.get(k.container),
        ..of_pod.clone()
    };
    let default_priced = price(cx.extra, i, c, scale, &mut a, cx.cfg);
    let tally = Tally {
        node: (k.cluster, c.node),
        allocated: [
            a.cpu_cost,
            a.ram_cost,
            a.gpu_cost,
            a.cpu_core_hours,
            a.ram_byte_hours,
            a.gpu_hours,
        ],
        default_priced,
        run_hours: counted_hours + edge_hours,
        pod_labels: first_of_pod.then(|| (pod, cx.meta.pod_labels(&pod))),
    };
    (a, tally)
}

/// The amounts, averages and costs of container `i` (`scale`: hours per
/// step, edges included); whether it was priced with defaults.
fn price(
    extra: &FollowupSums,
    i: usize,
    c: &Container<'_>,
    scale: f64,
    a: &mut Allocation,
    cfg: &EngineConfig,
) -> bool {
    let n = c.steps;
    let [cpu, ram, gpu] = RESOURCES.map(|r| amounts(extra, i, c, r));
    a.cpu_core_hours = cpu.0 * scale;
    a.ram_byte_hours = ram.0 * scale;
    a.gpu_hours = gpu.0 * scale;
    a.cpu_core_request_average = c.request[0];
    a.ram_bytes_request_average = c.request[1];
    a.gpu_request_average = c.request[2];
    a.cpu_core_usage_average = c.usage[0] / n;
    a.ram_bytes_usage_average = c.usage[1] / n;
    if c.usage_max.iter().any(Option::is_some) {
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: c.usage_max[0].unwrap_or(0.0),
            ram_bytes_usage_max: c.usage_max[1].unwrap_or(0.0),
        });
    }
    match (cpu.1, ram.1, gpu.1) {
        (Some(cc), Some(rc), Some(gc)) => {
            a.cpu_cost = cc * scale;
            a.ram_cost = rc * scale;
            a.gpu_cost = gc * scale;
            false
        }
        _ => {
            let p = cfg.default_pricing;
            a.cpu_cost = a.cpu_core_hours * p.cpu;
            a.ram_cost = a.ram_byte_hours / GIB * p.ram_gib;
            a.gpu_cost = a.gpu_hours * p.gpu;
            a.default_priced = true;
            true
        }
    }
}

/// (Σ max(request, usage) over steps, Σ of that × price over steps when
/// the node is priced) for one resource, in the resource's units (RAM
/// cost per GiB).
fn amounts(extra: &FollowupSums, i: usize, c: &Container<'_>, r: Resource) -> (f64, Option<f64>) {
    let s = slot(r);
    let q = c.request[s];
    let excess = if c.crosses(r) {
        extra.get(excess_id(r), i)
    } else {
        0.0
    };
    let alloc = if q > 0.0 {
        q * c.steps + excess
    } else if r == Resource::Gpu {
        0.0
    } else {
        c.usage[s]
    };
    let per_unit = if r == Resource::Ram { 1.0 / GIB } else { 1.0 };
    let cost = match c.price(r) {
        None => None,
        Some(Price::Constant(p)) => Some(alloc * p * per_unit),
        Some(Price::Varying) => Some(
            per_unit
                * if q > 0.0 {
                    q * extra.get(run_price_id(r), i)
                        + if c.crosses(r) {
                            extra.get(excess_price_id(r), i)
                        } else {
                            0.0
                        }
                } else if r == Resource::Gpu {
                    0.0
                } else {
                    extra.get(usage_price_id(r), i)
                },
        ),
    };
    (alloc, cost)
}

/// The running steps say a container ran over [first step, last step + r);
/// kube-state-metrics' start and completion times move those edges to the
/// exact instants when they are plausibly the same edges: a start within
/// two steps before the first running step, a completion between the
/// lookback before the last step's end and a step after it. Elsewhere
/// (started before the window, a container that stopped before its pod)
/// the steps stand. Returns (hours added, start, end).
fn place(
    window: Window,
    step: TimeDelta,
    c: &Container<'_>,
    edges: &Edges<'_>,
) -> (f64, DateTime<Utc>, DateTime<Utc>) {
    let lookback = TimeDelta::minutes(5);
    let mut start = c
        .first
        .and_then(to_time)
        .unwrap_or(window.start())
        .max(window.start());
    let mut end = c
        .last
        .and_then(to_time)
        .map_or(window.end(), |t| t + step)
        .min(window.end());
    let pod_uid = ContainerKey {
        container: "",
        ..c.key
    };
    let mut edge_hours = 0.0;
    if let Some(s) = edges.started.get(&c.key).copied().and_then(to_time)
        && s >= window.start()
        && s >= start - step * 2
        && s < start + step
    {
        edge_hours += (start - s).as_seconds_f64() / 3600.0;
        start = s;
    }
    if let Some(e) = edges.completed.get(&pod_uid).copied().and_then(to_time)
        && e <= window.end()
        && e > start
        && e >= end - lookback - step
        && e <= end + step
    {
        edge_hours += (e - end).as_seconds_f64() / 3600.0;
        end = e;
    }
    (edge_hours, start, end)
}
