//! Collections of allocations: [`AllocationSet`] (all allocations of one
//! window, by name) and [`AllocationSetRange`] (consecutive sets), with
//! insertion-as-merge and accumulation over time.

mod by_name;

use std::str::FromStr;

use rayon::prelude::*;

use crate::allocation::Allocation;
use crate::error::{Error, Result};
use crate::properties::MetadataMerge;
use crate::warning::Warning;
use crate::window::{Period, Window};

use by_name::ByName;
pub use by_name::IntoValues;

/// Every allocation of one window, keyed by name. Inserting a name that is
/// already present merges the two ([`Allocation::add`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AllocationSet {
    window: Window,
    allocations: ByName,
    /// How label-like metadata survives merges on insert.
    pub metadata: MetadataMerge,
    /// Things the producer of this set wants a reader to know (missing
    /// prices, duplicate series, …).
    pub warnings: Vec<Warning>,
    /// Inputs that failed but did not stop the set from being produced.
    pub errors: Vec<String>,
}

impl AllocationSet {
    /// An empty set for `window`.
    pub fn new(window: Window) -> Self {
        Self {
            window,
            allocations: ByName::default(),
            metadata: MetadataMerge::default(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The set's window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Insert, merging into an existing allocation of the same name.
    pub fn insert(&mut self, alloc: Allocation) {
        self.allocations.insert(alloc, self.metadata);
    }

    /// [`Self::insert`] each of `allocs`, in order. Into an empty set the
    /// allocations are sorted by name once, in their own buffer, and that
    /// sorted vector becomes the set (no insert per allocation, no copy:
    /// at 60,000 containers each copy is 40 MiB of fresh pages); the merges
    /// of equal names happen in the same order either way.
    pub fn insert_all(&mut self, allocs: impl IntoIterator<Item = Allocation>) {
        if !self.allocations.is_empty() {
            allocs.into_iter().for_each(|a| self.insert(a));
            return;
        }
        let mut allocs: Vec<Allocation> = allocs.into_iter().collect();
        sort_by_name(&mut allocs);
        // `later` goes into `earlier`: merges in insertion order.
        allocs.dedup_by(|later, earlier| {
            let same = later.name == earlier.name;
            if same {
                earlier.add(later, self.metadata);
            }
            same
        });
        self.allocations = ByName::from_sorted(allocs);
    }

    /// The allocation called `name`.
    pub fn get(&self, name: &str) -> Option<&Allocation> {
        self.allocations.get(name)
    }

    /// Remove and return the allocation called `name`.
    pub fn remove(&mut self, name: &str) -> Option<Allocation> {
        self.allocations.remove(name)
    }

    /// Allocations in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Allocation> {
        self.allocations.iter()
    }

    /// Allocations in name order, mutably. Renaming through this breaks
    /// the by-name index: use [`Self::remove`] and [`Self::insert`].
    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = &mut Allocation> {
        self.allocations.iter_mut()
    }

    /// The allocations in name order, in the set's own vector when it has
    /// one (no copy of a day's allocations).
    pub(crate) fn into_vec(self) -> Vec<Allocation> {
        self.allocations.into_vec()
    }

    /// The allocation called `name`, mutably. Renaming it breaks the
    /// by-name index.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Allocation> {
        self.allocations.get_mut(name)
    }

    /// The allocation called `name`, an empty one of the set's window
    /// inserted first if there is none.
    pub(crate) fn get_or_insert_empty(&mut self, name: &str) -> &mut Allocation {
        let window = self.window;
        self.allocations
            .get_or_insert_with(name, || Allocation::new(name, window))
    }

    /// Make room for `additional` allocations inserted in name order (a
    /// file read back) without growing the set's vector on the way.
    pub fn reserve(&mut self, additional: usize) {
        self.allocations.reserve(additional);
    }

    /// Keep only the allocations `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&Allocation) -> bool) {
        self.allocations.retain(keep);
    }

    /// Number of allocations.
    pub fn len(&self) -> usize {
        self.allocations.len()
    }

    /// Whether the set holds no allocation.
    pub fn is_empty(&self) -> bool {
        self.allocations.is_empty()
    }

    /// Sum of every allocation's total cost.
    pub fn total_cost(&self) -> f64 {
        crate::allocation::sum(self.iter().map(Allocation::total_cost))
    }

    /// Merge every allocation of `other` into this set and widen the
    /// window to cover both.
    pub fn accumulate(&mut self, other: &AllocationSet) {
        self.window = self.window.expand(&other.window);
        for a in other.iter() {
            self.insert(a.clone());
        }
        self.warnings.extend(other.warnings.iter().cloned());
        self.errors.extend(other.errors.iter().cloned());
    }
}

/// Sort `allocs` by name, ties in their order. A computed day comes as its
/// containers' allocations already in name order followed by a few hundred
/// others (idle, unmounted): the sorted prefix is found, the rest sorted on
/// its own, and the two runs merged by the standard library's stable sort,
/// which finds sorted runs and merges two of them moving each allocation at
/// most once, in order, through a buffer the size of the shorter (applying
/// a whole-set permutation instead moved nearly every 584-byte allocation
/// at random, and sorting 60,000 indices compared names 16 times each).
fn sort_by_name(allocs: &mut [Allocation]) {
    let sorted = (allocs.windows(2))
        .position(|w| w[0].name > w[1].name)
        .map_or(allocs.len(), |i| i + 1);
    // Little to keep: one sort, no merge after it.
    if sorted < allocs.len() / 2 {
        return sort_by_index(allocs);
    }
    sort_by_index(&mut allocs[sorted..]);
    if sorted < allocs.len() {
        allocs.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Sort `allocs` by name, ties in their order: the order is found on
/// indices (in parallel, comparing names, not moving allocations), then
/// applied by swaps along its cycles: no second buffer is allocated.
fn sort_by_index(allocs: &mut [Allocation]) {
    let mut order: Vec<usize> = (0..allocs.len()).collect();
    let name = |i: usize| allocs[i].name.as_str();
    order.par_sort_unstable_by(|&i, &j| name(i).cmp(name(j)).then(i.cmp(&j)));
    permute(allocs, &mut order);
}

/// Rearrange `v` so that position `k` holds what was at `order[k]`
/// (`order` a permutation of the indices; left unspecified).
fn permute<T>(v: &mut [T], order: &mut [usize]) {
    const DONE: usize = usize::MAX;
    for start in 0..v.len() {
        let mut at = start;
        while order[at] != DONE {
            let from = order[at];
            order[at] = DONE;
            if from == start {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

impl IntoIterator for AllocationSet {
    type Item = Allocation;
    type IntoIter = IntoValues;
    fn into_iter(self) -> Self::IntoIter {
        self.allocations.into_values()
    }
}

/// How to combine the sets of a range over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Accumulate {
    /// Leave the sets as they are.
    #[default]
    None,
    /// Everything into one set.
    All,
    /// One set per UTC hour.
    Hour,
    /// One set per UTC day.
    Day,
    /// One set per week (Sunday to Saturday, UTC).
    Week,
    /// One set per calendar month (UTC).
    Month,
}

impl Accumulate {
    /// Whether a set of window `next` goes into the bucket of a set of
    /// window `acc` (so the two may be added as soon as both are known):
    /// always for `All`, never for `None`, else when `next` lies in one
    /// period and that period is `acc`'s.
    pub fn same_bucket(self, acc: Window, next: Window) -> bool {
        match (self, self.period()) {
            (Accumulate::All, _) => true,
            (_, None) => false,
            (_, Some(period)) => {
                self.check(next).is_ok() && period.floor(acc.start()) == period.floor(next.start())
            }
        }
    }

    /// The period a set must fit in, if any.
    fn period(self) -> Option<Period> {
        match self {
            Self::None | Self::All => None,
            Self::Hour => Some(Period::Hour),
            Self::Day => Some(Period::Day),
            Self::Week => Some(Period::Week),
            Self::Month => Some(Period::Month),
        }
    }

    /// Whether a set of window `w` can be accumulated this way: it must
    /// not straddle a period boundary (it cannot be split without
    /// inventing data). A caller that computes one set per window checks
    /// this before computing.
    ///
    /// # Errors
    ///
    /// [`Error::Accumulate`] naming the window and the period.
    pub fn check(self, w: Window) -> Result<()> {
        // An empty window at a boundary belongs to the period it starts.
        match self.period() {
            Some(p) if w.end() > p.next(w.start()) => Err(Error::Accumulate {
                reason: format!(
                    "set {w} crosses a {self:?} boundary; accumulate by a coarser period \
                     or recompute with smaller sets"
                ),
            }),
            _ => Ok(()),
        }
    }
}

impl FromStr for Accumulate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "" | "none" | "false" => Self::None,
            "all" | "true" => Self::All,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            other => {
                return Err(Error::Accumulate {
                    reason: format!(
                        "unknown accumulation {other:?}: expected all, hour, day, week or month"
                    ),
                });
            }
        })
    }
}

/// Consecutive allocation sets, e.g. one per day of a query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllocationSetRange {
    /// The sets, in window order.
    pub sets: Vec<AllocationSet>,
}

impl AllocationSetRange {
    /// A range of `sets`, sorted by window.
    pub fn new(mut sets: Vec<AllocationSet>) -> Self {
        sets.sort_by_key(AllocationSet::window);
        Self { sets }
    }

    /// Sum of every set's total cost.
    pub fn total_cost(&self) -> f64 {
        crate::allocation::sum(self.sets.iter().map(AllocationSet::total_cost))
    }

    /// Everything in one set (none for an empty range).
    fn accumulate_all(&self) -> Self {
        let mut iter = self.sets.iter();
        let Some(first) = iter.next() else {
            return Self::default();
        };
        let mut acc = first.clone();
        for s in iter {
            acc.accumulate(s);
        }
        Self { sets: vec![acc] }
    }

    /// Combine sets by period. A set that straddles a period boundary
    /// cannot be split without inventing data, so that is an error naming
    /// the set; so is asking for periods finer than the sets.
    pub fn accumulate(&self, by: Accumulate) -> Result<AllocationSetRange> {
        let Some(period) = by.period() else {
            return Ok(match by {
                Accumulate::All => self.accumulate_all(),
                _ => self.clone(),
            });
        };
        let mut out: Vec<AllocationSet> = Vec::new();
        for set in &self.sets {
            by.check(set.window())?;
            let bucket = period.floor(set.window().start());
            match out.last_mut() {
                Some(last) if period.floor(last.window().start()) == bucket => last.accumulate(set),
                _ => out.push(set.clone()),
            }
        }
        Ok(Self { sets: out })
    }
}
