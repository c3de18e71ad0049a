//! What the CLI says on stderr besides its result, at the verbosity asked
//! for: the computation's warnings summarised by kind (`-v` lists them all,
//! `-q` none), `tracing` logs (`-v` info, `-vv` debug, `-vvv` trace;
//! `RUST_LOG` overrides; `--log-format json` for machines), and progress
//! on a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use costetl_core::source::{MetricsSource, QuerySpec, RawResponse, SourceError};
use costetl_core::{Warning, WarningKind};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// More on stderr: every warning, and logs (-v info: one line per
    /// query with its time and size, retries; -vv debug; -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Nothing on stderr but errors: no warnings, no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// How logs are written: text for people, JSON lines for machines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

static OUTPUT: OnceLock<OutputArgs> = OnceLock::new();

fn output() -> &'static OutputArgs {
    OUTPUT.get_or_init(|| OutputArgs {
        verbose: 0,
        quiet: false,
        log_format: LogFormat::Text,
    })
}

/// Remember the flags and install the log subscriber (once, at start).
pub fn init(args: &OutputArgs) {
    let _ = OUTPUT.set(args.clone());
    let level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    // Our crates at the level asked for; dependencies one step quieter
    // unless RUST_LOG says otherwise.
    let default = format!(
        "warn,costetl={level},costetl_core={level},costetl_prom={level},costetl_store={level},costetl_aws={level}"
    );
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match args.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Print `warnings` on stderr: each distinct one once, summarised by kind
/// unless `-v`, nothing with `-q`.
pub fn warnings<'a>(warnings: impl IntoIterator<Item = &'a Warning>) {
    let o = output();
    if o.quiet {
        return;
    }
    for line in summary(warnings, o.verbose > 0) {
        say(&line);
    }
}

/// Write one line to stderr. A closed or full stderr loses the line but
/// never stops the command (`eprintln!` would panic, exit 101).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A note for people (not with `-q`).
pub fn note(line: &str) {
    if !output().quiet {
        say(line);
    }
}

/// How many warnings of one kind are listed before the rest is counted.
const PER_KIND: usize = 3;

/// The warning lines: every distinct warning when `all`, otherwise per kind
/// its first [`PER_KIND`] warnings and a count of the others.
pub fn summary<'a>(warnings: impl IntoIterator<Item = &'a Warning>, all: bool) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut by_kind: BTreeMap<WarningKind, Vec<&Warning>> = BTreeMap::new();
    let mut order = Vec::new();
    for w in warnings {
        if !seen.insert(w) {
            continue;
        }
        let list = by_kind.entry(w.kind).or_default();
        if list.is_empty() {
            order.push(w.kind);
        }
        list.push(w);
    }
    let mut out = Vec::new();
    for kind in order {
        let list = &by_kind[&kind];
        let shown = if all { list.len() } else { PER_KIND };
        out.extend(list.iter().take(shown).map(|w| format!("warning: {w}")));
        if list.len() > shown {
            out.push(format!(
                "warning: … and {} more {kind} warning(s) like these (-v lists them)",
                list.len() - shown
            ));
        }
    }
    out
}

/// A spinner on a terminal (hidden otherwise, and with `-q` or `-v`, whose
/// logs say more), ticking with `inc`.
pub fn progress(what: &str, len: Option<u64>) -> ProgressBar {
    let o = output();
    let shown = !o.quiet && o.verbose == 0 && std::io::stderr().is_terminal();
    let pb = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    pb.set_draw_target(if shown {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    pb.set_message(what.to_owned());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A metrics source that logs each query (id, time, bytes, outcome) and
/// ticks a progress spinner: what a one-day live run does, visible.
pub struct Tracked<S> {
    inner: S,
    bar: ProgressBar,
}

impl<S> Tracked<S> {
    /// Wrap `inner`, counting queries under the label `what`.
    pub fn new(inner: S, what: &str) -> Self {
        Self {
            inner,
            bar: progress(what, None),
        }
    }
}

impl<S> Drop for Tracked<S> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl<S: MetricsSource> MetricsSource for Tracked<S> {
    async fn query(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        let start = Instant::now();
        let out = self.inner.query(q).await;
        let ms = start.elapsed().as_millis();
        match &out {
            Ok(r) => tracing::info!(query = %q.id, ms, bytes = r.body.len(), "query answered"),
            // Info, not warn: a failure either ends the command with its
            // own error or is handled (a window too large is halved).
            Err(e) => tracing::info!(query = %q.id, ms, kind = ?e.kind, error = %e, "query failed"),
        }
        tracing::debug!(query = %q.id, promql = %q.promql, "query text");
        self.bar.inc(1);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_summarised_by_kind() {
        let over = |n: &str| {
            Warning::new(
                WarningKind::OverAllocated,
                format!("node c/{n} is over-allocated"),
            )
            .node("c", n)
        };
        let priced = Warning::new(WarningKind::DefaultPrices, "node c/x has no price series");
        let ws = [
            over("a"),
            priced.clone(),
            over("b"),
            over("a"),
            over("c"),
            over("d"),
            over("e"),
        ];
        assert_eq!(
            summary(&ws, false),
            [
                "warning: node c/a is over-allocated",
                "warning: node c/b is over-allocated",
                "warning: node c/c is over-allocated",
                "warning: … and 2 more over_allocated warning(s) like these (-v lists them)",
                "warning: node c/x has no price series",
            ]
        );
        let all = summary(&ws, true);
        assert_eq!(all.len(), 6, "{all:?}");
        assert_eq!(all[4], "warning: node c/e is over-allocated");
        assert!(summary(&[], false).is_empty());
    }
}
