//! `costetl etl status`: per cluster, what a store holds and what is wrong
//! with it, as lines for people or one JSON document. Footers only, or
//! with `--verify` every file read whole and decoded (checksum, schema,
//! rows). A store with gaps,
//! unreadable, failed or interrupted windows exits 1 (a monitor's check),
//! as does an empty one (a mistyped prefix reads as empty).

use anyhow::{Context, Result, bail};
use costetl_core::Window;
use costetl_core::etl::{self, EtlKey, Resolution};
use serde::Serialize;

use super::{ReportFormat, StatusArgs};

/// One cluster's files, and the windows that need attention.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ClusterStatus {
    cluster: String,
    files: usize,
    /// From the first file's start to the last file's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    span: Option<Window>,
    /// Σ total cost of the readable files.
    total_cost: f64,
    /// Windows inside the span without a file.
    missing: Vec<Window>,
    /// Files built before their window closed.
    provisional: Vec<Window>,
    /// Files whose build had failed inputs.
    with_errors: Vec<Window>,
    /// Files that cannot be read, and why.
    unreadable: Vec<Unreadable>,
    /// Windows a build marked and never finished (`etl sync` redoes them).
    interrupted: Vec<Window>,
}

impl ClusterStatus {
    /// The windows that need a rebuild or a look, counted.
    fn problems(&self) -> usize {
        self.missing.len() + self.with_errors.len() + self.unreadable.len() + self.interrupted.len()
    }
}

/// A file that does not read, and why.
#[derive(Debug, Serialize)]
struct Unreadable {
    window: Window,
    why: String,
}

/// The whole store.
#[derive(Debug, Serialize)]
pub(crate) struct StoreStatus {
    store: String,
    resolution: Resolution,
    clusters: Vec<ClusterStatus>,
}

/// `costetl etl status`.
pub(crate) fn run(args: &StatusArgs) -> Result<()> {
    let settings = args.settings.settings(None)?;
    let store = args.store.open_existing(&settings.store)?;
    let resolution = Resolution::from(args.etl_resolution);
    let rt = crate::runtime()?;
    let clusters = rt.block_on(store.clusters())?;
    // --verify reads every byte: a damaged row group shows only then.
    let (stored, pending) = rt.block_on(store.inventory(resolution, args.verify))?;
    let status = StoreStatus {
        store: store.description().to_owned(),
        resolution,
        clusters: clusters
            .iter()
            .map(|c| cluster_status(c, resolution, &stored, &pending))
            .collect::<Result<_>>()?,
    };
    crate::print(&match args.format {
        ReportFormat::Text => text(&status),
        ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(&status)?),
    })?;
    if status.clusters.is_empty() {
        bail!(
            "no ETL files in {} (is the store URL or prefix right?)",
            status.store
        );
    }
    let problems: usize = status.clusters.iter().map(ClusterStatus::problems).sum();
    if problems > 0 {
        bail!(
            "{problems} window(s) missing, unreadable, failed or interrupted in {}; \
             `costetl etl sync` rebuilds what the backend still holds",
            status.store
        );
    }
    Ok(())
}

/// What the store holds for `cluster`.
fn cluster_status(
    cluster: &str,
    resolution: Resolution,
    stored: &[etl::Stored],
    pending: &[EtlKey],
) -> Result<ClusterStatus> {
    let files: Vec<&etl::Stored> = stored
        .iter()
        .filter(|(k, _)| k.cluster == cluster)
        .collect();
    let has_file = |w: &Window| files.iter().any(|(k, _)| k.window == *w);
    let mut s = ClusterStatus {
        cluster: cluster.to_owned(),
        files: files.len(),
        // Marked by a build that never wrote the file.
        interrupted: pending
            .iter()
            .filter(|k| k.cluster == cluster && !has_file(&k.window))
            .map(|k| k.window)
            .collect(),
        ..ClusterStatus::default()
    };
    let (Some((first, _)), Some((last, _))) = (files.first(), files.last()) else {
        return Ok(s);
    };
    let span = Window::new(first.window.start(), last.window.end()).context("listing the store")?;
    s.span = Some(span);
    s.missing = (resolution.windows(span)?.into_iter())
        .filter(|w| !has_file(w))
        .collect();
    for (key, meta) in &files {
        match meta {
            Ok(m) => {
                // Not `sum()`: an empty f64 sum is -0.0, printed "$-0.00".
                s.total_cost += m.total_cost;
                if !m.complete {
                    s.provisional.push(key.window);
                }
                if !m.errors.is_empty() {
                    s.with_errors.push(key.window);
                }
            }
            Err(why) => s.unreadable.push(Unreadable {
                window: key.window,
                why: why.clone(),
            }),
        }
    }
    Ok(s)
}

/// The lines for people: the store, then one line per cluster.
fn text(status: &StoreStatus) -> String {
    let day = |w: &Window| w.start().format("%Y-%m-%dT%H:%MZ").to_string();
    let mut out = format!("{}\n", status.store);
    for c in &status.clusters {
        let mut notes = Vec::new();
        let unreadable: Vec<Window> = c.unreadable.iter().map(|u| u.window).collect();
        let lists = [
            ("missing", &c.missing),
            ("provisional", &c.provisional),
            ("with errors", &c.with_errors),
            ("unreadable", &unreadable),
            ("interrupted", &c.interrupted),
        ];
        for (label, list) in lists {
            if !list.is_empty() {
                let days: Vec<String> = list.iter().map(day).collect();
                notes.push(format!("{label} {}", days.join(", ")));
            }
        }
        match c.span {
            Some(span) => out.push_str(&format!(
                "{}: {} {} file(s) covering {span}; ${:.2}{}\n",
                c.cluster,
                c.files,
                status.resolution,
                c.total_cost,
                notes.iter().map(|n| format!("; {n}")).collect::<String>()
            )),
            None => out.push_str(&format!(
                "{}: no {} files{}\n",
                c.cluster,
                status.resolution,
                notes.iter().map(|n| format!("; {n}")).collect::<String>()
            )),
        }
    }
    out
}
