//! Adapter from a Prometheus-compatible backend (Prometheus,
//! VictoriaMetrics, Thanos, Mimir/Cortex, Amazon Managed Service for
//! Prometheus, Grafana Cloud, …) to the core crate's
//! [`MetricsSource`](costetl_core::source::MetricsSource).
//!
//! [`PromSource`] sends each query to the backend's HTTP API and returns the
//! response body verbatim: decoding is the core's job
//! ([`costetl_core::promjson`]), so a live run and a replay of its recorded
//! fixture see exactly the same bytes. The one exception is a range query
//! split into pieces, whose answers are merged into one body
//! ([`range`](crate#range-queries)).
//!
//! ```no_run
//! use costetl_prom::{PromConfig, PromSource};
//!
//! let mut cfg = PromConfig::new("https://mimir.example.com/prometheus");
//! cfg.headers.insert("X-Scope-OrgID", "team-a");
//! cfg.apply_env(|k| std::env::var(k).ok())?; // OpenCost's variables win
//! let source = PromSource::from_config(&cfg)?;
//! # Ok::<(), costetl_prom::PromError>(())
//! ```
//!
//! # Transport
//!
//! The [`prometheus-http-query`](prometheus_http_query) crate's query
//! builders and `post_raw()`/`get_raw()` send every request, on a
//! `reqwest` client built here (timeouts, TLS, static headers, basic or
//! static bearer auth as default headers). Its response types are not
//! used: they drop `warnings`, reject VictoriaMetrics' error bodies and are
//! several times slower than the core's decoder. Where the crate cannot do
//! a thing at all, and only there, a minimal request path on the **same**
//! reqwest client takes over: signing ([`sign::RequestSigner`], e.g. AWS
//! SigV4) needs the finished request, and the crate sends a request the
//! moment it has built it. That path builds the identical request (same
//! URL join, parameters, form encoding, headers), lets the signer sign it
//! and sends it as signed.
//!
//! Extra parameters ([`PromConfig::params`]) go through the crate's
//! `.query(&'static str, …)`: well-known names are static; other names are
//! interned once per process.
//!
//! # What it does
//!
//! - Instant queries as `POST /api/v1/query` (`query`, `time`), range
//!   queries as `POST /api/v1/query_range` (`query`, `start`, `end`,
//!   `step`), with the PromQL in a form body; `GET` on request
//!   ([`Method`]).
//! - Base URLs with path prefixes (`/prometheus`, `/api/prom`,
//!   `/select/0/prometheus`, `/workspaces/<id>`), with or without trailing
//!   slashes.
//! - Authentication ([`AuthConfig`]): none, basic, bearer (static, or read
//!   from a file before every request so rotated tokens are picked up),
//!   AWS SigV4 ([`sigv4::SigV4Signer`], or any [`sign::RequestSigner`]
//!   set on the builder); static headers (e.g.
//!   `X-Scope-OrgID`); TLS with a custom CA, client certificates (mTLS) or
//!   `insecure_skip_verify` ([`TlsConfig`]). Secrets are [`Secret`]s and
//!   never appear in `Debug`, logs or errors.
//! - Per-backend parameters on every request, retry and piece (Thanos
//!   `dedup`, `partial_response`, `max_source_resolution`; VictoriaMetrics
//!   `nocache`, `extra_label`; AMP `max_samples_processed_*_threshold`).
//! - At most [`PromConfig::concurrency`] requests in flight (a semaphore
//!   that needs no runtime), a connect timeout, a deadline per attempt,
//!   and Prometheus' `timeout` parameter just under it.
//! - Retries with exponential backoff and jitter on 408/429/502/503/504,
//!   AMP's `ThrottlingException` and dropped connections, honouring
//!   `Retry-After`; never on 400/401/403/404/422 ([`RetryConfig`]).
//! - Every failure is a [`PromError`] with a
//!   [`SourceErrorKind`](costetl_core::source::SourceErrorKind): transient,
//!   too large (AMP's 413, sample/size limits) or permanent. Non-JSON error
//!   bodies (AMP's 413 text, a proxy's 502 HTML) name the status, content
//!   type and the start of the body. Prometheus error envelopes are
//!   returned as bodies, for the core to report with their `errorType`.
//!
//! # Range queries
//!
//! A range query is split so that no request asks for more than
//! [`LimitsConfig::max_points`] points per series (Prometheus' 11,000) or
//! spans more than [`LimitsConfig::max_range`]; a piece the backend calls
//! too large is halved and sent again. The pieces' bodies are merged into
//! one Prometheus JSON body equal to the unsplit answer. Instant-query
//! plans are split by the core engine, not here.
//!
//! # Warnings and partial responses
//!
//! The core decodes `warnings` and `infos` from each body (Thanos partial
//! responses, Mimir truncation notices, Prometheus 2.54+ infos). Bodies
//! pass through here unchanged, retries return the final attempt's body
//! whole, and a merge keeps the union of all pieces' `warnings` and `infos`
//! and VictoriaMetrics' `isPartial`; nothing is dropped on the way.
//!
//! # Runtime
//!
//! The crate never starts a runtime. reqwest needs tokio to drive it, and
//! retry waits use `tokio::time::sleep`, so queries must run inside a
//! tokio runtime with the time driver enabled (as the binary provides).
//! TLS is rustls on the `ring` provider, built per client: no process-wide
//! crypto provider is installed.

mod client;
mod config;
mod error;
mod range;
mod retry;
mod secret;
pub mod sign;
pub mod sigv4;
mod source;

pub use config::{
    AuthConfig, Headers, LimitsConfig, Method, ParamValues, PromConfig, RetryConfig, TlsConfig,
    format_duration, parse_duration,
};
pub use error::PromError;
pub use secret::{Secret, redact_url};
pub use sigv4::SigV4Config;
pub use source::{PromSource, PromSourceBuilder, SourceStats};
