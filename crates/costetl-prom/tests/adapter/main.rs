//! `PromSource` end to end, in one test binary (one link step):
//!
//! - `requests`: what it sends (method, path, form body, parameters,
//!   headers, authentication, signing), seen by a recording loopback server;
//! - `faults`: retries, timeouts, limits and error classification, against
//!   a loopback server scripted to misbehave as real backends and proxies
//!   do (429 + `Retry-After`, AMP's 413 text, resets, stalls);
//! - `range`: splitting and merging range queries;
//! - `real`: real Prometheus, VictoriaMetrics and vmauth (path prefixes,
//!   TLS, mTLS, basic and bearer auth, backend parameters, range splitting
//!   and sample limits), from `costetl-testkit`.

mod faults;
mod range;
mod real;
mod requests;
mod support;
