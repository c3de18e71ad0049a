//! `costetl etl migrate`: moves a store written by costetl before schema
//! version 2 (Kubecost's federated layout) into the partitioned layout SQL
//! engines prune (`EtlStore::migrate`), one line per object, or one JSON
//! document. Until it has run, reading or syncing such a store is refused
//! with a message that names this command. A file that does not decode is
//! left where it is and makes the run exit 1.

use anyhow::{Result, bail};
use costetl_core::etl::{Decision, EtlKey, OverwritePolicy};
use costetl_store::Migrated;
use serde::Serialize;

use super::{MigrateArgs, ReportFormat};

/// What became of one object of the old layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    /// Written into the new layout, deleted from the old.
    Moved,
    /// The new layout's file was at least as good; deleted from the old.
    Kept,
    /// A pending marker, marked in the new layout.
    Marker,
    /// Does not decode: left in place.
    Damaged,
}

/// One object of the old layout, and what became of it.
#[derive(Debug, Serialize)]
struct Line {
    outcome: Outcome,
    cluster: String,
    resolution: String,
    window: costetl_core::Window,
    reason: String,
}

impl From<&Migrated> for Line {
    fn from(m: &Migrated) -> Self {
        let (outcome, key, reason): (_, &EtlKey, String) = match m {
            Migrated::Moved { key, decision } => match decision {
                Decision::Write { reason } => (Outcome::Moved, key, reason.clone()),
                Decision::Keep { reason } => (Outcome::Kept, key, reason.clone()),
            },
            Migrated::Marker(key) => (Outcome::Marker, key, "an interrupted build".to_owned()),
            Migrated::Damaged { key, reason } => (Outcome::Damaged, key, reason.clone()),
        };
        Self {
            outcome,
            cluster: key.cluster.clone(),
            resolution: key.resolution.to_string(),
            window: key.window,
            reason,
        }
    }
}

/// `costetl etl migrate`.
pub(crate) fn run(args: &MigrateArgs) -> Result<()> {
    let settings = args.settings.settings(None)?;
    let store = args.store.open_existing(&settings.store)?;
    // Never forced: a file the new layout already holds wins unless the
    // old one is better by the usual rules.
    let done = crate::runtime()?.block_on(store.migrate(&OverwritePolicy::default()))?;
    let lines: Vec<Line> = done.iter().map(Line::from).collect();
    crate::print(&match args.format {
        ReportFormat::Text => text(&lines),
        ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(&lines)?),
    })?;
    let damaged = count(&lines, Outcome::Damaged);
    if damaged > 0 {
        bail!(
            "{damaged} file(s) of the old layout in {} do not decode and were left in place; \
             the store is refused until they are deleted (their windows are rebuilt by \
             `costetl etl sync` while the backend still holds them)",
            store.description()
        );
    }
    Ok(())
}

fn text(lines: &[Line]) -> String {
    if lines.is_empty() {
        return "nothing to migrate: no files of the old layout\n".to_owned();
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(&format!(
            "{:<8} {} {} {}  {}\n",
            format!("{:?}", l.outcome).to_uppercase(),
            l.cluster,
            l.resolution,
            l.window,
            l.reason
        ));
    }
    let kept = count(lines, Outcome::Kept);
    out.push_str(&format!(
        "migrated {} file(s) ({kept} already better in the new layout) and {} marker(s); \
         {} damaged left in place\n",
        count(lines, Outcome::Moved) + kept,
        count(lines, Outcome::Marker),
        count(lines, Outcome::Damaged)
    ));
    out
}

fn count(lines: &[Line], outcome: Outcome) -> usize {
    lines.iter().filter(|l| l.outcome == outcome).count()
}
