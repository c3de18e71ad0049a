//! `costetl diagnose`: are the metrics costetl needs in the backend, per
//! cluster? Runs `costetl_core::diagnose` (the checks of the Kubecost/AMP
//! troubleshooting guides) and prints a summary line (counts and the
//! clusters found), a hint line when nothing was found at `--at`, then one
//! line per check and cluster with the PromQL it ran. Exit code 1 when any
//! check fails.
//!
//! `--record DIR` keeps the backend's answers; `--fixtures DIR` replays
//! them offline (same `--lookback`, `--recording-rule` and engine flags).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use costetl_core::diagnose::{self, CheckOutcome, DiagnoseOptions, Diagnosis, Status};
use costetl_core::source::{MetricsSource, QueryKind};
use costetl_fixtures::{FixtureSource, RecordingSource};
use serde::Serialize;

use crate::input::prom_source;
use crate::settings::SettingsArgs;

/// Flags of `costetl diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The Prometheus-compatible backend to check (default:
    /// PROMETHEUS_SERVER_ENDPOINT, or the --config file's url).
    #[arg(long, value_name = "URL", conflicts_with = "fixtures")]
    pub prometheus: Option<String>,

    /// Replay a directory written by `costetl diagnose --record` instead.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,

    /// Also write every answer into DIR, for `--fixtures DIR` later.
    #[arg(long, value_name = "DIR", conflicts_with = "fixtures")]
    pub record: Option<PathBuf>,

    /// Evaluation time (RFC 3339 or Unix seconds). Default: now, or the
    /// recorded time with --fixtures. When nothing is found there, the
    /// output's hint line names the latest sample of the last 30 days.
    #[arg(long, value_name = "TIME", value_parser = crate::parse::time)]
    pub at: Option<DateTime<Utc>>,

    /// How far back a series counts as present (e.g. 30m, 1h, 2d).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::parse::positive)]
    pub lookback: TimeDelta,

    /// A recording rule that must have series (repeatable), e.g.
    /// kubecost_container_cpu_usage_irate.
    #[arg(long = "recording-rule", value_name = "NAME")]
    pub recording_rules: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    #[command(flatten)]
    pub engine: SettingsArgs,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A summary line, then `PASS|FAIL|WARN  <name>: <detail>` and the
    /// query, per check.
    Text,
    /// `{"summary": {...}, "hint", "at", "lookback_seconds", "checks":
    /// [...]}`.
    Json,
}

/// `costetl diagnose`.
pub fn run(args: &DiagnoseArgs) -> Result<()> {
    let settings = args.engine.settings(args.prometheus.as_deref())?;
    let cfg = &settings.engine;
    let mut opts = DiagnoseOptions {
        lookback: args.lookback,
        recording_rules: args.recording_rules.clone(),
        // Whole seconds, so a recording replays with the same time.
        ..DiagnoseOptions::new(args.at.unwrap_or_else(|| {
            DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default()
        }))
    };
    let rt = crate::runtime()?;
    let diagnosis = match &args.fixtures {
        Some(dir) => {
            let src = FixtureSource::open(dir)
                .with_context(|| format!("opening fixtures {}", dir.display()))?;
            if args.at.is_none() {
                opts.at = src
                    .queries()
                    .find_map(|q| match q.kind {
                        QueryKind::Instant { time } => Some(time),
                        QueryKind::Range { .. } => None,
                    })
                    .with_context(|| format!("{}: no instant query recorded", dir.display()))?;
            }
            check(rt, &src, cfg, &opts)?
        }
        None => {
            let live = prom_source(&settings)?;
            match &args.record {
                Some(dir) => {
                    let src = RecordingSource::new(live, dir)
                        .with_context(|| format!("creating fixture directory {}", dir.display()))?;
                    check(rt, &src, cfg, &opts)?
                }
                None => check(rt, &live, cfg, &opts)?,
            }
        }
    };
    let text = match args.format {
        Format::Text => text(&diagnosis),
        Format::Json => json(&diagnosis, &opts)?,
    };
    crate::print(&text)?;
    let failed = diagnosis.count(Status::Fail);
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(())
}

fn check<S: MetricsSource>(
    rt: &tokio::runtime::Runtime,
    src: &S,
    cfg: &costetl_core::plan::EngineConfig,
    opts: &DiagnoseOptions,
) -> Result<Diagnosis> {
    rt.block_on(diagnose::run(src, cfg, opts))
        .context("--lookback, --resolution or --recording-rule")
}

/// `N failed, M warnings, K passed; clusters: a, b`: the first line, so
/// the verdict is read before the details.
fn summary(d: &Diagnosis) -> String {
    let clusters = if d.clusters.is_empty() {
        "no cluster found".to_owned()
    } else {
        format!("clusters: {}", d.clusters.join(", "))
    };
    format!(
        "{} failed, {} warnings, {} passed; {clusters}",
        d.count(Status::Fail),
        d.count(Status::Warn),
        d.count(Status::Pass)
    )
}

/// The summary line, the hint line if any, then one `STATUS  name:
/// detail` line and an indented `query:` line per outcome.
fn text(d: &Diagnosis) -> String {
    let mut out = summary(d);
    out.push('\n');
    if let Some(h) = &d.hint {
        out.push_str(&format!("hint: {h}\n"));
    }
    for o in &d.outcomes {
        out.push_str(&format!(
            "{}  {}: {}\n      query: {}\n",
            o.status, o.name, o.detail, o.query
        ));
    }
    out
}

/// `--format json`: the summary first, as in the text.
#[derive(Serialize)]
struct JsonReport<'a> {
    summary: JsonSummary<'a>,
    hint: Option<&'a str>,
    at: String,
    lookback_seconds: i64,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Serialize)]
struct JsonSummary<'a> {
    fail: usize,
    warn: usize,
    pass: usize,
    clusters: &'a [String],
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    check: &'a str,
    cluster: Option<&'a str>,
    name: &'a str,
    status: String,
    detail: &'a str,
    query: &'a str,
}

impl<'a> JsonCheck<'a> {
    fn new(o: &'a CheckOutcome) -> Self {
        Self {
            check: &o.check,
            cluster: o.cluster.as_deref(),
            name: &o.name,
            status: o.status.as_str().to_ascii_lowercase(),
            detail: &o.detail,
            query: &o.query,
        }
    }
}

fn json(d: &Diagnosis, opts: &DiagnoseOptions) -> Result<String> {
    let report = JsonReport {
        summary: JsonSummary {
            fail: d.count(Status::Fail),
            warn: d.count(Status::Warn),
            pass: d.count(Status::Pass),
            clusters: &d.clusters,
        },
        hint: d.hint.as_deref(),
        at: opts.at.to_rfc3339(),
        lookback_seconds: opts.lookback.num_seconds(),
        checks: d.outcomes.iter().map(JsonCheck::new).collect(),
    };
    let mut s = serde_json::to_string_pretty(&report)?;
    s.push('\n');
    Ok(s)
}
