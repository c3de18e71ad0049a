//! `costetl-sim`: write a scenario's metrics or its expected allocations.
//!
//! - `costetl-sim openmetrics --scenario S.json --out metrics.om` writes
//!   OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
//! - `costetl-sim expected --scenario S.json --window <RFC3339>,<RFC3339>
//!   --out expected.json` writes the exact allocations for the window as
//!   OpenCost allocation JSON (one set).
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
use costetl_sim::Scenario;

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
