//! `allocation --store`: the query over the whole windows inside
//! `--window`, run on the store file by file (`EtlStore::query`: each
//! file aggregated as it arrives, so a fleet's month reads in bounded
//! memory; missing and damaged files become warnings on their windows).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use costetl_core::etl::Resolution;
use costetl_core::{AllocationQuery, Report, Window};
use costetl_store::StoreConfig;

use crate::UsageError;

/// The query's reports over the whole windows of `resolution` inside
/// `window`, read from the store `cfg` names.
pub fn reports(
    cfg: &StoreConfig,
    resolution: Resolution,
    window: Option<Window>,
    query: &AllocationQuery,
) -> Result<Vec<Report>> {
    let window = window.ok_or_else(|| UsageError("--window is required with --store".into()))?;
    let Some(range) = resolution.inner(window) else {
        bail!(
            "--window {window} holds no whole {resolution} window to read from the store \
             (try --etl-resolution hourly, or a window of whole UTC days)"
        );
    };
    if range != window {
        crate::report::note(&format!(
            "note: reading the whole {resolution} windows inside --window: {range}"
        ));
    }
    let store = crate::etl::open_store(cfg, crate::etl::Access::Read)?;
    let started = Instant::now();
    let read = crate::runtime()?
        .block_on(store.query(None, resolution, range, query))
        .with_context(|| format!("reading {range} from {}", store.description()))?;
    let took = started.elapsed();
    tracing::info!(
        files = read.files,
        missing = read.missing,
        damaged = read.damaged,
        ms = took.as_millis(),
        "read {} ETL file(s) in {took:.2?} ({:.2} ms per file)",
        read.files,
        took.as_secs_f64() * 1e3 / read.files.max(1) as f64
    );
    if read.files == 0 {
        bail!(
            "{} holds no {resolution} ETL file for {range} (is the store, its prefix or \
             --window right?)",
            store.description()
        );
    }
    Ok(read.reports)
}
