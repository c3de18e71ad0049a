//! Idle: step 3 adds up, per cluster (or node), the resource costs idle is
//! shared by; step 4 shares idle onto allocations (`share_idle`); step 7
//! puts what was not shared in `__idle__`, the part that belongs to what
//! the filter rejected in the filtered-out report.

use std::collections::{BTreeMap, HashMap};

use super::AggregationOptions;
use super::partition::Parts;
use super::resources::{PerResource, add_idle_share, idle_part};
use super::shared::ShareWeights;
use crate::allocation::Allocation;
use crate::properties::{AllocationProperties, IDLE};
use crate::set::AllocationSet;
use crate::warning::{Warning, WarningKind};

/// Idle ids are the set's own cluster and node names: foldhash, as the
/// engine's join maps.
type JoinMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// `f` of the idle id of `p`, which idle it shares: its cluster's, or its
/// node's (`cluster/node`) with `idle_by_node`.
fn with_id<R>(by_node: bool, p: &AllocationProperties, f: impl FnOnce(&str) -> R) -> R {
    if by_node {
        f(&format!("{}/{}", p.cluster, p.node))
    } else {
        f(&p.cluster)
    }
}

/// A value per idle id, looked up by an allocation's properties without
/// building a key when idle is by cluster, the default (every allocation
/// is looked up, twice with `share_idle`).
struct ByIdleId<T> {
    by_node: bool,
    /// By cluster, or by `cluster/node`.
    map: JoinMap<String, T>,
}

impl<T: Default> ByIdleId<T> {
    fn new(by_node: bool) -> Self {
        Self {
            by_node,
            map: JoinMap::default(),
        }
    }

    fn get(&self, p: &AllocationProperties) -> Option<&T> {
        with_id(self.by_node, p, |id| self.map.get(id))
    }

    fn entry(&mut self, p: &AllocationProperties) -> &mut T {
        let map = &mut self.map;
        with_id(self.by_node, p, move |id| {
            if !map.contains_key(id) {
                map.insert(id.to_owned(), T::default());
            }
            map.get_mut(id).expect("inserted above")
        })
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Per idle id, its idle allocations and the resource costs of the
/// allocations that share it.
pub(super) struct IdleTotals {
    /// Indices of the idle allocations of each idle id.
    members: BTreeMap<String, Vec<usize>>,
    /// The idle resources of each idle id's idle allocations, added up:
    /// sharing is linear in them, so each allocation takes its share of
    /// the sum once instead of a share of every node's idle (which made
    /// sharing a cluster's idle O(allocations × nodes)).
    summed: ByIdleId<Option<Allocation>>,
    /// Cost per resource of the regular and shared allocations.
    total: ByIdleId<PerResource>,
    /// The part of `total` that passes the filter: a shared allocation's
    /// cost passes by the fraction of it that goes to visible keys.
    passing: ByIdleId<PerResource>,
}

impl IdleTotals {
    /// Whether there is no idle to share.
    pub(super) fn is_empty(&self) -> bool {
        self.summed.is_empty()
    }
}

/// Step 3: group the idle allocations by idle id, and add up per idle id
/// the cost per resource of the regular and shared allocations, in all and
/// of what passes the filter (shared allocations by the `weights` of step
/// 2).
pub(super) fn idle_totals(
    parts: &Parts,
    weights: &ShareWeights,
    opts: &AggregationOptions,
    warnings: &mut Vec<Warning>,
) -> IdleTotals {
    let by_node = opts.idle_by_node;
    let mut totals = IdleTotals {
        members: BTreeMap::new(),
        summed: ByIdleId::new(by_node),
        total: ByIdleId::new(by_node),
        passing: ByIdleId::new(by_node),
    };
    for (i, a) in parts.idle.iter().enumerate() {
        if by_node && a.properties.node.is_empty() {
            warnings.push(Warning::new(
                WarningKind::Aggregation,
                format!(
                    "idle by node requested, but idle allocation {} has no node; it stays \
                     idle",
                    a.name
                ),
            ));
        }
        let sum = (totals.summed.entry(&a.properties))
            .get_or_insert_with(|| Allocation::new(IDLE, a.window));
        add_idle_share(sum, a, PerResource::all(1.0), false);
        let id = with_id(by_node, &a.properties, str::to_owned);
        totals.members.entry(id).or_default().push(i);
    }
    if parts.idle.is_empty() {
        return totals;
    }
    // A shared allocation's cost (and, with `share_idle`, its idle) is
    // passed on through the shared-cost coefficients, the FILTERED key's
    // part to the filtered-out report: it passes by the rest, so that
    // sharing idle or not moves no cost across the filter.
    let visible_shared = weights.visible_fraction();
    let tagged = parts
        .regular
        .iter()
        .map(|a| (a, if opts.passes(&a.properties) { 1.0 } else { 0.0 }))
        .chain(parts.shared.iter().map(|a| (a, visible_shared)));
    for (a, passing) in tagged {
        let r = PerResource::of(a);
        totals.total.entry(&a.properties).add(r);
        if passing != 0.0 {
            totals.passing.entry(&a.properties).add(r.scaled(passing));
        }
    }
    totals
}

/// Step 4 (`share_idle`): an allocation, regular or shared, gets the share
/// of its idle id's idle that its cost is of the total, per resource.
pub(super) fn share_idle(a: &mut Allocation, totals: &IdleTotals) {
    let (Some(total), Some(Some(idle))) = (
        totals.total.get(&a.properties),
        totals.summed.get(&a.properties),
    ) else {
        return;
    };
    let frac = PerResource::of(a).ratio(*total);
    add_idle_share(a, idle, frac, true);
}

/// Step 7: idle that was not shared (or could not be). The part that
/// belongs to what passed the filter stays idle, named `__idle__` (or
/// `<idle id>/__idle__` with `split_idle`, or its own name when not
/// `keyed`); the rest is reported in `filtered`.
pub(super) fn leftover_idle(
    idle: &[Allocation],
    totals: &IdleTotals,
    keyed: bool,
    opts: &AggregationOptions,
    out: &mut AllocationSet,
    filtered: &mut Allocation,
) {
    for (id, members) in &totals.members {
        let total = totals.total.map.get(id).copied().unwrap_or_default();
        let pass = totals.passing.map.get(id).copied().unwrap_or_default();
        for &i in members {
            let a = &idle[i];
            let keep_self = opts.passes(&a.properties);
            let (keep, drop) = leftover_fractions(total, pass, keep_self, opts);
            filtered.add_scaled(&idle_part(a, drop, !keep_self), 1.0);
            let mut kept = idle_part(a, keep, keep_self);
            if kept.total_cost() == 0.0 {
                continue;
            }
            kept.name = match (keyed, opts.split_idle) {
                (false, _) => a.name.clone(),
                (true, true) => format!("{id}/{IDLE}"),
                (true, false) => IDLE.to_owned(),
            };
            out.insert(kept);
        }
    }
}

/// The fractions of an idle allocation's resources that stay idle and that
/// are filtered; the rest was shared in step 4. `keep_self`: whether the
/// idle allocation itself passes the filter.
fn leftover_fractions(
    total: PerResource,
    pass: PerResource,
    keep_self: bool,
    opts: &AggregationOptions,
) -> (PerResource, PerResource) {
    let split = |total: f64, pass: f64| -> (f64, f64) {
        if total == 0.0 {
            // Nobody used this resource here: idle decides by its own
            // properties.
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
    (keep, drop)
}

#[cfg(test)]
mod tests {
    use crate::aggregate::AggregationOptions;
    use crate::allocation::Allocation;
    use crate::properties::{AggregationProperty, IDLE};
    use crate::set::AllocationSet;
    use crate::testing::test_day;

    /// One node: namespaces `a` (CPU 2, RAM 2) and `b` (CPU 4, RAM 2),
    /// shared namespace `s` (CPU 4, RAM 4), idle CPU 10 and RAM 20.
    fn one_node() -> AllocationSet {
        let w = test_day();
        let mut set = AllocationSet::new(w);
        for (ns, cpu, ram) in [
            ("a", 2.0, 2.0),
            ("b", 4.0, 2.0),
            ("s", 4.0, 4.0),
            ("", 10.0, 20.0),
        ] {
            let name = if ns.is_empty() {
                format!("c/{IDLE}")
            } else {
                format!("c/n/{ns}/pod/ctr")
            };
            let mut x = Allocation::new(name, w);
            x.properties.cluster = "c".into();
            x.properties.node = "n".into();
            x.properties.namespace = ns.into();
            x.cpu_cost = cpu;
            x.ram_cost = ram;
            set.insert(x);
        }
        set
    }

    #[test]
    fn split_idle_by_node_is_named_by_cluster_and_node() {
        let by = [AggregationProperty::Namespace];
        let run = |idle_by_node| {
            let opts = AggregationOptions {
                split_idle: true,
                idle_by_node,
                ..AggregationOptions::default()
            };
            let out = one_node().aggregate_by(Some(&by), &opts).unwrap();
            out.set
                .iter()
                .filter(|a| a.is_idle())
                .map(|a| (a.name.clone(), a.total_cost()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(true), [(format!("c/n/{IDLE}"), 30.0)]);
        assert_eq!(run(false), [(format!("c/{IDLE}"), 30.0)]);
    }

    #[test]
    fn idle_of_a_shared_namespace_stays_visible_by_its_visible_coefficient() {
        let set = one_node();
        let by = [AggregationProperty::Namespace];
        let run = |share_idle| {
            let opts = AggregationOptions {
                filter: Some("namespace:\"a\"".parse().unwrap()),
                share_namespaces: vec!["s".into()],
                share_idle,
                ..AggregationOptions::default()
            };
            set.aggregate_by(Some(&by), &opts).unwrap()
        };
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        // Shared cost is weighted by cost: a 4, b (filtered) 6, so a gets
        // 0.4 of s. Idle that stays visible is a's share plus 0.4 of s's,
        // per resource: CPU 10 × (2 + 0.4 × 4) / 10 = 3.6, RAM 20 × (2 +
        // 0.4 × 4) / 8 = 9. (Counting s as passing in full kept 6 + 15.)
        let off = run(false);
        assert!(close(off.set.get(IDLE).unwrap().total_cost(), 12.6));
        assert!(close(
            off.set.get("a").unwrap().total_cost(),
            4.0 + 0.4 * 8.0
        ));
        assert!(close(off.filtered_out.total_cost(), 48.0 - 7.2 - 12.6));
        // Shared idle: a gets CPU 2 + RAM 5 of idle, s CPU 4 + RAM 10, of
        // which a gets 0.4. The filtered part is the same as without.
        let on = run(true);
        assert!(close(
            on.set.get("a").unwrap().total_cost(),
            11.0 + 0.4 * 22.0
        ));
        assert!(on.set.get(IDLE).is_none());
        assert!(close(on.filtered_out.total_cost(), 28.2));
    }
}
