//! A fleet's computed set, cut into what a store keeps: one part per
//! cluster and window. An open window is computed only up to the minute of
//! the build (the backend knows nothing later), and its part still covers
//! the whole window: what ran so far keeps its own start and end inside
//! it, and the file is provisional ([`EtlMeta::complete`](super::EtlMeta)).

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::error::{Error, Result};
use crate::set::AllocationSet;
use crate::window::Window;

/// The part of `w` a build at `built_at` can compute: up to the minute of
/// the build; `None` when `w` began less than a minute before it.
///
/// # Errors
///
/// [`Error::InvalidWindow`] for a `built_at` that cannot be truncated to
/// the minute (out of chrono's range).
pub fn computable(w: Window, built_at: DateTime<Utc>) -> Result<Option<Window>> {
    let minute = built_at
        .duration_trunc(TimeDelta::minutes(1))
        .map_err(|e| Error::InvalidWindow {
            input: built_at.to_rfc3339(),
            reason: format!("cannot truncate the build time to the minute: {e}"),
        })?;
    let upto = w.end().min(minute);
    (upto > w.start())
        .then(|| Window::new(w.start(), upto))
        .transpose()
}

/// `set`, computed for part of `w`, as the parts of `w` to store, by
/// cluster (each allocation's `properties.cluster`): each with the set's
/// warnings about its cluster or none, and the errors whose text names its
/// cluster or none (errors are text).
pub fn by_cluster(set: &AllocationSet, w: Window) -> Vec<(String, AllocationSet)> {
    let mut parts: BTreeMap<String, AllocationSet> = BTreeMap::new();
    for a in set.iter() {
        let mut a = a.clone();
        a.window = w;
        parts
            .entry(a.properties.cluster.to_string())
            .or_insert_with(|| AllocationSet::new(w))
            .insert(a);
    }
    let clusters: Vec<String> = parts.keys().cloned().collect();
    for (cluster, part) in &mut parts {
        part.warnings = (set.warnings.iter())
            .filter(|m| m.concerns(cluster))
            .cloned()
            .collect();
        // A message naming no cluster concerns them all.
        let mine = |m: &&String| {
            m.contains(cluster.as_str()) || !clusters.iter().any(|c| m.contains(c.as_str()))
        };
        part.errors = set.errors.iter().filter(mine).cloned().collect();
    }
    parts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::mock_set;
    use crate::warning::{Warning, WarningKind};
    use chrono::TimeZone;

    #[test]
    fn an_open_window_is_computed_to_the_minute() {
        let d = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        let day = Window::new(d, d + TimeDelta::days(1)).unwrap();
        let at = d + TimeDelta::seconds(3 * 3600 + 59);
        let part = computable(day, at).unwrap().unwrap();
        assert_eq!(part.end(), d + TimeDelta::hours(3));
        assert_eq!(computable(day, d + TimeDelta::seconds(59)).unwrap(), None);
        let closed = computable(day, d + TimeDelta::days(3)).unwrap();
        assert_eq!(closed, Some(day));
    }

    #[test]
    fn split_by_cluster_keeps_every_allocation_and_routes_messages() {
        let d = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        let six = Window::new(d, d + TimeDelta::hours(6)).unwrap();
        let mut set = AllocationSet::new(six);
        for mut a in mock_set(d) {
            a.window = six;
            a.end = a.end.min(six.end());
            set.insert(a);
        }
        // The text names cluster2, the warning is about cluster1: the
        // typed field decides.
        let priced = Warning::new(WarningKind::DefaultPrices, "node cluster2-n1 has no price")
            .node("cluster1", "cluster2-n1");
        let partial = Warning::new(WarningKind::Backend, "backend: partial response");
        set.warnings = vec![priced, partial.clone()];
        set.errors = vec!["cluster2: query x failed".into()];
        // Computed up to 06:00 of the day; the parts are the whole day.
        let day = Window::new(d, d + TimeDelta::days(1)).unwrap();
        let parts = by_cluster(&set, day);
        let names: Vec<&str> = parts.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["cluster1", "cluster2"]);
        let total: f64 = parts.iter().map(|(_, p)| p.total_cost()).sum();
        assert_eq!(total, set.total_cost());
        assert_eq!(parts.iter().map(|(_, p)| p.len()).sum::<usize>(), set.len());
        for (_, p) in &parts {
            assert_eq!(p.window(), day);
            assert!(p.iter().all(|a| a.window == day && a.end <= six.end()));
        }
        let (_, one) = &parts[0];
        assert_eq!(one.warnings.len(), 2);
        assert!(one.errors.is_empty());
        let (_, two) = &parts[1];
        assert_eq!(two.warnings, [partial]);
        assert_eq!(two.errors, ["cluster2: query x failed"]);
    }
}
