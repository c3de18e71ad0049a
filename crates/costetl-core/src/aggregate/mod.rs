//! Aggregation of an allocation set by properties, with OpenCost's idle and
//! shared-cost semantics — and conservation: every dollar of the input (plus
//! configured shared hourly costs) ends up either in the aggregated set or in
//! the report of what the filter excluded.
//!
//! [`AllocationSet::aggregate_by`] follows OpenCost's `AggregateBy`, in
//! these steps:
//! 1. partition the set into idle, external, shared (shared namespaces and
//!    labels, plus synthetic shared hourly costs) and the rest;
//! 2. compute shared-cost weights per aggregation key (even or weighted by
//!    cost), with everything the filter rejects in one `__filtered__` key,
//!    before idle changes the weights;
//! 3. add up, per cluster (or node), the cost per resource of the
//!    allocations that share its idle, in all and of what passes the
//!    filter (a shared allocation by the part of its coefficients that
//!    goes to visible keys);
//! 4. with `share_idle`, give each allocation its share of its cluster's (or
//!    node's) idle, per resource, weighted by that resource's cost;
//! 5. drop what the filter rejects, rename the rest to its key and merge;
//! 6. add the shared cost per key;
//! 7. put unshared idle in `__idle__` (or per cluster/node with
//!    `split_idle`), scaled to the filtered part.
//!
//! Where OpenCost loses money we do not: idle shared onto a shared namespace
//! and then passed on to filtered-out allocations is reported as filtered,
//! not counted twice; shared cost with no recipient stays as `__shared__`;
//! idle or shared cost that the filter removes is returned in
//! [`Aggregated::filtered_out`]. Sharing idle or not moves cost between the
//! visible keys and idle only, never across the filter: `filtered_out` is
//! the same either way.
//!
//! Map: `options` ([`AggregationOptions`], [`ShareSplit`]), `partition`
//! (step 1), `shared` (steps 2 and 6), `idle` (steps 3, 4 and 7), `key`
//! (step 5: keys, filter, merge), `resources` (per-resource idle
//! arithmetic).

mod idle;
mod key;
mod options;
mod partition;
mod resources;
mod shared;

pub use options::{AggregationOptions, ShareSplit};

use crate::allocation::Allocation;
use crate::error::Result;
use crate::properties::AggregationProperty;
use crate::set::AllocationSet;
use crate::warning::Warning;
use crate::window::Window;

/// Key under which everything the filter rejects is collected.
pub const FILTERED: &str = "__filtered__";

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
        let unmatched = partition::unmatched_share_rules(self, opts);
        let parts = partition::partition(self.iter().cloned().collect(), self.window(), opts);
        let notes = (self.warnings.clone(), self.errors.clone());
        Ok(aggregate(self.window(), parts, notes, unmatched, by, opts))
    }

    /// As [`AllocationSet::aggregate_by`], consuming the set: its
    /// allocations are moved into the aggregate rather than copied (a
    /// query that no longer needs the set, e.g. a fleet read file by file).
    pub fn into_aggregate_by(
        mut self,
        by: Option<&[AggregationProperty]>,
        opts: &AggregationOptions,
    ) -> Result<Aggregated> {
        opts.validate()?;
        let unmatched = partition::unmatched_share_rules(&self, opts);
        let window = self.window();
        let notes = (
            std::mem::take(&mut self.warnings),
            std::mem::take(&mut self.errors),
        );
        let parts = partition::partition(self.into_vec(), window, opts);
        Ok(aggregate(window, parts, notes, unmatched, by, opts))
    }
}

/// Steps 2 to 7 on the partitioned input of a set of `window`, whose
/// warnings and errors (`notes`) the aggregate carries.
fn aggregate(
    window: Window,
    mut parts: partition::Parts,
    notes: (Vec<Warning>, Vec<String>),
    unmatched: Vec<Warning>,
    by: Option<&[AggregationProperty]>,
    opts: &AggregationOptions,
) -> Aggregated {
    let mut out = AllocationSet::new(window);
    out.metadata = opts.metadata;
    (out.warnings, out.errors) = notes;
    out.warnings.extend(unmatched);
    let mut filtered = Allocation::new(FILTERED, window);
    let keys = key::Keys::new(by, opts);

    // 2. Shared-cost weights, before idle changes them.
    let weights = shared::share_weights(parts.regular.iter(), &parts.shared, keys, opts);
    // 3. Idle totals.
    let totals = idle::idle_totals(&parts, &weights, opts, &mut out.warnings);
    // 4. Share idle, and 5. filter, key, merge: a regular allocation is
    // keyed as soon as it has its idle (one pass over a day's allocations,
    // not two).
    let share_idle = opts.share_idle && !totals.is_empty();
    if share_idle {
        (parts.shared.iter_mut()).for_each(|a| idle::share_idle(a, &totals));
    }
    let regular = parts.regular.into_iter().map(|mut a| {
        if share_idle {
            idle::share_idle(&mut a, &totals);
        }
        a
    });
    key::filter_and_key(regular, parts.external, keys, &mut out, &mut filtered);
    // 6. Shared cost.
    shared::add_shared_cost(parts.shared, &weights, opts, &mut out, &mut filtered);
    // 7. Leftover idle.
    let keyed = by.is_some();
    idle::leftover_idle(&parts.idle, &totals, keyed, opts, &mut out, &mut filtered);

    Aggregated {
        set: out,
        filtered_out: filtered,
    }
}
