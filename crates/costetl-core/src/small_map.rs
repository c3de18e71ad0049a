//! `SmallMap`: an ordered map for the per-allocation breakdowns (PVs, load
//! balancers) that hold one entry in most allocations and thousands in a
//! fleet's aggregate.
//!
//! A `BTreeMap` allocates a whole leaf (room for eleven entries, about
//! 1 KiB here) on its first insert: at 60,000 containers, 54,000 of them
//! behind exactly one load balancer, that was 70 MiB of a 315 MiB day and
//! a page-faulted allocation per container. A sorted vector is exact in
//! size but inserts in O(n), which aggregating a fleet's balancers into one
//! key would make quadratic. So this map is a sorted vector up to
//! [`FEW`] entries and a `BTreeMap` beyond: the same order, the same
//! answers, either way (equality compares entries, not the representation).
//! No crate we found keeps a map ordered across both representations;
//! `litemap` is the vector half only.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::fmt;
use std::ops::Index;

use either::Either;

/// Entries kept in the sorted vector; one more moves the map to a tree.
pub const FEW: usize = 8;

/// An ordered map: a sorted vector while small, a `BTreeMap` when large.
#[derive(Clone)]
pub struct SmallMap<K, V>(Repr<K, V>);

#[derive(Clone)]
enum Repr<K, V> {
    /// Sorted by key, no key twice, at most [`FEW`] entries.
    Few(Vec<(K, V)>),
    Many(BTreeMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> SmallMap<K, V> {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        Self(Repr::Few(Vec::new()))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Few(v) => v.len(),
            Repr::Many(m) => m.len(),
        }
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        match &self.0 {
            Repr::Few(v) => Either::Left(v.iter().map(pair as fn(&(K, V)) -> (&K, &V))),
            Repr::Many(m) => Either::Right(m.iter()),
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.iter().map(|(_, v)| v)
    }

    /// The values in key order, mutably.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        match &mut self.0 {
            Repr::Few(v) => Either::Left(v.iter_mut().map(|(_, v)| v)),
            Repr::Many(m) => Either::Right(m.values_mut()),
        }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// The value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match &self.0 {
            Repr::Few(v) => position(v, key).ok().map(|i| &v[i].1),
            Repr::Many(m) => m.get(key),
        }
    }

    /// The value under `key`, mutably.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match &mut self.0 {
            Repr::Few(v) => position(v, key).ok().map(|i| &mut v[i].1),
            Repr::Many(m) => m.get_mut(key),
        }
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Insert `value` under `key`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.make_room_for(&key);
        match &mut self.0 {
            Repr::Few(v) => match position(v, &key) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, value)),
                Err(i) => {
                    insert_at(v, i, key, value);
                    None
                }
            },
            Repr::Many(m) => m.insert(key, value),
        }
    }

    /// The value under `key`, inserting `value()` under an owned copy of
    /// the key first if it is missing (the key is copied only then).
    pub fn get_or_insert_with<Q>(&mut self, key: &Q, value: impl FnOnce() -> V) -> &mut V
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        self.make_room_for(key);
        match &mut self.0 {
            Repr::Few(v) => {
                let i = position(v, key).unwrap_or_else(|i| {
                    insert_at(v, i, key.to_owned(), value());
                    i
                });
                &mut v[i].1
            }
            Repr::Many(m) => {
                if !m.contains_key(key) {
                    m.insert(key.to_owned(), value());
                }
                m.get_mut(key).expect("the key was just found or inserted")
            }
        }
    }

    /// Remove and return the first entry in key order.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        match &mut self.0 {
            Repr::Few(v) => (!v.is_empty()).then(|| v.remove(0)),
            Repr::Many(m) => m.pop_first(),
        }
    }

    /// Move a full vector to a tree when `key` would be one entry too many.
    fn make_room_for<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if let Repr::Few(v) = &mut self.0
            && v.len() >= FEW
            && position(v, key).is_err()
        {
            self.0 = Repr::Many(std::mem::take(v).into_iter().collect());
        }
    }
}

/// Insert at sorted position `at`, growing one entry at a time while the
/// vector is tiny: most maps hold one entry for good, and `Vec`'s first
/// growth would make room for four.
fn insert_at<K, V>(v: &mut Vec<(K, V)>, at: usize, key: K, value: V) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.insert(at, (key, value));
}

/// Where `key` is (`Ok`) or would go (`Err`) in a sorted vector.
fn position<K: Borrow<Q>, Q: Ord + ?Sized, V>(v: &[(K, V)], key: &Q) -> Result<usize, usize> {
    v.binary_search_by(|(k, _)| k.borrow().cmp(key))
}

impl<K: Ord, V> FromIterator<(K, V)> for SmallMap<K, V> {
    /// Like `BTreeMap`'s: for a key given twice, the last value stays.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for SmallMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for SmallMap<K, V> {
    fn from(tree: BTreeMap<K, V>) -> Self {
        if tree.len() > FEW {
            Self(Repr::Many(tree))
        } else {
            Self(Repr::Few(tree.into_iter().collect()))
        }
    }
}

impl<K, V> IntoIterator for SmallMap<K, V> {
    type Item = (K, V);
    type IntoIter = Either<std::vec::IntoIter<(K, V)>, btree_map::IntoIter<K, V>>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            Repr::Few(v) => Either::Left(v.into_iter()),
            Repr::Many(m) => Either::Right(m.into_iter()),
        }
    }
}

/// The entries of a [`SmallMap`] in key order, borrowed.
pub type Iter<'a, K, V> = Either<
    std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>,
    btree_map::Iter<'a, K, V>,
>;

fn pair<K, V>((k, v): &(K, V)) -> (&K, &V) {
    (k, v)
}

impl<'a, K, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> Index<&Q> for SmallMap<K, V> {
    type Output = V;

    /// Panics when `key` is missing, like `BTreeMap`'s.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key present in SmallMap")
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for SmallMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Eq, V: Eq> Eq for SmallMap<K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        Bump(u8, u32),
        PopFirst,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Keys from a small range so inserts hit existing keys, and enough
        // of them to cross FEW both ways.
        prop_oneof![
            (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Bump(k, v)),
            Just(Op::PopFirst),
        ]
    }

    proptest! {
        /// Whatever the operations, the map answers like a `BTreeMap`.
        #[test]
        fn behaves_like_a_btree_map(ops in prop::collection::vec(op(), 0..80)) {
            let mut small = SmallMap::new();
            let mut tree = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(small.insert(k, v), tree.insert(k, v)),
                    Op::Bump(k, v) => {
                        *small.get_or_insert_with(&k, || 1) ^= v;
                        *tree.entry(k).or_insert(1) ^= v;
                    }
                    Op::PopFirst => prop_assert_eq!(small.pop_first(), tree.pop_first()),
                }
                prop_assert_eq!(small.len(), tree.len());
                prop_assert!(small.iter().eq(tree.iter()));
                for k in 0u8..24 {
                    prop_assert_eq!(small.get(&k), tree.get(&k));
                }
            }
            let rebuilt: SmallMap<u8, u32> = tree.clone().into();
            prop_assert_eq!(&rebuilt, &small);
            prop_assert!(small.into_iter().eq(tree));
        }
    }

    #[test]
    fn one_entry_takes_room_for_one() {
        let mut m = SmallMap::new();
        m.insert("a".to_owned(), 1);
        let Repr::Few(v) = &m.0 else {
            panic!("one entry is kept in the vector")
        };
        assert_eq!(v.capacity(), 1);
    }

    #[test]
    fn equality_ignores_the_representation() {
        let many: SmallMap<usize, usize> = (0..=FEW).map(|i| (i, i)).collect();
        assert!(matches!(many.0, Repr::Many(_)));
        let mut shrunk = many.clone();
        shrunk.pop_first();
        let few: SmallMap<usize, usize> = (1..=FEW).map(|i| (i, i)).collect();
        assert!(matches!(few.0, Repr::Few(_)));
        assert_eq!(shrunk, few);
        assert_ne!(many, few);
    }
}
