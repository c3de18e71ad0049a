//! When a newly built file may replace the one already stored: never
//! overwrite good data with worse (Kubecost's "empty sets overwrite good
//! data" warning, OpenCost's `IsOverwrite`). A rebuild after Prometheus
//! lost data, a query that failed, or an open window must not erase a
//! complete file; a fuller rebuild, a closed window or a schema upgrade
//! replaces it.
//!
//! [`decide`] compares only footers ([`EtlMeta`]), so a store can apply it
//! after fetching a few kilobytes with [`super::decode_meta`].

use super::SCHEMA_VERSION;
use super::meta::EtlMeta;

/// Whether a newly built file may replace the one already stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OverwritePolicy {
    /// Replace whatever is stored (after the key check), e.g. for a repair
    /// the operator asked for.
    pub force: bool,
    /// Relative drop in container-hours or total cost tolerated, default
    /// 0.01: rebuilds of the same window differ a little (scrape jitter,
    /// late samples) without having lost data.
    pub tolerance: f64,
}

impl Default for OverwritePolicy {
    fn default() -> Self {
        Self {
            force: false,
            tolerance: 0.01,
        }
    }
}

/// What to do with a newly built file.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Store the new file.
    Write {
        /// Why, as a sentence for logs.
        reason: String,
    },
    /// Keep the stored file and drop the new one.
    Keep {
        /// Why, as a sentence for logs, naming the numbers.
        reason: String,
    },
}

impl Decision {
    /// Whether the new file should be written.
    pub fn is_write(&self) -> bool {
        matches!(self, Self::Write { .. })
    }

    /// The reason, whichever way it went.
    pub fn reason(&self) -> &str {
        match self {
            Self::Write { reason } | Self::Keep { reason } => reason,
        }
    }
}

fn write(reason: String) -> Decision {
    Decision::Write { reason }
}

fn keep(reason: String) -> Decision {
    Decision::Keep { reason }
}

/// What the store holds for a key, as far as its footer says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Existing<'a> {
    /// No file.
    Absent,
    /// A file whose footer decoded.
    File(&'a EtlMeta),
    /// A file written by a newer costetl (`version` above
    /// [`SCHEMA_VERSION`]): a rolling upgrade must not downgrade it.
    Newer {
        /// The file's schema version.
        version: u32,
    },
    /// A file that did not decode on a second read of its footer nor read
    /// whole: damaged. Only a complete, error-free, non-empty build replaces
    /// it (or `force`); a one-off bad read never gets this far.
    Unreadable(&'a str),
}

/// Whether `new` may replace what is stored.
///
/// The rules, first match wins: no file → write; a newer schema → keep
/// unless forced; an unreadable file → write only a complete, error-free,
/// non-empty build (or forced); a different key → keep (a caller
/// bug); `force` → write; new errors where the stored file had none →
/// keep; an empty build over a non-empty file → keep; a provisional build
/// over a complete one → keep; less than the stored file beyond
/// `tolerance` in container-hours, total cost, allocations or
/// [`coverage`](super::Coverage) (a namespace's container-hours, labels,
/// owners, provider ids, requests, usage) → keep, whatever the stored
/// file's completeness (a provisional file covers less time, so a complete
/// rebuild covers at least as much); otherwise write, saying why (closing
/// the window, upgrading the schema, or the same or more data).
pub fn decide(existing: Existing<'_>, new: &EtlMeta, policy: &OverwritePolicy) -> Decision {
    let old = match existing {
        Existing::Absent => return write("no file is stored for this window".to_owned()),
        Existing::Newer { version } if !policy.force => {
            return keep(format!(
                "stored file has schema version {version}, newer than this costetl's \
                 {SCHEMA_VERSION}: keeping it (upgrade costetl; pass force to replace)"
            ));
        }
        Existing::Unreadable(msg) if !policy.force => {
            return if new.complete && new.errors.is_empty() && new.allocations > 0 {
                write(format!(
                    "replacing unreadable file (read twice and whole: {msg}) with a complete build"
                ))
            } else {
                keep(format!(
                    "stored file is unreadable ({msg}) and the new build is not complete, \
                     error-free and non-empty: keeping it; pass force to replace"
                ))
            };
        }
        Existing::Newer { .. } | Existing::Unreadable(_) => {
            return write("forced over a stored file this costetl cannot read".to_owned());
        }
        Existing::File(old) => old,
    };
    let key = |m: &EtlMeta| (m.cluster.clone(), m.resolution, m.window);
    if key(old) != key(new) {
        return keep(format!(
            "stored file is for {} {} {}, new build for {} {} {}: keeping it \
             (a caller compared files of different keys)",
            old.cluster, old.resolution, old.window, new.cluster, new.resolution, new.window
        ));
    }
    if policy.force {
        return write("forced".to_owned());
    }
    if let Some(reason) = worse(old, new, policy.tolerance) {
        return keep(format!("{reason}: keeping it; pass force to replace"));
    }
    if !old.complete && new.complete {
        return write(format!(
            "stored file was built at {} before the window closed; new build is complete \
             and covers at least as much",
            old.built_at
        ));
    }
    if old.schema_version < SCHEMA_VERSION {
        return write(format!(
            "upgrading stored schema version {} to {SCHEMA_VERSION}",
            old.schema_version
        ));
    }
    write(format!(
        "new build has the same or more data ({:.1} container-hours, {:.2} cost; \
         stored {:.1}, {:.2})",
        new.container_hours, new.total_cost, old.container_hours, old.total_cost
    ))
}

/// Why `new` is worse than the stored `old`, if it is.
fn worse(old: &EtlMeta, new: &EtlMeta, tolerance: f64) -> Option<String> {
    if !new.errors.is_empty() && old.errors.is_empty() {
        let first = new.errors.first().map(String::as_str).unwrap_or_default();
        return Some(format!(
            "new build had {} error(s) (first: {first}), stored file none",
            new.errors.len()
        ));
    }
    if new.allocations == 0 && old.allocations > 0 {
        return Some(format!(
            "new build is empty, stored file has {} allocations",
            old.allocations
        ));
    }
    if !new.complete && old.complete {
        return Some(format!(
            "new build at {} is provisional (window still open), stored file is complete",
            new.built_at
        ));
    }
    let floor = 1.0 - tolerance;
    if new.container_hours < old.container_hours * floor {
        return Some(format!(
            "new build saw {:.1} container-hours, stored file {:.1}",
            new.container_hours, old.container_hours
        ));
    }
    if new.total_cost < old.total_cost * floor {
        return Some(format!(
            "new build totals {:.2} cost, stored file {:.2}",
            new.total_cost, old.total_cost
        ));
    }
    if (new.allocations as f64) < old.allocations as f64 * floor {
        return Some(format!(
            "new build has {} allocations, stored file {}",
            new.allocations, old.allocations
        ));
    }
    new.coverage
        .shortfall(&old.coverage, tolerance)
        .map(|what| format!("new build covers less: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etl::coverage::Coverage;
    use crate::etl::key::Resolution;
    use crate::testing::test_day;
    use chrono::TimeDelta;

    /// A complete daily file with 48 container-hours and 100 cost.
    fn meta() -> EtlMeta {
        EtlMeta {
            schema_version: SCHEMA_VERSION,
            cluster: "c".into(),
            resolution: Resolution::Daily,
            window: test_day(),
            producer: "costetl test".into(),
            built_at: test_day().end() + TimeDelta::hours(1),
            complete: true,
            allocations: 2,
            total_cost: 100.0,
            container_hours: 48.0,
            coverage: Coverage {
                namespace_minutes: [("a".to_owned(), 2880)].into(),
                owned: 2,
                ..Coverage::default()
            },
            warnings: vec![],
            typed_warnings: vec![],
            errors: vec![],
        }
    }

    fn provisional(mut m: EtlMeta) -> EtlMeta {
        m.complete = false;
        m.built_at = test_day().end() - TimeDelta::hours(1);
        m
    }

    fn run(old: &EtlMeta, new: &EtlMeta) -> Decision {
        decide(Existing::File(old), new, &OverwritePolicy::default())
    }

    #[track_caller]
    fn assert_keep(d: &Decision, needle: &str) {
        assert!(
            matches!(d, Decision::Keep { .. }),
            "expected Keep, got {d:?}"
        );
        assert!(
            d.reason().contains(needle),
            "{:?} lacks {needle:?}",
            d.reason()
        );
    }

    #[track_caller]
    fn assert_write(d: &Decision, needle: &str) {
        assert!(d.is_write(), "expected Write, got {d:?}");
        assert!(
            d.reason().contains(needle),
            "{:?} lacks {needle:?}",
            d.reason()
        );
    }

    #[test]
    fn default_tolerance_is_one_percent() {
        assert_eq!(
            OverwritePolicy::default(),
            OverwritePolicy {
                force: false,
                tolerance: 0.01
            }
        );
    }

    #[test]
    fn no_file_is_written() {
        let d = decide(Existing::Absent, &meta(), &OverwritePolicy::default());
        assert_write(&d, "no file is stored");
    }

    #[test]
    fn unreadable_files_take_only_complete_builds_and_newer_ones_are_kept() {
        let policy = OverwritePolicy::default();
        let force = OverwritePolicy {
            force: true,
            ..policy.clone()
        };
        let unreadable = Existing::Unreadable("not a readable ETL Parquet file: EOF");
        assert_write(
            &decide(unreadable, &meta(), &policy),
            "replacing unreadable file (read twice and whole: not a readable ETL Parquet file: EOF)",
        );
        let mut failed = meta();
        failed.errors.push("query cpu failed".into());
        assert_keep(
            &decide(unreadable, &failed, &policy),
            "stored file is unreadable (not a readable ETL Parquet file: EOF) and the new build",
        );
        assert_keep(
            &decide(unreadable, &provisional(meta()), &policy),
            "not complete",
        );
        assert_write(&decide(unreadable, &failed, &force), "forced");
        let newer = Existing::Newer { version: 9 };
        assert_keep(
            &decide(newer, &meta(), &policy),
            &format!("schema version 9, newer than this costetl's {SCHEMA_VERSION}"),
        );
        assert_write(&decide(newer, &meta(), &force), "forced");
    }

    #[test]
    fn different_keys_are_kept_even_when_forced() {
        let force = OverwritePolicy {
            force: true,
            ..OverwritePolicy::default()
        };
        let mut other_cluster = meta();
        other_cluster.cluster = "d".into();
        assert_keep(
            &decide(Existing::File(&meta()), &other_cluster, &force),
            "stored file is for c 1d",
        );
        let mut other_res = meta();
        other_res.resolution = Resolution::Hourly;
        assert_keep(&run(&meta(), &other_res), "new build for c 1h");
        let mut other_window = meta();
        other_window.window = crate::testing::day(test_day().end());
        assert_keep(&run(&meta(), &other_window), "different keys");
    }

    #[test]
    fn force_writes_what_would_be_kept() {
        let mut empty = meta();
        empty.allocations = 0;
        empty.container_hours = 0.0;
        empty.total_cost = 0.0;
        empty.errors.push("boom".into());
        assert!(!run(&meta(), &empty).is_write());
        let force = OverwritePolicy {
            force: true,
            ..OverwritePolicy::default()
        };
        assert_write(&decide(Existing::File(&meta()), &empty, &force), "forced");
    }

    #[test]
    fn new_errors_over_a_clean_file_are_kept() {
        let mut failed = meta();
        failed.errors = vec!["query cpu failed".into(), "query ram failed".into()];
        // More data than stored, so only the error rule can keep it.
        failed.container_hours = 96.0;
        failed.total_cost = 200.0;
        assert_keep(
            &run(&meta(), &failed),
            "new build had 2 error(s) (first: query cpu failed), stored file none",
        );
        // Both had errors: the data rules decide.
        let mut old = meta();
        old.errors.push("old failure".into());
        assert_write(&run(&old, &failed), "same or more data");
    }

    #[test]
    fn empty_over_non_empty_is_kept() {
        let mut empty = meta();
        empty.allocations = 0;
        // Provisional file stored, complete (empty) build: without the
        // empty rule, the completeness rule would write.
        let old = provisional(meta());
        assert_keep(
            &run(&old, &empty),
            "new build is empty, stored file has 2 allocations",
        );
        // Empty over empty is fine.
        let mut old_empty = old;
        old_empty.allocations = 0;
        assert!(run(&old_empty, &empty).is_write());
    }

    #[test]
    fn complete_over_provisional_is_written_only_when_it_covers_as_much() {
        let old = provisional(meta());
        assert_write(
            &run(&old, &meta()),
            "before the window closed; new build is complete",
        );
        // Pod-level series missing at the moment the window closed: fewer
        // hours than the provisional file, kept.
        let mut less = meta();
        less.container_hours = 12.0;
        assert_keep(&run(&old, &less), "new build saw 12.0 container-hours");
        // Owners lost (the totals unchanged): kept.
        let mut unowned = meta();
        unowned.coverage.owned = 0;
        assert_keep(
            &run(&old, &unowned),
            "new build covers less: allocations with an owner: 0, stored 2",
        );
    }

    #[test]
    fn fewer_allocations_or_a_lost_namespace_are_kept() {
        let mut fewer = meta();
        fewer.allocations = 1;
        assert_keep(
            &run(&meta(), &fewer),
            "new build has 1 allocations, stored file 2",
        );
        let mut moved = meta();
        moved.coverage.namespace_minutes = [("b".to_owned(), 2880)].into();
        assert_keep(
            &run(&meta(), &moved),
            "new build covers less: namespace a: 0.00 container-hours, stored 48.00",
        );
    }

    #[test]
    fn provisional_over_complete_is_kept_even_with_more_data() {
        let mut new = provisional(meta());
        new.container_hours = 96.0;
        new.total_cost = 200.0;
        assert_keep(&run(&meta(), &new), "is provisional (window still open)");
        // Provisional over provisional follows the data.
        assert!(run(&provisional(meta()), &new).is_write());
    }

    #[test]
    fn fewer_container_hours_beyond_tolerance_are_kept() {
        let mut new = meta();
        new.container_hours = 12.0;
        let d = run(&meta(), &new);
        assert_eq!(
            d,
            Decision::Keep {
                reason: "new build saw 12.0 container-hours, stored file 48.0: keeping it; \
                         pass force to replace"
                    .into()
            }
        );
        // Within 1 %: written.
        new.container_hours = 47.6;
        assert!(run(&meta(), &new).is_write());
        // Just beyond: kept.
        new.container_hours = 47.5;
        assert!(!run(&meta(), &new).is_write());
        // A looser tolerance lets it through.
        let loose = OverwritePolicy {
            tolerance: 0.5,
            ..OverwritePolicy::default()
        };
        new.container_hours = 30.0;
        assert!(decide(Existing::File(&meta()), &new, &loose).is_write());
    }

    #[test]
    fn less_cost_beyond_tolerance_is_kept() {
        let mut new = meta();
        new.total_cost = 50.0;
        assert_keep(
            &run(&meta(), &new),
            "new build totals 50.00 cost, stored file 100.00",
        );
        new.total_cost = 99.5;
        assert!(run(&meta(), &new).is_write());
    }

    #[test]
    fn older_schema_is_upgraded() {
        let mut old = meta();
        old.schema_version = SCHEMA_VERSION - 1;
        assert_write(
            &run(&old, &meta()),
            &format!(
                "upgrading stored schema version {} to {SCHEMA_VERSION}",
                SCHEMA_VERSION - 1
            ),
        );
        // But not at the cost of data.
        let mut less = meta();
        less.total_cost = 10.0;
        assert!(!run(&old, &less).is_write());
    }

    #[test]
    fn same_or_more_data_is_written() {
        assert_write(
            &run(&meta(), &meta()),
            "new build has the same or more data (48.0 container-hours, 100.00 cost; stored 48.0, 100.00)",
        );
        let mut more = meta();
        more.container_hours = 50.0;
        assert_write(&run(&meta(), &more), "same or more data");
    }
}
