//! `costetl-sim`: write a scenario's metrics or its expected allocations.
//!
//! - `costetl-sim openmetrics --scenario S.json --out metrics.om` writes
//!   OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
//! - `costetl-sim expected --scenario S.json --window <RFC3339>,<RFC3339>
//!   --out expected.json` writes the exact allocations for the window as
//!   OpenCost allocation JSON (one set).
//!
//! - `costetl-sim generate --clusters C --nodes N --pods P --hours H
//!   --scrape-seconds S --seed X --start <RFC3339> --out scenario.json`
//!   writes a generated scenario (deterministic from the seed): C
//!   clusters of N nodes each, P pod objects in all.
//!
//! `--out -` (the default) writes to standard output. Exit codes: 0 on
//! success, 1 on a runtime error (bad scenario, window outside it, IO), 2
//! on a usage error.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use costetl_core::Window;
use costetl_sim::{GenerateOptions, Scenario};

/// Synthetic Kubernetes cluster: metrics and the allocations they imply.
#[derive(Debug, Parser)]
#[command(name = "costetl-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the scenario's metrics as OpenMetrics text with timestamps.
    Openmetrics {
        /// Scenario JSON file.
        #[arg(long)]
        scenario: PathBuf,
        /// Output file, `-` for standard output.
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Write the exact expected allocations for a window as OpenCost JSON.
    Expected {
        /// Scenario JSON file.
        #[arg(long)]
        scenario: PathBuf,
        /// `<RFC3339>,<RFC3339>`, within the scenario (default: all of it).
        #[arg(long, value_parser = parse_window)]
        window: Option<Window>,
        /// Output file, `-` for standard output.
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Write a generated scenario (realistic, deterministic from the seed)
    /// as JSON: nodes of several instance types (spot, re-priced, joining,
    /// leaving), DaemonSets, Deployments, StatefulSets with volumes, Jobs,
    /// bare pods, services with load balancers, restarts, moves.
    Generate {
        /// Clusters.
        #[arg(long, default_value_t = 2)]
        clusters: u32,
        /// Nodes per cluster.
        #[arg(long, default_value_t = 60)]
        nodes: u32,
        /// Pod objects in all, split evenly over the clusters (about 1.8
        /// containers each).
        #[arg(long, default_value_t = 1000)]
        pods: u32,
        /// Length of the scenario in hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// Seconds between scrapes.
        #[arg(long, default_value_t = 30)]
        scrape_seconds: u32,
        /// Seed of the random generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First scrape, RFC 3339.
        #[arg(long, default_value = "2023-11-14T00:00:00Z", value_parser = parse_time)]
        start: DateTime<Utc>,
        /// Output file, `-` for standard output.
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?}: {e}"))
}

/// Only explicit RFC 3339 pairs: relative windows would depend on the
/// clock, which a fixture generator must not.
fn parse_window(s: &str) -> Result<Window, String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected <RFC3339>,<RFC3339>"))?;
    let t = |x: &str| {
        DateTime::parse_from_rfc3339(x.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{x:?}: {e}"))
    };
    Window::new(t(a)?, t(b)?).map_err(|e| e.to_string())
}

fn output(path: &PathBuf) -> io::Result<Box<dyn Write>> {
    Ok(if path.as_os_str() == "-" {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(path)?)
    })
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Openmetrics { scenario, out } => {
            let s = Scenario::from_path(&scenario)?;
            let stats = s.write_openmetrics(output(&out)?)?;
            eprintln!(
                "wrote {} samples in {} series ({} families), {} bytes",
                stats.samples, stats.series, stats.families, stats.bytes
            );
        }
        Command::Expected {
            scenario,
            window,
            out,
        } => {
            let s = Scenario::from_path(&scenario)?;
            let set = s.expected_allocations(window.unwrap_or_else(|| s.window()))?;
            let mut w = output(&out)?;
            w.write_all(costetl_core::json::set_to_string(&set).as_bytes())?;
            w.write_all(b"\n")?;
            w.flush()?;
        }
        Command::Generate {
            clusters,
            nodes,
            pods,
            hours,
            scrape_seconds,
            seed,
            start,
            out,
        } => {
            let s = costetl_sim::generate(&GenerateOptions {
                clusters,
                nodes,
                pods,
                hours,
                scrape_seconds,
                seed,
                start,
            })?;
            let mut w = output(&out)?;
            w.write_all(s.to_json().as_bytes())?;
            w.write_all(b"\n")?;
            w.flush()?;
            let all = || s.clusters.iter();
            eprintln!(
                "generated {} cluster(s), {} nodes, {} pods, {} containers, {} volumes, {} services over {}",
                s.clusters.len(),
                all().map(|c| c.nodes.len()).sum::<usize>(),
                all().map(|c| c.pods.len()).sum::<usize>(),
                all()
                    .flat_map(|c| &c.pods)
                    .map(|p| p.containers.len())
                    .sum::<usize>(),
                all().map(|c| c.persistent_volumes.len()).sum::<usize>(),
                all().map(|c| c.services.len()).sum::<usize>(),
                s.window(),
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
