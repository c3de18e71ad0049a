//! [`PromServer`]: Prometheus serving backfilled OpenMetrics data.

use std::ffi::OsString;
use std::path::Path;
use std::time::Instant;

use crate::openmetrics::{self, Summary};
use crate::process::{self, Launch, ServerProcess};
use crate::server::{Server, server_newtype};
use crate::tls::WebConfig;
use crate::{START_TIMEOUT, TestkitError, require_binary};

/// No scrape jobs: the only data is what was backfilled, so queries over
/// `{__name__=~".+"}` see exactly the test input.
const CONFIG: &str = "\
# Written by costetl-testkit. No scrape jobs on purpose: the only data is
# the blocks backfilled from the test's OpenMetrics input.
global:
  evaluation_interval: 1m
scrape_configs: []
";

/// A Prometheus server on `127.0.0.1`, holding the samples of the
/// OpenMetrics text it was started with.
///
/// Dropping it stops the server (SIGTERM, then SIGKILL after 5 s) and
/// deletes its temporary directory.
///
/// The query lookback delta is Prometheus' default 5 minutes: an instant
/// query more than 5 minutes after a series' last sample does not see it.
pub struct PromServer(Server);

server_newtype!(PromServer);

impl PromServer {
    /// Backfills `text` into TSDB blocks with promtool, starts Prometheus on
    /// them and waits until it is ready and holds every sample of `text`.
    ///
    /// See the [crate docs](crate#input) for what `text` must look like.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `prometheus` or `promtool` is
    ///   missing;
    /// - [`TestkitError::InvalidInput`] for input without timestamps or with
    ///   millisecond timestamps;
    /// - [`TestkitError::CommandFailed`] if promtool rejects the input (its
    ///   stderr is in the error);
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if the
    ///   server does not come up within [`START_TIMEOUT`];
    /// - [`TestkitError::DataMismatch`] if promtool dropped samples, which it
    ///   does silently for out-of-order or duplicate timestamps in a series.
    pub fn start_with_openmetrics(text: &str) -> Result<Self, TestkitError> {
        Self::start_with_openmetrics_args(text, &[])
    }

    /// As [`PromServer::start_with_openmetrics`], with `extra` command-line
    /// flags for Prometheus (e.g. `--query.max-samples=1000` to provoke
    /// limit errors, `--web.config.file=…` for TLS or basic auth).
    ///
    /// A `--web.route-prefix=/p` flag is honoured: the testkit's own
    /// requests go under `/p`, and [`Server::url`] ends with it. For TLS or
    /// basic auth use [`PromServer::start_with_web_config`], which knows how
    /// to get through.
    pub fn start_with_openmetrics_args(text: &str, extra: &[&str]) -> Result<Self, TestkitError> {
        Self::start_inner(text, extra, &WebConfig::default())
    }

    /// As [`PromServer::start_with_openmetrics_args`], serving through
    /// Prometheus' `--web.config.file` as `web` describes: HTTPS with a
    /// [`crate::TestPki`] certificate, client certificates required (mTLS),
    /// basic auth. The testkit's readiness and sample checks use the same
    /// CA, client certificate and credentials; [`Server::url`] is then
    /// `https://127.0.0.1:<port>`.
    ///
    /// # Errors
    ///
    /// As [`PromServer::start_with_openmetrics`].
    pub fn start_with_web_config(
        text: &str,
        web: &WebConfig,
        extra: &[&str],
    ) -> Result<Self, TestkitError> {
        Self::start_inner(text, extra, web)
    }

    /// As [`PromServer::start_with_openmetrics`], also holding what the
    /// recording rules in `rules` (a Prometheus rule file) record from
    /// `start` to `end` (unix seconds), as a ruler would have: a first
    /// server holds `text`, `promtool tsdb create-blocks-from rules`
    /// evaluates the rules against it, and the server returned holds both
    /// sets of blocks.
    ///
    /// # Errors
    ///
    /// As [`PromServer::start_with_openmetrics`]; promtool rejecting the
    /// rules is [`TestkitError::CommandFailed`].
    pub fn start_with_openmetrics_and_rules(
        text: &str,
        rules: &str,
        start: i64,
        end: i64,
    ) -> Result<Self, TestkitError> {
        let promtool = require_binary("promtool")?;
        let dir = process::temp_dir("rules")?;
        let file = dir.path().join("rules.yml");
        let blocks = dir.path().join("blocks");
        process::write_file(&file, rules)?;
        {
            let raw = Self::start_with_openmetrics(text)?;
            process::run_command(
                &promtool,
                &[
                    "tsdb".into(),
                    "create-blocks-from".into(),
                    "rules".into(),
                    format!("--url={}", raw.url()).into(),
                    format!("--start={start}").into(),
                    format!("--end={end}").into(),
                    format!("--output-dir={}", blocks.display()).into(),
                    file.into(),
                ],
            )?;
        }
        Self::start_full(text, &[], &WebConfig::default(), Some(&blocks))
    }

    fn start_inner(text: &str, extra: &[&str], web: &WebConfig) -> Result<Self, TestkitError> {
        Self::start_full(text, extra, web, None)
    }

    /// Backfill `text`, add the blocks under `blocks` (each a block
    /// directory), start and check.
    fn start_full(
        text: &str,
        extra: &[&str],
        web: &WebConfig,
        blocks: Option<&Path>,
    ) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let prometheus = require_binary("prometheus")?;
        let promtool = require_binary("promtool")?;
        let summary = openmetrics::scan(text)?;

        let dir = process::temp_dir("prometheus")?;
        let input = dir.path().join("input.om");
        let tsdb = dir.path().join("tsdb");
        let config = dir.path().join("prometheus.yml");
        let log = dir.path().join("prometheus.log");
        process::write_file(&input, &openmetrics::with_eof(text))?;
        process::write_file(&config, CONFIG)?;
        let mut extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let secured = web.tls.is_some() || web.basic_auth.is_some();
        if secured {
            let web_file = dir.path().join("web.yml");
            process::write_file(&web_file, &web.render(dir.path())?)?;
            extra.push(format!("--web.config.file={}", web_file.display()));
        }
        let access = web.access()?;
        let prefix = flag_value(&extra, "--web.route-prefix").unwrap_or_default();

        // promtool writes one block per 2 h-aligned interval of the input
        // (block boundaries are multiples of 2 h since the epoch), each
        // covering [first sample, last sample + 1 ms]. Blocks never overlap,
        // so no overlap flag is needed (Prometheus >= 2.39 accepts overlaps
        // anyway; the old flag is a hidden no-op).
        process::run_command(
            &promtool,
            &[
                "tsdb".into(),
                "create-blocks-from".into(),
                "openmetrics".into(),
                input.into(),
                tsdb.clone().into(),
            ],
        )?;
        if let Some(blocks) = blocks {
            copy_dir(blocks, &tsdb)?;
        }

        // /-/ready turns 200 only after the TSDB, with all backfilled
        // blocks, is open; before that it answers 503.
        let launch = Launch {
            kind: "prometheus",
            program: &prometheus,
            cwd: dir.path(),
            log: &log,
            access: access.clone(),
            prefix: &prefix,
            ready_path: "/-/ready",
            waiting_for: "GET /-/ready to answer 200",
            started,
            deadline,
        };
        let mut process = launch.start(|port| {
            vec![
                format!("--config.file={}", config.display()).into(),
                format!("--storage.tsdb.path={}", tsdb.display()).into(),
                // Retention is measured back from the newest block. 100y
                // keeps every backfilled block however far the input spans
                // (the default 15d would delete the older blocks of a long
                // input at the first retention run).
                "--storage.tsdb.retention.time=100y".into(),
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                // Lets a test POST /-/reload or /-/quit.
                "--web.enable-lifecycle".into(),
            ]
            .into_iter()
            .chain(extra.iter().map(OsString::from))
            .collect()
        })?;

        let expected = summary.samples;
        let found = stored_samples_once(&mut process, &summary, deadline, started)?;
        if found != expected {
            return Err(TestkitError::DataMismatch {
                server: "prometheus",
                url: process.url(),
                expected,
                found,
                hint: "promtool silently drops samples that are out of order or have a \
                       duplicate timestamp within their series",
                stderr_tail: process.log_tail(),
            });
        }
        Ok(Self(Server::new("prometheus", process, dir)))
    }
}

/// Copies the tree under `from` into `to` (created as needed).
fn copy_dir(from: &Path, to: &Path) -> Result<(), TestkitError> {
    let io = |context: String| move |source| TestkitError::Io { context, source };
    std::fs::create_dir_all(to).map_err(io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(format!(
                "copying {} to {}",
                src.display(),
                dst.display()
            )))?;
        }
    }
    Ok(())
}

/// Counts the stored samples once the query API answers.
///
/// No waiting for the count itself: Prometheus loads every block before it
/// reports ready, so a wrong count will not fix itself.
fn stored_samples_once(
    process: &mut ServerProcess,
    summary: &Summary,
    deadline: Instant,
    started: Instant,
) -> Result<u64, TestkitError> {
    let mut found = None;
    process.wait_until(deadline, started, "the sample count query", |p| {
        found = Some(p.stored_samples(summary)?);
        Ok(())
    })?;
    Ok(found.unwrap_or_default())
}

/// The value of `--name=value` (or `-name=value`) in `args`, if given.
pub(crate) fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}
