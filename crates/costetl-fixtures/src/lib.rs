//! Recorded Prometheus responses for costetl: capture once from a live
//! backend, replay forever without one.
//!
//! - [`RecordingSource`] wraps any [`MetricsSource`] and writes every
//!   response body it passes through, verbatim, to a fixture directory,
//!   together with a `manifest.json` describing each query.
//! - [`FixtureSource`] loads such a directory into memory and answers the
//!   same queries with the same bytes, so the core's decoding and cost model
//!   run on exactly what the backend said.
//!
//! A fixture directory looks like this:
//!
//! ```text
//! <dir>/manifest.json          {"schema_version":1,"capture":{window, resolution},"queries":[{id, promql, kind, ...}, ...]}
//! <dir>/0001-cpu_request.json  the body of the first recorded query, byte for byte
//! <dir>/0002-ram_request.json  ...
//! ```
//!
//! Each manifest entry holds `id`, `promql`, `kind` (`"instant"` with
//! `time`, or `"range"` with `start`, `end` and `step`; times in RFC 3339,
//! `step` in seconds), `file` (relative to the directory) and `bytes` (the
//! body's length, checked on load).
//!
//! `capture` (optional) says which window was computed at which resolution
//! (seconds), so a replay can default to them.
//!
//! Replay matches a query by its PromQL text and its kind and times, not by
//! its id: a changed query must miss, loudly, rather than replay stale data.
//!
//! This crate does plain blocking `std::fs` IO and needs no async runtime:
//! [`FixtureSource`] answers with an already-completed future, so tests can
//! drive it with any executor (e.g. `futures::executor::block_on`).
//!
//! [`MetricsSource`]: costetl_core::source::MetricsSource

mod error;
mod manifest;
mod record;
mod replay;

pub use error::FixtureError;
pub use record::RecordingSource;
pub use replay::FixtureSource;

/// What a fixture captured: the window and the engine resolution it was
/// computed at, so a replay needs neither again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capture {
    /// The window computed.
    pub window: costetl_core::Window,
    /// The engine's resolution (the plan's step).
    pub resolution: chrono::TimeDelta,
}

/// The manifest's file name inside a fixture directory.
pub const MANIFEST_FILE: &str = "manifest.json";
