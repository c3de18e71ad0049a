//! The running containers found by their key or by cAdvisor's, as
//! positions in [`Inputs::containers`](super::inputs::Inputs): the tables
//! hold positions, never copies of the keys.
//!
//! Every per-container series of a day is looked up here (a fleet's:
//! 60,000 containers, over 400,000 lookups). Maps from copied keys were two
//! tables of 6–7 MiB read at random, beside the containers the lookup then
//! updates: past the last-level cache at fleet scale, where each lookup
//! missed twice. Tables of positions take 9 and 17 bytes an entry (under
//! 2 MiB for both at 60,000), and their key comparison reads the container
//! the caller goes on to update.

use std::hash::{BuildHasher, Hash};
use std::ops::Range;

use hashbrown::HashTable;

use super::inputs::Container;
use super::keys::{CadvisorKey, ContainerKey, JoinHasher};

/// Positions of containers by key.
pub(crate) struct ContainerIndex {
    /// The position of each container key (keys are unique).
    by_key: HashTable<usize>,
    /// The positions `start..end` of each run of containers sharing a
    /// cAdvisor key.
    by_cadvisor: HashTable<(usize, usize)>,
}

/// The join maps' hash, for the same reasons.
fn hash<K: Hash>(k: &K) -> u64 {
    JoinHasher::default().hash_one(k)
}

impl ContainerIndex {
    /// Index `containers`, whose keys are unique and sorted so that those
    /// sharing a cAdvisor key (incarnations of a pod name on one node) are
    /// adjacent, as [`Inputs::read`](super::inputs::Inputs::read) orders
    /// them.
    pub(crate) fn new(containers: &[Container<'_>]) -> Self {
        let key = |i: usize| &containers[i].key;
        let cadvisor = |i: usize| containers[i].cadvisor_key();
        let mut by_key = HashTable::with_capacity(containers.len());
        let mut by_cadvisor: HashTable<(usize, usize)> = HashTable::with_capacity(containers.len());
        for (i, c) in containers.iter().enumerate() {
            debug_assert!(by_key.find(hash(&c.key), |&j| key(j) == &c.key).is_none());
            by_key.insert_unique(hash(&c.key), i, |&j| hash(key(j)));
            let ck = c.cadvisor_key();
            let h = hash(&ck);
            match by_cadvisor.find_mut(h, |&(start, _)| cadvisor(start) == ck) {
                Some((_, end)) => {
                    debug_assert_eq!(*end, i, "a cAdvisor key's containers are adjacent");
                    *end = i + 1;
                }
                None => {
                    by_cadvisor.insert_unique(h, (i, i + 1), |&(s, _)| hash(&cadvisor(s)));
                }
            }
        }
        Self {
            by_key,
            by_cadvisor,
        }
    }

    /// The position of the container called `key`.
    pub(crate) fn get(
        &self,
        containers: &[Container<'_>],
        key: &ContainerKey<'_>,
    ) -> Option<usize> {
        self.by_key
            .find(hash(key), |&i| containers[i].key == *key)
            .copied()
    }

    /// The positions of the containers cAdvisor calls `key` (empty when
    /// none).
    pub(crate) fn cadvisor(
        &self,
        containers: &[Container<'_>],
        key: &CadvisorKey<'_>,
    ) -> Range<usize> {
        self.by_cadvisor
            .find(hash(key), |&(start, _)| {
                containers[start].cadvisor_key() == *key
            })
            .map_or(0..0, |&(start, end)| start..end)
    }
}
