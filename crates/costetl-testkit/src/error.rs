//! The testkit's one error type.

use std::time::Duration;

use thiserror::Error;

/// Everything that can go wrong while starting or talking to a test server.
///
/// Variants about a server carry its URL and the tail of its stderr log,
/// because the temporary directory holding the full log is deleted when the
/// server is dropped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// A required binary is not on `PATH`.
    #[error("`{name}` not found on PATH{}", install_hint(*.install))]
    MissingBinary {
        /// The binary looked for.
        name: String,
        /// Which package provides it and how `.ci/run` installs it, when
        /// it is one of ours.
        install: Option<&'static str>,
    },
    /// The OpenMetrics text given to a start function cannot be used.
    #[error("unusable OpenMetrics test input: {reason}")]
    InvalidInput {
        /// What is wrong, with the line number where there is one.
        reason: String,
    },
    /// A local file or process operation failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper command (promtool) exited unsuccessfully.
    #[error("`{command}` failed ({status}); stderr tail:\n{stderr_tail}")]
    CommandFailed {
        /// The command line that was run.
        command: String,
        /// How it exited.
        status: String,
        /// The end of its stderr.
        stderr_tail: String,
    },
    /// The server process exited before it was ready.
    #[error("{server} for {url} exited during start-up ({status}); stderr tail:\n{stderr_tail}")]
    ServerExited {
        /// `"prometheus"` or `"victoria-metrics"`.
        server: &'static str,
        /// The URL it was meant to serve.
        url: String,
        /// How it exited.
        status: String,
        /// The end of its log.
        stderr_tail: String,
    },
    /// The server did not get ready, or its data did not become visible, in
    /// time.
    #[error(
        "{server} at {url} not ready after {waited:?}: waiting for {waiting_for}, \
         last seen: {last_seen}; stderr tail:\n{stderr_tail}"
    )]
    Timeout {
        /// `"prometheus"` or `"victoria-metrics"`.
        server: &'static str,
        /// Its URL.
        url: String,
        /// How long we waited.
        waited: Duration,
        /// The condition that never came true.
        waiting_for: &'static str,
        /// The last probe's outcome.
        last_seen: String,
        /// The end of its log.
        stderr_tail: String,
    },
    /// An HTTP request could not be sent or its response not read.
    #[error("HTTP {method} {url} failed: {source}")]
    Http {
        /// `GET` or `POST`.
        method: &'static str,
        /// The full URL.
        url: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP request got an unexpected status.
    #[error("HTTP {method} {url} returned {status}: {body}")]
    HttpStatus {
        /// `GET` or `POST`.
        method: &'static str,
        /// The full URL.
        url: String,
        /// The status code.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The server is up but holds a different number of samples than the
    /// input has.
    #[error(
        "{server} at {url} holds {found} samples, the input has {expected}: {hint}; \
         stderr tail:\n{stderr_tail}"
    )]
    DataMismatch {
        /// `"prometheus"` or `"victoria-metrics"`.
        server: &'static str,
        /// Its URL.
        url: String,
        /// Samples in the input.
        expected: u64,
        /// Samples the server counted.
        found: u64,
        /// The likely cause.
        hint: &'static str,
        /// The end of its log.
        stderr_tail: String,
    },
}

/// The "how to get it" part of [`TestkitError::MissingBinary`]'s message.
fn install_hint(install: Option<&str>) -> String {
    match install {
        Some(how) => format!("; {how}"),
        None => String::new(),
    }
}
