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

/// Whether `new` may replace what is stored.
///
/// `existing` is `None` when no file exists, `Some(Err(msg))` when the
/// stored file is unreadable. The rules, first match wins: no file or an
/// unreadable one → write; a different key → keep (a caller bug); `force`
/// → write; new errors where the stored file had none → keep; an empty new
/// build over a non-empty file → keep; a complete build over a provisional
/// one → write; a provisional build over a complete one → keep; fewer
/// container-hours or less total cost than the stored file beyond
/// `tolerance` → keep; an older stored schema version → write (upgrade);
/// otherwise write (same or more data).
pub fn decide(
    existing: Option<Result<&EtlMeta, &str>>,
    new: &EtlMeta,
    policy: &OverwritePolicy,
) -> Decision {
    let old = match existing {
        None => return write("no file is stored for this window".to_owned()),
        Some(Err(msg)) => return write(format!("replacing unreadable file: {msg}")),
        Some(Ok(old)) => old,
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
    if !new.errors.is_empty() && old.errors.is_empty() {
        let first = new.errors.first().map(String::as_str).unwrap_or_default();
        return keep(format!(
            "new build had {} error(s) (first: {first}), stored file none: keeping it; \
             pass force to replace",
            new.errors.len()
        ));
    }
    if new.allocations == 0 && old.allocations > 0 {
        return keep(format!(
            "new build is empty, stored file has {} allocations: keeping it; pass force to replace",
            old.allocations
        ));
    }
    if !old.complete && new.complete {
        return write(format!(
            "stored file was built at {} before the window closed; new build is complete",
            old.built_at
        ));
    }
    if !new.complete && old.complete {
        return keep(format!(
            "new build at {} is provisional (window still open), stored file is complete: keeping it",
            new.built_at
        ));
    }
    let floor = 1.0 - policy.tolerance;
    if new.container_hours < old.container_hours * floor {
        return keep(format!(
            "new build saw {:.1} container-hours, stored file {:.1}: keeping it; pass force to replace",
            new.container_hours, old.container_hours
        ));
    }
    if new.total_cost < old.total_cost * floor {
        return keep(format!(
            "new build totals {:.2} cost, stored file {:.2}: keeping it; pass force to replace",
            new.total_cost, old.total_cost
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

#[cfg(test)]
mod tests {
    use super::*;
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
            warnings: vec![],
            errors: vec![],
        }
    }

    fn provisional(mut m: EtlMeta) -> EtlMeta {
        m.complete = false;
        m.built_at = test_day().end() - TimeDelta::hours(1);
        m
    }

    fn run(old: &EtlMeta, new: &EtlMeta) -> Decision {
        decide(Some(Ok(old)), new, &OverwritePolicy::default())
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
        let d = decide(None, &meta(), &OverwritePolicy::default());
        assert_write(&d, "no file is stored");
    }

    #[test]
    fn unreadable_file_is_replaced() {
        let d = decide(
            Some(Err("not a readable ETL Parquet file: EOF")),
            &meta(),
            &OverwritePolicy::default(),
        );
        assert_eq!(
            d,
            Decision::Write {
                reason: "replacing unreadable file: not a readable ETL Parquet file: EOF".into()
            }
        );
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
            &decide(Some(Ok(&meta())), &other_cluster, &force),
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
        assert_write(&decide(Some(Ok(&meta())), &empty, &force), "forced");
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
    fn complete_over_provisional_is_written_even_with_less_data() {
        let old = provisional(meta());
        let mut new = meta();
        new.container_hours = 12.0;
        new.total_cost = 10.0;
        assert_write(
            &run(&old, &new),
            "before the window closed; new build is complete",
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
        assert!(decide(Some(Ok(&meta())), &new, &loose).is_write());
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
        old.schema_version = 0;
        assert_write(
            &run(&old, &meta()),
            "upgrading stored schema version 0 to 1",
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
