//! `costetl capture`: compute allocations from a live backend while
//! recording every query's verbatim response into a fixture directory, so
//! `costetl allocation --fixtures DIR` replays the same result offline.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use costetl_core::Window;
use costetl_fixtures::{Capture, RecordingSource};

use crate::input::{compute_from, prom_source};
use crate::settings::SettingsArgs;

/// Flags of `costetl capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The Prometheus-compatible backend to record (default:
    /// PROMETHEUS_SERVER_ENDPOINT, or the --config file's url).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,

    /// The window to compute (OpenCost window syntax, UTC).
    #[arg(long, value_name = "W", value_parser = crate::parse::window)]
    pub window: Window,

    /// Directory to write the fixture into (created if missing; one that
    /// holds a fixture already is refused). The fixture remembers the
    /// window and resolution, so `allocation --fixtures DIR` needs neither.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub engine: SettingsArgs,
}

/// `costetl capture`.
pub fn run(args: &CaptureArgs) -> Result<()> {
    let settings = args.engine.settings(args.prometheus.as_deref())?;
    let live = prom_source(&settings)?;
    let what = Capture {
        window: args.window,
        resolution: settings.engine.resolution,
    };
    let src = RecordingSource::create(live, &args.out, what)
        .with_context(|| format!("creating fixture directory {}", args.out.display()))?;
    let c = compute_from(&src, Some(args.window), &settings.engine)?;
    let allocations: usize = c.range.sets.iter().map(|s| s.len()).sum();
    crate::report::warnings(c.range.sets.iter().flat_map(|s| &s.warnings));
    crate::print(&format!(
        "captured {} queries ({} bytes, {} series, {} samples) for {} into {}: \
         {} allocation(s) in {} set(s), total ${:.2}; range semantics {:?}\n",
        src.recorded(),
        c.stats.bytes,
        c.stats.series,
        c.stats.samples,
        args.window,
        args.out.display(),
        allocations,
        c.range.sets.len(),
        c.range.total_cost(),
        c.semantics,
    ))
}
