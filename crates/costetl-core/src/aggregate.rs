//! Aggregation of an allocation set by properties, with OpenCost's idle and
//! shared-cost semantics — and conservation: every dollar of the input (plus
//! configured shared hourly costs) ends up either in the aggregated set or in
//! the report of what the filter excluded.
//!
//! The order of operations follows OpenCost's `AggregateBy`:
//! 1. partition the set into idle, external, shared (shared namespaces and
//!    labels, plus synthetic shared hourly costs) and the rest;
//! 2. with `share_idle`, give each allocation its share of its cluster's (or
//!    node's) idle, per resource, weighted by that resource's cost;
//! 3. compute shared-cost coefficients per aggregation key (even or weighted
//!    by cost), with everything the filter rejects in one `__filtered__` key;
//! 4. drop what the filter rejects, rename the rest to its key and merge;
//! 5. add the shared cost per key; put unshared idle in `__idle__` (or per
//!    cluster/node with `split_idle`), scaled to the filtered part.
//!
//! Where OpenCost loses money we do not: idle shared onto a shared namespace
//! and then passed on to filtered-out allocations is reported as filtered,
//! not counted twice; shared cost with no recipient stays as `__shared__`;
//! idle or shared cost that the filter removes is returned in
//! [`Aggregated::filtered_out`].

use std::collections::{BTreeMap, HashMap};

use crate::allocation::{Allocation, SharedCostBreakdown};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::properties::{
    AggregationProperty, AllocationProperties, IDLE, LabelConfig, MetadataMerge, SHARED,
    UNALLOCATED, generate_key, sanitize_label_name,
};
use crate::set::AllocationSet;
use crate::warning::{Warning, WarningKind};

/// Key under which everything the filter rejects is collected.
pub const FILTERED: &str = "__filtered__";

/// How shared cost is split among the aggregated allocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ShareSplit {
    /// In proportion to each key's own cost (OpenCost's default).
    #[default]
    Weighted,
    /// The same amount to every key.
    Even,
}

/// What [`AllocationSet::aggregate_by`] does besides grouping
/// (OpenCost's `AllocationAggregationOptions`).
#[derive(Clone, Debug, Default)]
pub struct AggregationOptions {
    /// Only allocations matching this filter are kept; the rest is reported
    /// in [`Aggregated::filtered_out`].
    pub filter: Option<Filter>,
    /// Idle is per node (`cluster/node`) rather than per cluster.
    pub idle_by_node: bool,
    /// Distribute idle onto allocations, weighted by cost per resource.
    pub share_idle: bool,
    /// Keep idle per cluster (or node) instead of one `__idle__`.
    pub split_idle: bool,
    /// Namespaces whose cost is shared out instead of shown.
    pub share_namespaces: Vec<String>,
    /// `(label, value)` pairs whose allocations are shared out.
    pub share_labels: Vec<(String, String)>,
    /// How shared cost is split.
    pub share_split: ShareSplit,
    /// Extra costs in $/hour, by name, shared like a shared namespace
    /// (e.g. a support contract). Each becomes `<name>/__shared__`.
    pub shared_hourly_costs: BTreeMap<String, f64>,
    /// Record where each allocation's shared cost came from.
    pub include_shared_cost_breakdown: bool,
    /// Which labels the department/environment/owner/product/team aliases
    /// read.
    pub label_config: LabelConfig,
    /// Collapse every key containing `__unallocated__` into exactly
    /// `__unallocated__`.
    pub merge_unallocated: bool,
    /// How labels, annotations and services survive merging.
    pub metadata: MetadataMerge,
}

impl AggregationOptions {
    fn is_shared(&self, a: &Allocation) -> bool {
        if a.is_idle() || a.is_external() {
            return false;
        }
        let p = &a.properties;
        self.share_namespaces.contains(&p.namespace)
            || self.share_labels.iter().any(|(k, v)| {
                p.labels
                    .get(&sanitize_label_name(k))
                    .is_some_and(|x| x == v)
            })
    }

    fn passes(&self, p: &AllocationProperties) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.matches(p, &self.label_config))
    }

    /// Name of the shared-cost source of a shared allocation, for the
    /// breakdown.
    fn breakdown_name(&self, a: &Allocation) -> String {
        let p = &a.properties;
        if self.share_namespaces.contains(&p.namespace) {
            return p.namespace.clone();
        }
        for (k, v) in &self.share_labels {
            if p.labels.get(&sanitize_label_name(k)) == Some(v) {
                return v.clone();
            }
        }
        a.name
            .strip_suffix(&format!("/{SHARED}"))
            .map_or_else(|| "unknown".to_owned(), str::to_owned)
    }

    fn validate(&self) -> Result<()> {
        for (name, rate) in &self.shared_hourly_costs {
            if !rate.is_finite() || *rate < 0.0 {
                return Err(Error::InvalidAggregation {
                    input: format!("shared hourly cost {name}={rate}"),
                    reason: "shared hourly costs must be finite and non-negative".into(),
                });
            }
        }
        Ok(())
    }
}

/// The result of an aggregation.
#[derive(Clone, Debug)]
pub struct Aggregated {
    /// The aggregated allocations.
    pub set: AllocationSet,
    /// Everything the filter excluded, including the idle and shared cost
    /// that would have gone to it, as one allocation named `__filtered__`
    /// (all zero without a filter). With it, `set.total_cost() +
    /// filtered_out.total_cost()` equals the input's total plus the shared
    /// hourly costs.
    pub filtered_out: Allocation,
}

/// The three resources idle is kept and shared by.
#[derive(Clone, Copy, Default, Debug)]
struct PerResource {
    cpu: f64,
    gpu: f64,
    ram: f64,
}

impl PerResource {
    fn of(a: &Allocation) -> Self {
        Self {
            cpu: a.cpu_total_cost(),
            gpu: a.gpu_total_cost(),
            ram: a.ram_total_cost(),
        }
    }

    fn add(&mut self, o: Self) {
        self.cpu += o.cpu;
        self.gpu += o.gpu;
        self.ram += o.ram;
    }

    fn ratio(self, total: Self) -> Self {
        let r = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        Self {
            cpu: r(self.cpu, total.cpu),
            gpu: r(self.gpu, total.gpu),
            ram: r(self.ram, total.ram),
        }
    }
}

/// Add `frac` of `idle`'s per-resource quantities to `to`. Only CPU, GPU and
/// RAM are idle resources; anything else on an idle allocation stays with
/// it.
fn add_idle_share(to: &mut Allocation, idle: &Allocation, frac: PerResource, as_idle: bool) {
    to.cpu_core_hours += idle.cpu_core_hours * frac.cpu;
    to.cpu_cost += idle.cpu_cost * frac.cpu;
    to.cpu_cost_adjustment += idle.cpu_cost_adjustment * frac.cpu;
    to.gpu_hours += idle.gpu_hours * frac.gpu;
    to.gpu_cost += idle.gpu_cost * frac.gpu;
    to.gpu_cost_adjustment += idle.gpu_cost_adjustment * frac.gpu;
    to.ram_byte_hours += idle.ram_byte_hours * frac.ram;
    to.ram_cost += idle.ram_cost * frac.ram;
    to.ram_cost_adjustment += idle.ram_cost_adjustment * frac.ram;
    if as_idle {
        // Informational: how much of the cost above is shared idle.
        to.cpu_cost_idle += idle.cpu_total_cost() * frac.cpu;
        to.gpu_cost_idle += idle.gpu_total_cost() * frac.gpu;
        to.ram_cost_idle += idle.ram_total_cost() * frac.ram;
    }
}

/// The part of idle allocation `a` made of `frac` of its idle resources,
/// plus its other costs (PV, network, …) if `with_other`.
fn idle_part(a: &Allocation, frac: PerResource, with_other: bool) -> Allocation {
    let mut out = if with_other {
        let mut o = a.clone();
        // Clear the resource quantities; the fraction is added back below.
        add_idle_share(
            &mut o,
            a,
            PerResource {
                cpu: -1.0,
                gpu: -1.0,
                ram: -1.0,
            },
            false,
        );
        o
    } else {
        let mut o = Allocation::new(a.name.clone(), a.window);
        o.properties = a.properties.clone();
        o.start = a.start;
        o.end = a.end;
        o
    };
    add_idle_share(&mut out, a, frac, false);
    out
}

fn idle_id(p: &AllocationProperties, by_node: bool) -> String {
    if by_node {
        format!("{}/{}", p.cluster, p.node)
    } else {
        p.cluster.clone()
    }
}

/// The properties an aggregated allocation keeps whatever the merge does:
/// the ones it was aggregated by (all members share them by construction).
fn restore_key_properties(
    to: &mut AllocationProperties,
    from: &AllocationProperties,
    by: &[AggregationProperty],
    lc: &LabelConfig,
) {
    use AggregationProperty as P;
    let copy_label = |to: &mut AllocationProperties, name: &str| {
        let k = sanitize_label_name(name);
        if let Some(v) = from.labels.get(&k) {
            to.labels.insert(k.clone(), v.clone());
        }
        if let Some(v) = from.annotations.get(&k) {
            to.annotations.insert(k, v.clone());
        }
    };
    for p in by {
        match p {
            P::Cluster => to.cluster.clone_from(&from.cluster),
            P::Node => to.node.clone_from(&from.node),
            P::Namespace => to.namespace.clone_from(&from.namespace),
            P::Pod => to.pod.clone_from(&from.pod),
            P::Container => to.container.clone_from(&from.container),
            P::ProviderId => to.provider_id.clone_from(&from.provider_id),
            P::ControllerKind => to.controller_kind.clone_from(&from.controller_kind),
            P::Controller | P::Deployment | P::StatefulSet | P::DaemonSet | P::Job => {
                to.controller.clone_from(&from.controller);
                to.controller_kind.clone_from(&from.controller_kind);
            }
            P::Service => {
                if let Some(first) = from.services.first()
                    && to.services.first() != Some(first)
                {
                    to.services.retain(|s| s != first);
                    to.services.insert(0, first.clone());
                }
            }
            P::Label(name) => {
                let k = sanitize_label_name(name);
                if let Some(v) = from.labels.get(&k) {
                    to.labels.insert(k, v.clone());
                }
            }
            P::Annotation(name) => {
                let k = sanitize_label_name(name);
                if let Some(v) = from.annotations.get(&k) {
                    to.annotations.insert(k, v.clone());
                }
            }
            P::Alias(alias) => {
                for name in lc.labels_for(*alias) {
                    copy_label(to, name);
                }
            }
        }
    }
}

impl AllocationSet {
    /// Aggregate by `by` (`None`: keep names, only filter and share;
    /// `Some(&[])`: everything into one allocation named `""`).
    ///
    /// Idle allocations (`…/__idle__`) are never renamed by key: they are
    /// shared (`share_idle`), or end up as `__idle__` (or
    /// `<cluster>[/<node>]/__idle__` with `split_idle`).
    pub fn aggregate_by(
        &self,
        by: Option<&[AggregationProperty]>,
        opts: &AggregationOptions,
    ) -> Result<Aggregated> {
        opts.validate()?;
        let window = self.window();
        let lc = &opts.label_config;
        let mut out = AllocationSet::new(window);
        out.metadata = opts.metadata;
        out.warnings.clone_from(&self.warnings);
        out.errors.clone_from(&self.errors);
        let mut filtered = Allocation::new(FILTERED, window);

        // 1. Partition.
        let mut idle: Vec<Allocation> = Vec::new();
        let mut external: Vec<&Allocation> = Vec::new();
        let mut shared: Vec<Allocation> = Vec::new();
        let mut regular: Vec<Allocation> = Vec::new();
        for a in self.iter() {
            if a.is_idle() {
                idle.push(a.clone());
            } else if a.is_external() {
                external.push(a);
            } else if opts.is_shared(a) {
                shared.push(a.clone());
            } else {
                regular.push(a.clone());
            }
        }
        for (name, rate) in &opts.shared_hourly_costs {
            let mut a = Allocation::new(format!("{name}/{SHARED}"), window);
            a.properties.cluster = SHARED.to_owned();
            a.shared_cost = rate * window.hours();
            shared.push(a);
        }

        let key_of = |a: &Allocation| -> String {
            let Some(by) = by else { return a.name.clone() };
            let key = generate_key(&a.properties, a.is_unmounted(), by, lc);
            if opts.merge_unallocated && key.contains(UNALLOCATED) {
                UNALLOCATED.to_owned()
            } else {
                key
            }
        };

        // 3 (before idle changes the weights). Shared-cost coefficients per
        // key; rejected allocations weigh in under FILTERED.
        let mut share_weights: BTreeMap<String, f64> = BTreeMap::new();
        if !shared.is_empty() {
            for a in regular.iter().filter(|a| !a.is_unmounted()) {
                let key = if opts.passes(&a.properties) {
                    key_of(a)
                } else {
                    FILTERED.to_owned()
                };
                let w = match opts.share_split {
                    ShareSplit::Even => 0.0,
                    ShareSplit::Weighted => a.total_cost() - a.shared_cost - a.unmounted_pv_cost,
                };
                *share_weights.entry(key).or_default() += w;
            }
            if opts.share_split == ShareSplit::Even {
                share_weights.values_mut().for_each(|w| *w = 1.0);
            }
        }

        // 2. Idle totals and resource totals per idle id.
        let by_node = opts.idle_by_node;
        let mut idle_by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, a) in idle.iter().enumerate() {
            if by_node && a.properties.node.is_empty() {
                out.warnings.push(Warning::new(
                    WarningKind::Aggregation,
                    format!(
                        "idle by node requested, but idle allocation {} has no node; it stays \
                         idle",
                        a.name
                    ),
                ));
            }
            idle_by_id
                .entry(idle_id(&a.properties, by_node))
                .or_default()
                .push(i);
        }
        let mut totals: HashMap<String, PerResource> = HashMap::new();
        let mut passing: HashMap<String, PerResource> = HashMap::new();
        if !idle.is_empty() {
            // Shared allocations count as passing: their cost (and idle) is
            // passed on through the shared-cost coefficients, which report
            // the filtered part themselves.
            let tagged = regular
                .iter()
                .map(|a| (a, opts.passes(&a.properties)))
                .chain(shared.iter().map(|a| (a, true)));
            for (a, passes) in tagged {
                let id = idle_id(&a.properties, by_node);
                let r = PerResource::of(a);
                totals.entry(id.clone()).or_default().add(r);
                if passes {
                    passing.entry(id).or_default().add(r);
                }
            }
        }

        if opts.share_idle && !idle.is_empty() {
            for a in regular.iter_mut().chain(shared.iter_mut()) {
                let id = idle_id(&a.properties, by_node);
                let (Some(total), Some(members)) = (totals.get(&id), idle_by_id.get(&id)) else {
                    continue;
                };
                let frac = PerResource::of(a).ratio(*total);
                for &i in members {
                    add_idle_share(a, &idle[i], frac, true);
                }
            }
        }

        // 4. Filter and aggregate.
        let mut first_member: HashMap<String, AllocationProperties> = HashMap::new();
        for mut a in regular {
            if !opts.passes(&a.properties) {
                filtered.add_scaled(&a, 1.0);
                continue;
            }
            let key = key_of(&a);
            if by.is_some() {
                first_member
                    .entry(key.clone())
                    .or_insert_with(|| a.properties.clone());
            }
            a.name = key;
            out.insert(a);
        }
        for a in external {
            if opts.passes(&a.properties) {
                let mut a = a.clone();
                a.name = key_of(&a);
                out.insert(a);
            } else {
                filtered.add_scaled(a, 1.0);
            }
        }
        if let Some(by) = by {
            for (key, from) in &first_member {
                if let Some(a) = out.allocations_mut().get_mut(key) {
                    restore_key_properties(&mut a.properties, from, by, lc);
                }
            }
        }

        // 5a. Shared cost.
        if !shared.is_empty() {
            let total_weight: f64 = share_weights.values().sum();
            if total_weight > 0.0 {
                for (key, w) in &share_weights {
                    let coef = w / total_weight;
                    let target = if key == FILTERED {
                        &mut filtered
                    } else {
                        // Every share key was inserted above; the entry API
                        // just avoids a panic path.
                        out.allocations_mut()
                            .entry(key.clone())
                            .or_insert_with(|| Allocation::new(key.clone(), window))
                    };
                    for s in &shared {
                        let cost = s.total_cost() * coef;
                        target.shared_cost += cost;
                        if opts.include_shared_cost_breakdown && key != FILTERED {
                            let b = SharedCostBreakdown {
                                name: opts.breakdown_name(s),
                                total_cost: s.total_cost(),
                                cpu_cost: s.cpu_total_cost(),
                                gpu_cost: s.gpu_total_cost(),
                                ram_cost: s.ram_total_cost(),
                                pv_cost: s.pv_total_cost(),
                                network_cost: s.network_total_cost(),
                                lb_cost: s.load_balancer_total_cost(),
                                external_cost: s.external_cost + s.shared_cost,
                            };
                            target
                                .shared_cost_breakdown
                                .entry(b.name.clone())
                                .or_insert_with(|| SharedCostBreakdown {
                                    name: b.name.clone(),
                                    ..SharedCostBreakdown::default()
                                })
                                .add_scaled(&b, coef);
                        }
                    }
                }
            } else {
                // Nobody to share with: keep the cost visible.
                out.warnings.push(Warning::new(
                    WarningKind::Aggregation,
                    format!(
                        "{} shared allocation(s) had no recipient; kept as {SHARED}",
                        shared.len()
                    ),
                ));
                for mut s in shared {
                    s.name = SHARED.to_owned();
                    out.insert(s);
                }
            }
        }

        // 5b. Idle that was not shared (or could not be): the part that
        // belongs to what passed the filter stays idle, the rest is
        // reported as filtered.
        for (id, members) in &idle_by_id {
            let total = totals.get(id).copied().unwrap_or_default();
            let pass = passing.get(id).copied().unwrap_or_default();
            for &i in members {
                let a = &idle[i];
                let keep_self = opts.passes(&a.properties);
                // Fractions of one resource kept and filtered; the rest was
                // shared in step 2.
                let split = |total: f64, pass: f64| -> (f64, f64) {
                    if total == 0.0 {
                        // Nobody used this resource here: idle decides by
                        // its own properties.
                        if keep_self { (1.0, 0.0) } else { (0.0, 1.0) }
                    } else if opts.share_idle {
                        (0.0, 0.0)
                    } else if opts.filter.is_none() {
                        (1.0, 0.0)
                    } else {
                        // A subset sum can exceed the total by an ulp.
                        let k = (pass / total).clamp(0.0, 1.0);
                        (k, 1.0 - k)
                    }
                };
                let (cpu, gpu, ram) = (
                    split(total.cpu, pass.cpu),
                    split(total.gpu, pass.gpu),
                    split(total.ram, pass.ram),
                );
                let keep = PerResource {
                    cpu: cpu.0,
                    gpu: gpu.0,
                    ram: ram.0,
                };
                let drop = PerResource {
                    cpu: cpu.1,
                    gpu: gpu.1,
                    ram: ram.1,
                };
                filtered.add_scaled(&idle_part(a, drop, !keep_self), 1.0);
                let mut kept = idle_part(a, keep, keep_self);
                if kept.total_cost() == 0.0 {
                    continue;
                }
                kept.name = match (by.is_some(), opts.split_idle) {
                    (false, _) => a.name.clone(),
                    (true, true) => format!("{id}/{IDLE}"),
                    (true, false) => IDLE.to_owned(),
                };
                out.insert(kept);
            }
        }

        Ok(Aggregated {
            set: out,
            filtered_out: filtered,
        })
    }
}
