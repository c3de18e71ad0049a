//! Where metrics come from: the [`MetricsSource`] trait that adapters
//! implement (a live Prometheus-compatible backend, a fixture replay, a
//! recorder wrapping either), and the query description they receive.
//!
//! Sources return the backend's response body verbatim; decoding happens
//! in the core ([`crate::promjson`]) so that a recorded body replays to the
//! exact same result. The trait is async without naming a runtime.

use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};

/// When and how a query is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// `/api/v1/query` at `time`.
    Instant {
        /// Evaluation time.
        time: DateTime<Utc>,
    },
    /// `/api/v1/query_range` over `[start, end]` every `step`.
    Range {
        /// First evaluation time.
        start: DateTime<Utc>,
        /// Last evaluation time (inclusive, as Prometheus defines it).
        end: DateTime<Utc>,
        /// Step between evaluations.
        step: TimeDelta,
    },
}

/// One query of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuerySpec {
    /// Stable name of what the query is for (e.g. `cpu_request`), used in
    /// errors, fixtures and measurements.
    pub id: String,
    /// The PromQL text.
    pub promql: String,
    /// Instant or range, and when.
    pub kind: QueryKind,
}

/// A backend's answer to one query, as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawResponse {
    /// The response body, verbatim (Prometheus JSON).
    pub body: Vec<u8>,
}

/// What the caller can do about a [`SourceError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceErrorKind {
    /// Trying the same query again later may succeed (timeouts, 429, 503,
    /// throttling, a dropped connection).
    Transient,
    /// The query is too big for the backend (too many samples, a response
    /// over its size limit, a chunk limit): the same question over a
    /// shorter window may succeed.
    TooLarge,
    /// Asking again will not help (bad query, missing fixture, 4xx).
    Permanent,
}

/// Why a source could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// What went wrong, naming the backend's status or the fixture file.
    pub message: String,
    /// Whether and how a retry may help.
    pub kind: SourceErrorKind,
}

impl SourceError {
    /// An error of `kind`.
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
        }
    }

    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        self.kind == SourceErrorKind::Transient
    }
}

/// Anything that can answer PromQL queries: implemented by the adapter
/// crates, never by the core.
pub trait MetricsSource: Send + Sync {
    /// Run one query and return the response body.
    fn query(&self, q: &QuerySpec)
    -> impl Future<Output = Result<RawResponse, SourceError>> + Send;
}

impl<S: MetricsSource + ?Sized> MetricsSource for &S {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl Future<Output = Result<RawResponse, SourceError>> + Send {
        (**self).query(q)
    }
}
