//! `costetl`: Kubernetes cost allocation from the command line.
//!
//! - `costetl allocation`: read OpenCost allocation JSON or an ETL store
//!   (`--store`), or compute allocations from a Prometheus-compatible
//!   backend or a captured fixture (`--prometheus`, `--fixtures`), then
//!   filter,
//!   aggregate (with idle and shared-cost distribution) and accumulate it
//!   the way OpenCost's `/allocation/compute` does, and print a table, CSV
//!   or OpenCost JSON.
//! - `costetl capture`: compute from a live backend and record every
//!   response into a fixture directory that `allocation --fixtures` replays.
//! - `costetl diagnose`: check that the metrics costetl needs are in the
//!   backend, per cluster, with the PromQL of every check.
//! - `costetl etl build|status`: compute allocations per day (or hour) and
//!   store one Parquet file per cluster and window in a directory or S3
//!   bucket, never replacing a good file with a worse rebuild; list what a
//!   store holds and its gaps.
//! - `costetl mock`: write OpenCost's mock allocation sets as JSON (used to
//!   regenerate `fixtures/opencost-mock/allocation.json`).
//! - `costetl rules`: print the recording rules the plan reads when they
//!   cover a window (Kubecost's, with today's labels, and costetl's own).
//!
//! Exit codes: 0 on success, 1 on a runtime error (unreadable input, …),
//! 2 on a usage error (unknown flag, or a flag value that does not parse:
//! window, aggregation, filter, …; clap reports those; or no backend
//! named by flag, environment or config file).
//!
//! The backend and engine settings come in layers (`settings`): the
//! `--config` TOML file, then OpenCost's environment variables, then flags.
//!
//! All the cost logic lives in `costetl-core`; this crate only parses
//! flags, does the IO and formats output.

mod allocation;
mod capture;
mod diagnose;
mod etl;
mod fleet;
mod input;
mod mock;
mod parse;
mod render;
mod report;
mod rules;
mod settings;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn Kubernetes cost data into OpenCost-compatible allocations.
#[derive(Debug, Parser)]
#[command(name = "costetl", version = VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: report::OutputArgs,
}

/// The version and the build it came from (commit, `-dirty` for
/// uncommitted changes; see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("COSTETL_BUILD_ID"),
    ")"
);

#[derive(Debug, Subcommand)]
enum Command {
    /// Filter, aggregate and accumulate cost allocations (like OpenCost's
    /// /allocation/compute).
    Allocation(allocation::AllocationArgs),
    /// Compute allocations from a backend and record every query's
    /// response into a fixture directory for offline replay.
    Capture(capture::CaptureArgs),
    /// Check that the metrics costetl needs are in the backend, per
    /// cluster (one PASS/WARN/FAIL line per check with its PromQL; exit
    /// code 1 if any check fails).
    Diagnose(diagnose::DiagnoseArgs),
    /// Build ETL files (one Parquet file per cluster and day) into a store,
    /// or show what a store holds.
    Etl(etl::EtlArgs),
    /// Write OpenCost's mock allocation sets (with cluster idle) as JSON.
    Mock(mock::MockArgs),
    /// Print recording rules (a Prometheus rule file) that make the plan
    /// cheaper for the backend; costetl reads them where they cover a
    /// window.
    Rules(rules::RulesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell), e.g. `costetl completions bash > /etc/bash_completion.d/costetl`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    report::init(&cli.output);
    let result = match cli.command {
        Command::Allocation(args) => allocation::run(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Diagnose(args) => diagnose::run(&args),
        Command::Etl(args) => etl::run(&args),
        Command::Mock(args) => mock::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::Completions { shell } => completions(shell),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `costetl … | head` closing the pipe early is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            report::say(&format!("error: {e:#}"));
            ExitCode::from(2)
        }
        Err(e) => {
            report::say(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// A mistake in how costetl was called that clap cannot see, because the
/// answer may come from the environment or the config file (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// The one runtime a command's async library calls share (the core picks
/// none; reqwest and object_store need tokio's IO driver): started on first
/// use, so connection pools live for the whole command.
fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    use anyhow::Context;
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // Two blocking threads (tokio's default is 512): object_store reads
    // and writes local files on them, and each thread that allocates
    // gets a glibc malloc arena of its own that keeps what it freed. A
    // fleet read of 100 clusters × 12 days peaked at 36.7-38.9 MiB with
    // the default and 23.0 MiB with one (docs/benchmarks.md).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
        .context("starting the async runtime")?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// `costetl completions SHELL`.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "costetl", &mut out);
    print(&String::from_utf8_lossy(&out))
}

/// Write `text` to standard output in one go.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
