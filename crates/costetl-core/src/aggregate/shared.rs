//! Shared cost: step 2 computes how it is split among the aggregation keys
//! (before idle changes the weights), step 6 adds it to them.

use std::collections::BTreeMap;

use super::key::Keys;
use super::{AggregationOptions, FILTERED, ShareSplit};
use crate::allocation::{Allocation, SharedCostBreakdown};
use crate::properties::SHARED;
use crate::set::AllocationSet;
use crate::warning::{Warning, WarningKind};

/// Per aggregation key, its weight in the split of shared cost (the
/// coefficient is the weight over their sum); everything the filter rejects
/// weighs in under [`FILTERED`]. Empty when nothing is shared.
pub(super) struct ShareWeights(BTreeMap<String, f64>);

impl ShareWeights {
    /// The fraction of each shared allocation's cost that step 6 gives to
    /// visible keys: all but the [`FILTERED`] key's coefficient, or all of
    /// it when nobody receives shared cost (it stays visible as
    /// `__shared__`).
    pub(super) fn visible_fraction(&self) -> f64 {
        let total: f64 = self.0.values().sum();
        if total > 0.0 {
            1.0 - self.0.get(FILTERED).copied().unwrap_or(0.0) / total
        } else {
            1.0
        }
    }
}

/// Step 2: the weight of each key, from the regular allocations' cost
/// (unmounted volumes, shared cost and unmounted PV cost do not weigh), or
/// 1 per key for an even split.
pub(super) fn share_weights<'a>(
    regular: impl Iterator<Item = &'a Allocation>,
    shared: &[Allocation],
    keys: Keys<'_>,
    opts: &AggregationOptions,
) -> ShareWeights {
    let mut weights: BTreeMap<String, f64> = BTreeMap::new();
    if shared.is_empty() {
        return ShareWeights(weights);
    }
    for a in regular.filter(|a| !a.is_unmounted()) {
        let key = if opts.passes(&a.properties) {
            keys.of(a)
        } else {
            FILTERED.to_owned()
        };
        let w = match opts.share_split {
            ShareSplit::Even => 0.0,
            ShareSplit::Weighted => a.total_cost() - a.shared_cost - a.unmounted_pv_cost,
        };
        *weights.entry(key).or_default() += w;
    }
    if opts.share_split == ShareSplit::Even {
        weights.values_mut().for_each(|w| *w = 1.0);
    }
    ShareWeights(weights)
}

/// Step 6: each key gets its coefficient of every shared allocation's cost
/// (the [`FILTERED`] key's part goes to `filtered`). With nobody to share
/// with, the shared allocations stay visible as `__shared__`.
pub(super) fn add_shared_cost(
    shared: Vec<Allocation>,
    weights: &ShareWeights,
    opts: &AggregationOptions,
    out: &mut AllocationSet,
    filtered: &mut Allocation,
) {
    if shared.is_empty() {
        return;
    }
    let total_weight: f64 = weights.0.values().sum();
    if total_weight > 0.0 {
        for (key, w) in &weights.0 {
            let coef = w / total_weight;
            let target = if key == FILTERED {
                &mut *filtered
            } else {
                // Every share key was inserted by step 5; inserting
                // just avoids a panic path.
                out.get_or_insert_empty(key)
            };
            let breakdown = opts.include_shared_cost_breakdown && key != FILTERED;
            for s in &shared {
                let name = breakdown.then(|| opts.breakdown_name(s));
                add_share(target, s, coef, name);
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

/// Add `coef` of shared allocation `s`'s cost to `to`, and to its breakdown
/// under `breakdown` if given.
fn add_share(to: &mut Allocation, s: &Allocation, coef: f64, breakdown: Option<String>) {
    to.shared_cost += s.total_cost() * coef;
    let Some(name) = breakdown else { return };
    let b = SharedCostBreakdown {
        name,
        total_cost: s.total_cost(),
        cpu_cost: s.cpu_total_cost(),
        gpu_cost: s.gpu_total_cost(),
        ram_cost: s.ram_total_cost(),
        pv_cost: s.pv_total_cost(),
        network_cost: s.network_total_cost(),
        lb_cost: s.load_balancer_total_cost(),
        external_cost: s.external_cost + s.shared_cost,
    };
    to.shared_cost_breakdown
        .entry(b.name.clone())
        .or_insert_with(|| SharedCostBreakdown {
            name: b.name.clone(),
            ..SharedCostBreakdown::default()
        })
        .add_scaled(&b, coef);
}
