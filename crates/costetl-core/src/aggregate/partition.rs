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
    pub regular: Regular,
}

/// The regular allocations, where the input had them: the input's vector
/// with holes where the others were taken out. A day's vector is tens of
/// MiB with an idle allocation after each node's; closing the gaps moved
/// nearly all of it, past the last-level cache at fleet scale.
pub(super) struct Regular {
    all: Vec<Allocation>,
    /// Positions taken out, ascending.
    holes: Vec<usize>,
}

impl Regular {
    /// The regular allocations in input order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Allocation> {
        SkipHoles::new(self.all.iter(), self.holes.iter().copied())
    }

    /// The regular allocations in input order, moved out.
    pub(super) fn into_iter(self) -> impl Iterator<Item = Allocation> {
        SkipHoles::new(self.all.into_iter(), self.holes.into_iter())
    }
}

/// The items of `all` but those at `holes` (ascending positions), by
/// reference or by value. A loop rather than iterator adapters, which
/// copied each allocation (584 bytes) once per layer.
struct SkipHoles<I, H> {
    all: I,
    at: usize,
    holes: H,
    next_hole: Option<usize>,
}

impl<I, H: Iterator<Item = usize>> SkipHoles<I, H> {
    fn new(all: I, mut holes: H) -> Self {
        Self {
            all,
            at: 0,
            next_hole: holes.next(),
            holes,
        }
    }
}

impl<I: Iterator, H: Iterator<Item = usize>> Iterator for SkipHoles<I, H> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        while self.next_hole == Some(self.at) {
            self.all.next()?;
            self.at += 1;
            self.next_hole = self.holes.next();
        }
        self.at += 1;
        self.all.next()
    }
}

/// Partition the allocations of a set of `window` by what the options
/// make of each (moved out of an owned set, or cloned from a borrowed one).
/// The few idle, external and shared allocations are taken out; the rest
/// stay where they are.
pub(super) fn partition(
    mut allocations: Vec<Allocation>,
    window: Window,
    opts: &AggregationOptions,
) -> Parts {
    let (mut idle, mut external, mut shared) = (Vec::new(), Vec::new(), Vec::new());
    let mut holes = Vec::new();
    for (i, slot) in allocations.iter_mut().enumerate() {
        let to = if slot.is_idle() {
            &mut idle
        } else if slot.is_external() {
            &mut external
        } else if opts.is_shared(slot) {
            &mut shared
        } else {
            continue;
        };
        // The hole holds an empty allocation, never read.
        to.push(std::mem::replace(
            slot,
            Allocation::new(String::new(), window),
        ));
        holes.push(i);
    }
    let mut parts = Parts {
        idle,
        external,
        shared,
        regular: Regular {
            all: allocations,
            holes,
        },
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
    fn regular_allocations_keep_their_order_around_the_holes() {
        let day = test_day();
        let names = [
            "c/n1/__idle__",
            "c/n1/a",
            "c/n1/b",
            "c/n2/__idle__",
            "c/n3/__idle__",
        ];
        let names = names.iter().chain(&["c/n3/x", "c/n4/__idle__"]);
        let allocs = names.map(|n| Allocation::new(*n, day)).collect();
        let parts = partition(allocs, day, &AggregationOptions::default());
        let idle: Vec<&str> = parts.idle.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            idle,
            [
                "c/n1/__idle__",
                "c/n2/__idle__",
                "c/n3/__idle__",
                "c/n4/__idle__"
            ]
        );
        let seen: Vec<String> = parts.regular.iter().map(|a| a.name.clone()).collect();
        assert_eq!(seen, ["c/n1/a", "c/n1/b", "c/n3/x"]);
        let moved: Vec<String> = parts.regular.into_iter().map(|a| a.name).collect();
        assert_eq!(moved, seen);
    }

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
