//! What a file covers beyond its totals, so that the overwrite policy can
//! tell a rebuild that lost part of the source from one that did not.
//!
//! A cluster's total cost is its node cost whatever the allocations (idle
//! takes the rest), so totals alone let a rebuild that lost pod labels,
//! owners, provider ids, requests or a namespace's pods replace a good
//! file. [`Coverage`] counts those per file; [`Coverage::shortfall`] names
//! the first one a rebuild lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::allocation::Allocation;
use crate::set::AllocationSet;

/// Per-file coverage: container-hours per namespace and how many
/// allocations carry each kind of metadata and measurement. Files written
/// before it existed read it as empty, which any rebuild covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Coverage {
    /// Σ running minutes of the namespace's allocations (idle and
    /// unmounted excluded), rounded: whole numbers survive the footer's
    /// JSON exactly, and a minute is finer than any tolerance.
    pub namespace_minutes: BTreeMap<String, u64>,
    /// Allocations with at least one label.
    pub labelled: u64,
    /// Allocations with a controller (owner).
    pub owned: u64,
    /// Allocations on a node with a provider id.
    pub provider_ids: u64,
    /// Allocations with a CPU request.
    pub cpu_requests: u64,
    /// Allocations with a RAM request.
    pub ram_requests: u64,
    /// Allocations with CPU usage.
    pub cpu_usage: u64,
    /// Allocations with RAM usage.
    pub ram_usage: u64,
}

/// A namespace losing less than this many minutes is scrape jitter, not
/// lost data, whatever the tolerance says about small namespaces.
const NAMESPACE_SLACK_MINUTES: u64 = 15;

impl Coverage {
    /// The coverage of `set`'s allocations (idle and unmounted excluded).
    pub fn of(set: &AllocationSet) -> Self {
        let mut c = Self::default();
        let mut hours: BTreeMap<String, f64> = BTreeMap::new();
        for a in set.iter().filter(|a| !a.is_idle() && !a.is_unmounted()) {
            *hours.entry(a.properties.namespace.to_string()).or_default() += a.hours();
            c.add(a);
        }
        // `as` saturates: NaN and negative hours count as none.
        c.namespace_minutes = hours
            .into_iter()
            .map(|(ns, h)| (ns, (h * 60.0).round() as u64))
            .collect();
        c
    }

    fn add(&mut self, a: &Allocation) {
        let p = &a.properties;
        let count = |yes: bool| u64::from(yes);
        self.labelled += count(!p.labels.is_empty());
        self.owned += count(!p.controller.is_empty());
        self.provider_ids += count(!p.provider_id.is_empty());
        self.cpu_requests += count(a.cpu_core_request_average > 0.0);
        self.ram_requests += count(a.ram_bytes_request_average > 0.0);
        self.cpu_usage += count(a.cpu_core_usage_average > 0.0);
        self.ram_usage += count(a.ram_bytes_usage_average > 0.0);
    }

    /// The first measure in which `self` (a rebuild) falls below `stored`
    /// by more than `tolerance` (relative), as a phrase; `None` when it
    /// covers as much.
    pub fn shortfall(&self, stored: &Coverage, tolerance: f64) -> Option<String> {
        let floor = 1.0 - tolerance;
        for (ns, &old) in &stored.namespace_minutes {
            let new = self.namespace_minutes.get(ns).copied().unwrap_or(0);
            if (new as f64) < old as f64 * floor && old - new > NAMESPACE_SLACK_MINUTES {
                let name = if ns.is_empty() { "(none)" } else { ns };
                let hours = |m: u64| m as f64 / 60.0;
                return Some(format!(
                    "namespace {name}: {:.2} container-hours, stored {:.2}",
                    hours(new),
                    hours(old)
                ));
            }
        }
        [
            ("allocations with labels", self.labelled, stored.labelled),
            ("allocations with an owner", self.owned, stored.owned),
            (
                "allocations with a provider id",
                self.provider_ids,
                stored.provider_ids,
            ),
            ("CPU requests", self.cpu_requests, stored.cpu_requests),
            ("RAM requests", self.ram_requests, stored.ram_requests),
            ("CPU usage", self.cpu_usage, stored.cpu_usage),
            ("RAM usage", self.ram_usage, stored.ram_usage),
        ]
        .into_iter()
        .find(|&(_, new, old)| (new as f64) < old as f64 * floor)
        .map(|(what, new, old)| format!("{what}: {new}, stored {old}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage() -> Coverage {
        Coverage {
            namespace_minutes: [("a".to_owned(), 1440), ("b".to_owned(), 120)].into(),
            labelled: 10,
            owned: 10,
            provider_ids: 10,
            cpu_requests: 10,
            ram_requests: 10,
            cpu_usage: 10,
            ram_usage: 10,
        }
    }

    #[test]
    fn the_same_or_more_is_no_shortfall() {
        let c = coverage();
        assert_eq!(c.shortfall(&c, 0.01), None);
        assert_eq!(c.shortfall(&Coverage::default(), 0.01), None);
        let mut more = c.clone();
        more.namespace_minutes.insert("new".into(), 60);
        more.owned = 12;
        assert_eq!(more.shortfall(&c, 0.01), None);
    }

    #[test]
    fn a_lost_namespace_or_lost_metadata_is_named() {
        let c = coverage();
        let mut lost_ns = c.clone();
        lost_ns.namespace_minutes.remove("b");
        assert_eq!(
            lost_ns.shortfall(&c, 0.01).unwrap(),
            "namespace b: 0.00 container-hours, stored 2.00"
        );
        let mut no_owners = c.clone();
        no_owners.owned = 0;
        assert_eq!(
            no_owners.shortfall(&c, 0.01).unwrap(),
            "allocations with an owner: 0, stored 10"
        );
        let mut no_requests = c.clone();
        no_requests.cpu_requests = 9;
        assert!(no_requests.shortfall(&c, 0.01).is_some());
        assert_eq!(no_requests.shortfall(&c, 0.2), None);
    }

    #[test]
    fn jitter_in_a_small_namespace_is_not_a_loss() {
        let c = coverage();
        let mut jitter = c.clone();
        jitter.namespace_minutes.insert("b".into(), 108);
        assert_eq!(jitter.shortfall(&c, 0.01), None);
    }
}
