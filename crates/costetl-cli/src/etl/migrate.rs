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

/// One object of the old layout, and what became of it.
#[derive(Debug, Serialize)]
struct Line {
    /// `moved`, `kept` (the new layout's file was at least as good),
    /// `marker` or `damaged`.
    outcome: &'static str,
    cluster: String,
    resolution: String,
    window: costetl_core::Window,
    reason: String,
}

impl From<&Migrated> for Line {
    fn from(m: &Migrated) -> Self {
        let (outcome, key, reason): (_, &EtlKey, String) = match m {
            Migrated::Moved { key, decision } => match decision {
                Decision::Write { reason } => ("moved", key, reason.clone()),
                Decision::Keep { reason } => ("kept", key, reason.clone()),
            },
            Migrated::Marker(key) => ("marker", key, "an interrupted build".to_owned()),
            Migrated::Damaged { key, reason } => ("damaged", key, reason.clone()),
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
    let damaged = lines.iter().filter(|l| l.outcome == "damaged").count();
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
            l.outcome.to_uppercase(),
            l.cluster,
            l.resolution,
            l.window,
            l.reason
        ));
    }
    let count = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
    out.push_str(&format!(
        "migrated {} file(s) ({} already better in the new layout) and {} marker(s); \
         {} damaged left in place\n",
        count("moved") + count("kept"),
        count("kept"),
        count("marker"),
        count("damaged")
    ));
    out
}
