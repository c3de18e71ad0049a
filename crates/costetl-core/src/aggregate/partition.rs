//! Step 1: split the input into the four kinds of allocation the other
//! steps treat differently, and add the configured shared hourly costs as
//! synthetic shared allocations. A share rule that matches nothing is
//! warned about: a typo must not silently share nothing.

use super::AggregationOptions;
use crate::allocation::Allocation;
use crate::properties::sanitize_label_name;
use crate::properties::{ArcStr, SHARED};
use crate::set::AllocationSet;
use crate::warning::{Warning, WarningKind};
use crate::window::Window;

/// The input, partitioned (owned: idle sharing changes allocations, and
/// keying renames them).
pub(super) struct Parts {
    /// Idle allocations (`…/__idle__`).
    pub idle: Vec<Allocation>,
    /// External (out-of-cluster) allocations.
    pub external: Vec<Allocation>,
    /// Allocations whose cost is shared out: shared namespaces and labels,
    /// then one `<name>/__shared__` per shared hourly cost.
    pub shared: Vec<Allocation>,
    /// Everything else: the allocations that are filtered and keyed.
    pub regular: Vec<Allocation>,
}

/// Partition the allocations of a set of `window` by what the options
/// make of each (moved out of an owned set, or cloned from a borrowed one).
///
/// In place: the few idle, external and shared allocations are taken out
/// and the rest stay in `allocations`, which becomes `regular` (a day's
/// vector is tens of MiB; a fresh one was page faults on every page).
pub(super) fn partition(
    mut allocations: Vec<Allocation>,
    window: Window,
    opts: &AggregationOptions,
) -> Parts {
    let (mut idle, mut external, mut shared) = (Vec::new(), Vec::new(), Vec::new());
    let special = |a: &mut Allocation| a.is_idle() || a.is_external() || opts.is_shared(a);
    for a in allocations.extract_if(.., special) {
        if a.is_idle() {
            idle.push(a);
        } else if a.is_external() {
            external.push(a);
        } else {
            shared.push(a);
        }
    }
    let mut parts = Parts {
        idle,
        external,
        shared,
        regular: allocations,
    };
    for (name, rate) in &opts.shared_hourly_costs {
        let mut a = Allocation::new(format!("{name}/{SHARED}"), window);
        a.properties.cluster = ArcStr::from(SHARED);
        a.shared_cost = rate * window.hours();
        parts.shared.push(a);
    }
    parts
}

/// A warning per shared namespace or label that no allocation of `set`
/// has.
pub(super) fn unmatched_share_rules(
    set: &AllocationSet,
    opts: &AggregationOptions,
) -> Vec<Warning> {
    let shareable = || set.iter().filter(|a| !a.is_idle() && !a.is_external());
    let namespaces = (opts.share_namespaces.iter())
        .filter(|ns| !shareable().any(|a| &a.properties.namespace == *ns))
        .map(|ns| format!("shared namespace {ns:?}"));
    let labels = (opts.share_labels.iter())
        .filter(|(k, v)| {
            let k = sanitize_label_name(k);
            !shareable().any(|a| a.properties.labels.get(&k) == Some(v))
        })
        .map(|(k, v)| format!("shared label {k}={v:?}"));
    (namespaces.chain(labels))
        .map(|rule| {
            let text = format!("{rule} matches no allocation in a window; nothing of it is shared");
            Warning::new(WarningKind::Aggregation, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mock_set, test_day};

    #[test]
    fn share_rules_that_match_nothing_are_named() {
        let set = mock_set(test_day().start());
        let opts = AggregationOptions {
            share_namespaces: vec!["namespace1".into(), "namespcae2".into()],
            share_labels: vec![("app".into(), "no-such-app".into())],
            ..AggregationOptions::default()
        };
        let w = unmatched_share_rules(&set, &opts);
        let texts: Vec<&str> = w.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(
            texts,
            [
                "shared namespace \"namespcae2\" matches no allocation in a window; nothing of \
                 it is shared",
                "shared label app=\"no-such-app\" matches no allocation in a window; nothing of \
                 it is shared",
            ]
        );
        assert!(w.iter().all(|w| w.kind == WarningKind::Aggregation));
        let agg = set.aggregate_by(None, &opts).unwrap();
        assert_eq!(agg.set.warnings, w, "the aggregation carries them");
    }
}
