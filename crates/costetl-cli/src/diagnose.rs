//! `costetl diagnose`: are the metrics costetl needs in the backend, per
//! cluster? Runs `costetl_core::diagnose` (the checks of the Kubecost/AMP
//! troubleshooting guides) and prints one line per check and cluster with
//! the PromQL it ran. Exit code 1 when any check fails.
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
use serde_json::json;

use crate::input::prom_source;
use crate::settings::{SettingsArgs, parse_positive};

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
    /// recorded time with --fixtures.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,

    /// How far back a series counts as present (e.g. 30m, 1h, 2d).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_positive)]
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
    /// `PASS|FAIL|WARN  <name>: <detail>` and the query, per check.
    Text,
    /// `{"at", "lookback", "checks": [...], "summary": {...}}`.
    Json,
}

pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .and_then(|v| DateTime::<Utc>::from_timestamp_millis((v * 1000.0).round() as i64))
        .ok_or_else(|| format!("{s:?}: expected RFC 3339 (2023-11-14T02:00:00Z) or Unix seconds"))
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
    let outcomes = match &args.fixtures {
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
            check(&rt, &src, cfg, &opts)?
        }
        None => {
            let live = prom_source(&settings)?;
            match &args.record {
                Some(dir) => {
                    let src = RecordingSource::new(live, dir)
                        .with_context(|| format!("creating fixture directory {}", dir.display()))?;
                    check(&rt, &src, cfg, &opts)?
                }
                None => check(&rt, &live, cfg, &opts)?,
            }
        }
    };
    let outcomes = outcomes.outcomes;
    let text = match args.format {
        Format::Text => text(&outcomes),
        Format::Json => json(&outcomes, &opts),
    };
    crate::print(&text)?;
    let failed = outcomes.iter().filter(|o| o.status == Status::Fail).count();
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

fn summary(outcomes: &[CheckOutcome]) -> [(Status, usize); 3] {
    [Status::Fail, Status::Warn, Status::Pass]
        .map(|s| (s, outcomes.iter().filter(|o| o.status == s).count()))
}

/// One `STATUS  name: detail` line and an indented `query:` line per
/// outcome, then the counts.
fn text(outcomes: &[CheckOutcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        out.push_str(&format!(
            "{}  {}: {}\n      query: {}\n",
            o.status, o.name, o.detail, o.query
        ));
    }
    let [(_, f), (_, w), (_, p)] = summary(outcomes);
    out.push_str(&format!("{f} failed, {w} warnings, {p} passed\n"));
    out
}

fn json(outcomes: &[CheckOutcome], opts: &DiagnoseOptions) -> String {
    let checks: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "check": o.check,
                "cluster": o.cluster,
                "name": o.name,
                "status": o.status.as_str().to_ascii_lowercase(),
                "detail": o.detail,
                "query": o.query,
            })
        })
        .collect();
    let [(_, f), (_, w), (_, p)] = summary(outcomes);
    let v = json!({
        "at": opts.at.to_rfc3339(),
        "lookback_seconds": opts.lookback.num_seconds(),
        "checks": checks,
        "summary": {"fail": f, "warn": w, "pass": p},
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = parse_time("2023-11-14T02:00:00Z").unwrap();
        assert_eq!(parse_time("1699927200"), Ok(t));
        assert!(parse_time("yesterday").is_err());
    }
}
