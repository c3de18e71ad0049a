//! [`Labels`]: a label or annotation map that the allocations carrying it
//! share. A day of 60,000 containers holds four such maps per allocation
//! (labels, annotations, the namespace's labels and annotations), almost
//! all of them equal to their pod's or namespace's. Copying each one made
//! the 60,000-container day's set 588 MiB instead of 448 MiB and its
//! aggregation twice as slow (docs/benchmarks.md). A clone is a reference
//! count; a change copies the map first
//! (copy on write), so code reads and writes it as the map it derefs to.

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Label and annotation maps, ordered so output is deterministic.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<BTreeMap<String, String>>);

impl Labels {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `a` and `b` are the same shared map (then they are equal
    /// without comparing).
    pub fn same(a: &Labels, b: &Labels) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for Labels {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Labels {
    /// The map to change: this allocation's own copy if it was shared.
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(Arc::new(map))
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Self {
        Self(Arc::new(BTreeMap::from(pairs)))
    }
}

impl FromIterator<(String, String)> for Labels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

impl Extend<(String, String)> for Labels {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.0).extend(iter);
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Labels {
    type Item = (String, String);
    type IntoIter = btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::unwrap_or_clone(self.0).into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_is_shared_until_changed() {
        let a = Labels::from([("app".to_owned(), "web".to_owned())]);
        let mut b = a.clone();
        assert!(Labels::same(&a, &b));
        b.insert("team".into(), "x".into());
        assert!(!Labels::same(&a, &b));
        assert_eq!(a.len(), 1, "the original is untouched");
        assert_eq!(b.len(), 2);
        assert_eq!(format!("{a:?}"), r#"{"app": "web"}"#);
    }
}
