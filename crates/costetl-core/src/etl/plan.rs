//! What a store needs built and what it may drop, sans IO: [`plan`] reads
//! the clock, the retention and the files of one resolution, and lists the
//! windows to (re)build and the files past retention.
//!
//! This is the export controller of Kubecost and OpenCost as a pure
//! function, so a service can run it on a timer and a CLI once: each run
//! builds the still-open window again (its file stays provisional until
//! the window closes), the first build after a window closes finishes it,
//! and failed or unreadable files are retried while they are retained.
//!
//! Which (cluster, window) pairs lack a file is decided per cluster from
//! the span its files cover, so a cluster that is gone does not make every
//! later window look broken:
//! - a window after the newest file of the whole store is new: built for
//!   every cluster the backend has (an empty store: every window retained);
//! - a window inside a cluster's span (its first to its last file) without
//!   a file is a gap of that cluster;
//! - a window with a cluster's pending marker ([`EtlKey::pending_path`])
//!   and no file is a build that was interrupted, wherever it lies: a crash
//!   between two clusters' files of a cluster's first window, or in the
//!   newest window, is found by the next sync, not by the one after.
//!
//! A cluster that stopped reporting before the others shows no gap until
//! it reports again; `costetl etl status` shows where each cluster ends.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use super::key::{EtlKey, Resolution};
use super::meta::EtlMeta;
use crate::error::{Error, Result};
use crate::window::Window;

/// Why a cluster's file for a window is to be built.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// No file: a new window, or a gap in the cluster's span.
    Missing,
    /// The stored file was built before its window closed.
    Provisional,
    /// The stored file recorded this many errors.
    Failed(usize),
    /// The stored file does not decode (the reason).
    Unreadable(String),
}

impl Need {
    /// A few words for reports.
    pub fn describe(&self) -> String {
        match self {
            Need::Missing => "missing".to_owned(),
            Need::Provisional => "provisional".to_owned(),
            Need::Failed(n) => format!("{n} error(s)"),
            Need::Unreadable(why) => format!("unreadable ({why})"),
        }
    }
}

/// One window to build.
#[derive(Clone, Debug, PartialEq)]
pub struct Build {
    /// The window, one of the resolution.
    pub window: Window,
    /// The clusters that need a file, and why. Empty for a new window:
    /// every cluster the build finds needs one.
    pub needs: Vec<(String, Need)>,
    /// Clusters whose stored file is good: a build leaves them alone.
    pub good: BTreeSet<String>,
}

/// The plan of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The windows kept: retention before the current window, and the
    /// current window if it has begun.
    pub retained: Window,
    /// Windows to build, oldest first.
    pub build: Vec<Build>,
    /// Files whose window ended before `retained` began.
    pub expired: Vec<EtlKey>,
}

/// A stored file as listed: its key, and its meta or why it is unreadable.
pub type Stored = (EtlKey, std::result::Result<EtlMeta, String>);

/// The retained range at `now`: from the boundary `retention` before the
/// current window's start up to the end of the current window (or up to
/// `now`, when `now` is a boundary and the window has not begun).
///
/// # Errors
///
/// [`Error::InvalidWindow`] when `retention` is shorter than one window or
/// the range falls outside the representable time.
pub fn retained(
    now: DateTime<Utc>,
    resolution: Resolution,
    retention: TimeDelta,
) -> Result<Window> {
    let len = resolution.duration();
    let invalid = |reason: String| Error::InvalidWindow {
        input: format!("{retention} of {resolution} files at {now}"),
        reason,
    };
    if retention < len {
        return Err(invalid(format!(
            "retention is shorter than one {resolution} window"
        )));
    }
    let secs = len.num_seconds();
    let floor = now.timestamp() - now.timestamp().rem_euclid(secs);
    let begun = now.timestamp() > floor || now.timestamp_subsec_nanos() > 0;
    let end = if begun { floor + secs } else { floor };
    // Whole windows of retention, rounded up: 36h of hourly files keeps 36.
    let windows = (retention.num_seconds() + secs - 1) / secs;
    let start = floor - windows * secs;
    let at = |s: i64| {
        DateTime::<Utc>::from_timestamp(s, 0).ok_or_else(|| invalid("out of range".to_owned()))
    };
    Window::new(at(start)?, at(end)?)
}

/// The sync plan for the files `stored` (one resolution) and the keys with
/// a `pending` marker at `now`.
///
/// # Errors
///
/// As [`retained`].
pub fn plan(
    now: DateTime<Utc>,
    resolution: Resolution,
    retention: TimeDelta,
    stored: &[Stored],
    pending: &[EtlKey],
) -> Result<Plan> {
    let range = retained(now, resolution, retention)?;
    let mut expired = Vec::new();
    let mut files: BTreeMap<(Window, &str), &std::result::Result<EtlMeta, String>> =
        BTreeMap::new();
    // Each cluster's span: its first window start and last window end.
    let mut spans: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    let mut newest: Option<DateTime<Utc>> = None;
    for (key, meta) in stored.iter().filter(|(k, _)| k.resolution == resolution) {
        if key.window.end() <= range.start() {
            expired.push(key.clone());
            continue;
        }
        files.insert((key.window, key.cluster.as_str()), meta);
        let span = spans
            .entry(key.cluster.as_str())
            .or_insert((key.window.start(), key.window.end()));
        span.0 = span.0.min(key.window.start());
        span.1 = span.1.max(key.window.end());
        newest = newest.max(Some(key.window.end()));
    }
    expired.sort();

    let interrupted: BTreeSet<(Window, &str)> = pending
        .iter()
        .filter(|k| k.resolution == resolution && k.window.end() > range.start())
        .map(|k| (k.window, k.cluster.as_str()))
        .filter(|w_c| !files.contains_key(w_c))
        .collect();
    let mut build = Vec::new();
    for window in resolution.windows(range)? {
        let is_new = newest.is_none_or(|n| window.start() >= n);
        let mut needs = Vec::new();
        let mut good = BTreeSet::new();
        for (&cluster, &(first, last)) in &spans {
            let need = match files.get(&(window, cluster)) {
                None if window.start() >= first && window.end() <= last => Some(Need::Missing),
                None => None,
                Some(Err(why)) => Some(Need::Unreadable(why.clone())),
                Some(Ok(m)) if !m.complete => Some(Need::Provisional),
                Some(Ok(m)) if !m.errors.is_empty() => Some(Need::Failed(m.errors.len())),
                Some(Ok(_)) => {
                    good.insert(cluster.to_owned());
                    None
                }
            };
            needs.extend(need.map(|n| (cluster.to_owned(), n)));
        }
        for &(_, cluster) in interrupted
            .range((window, "")..)
            .take_while(|(w, _)| *w == window)
        {
            if !needs.iter().any(|(c, _)| c == cluster) {
                needs.push((cluster.to_owned(), Need::Missing));
            }
        }
        if is_new || !needs.is_empty() {
            build.push(Build {
                window,
                needs,
                good,
            });
        }
    }
    Ok(Plan {
        retained: range,
        build,
        expired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etl::SCHEMA_VERSION;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn day(d: &str) -> Window {
        let start = t(&format!("{d}T00:00:00Z"));
        Window::new(start, start + TimeDelta::days(1)).unwrap()
    }

    fn file(cluster: &str, d: &str) -> Stored {
        let window = day(d);
        let meta = EtlMeta {
            schema_version: SCHEMA_VERSION,
            cluster: cluster.into(),
            resolution: Resolution::Daily,
            window,
            producer: "test".into(),
            built_at: window.end() + TimeDelta::hours(2),
            complete: true,
            allocations: 3,
            total_cost: 10.0,
            container_hours: 24.0,
            coverage: crate::etl::Coverage::default(),
            warnings: vec![],
            typed_warnings: vec![],
            errors: vec![],
        };
        (
            EtlKey::new(cluster, Resolution::Daily, window).unwrap(),
            Ok(meta),
        )
    }

    fn windows(p: &Plan) -> Vec<String> {
        p.build
            .iter()
            .map(|b| b.window.start().format("%m-%d").to_string())
            .collect()
    }

    const NOW: &str = "2023-11-15T06:00:00Z";

    #[test]
    fn retained_range_holds_the_open_window() {
        let r = retained(t(NOW), Resolution::Daily, TimeDelta::days(3)).unwrap();
        assert_eq!(
            r,
            Window::new(t("2023-11-12T00:00:00Z"), t("2023-11-16T00:00:00Z")).unwrap()
        );
        // At a boundary the new window has not begun.
        let r = retained(
            t("2023-11-15T00:00:00Z"),
            Resolution::Daily,
            TimeDelta::days(3),
        )
        .unwrap();
        assert_eq!(r.end(), t("2023-11-15T00:00:00Z"));
        assert_eq!(r.start(), t("2023-11-12T00:00:00Z"));
        // Hourly, 36h: 36 closed hours and the open one (none at 06:00).
        let r = retained(
            t("2023-11-15T06:30:00Z"),
            Resolution::Hourly,
            TimeDelta::hours(36),
        );
        assert_eq!(r.unwrap().duration(), TimeDelta::hours(37));
        let r = retained(t(NOW), Resolution::Hourly, TimeDelta::hours(36)).unwrap();
        assert_eq!(r.duration(), TimeDelta::hours(36));
        // Partial windows of retention round up.
        let r = retained(t(NOW), Resolution::Daily, TimeDelta::hours(30)).unwrap();
        assert_eq!(r.start(), t("2023-11-13T00:00:00Z"));
        assert!(retained(t(NOW), Resolution::Daily, TimeDelta::hours(23)).is_err());
    }

    #[test]
    fn an_empty_store_builds_every_retained_window() {
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &[], &[]).unwrap();
        assert_eq!(windows(&p), ["11-12", "11-13", "11-14", "11-15"]);
        assert!(
            p.build
                .iter()
                .all(|b| b.needs.is_empty() && b.good.is_empty())
        );
        assert!(p.expired.is_empty());
    }

    #[test]
    fn complete_files_are_left_alone_and_the_open_window_is_rebuilt() {
        let stored: Vec<Stored> = ["11-12", "11-13", "11-14"]
            .iter()
            .flat_map(|d| {
                [
                    file("a", &format!("2023-{d}")),
                    file("b", &format!("2023-{d}")),
                ]
            })
            .collect();
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        assert_eq!(windows(&p), ["11-15"]);
        assert!(p.build[0].needs.is_empty());
        assert!(p.build[0].good.is_empty());
    }

    #[test]
    fn gaps_provisional_failed_and_unreadable_files_are_rebuilt() {
        let mut stored = vec![
            file("a", "2023-11-12"),
            file("a", "2023-11-14"),
            file("b", "2023-11-12"),
            file("b", "2023-11-13"),
            file("b", "2023-11-14"),
        ];
        // b's 11-13 is provisional, a's 11-14 failed, b's 11-14 unreadable.
        if let Ok(m) = &mut stored[3].1 {
            m.complete = false;
        }
        if let Ok(m) = &mut stored[1].1 {
            m.errors = vec!["query x: 503".into(), "query y: 503".into()];
        }
        stored[4].1 = Err("checksum mismatch".into());
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        assert_eq!(windows(&p), ["11-13", "11-14", "11-15"]);
        let b = &p.build[0];
        assert_eq!(
            b.needs,
            [
                ("a".to_owned(), Need::Missing),
                ("b".to_owned(), Need::Provisional)
            ]
        );
        assert!(b.good.is_empty());
        let b = &p.build[1];
        assert_eq!(
            b.needs,
            [
                ("a".to_owned(), Need::Failed(2)),
                ("b".to_owned(), Need::Unreadable("checksum mismatch".into()))
            ]
        );
        assert_eq!(p.build[1].needs[0].1.describe(), "2 error(s)");
    }

    #[test]
    fn a_cluster_that_stopped_is_not_a_gap_but_one_that_resumed_is() {
        let stored = vec![
            file("gone", "2023-11-12"),
            file("live", "2023-11-12"),
            file("live", "2023-11-13"),
            file("live", "2023-11-14"),
        ];
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        assert_eq!(windows(&p), ["11-15"]);
        let mut stored = stored;
        stored.push(file("gone", "2023-11-14"));
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        assert_eq!(windows(&p), ["11-13", "11-15"]);
        assert_eq!(p.build[0].needs, [("gone".to_owned(), Need::Missing)]);
        assert_eq!(p.build[0].good, BTreeSet::from(["live".to_owned()]));
    }

    #[test]
    fn files_past_retention_expire_and_do_not_count() {
        let stored = vec![
            file("a", "2023-11-10"),
            file("a", "2023-11-11"),
            file("a", "2023-11-14"),
        ];
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        let expired: Vec<Window> = p.expired.iter().map(|k| k.window).collect();
        assert_eq!(expired, [day("2023-11-10"), day("2023-11-11")]);
        // 11-12 and 11-13 lie before a's first retained file: not gaps.
        assert_eq!(windows(&p), ["11-15"]);
    }

    #[test]
    fn other_resolutions_are_ignored() {
        let hour = Window::new(t("2023-11-14T05:00:00Z"), t("2023-11-14T06:00:00Z")).unwrap();
        let mut f = file("a", "2023-11-14");
        f.0 = EtlKey::new("a", Resolution::Hourly, hour).unwrap();
        let p = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &[f], &[]).unwrap();
        assert_eq!(windows(&p), ["11-12", "11-13", "11-14", "11-15"]);
        assert!(p.expired.is_empty());
    }

    /// A crash between two clusters' files of b's first window (its marker
    /// left, its file never written) and one in the newest window: both are
    /// found by the next sync, though b's first file comes later and the
    /// newest window is not new.
    #[test]
    fn pending_markers_without_files_are_interrupted_builds() {
        let stored = vec![
            file("a", "2023-11-13"),
            file("a", "2023-11-14"),
            file("b", "2023-11-14"),
            file("a", "2023-11-15"),
        ];
        let key = |c: &str, d: &str| EtlKey::new(c, Resolution::Daily, day(d)).unwrap();
        let pending = [
            key("b", "2023-11-13"),
            key("b", "2023-11-15"),
            // A marker whose file was written (cleared late): nothing to do.
            key("a", "2023-11-14"),
        ];
        let without = plan(t(NOW), Resolution::Daily, TimeDelta::days(3), &stored, &[]).unwrap();
        assert!(
            without.build.iter().all(|b| b.needs.is_empty()),
            "{:?}",
            without.build
        );
        let p = plan(
            t(NOW),
            Resolution::Daily,
            TimeDelta::days(3),
            &stored,
            &pending,
        )
        .unwrap();
        let needs: Vec<(String, Vec<(String, Need)>)> = p
            .build
            .iter()
            .filter(|b| !b.needs.is_empty())
            .map(|b| {
                (
                    b.window.start().format("%m-%d").to_string(),
                    b.needs.clone(),
                )
            })
            .collect();
        assert_eq!(
            needs,
            [
                ("11-13".to_owned(), vec![("b".to_owned(), Need::Missing)]),
                ("11-15".to_owned(), vec![("b".to_owned(), Need::Missing)]),
            ]
        );
        assert!(p.build[0].good.contains("a"));
    }
}
