//! `ByName`: how a set holds its allocations, unique by name, in name
//! order.
//!
//! A computed day is built in bulk: its allocations sorted once, by name,
//! in their own vector. Copying that vector into a `BTreeMap` (a second
//! 40 MiB of freshly faulted pages at 60,000 containers, and a copy of
//! every name as its key) bought nothing the aggregation or the ETL writer
//! needs: they read the allocations in order or take them. So a set stays
//! a sorted vector while it is only read, merged into or appended to in
//! order (a file read back is in name order), and becomes a tree the
//! first time a name lands in the middle of a large one: inserting there
//! would shift the whole vector.

use std::collections::BTreeMap;
use std::collections::btree_map;

use either::Either;

use crate::allocation::Allocation;
use crate::properties::MetadataMerge;

/// A vector shorter than this takes a name in its middle by shifting.
const SHIFT_BELOW: usize = 64;

/// Allocations unique by name, in name order.
#[derive(Clone, Debug)]
pub(crate) enum ByName {
    /// Sorted by name, no name twice.
    Sorted(Vec<Allocation>),
    Tree(BTreeMap<String, Allocation>),
}

impl Default for ByName {
    fn default() -> Self {
        Self::Sorted(Vec::new())
    }
}

impl ByName {
    /// Allocations already sorted by name with no name twice.
    pub(crate) fn from_sorted(sorted: Vec<Allocation>) -> Self {
        debug_assert!(sorted.windows(2).all(|w| w[0].name < w[1].name));
        Self::Sorted(sorted)
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Sorted(v) => v.len(),
            Self::Tree(m) => m.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Allocation> {
        match self {
            Self::Sorted(v) => position(v, name).ok().map(|i| &v[i]),
            Self::Tree(m) => m.get(name),
        }
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Allocation> {
        match self {
            Self::Sorted(v) => position(v, name).ok().map(|i| &mut v[i]),
            Self::Tree(m) => m.get_mut(name),
        }
    }

    /// Insert, merging into an allocation of the same name.
    pub(crate) fn insert(&mut self, alloc: Allocation, metadata: MetadataMerge) {
        if let Some(existing) = self.get_mut(&alloc.name) {
            existing.add(&alloc, metadata);
            return;
        }
        self.make_room_for(&alloc.name);
        match self {
            Self::Sorted(v) => {
                let at = position(v, &alloc.name).unwrap_or_else(|at| at);
                v.insert(at, alloc);
            }
            Self::Tree(m) => {
                m.insert(alloc.name.clone(), alloc);
            }
        }
    }

    /// The allocation called `name`, inserting `make()` first if missing.
    pub(crate) fn get_or_insert_with(
        &mut self,
        name: &str,
        make: impl FnOnce() -> Allocation,
    ) -> &mut Allocation {
        if self.get(name).is_none() {
            self.insert(make(), MetadataMerge::default());
        }
        self.get_mut(name)
            .expect("the name was just found or inserted")
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Allocation> {
        match self {
            Self::Sorted(v) => position(v, name).ok().map(|i| v.remove(i)),
            Self::Tree(m) => m.remove(name),
        }
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        if let Self::Sorted(v) = self {
            v.reserve(additional);
        }
    }

    /// Keep the allocations `keep` says yes to, in one pass.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Allocation) -> bool) {
        match self {
            Self::Sorted(v) => v.retain(keep),
            Self::Tree(m) => m.retain(|_, a| keep(a)),
        }
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = &Allocation> {
        match self {
            Self::Sorted(v) => Either::Left(v.iter()),
            Self::Tree(m) => Either::Right(m.values()),
        }
    }

    pub(crate) fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = &mut Allocation> {
        match self {
            Self::Sorted(v) => Either::Left(v.iter_mut()),
            Self::Tree(m) => Either::Right(m.values_mut()),
        }
    }

    pub(crate) fn into_values(self) -> IntoValues {
        match self {
            Self::Sorted(v) => Either::Left(v.into_iter()),
            Self::Tree(m) => Either::Right(m.into_values()),
        }
    }

    /// The allocations in name order, as a vector (the sorted form's own).
    pub(crate) fn into_vec(self) -> Vec<Allocation> {
        match self {
            Self::Sorted(v) => v,
            Self::Tree(m) => m.into_values().collect(),
        }
    }

    /// Turn a large vector into a tree when `name` (absent) belongs
    /// before its end.
    fn make_room_for(&mut self, name: &str) {
        if let Self::Sorted(v) = self
            && v.len() >= SHIFT_BELOW
            && v.last().is_some_and(|last| last.name.as_str() > name)
        {
            let tree = std::mem::take(v)
                .into_iter()
                .map(|a| (a.name.clone(), a))
                .collect();
            *self = Self::Tree(tree);
        }
    }
}

/// A set's allocations, taken, in name order.
pub type IntoValues =
    Either<std::vec::IntoIter<Allocation>, btree_map::IntoValues<String, Allocation>>;

/// Where `name` is (`Ok`) or would go (`Err`); a name past the last one
/// (appending in order) without a search.
fn position(v: &[Allocation], name: &str) -> Result<usize, usize> {
    match v.last() {
        Some(last) if last.name.as_str() < name => Err(v.len()),
        _ => v.binary_search_by(|a| a.name.as_str().cmp(name)),
    }
}

impl PartialEq for ByName {
    /// The same allocations in the same order, however they are held.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::day;
    use chrono::{TimeZone, Utc};

    fn named(name: &str, cost: f64) -> Allocation {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut a = Allocation::new(name, day(start));
        a.cpu_cost = cost;
        a
    }

    fn names(b: &ByName) -> Vec<&str> {
        b.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn appending_in_order_keeps_the_vector() {
        let mut b = ByName::default();
        for i in 0..2 * SHIFT_BELOW {
            b.insert(named(&format!("a{i:04}"), 1.0), MetadataMerge::default());
        }
        b.insert(named("a0003", 2.0), MetadataMerge::default());
        assert!(matches!(b, ByName::Sorted(_)));
        assert_eq!(b.get("a0003").unwrap().cpu_cost, 3.0);
        assert_eq!(b.len(), 2 * SHIFT_BELOW);
    }

    #[test]
    fn a_name_in_the_middle_of_a_large_set_makes_a_tree_in_the_same_order() {
        let sorted: Vec<Allocation> = (0..SHIFT_BELOW)
            .map(|i| named(&format!("b{i:04}"), 1.0))
            .collect();
        let mut b = ByName::from_sorted(sorted);
        b.insert(named("a", 1.0), MetadataMerge::default());
        b.insert(named("b0001x", 1.0), MetadataMerge::default());
        assert!(matches!(b, ByName::Tree(_)));
        let got = names(&b);
        let mut want = got.clone();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(got[..3], ["a", "b0000", "b0001"]);
        assert_eq!(got[3], "b0001x");
    }

    #[test]
    fn equality_ignores_how_the_allocations_are_held() {
        let sorted = ByName::from_sorted(vec![named("a", 1.0), named("b", 2.0)]);
        let tree = ByName::Tree(
            [named("b", 2.0), named("a", 1.0)]
                .into_iter()
                .map(|a| (a.name.clone(), a))
                .collect(),
        );
        assert_eq!(sorted, tree);
        let mut other = tree.clone();
        other.get_mut("a").unwrap().cpu_cost = 5.0;
        assert_ne!(sorted, other);
    }

    #[test]
    fn retain_and_remove_work_on_both_forms() {
        for mut b in [
            ByName::from_sorted(vec![named("a", 1.0), named("b", 2.0), named("c", 3.0)]),
            ByName::Tree(
                [named("a", 1.0), named("b", 2.0), named("c", 3.0)]
                    .into_iter()
                    .map(|a| (a.name.clone(), a))
                    .collect(),
            ),
        ] {
            b.retain(|a| a.name != "b");
            assert_eq!(names(&b), ["a", "c"]);
            assert_eq!(b.remove("a").map(|a| a.cpu_cost), Some(1.0));
            assert_eq!(b.remove("a"), None);
            assert_eq!(names(&b), ["c"]);
        }
    }
}
