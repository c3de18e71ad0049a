//! Step 1: split the input into the four kinds of allocation the other
//! steps treat differently, and add the configured shared hourly costs as
//! synthetic shared allocations.

use super::AggregationOptions;
use crate::allocation::Allocation;
use crate::properties::SHARED;
use crate::set::AllocationSet;

/// The input, partitioned. Idle, shared and regular allocations are copies
/// (idle sharing changes them); external ones are only filtered and
/// renamed, so they are borrowed until then.
pub(super) struct Parts<'a> {
    /// Idle allocations (`…/__idle__`).
    pub idle: Vec<Allocation>,
    /// External (out-of-cluster) allocations.
    pub external: Vec<&'a Allocation>,
    /// Allocations whose cost is shared out: shared namespaces and labels,
    /// then one `<name>/__shared__` per shared hourly cost.
    pub shared: Vec<Allocation>,
    /// Everything else: the allocations that are filtered and keyed.
    pub regular: Vec<Allocation>,
}

/// Partition `set` by what the options make of each allocation.
pub(super) fn partition<'a>(set: &'a AllocationSet, opts: &AggregationOptions) -> Parts<'a> {
    let window = set.window();
    let mut parts = Parts {
        idle: Vec::new(),
        external: Vec::new(),
        shared: Vec::new(),
        regular: Vec::new(),
    };
    for a in set.iter() {
        if a.is_idle() {
            parts.idle.push(a.clone());
        } else if a.is_external() {
            parts.external.push(a);
        } else if opts.is_shared(a) {
            parts.shared.push(a.clone());
        } else {
            parts.regular.push(a.clone());
        }
    }
    for (name, rate) in &opts.shared_hourly_costs {
        let mut a = Allocation::new(format!("{name}/{SHARED}"), window);
        a.properties.cluster = SHARED.to_owned();
        a.shared_cost = rate * window.hours();
        parts.shared.push(a);
    }
    parts
}
