//! The text of the properties a parallel task's containers are built
//! with, each distinct string once.
//!
//! A day's allocations repeat a few thousand strings (clusters, nodes,
//! namespaces, controller kinds, provider ids, container names) tens of
//! thousands of times. One shared [`ArcStr`] per distinct string of a task
//! means one allocation where there were thousands, and aggregation that
//! drops merged allocations decrements counts instead of freeing.

use std::collections::HashMap;

use crate::properties::ArcStr;

/// Distinct strings, borrowed from the query results (or the metadata
/// read off them) as keys.
#[derive(Default)]
pub(super) struct Strings<'a>(HashMap<&'a str, ArcStr, foldhash::fast::RandomState>);

impl<'a> Strings<'a> {
    /// `s`, shared with every earlier equal string.
    pub(super) fn get(&mut self, s: &'a str) -> ArcStr {
        if s.is_empty() {
            // Static: no allocation, no count.
            return ArcStr::new();
        }
        self.0.entry(s).or_insert_with(|| ArcStr::from(s)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let mut strings = Strings::default();
        let (a, b) = (String::from("kube-system"), String::from("kube-system"));
        let (x, y) = (strings.get(&a), strings.get(&b));
        assert_eq!(x, "kube-system");
        assert!(ArcStr::ptr_eq(&x, &y));
        assert!(!ArcStr::ptr_eq(&x, &strings.get("default")));
        assert_eq!(strings.get(""), "");
    }
}
