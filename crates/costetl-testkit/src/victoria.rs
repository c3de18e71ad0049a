//! [`VmServer`]: single-node VictoriaMetrics serving imported OpenMetrics
//! data.

use std::ffi::OsString;
use std::time::Instant;

use crate::http::Access;
use crate::openmetrics;
use crate::process::{self, Launch};
use crate::prometheus::flag_value;
use crate::server::{Server, server_newtype};
use crate::{START_TIMEOUT, TestkitError, require_binary};

/// A single-node VictoriaMetrics server on `127.0.0.1`, holding the samples
/// of the OpenMetrics text it was started with.
///
/// Dropping it stops the server (SIGTERM, then SIGKILL after 5 s) and
/// deletes its temporary directory.
///
/// Unlike Prometheus it drops NaN samples on ingestion (only Prometheus
/// staleness markers are stored), and its lookback for instant queries is
/// derived from the data's sample interval rather than a fixed 5 minutes.
pub struct VmServer(Server);

server_newtype!(VmServer);

impl VmServer {
    /// Starts VictoriaMetrics, imports `text` through
    /// `/api/v1/import/prometheus` and waits until every sample is visible
    /// to queries.
    ///
    /// See the [crate docs](crate#input) for what `text` must look like.
    /// OpenMetrics' second timestamps are fine as they are: the import
    /// endpoint reads timestamps below 2^31 as seconds, larger ones as
    /// milliseconds.
    ///
    /// # Errors
    ///
    /// - [`TestkitError::MissingBinary`] if `victoria-metrics` is missing;
    /// - [`TestkitError::InvalidInput`] for input without timestamps or with
    ///   millisecond timestamps;
    /// - [`TestkitError::HttpStatus`] if the import is rejected;
    /// - [`TestkitError::ServerExited`] / [`TestkitError::Timeout`] if the
    ///   server does not come up, or the data does not become visible,
    ///   within [`START_TIMEOUT`].
    pub fn start_with_openmetrics(text: &str) -> Result<Self, TestkitError> {
        Self::start_with_openmetrics_args(text, &[])
    }

    /// As [`VmServer::start_with_openmetrics`], with `extra` command-line
    /// flags (e.g. `-search.maxPointsPerTimeseries=100`). A
    /// `-http.pathPrefix=/p` flag is honoured: the testkit's own requests go
    /// under `/p`, and [`Server::url`](crate::Server::url) ends with it, so
    /// VictoriaMetrics can stand in for a backend behind any path prefix
    /// (`/select/0/prometheus`, `/api/prom`, …).
    ///
    /// # Errors
    ///
    /// As [`VmServer::start_with_openmetrics`].
    pub fn start_with_openmetrics_args(text: &str, extra: &[&str]) -> Result<Self, TestkitError> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let binary = require_binary("victoria-metrics")?;
        let summary = openmetrics::scan(text)?;

        let dir = process::temp_dir("victoria-metrics")?;
        let data = dir.path().join("data");
        let log = dir.path().join("victoria-metrics.log");

        let extra_owned: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let prefix = flag_value(&extra_owned, "-http.pathPrefix").unwrap_or_default();

        // Storage is opened before the HTTP server starts, so /health
        // answering 200 means imports and queries work.
        let launch = Launch {
            kind: "victoria-metrics",
            program: &binary,
            cwd: dir.path(),
            log: &log,
            access: Access::default(),
            prefix: &prefix,
            ready_path: "/health",
            waiting_for: "GET /health to answer 200",
            started,
            deadline,
        };
        let mut process = launch.start(|port| {
            [
                OsString::from(format!("-storageDataPath={}", data.display())),
                format!("-httpListenAddr=127.0.0.1:{port}").into(),
                // Samples older than the retention period are silently
                // dropped at import; the default (1 month) would drop any
                // fixed-date test data once it ages.
                "-retentionPeriod=100y".into(),
                // The rollup result cache could answer from a state before
                // the import; backfilling is the documented use of this flag.
                "-search.disableCache".into(),
                // By default the last 30 s before "now" are hidden from
                // queries; tests with data near the wall clock should see it.
                "-search.latencyOffset=0s".into(),
            ]
            .into_iter()
            .chain(extra.iter().map(OsString::from))
            .collect()
        })?;

        let body = openmetrics::with_eof(text);
        process.post("/api/v1/import/prometheus", body.as_bytes(), 204)?;
        // Imported rows sit in in-memory buffers that become searchable on a
        // ~1 s timer; force_flush makes them searchable now. The count below
        // still polls, in case a future version flushes asynchronously.
        match process.get("/internal/force_flush")? {
            (200, _) => {}
            (status, body) => {
                return Err(TestkitError::HttpStatus {
                    method: "GET",
                    url: format!("{}/internal/force_flush", process.url()),
                    status,
                    body,
                });
            }
        }

        let expected = summary.samples - summary.nan_samples;
        process.wait_until(
            deadline,
            started,
            "all non-NaN samples of the input to be queryable",
            |p| match p.stored_samples(&summary)? {
                n if n == expected => Ok(()),
                n => Err(format!("{n} of {expected} samples visible")),
            },
        )?;
        Ok(Self(Server::new("victoria-metrics", process, dir)))
    }
}
