//! The first check: does the backend answer PromQL at all? One cheap
//! query (`vector(1)`) through the same source, before the others. When it
//! fails, one outcome names the error and what to look at, and the other
//! checks are skipped, instead of the same error once per check.

use super::eval::Eval;
use super::outcome::Status;
use super::plan::{Builder, Check, Kind};
use crate::error::Error;

/// The id of the check and of its query.
pub(super) const ID: &str = "connectivity";

/// A query every Prometheus-compatible backend answers without touching
/// any series.
const PROMQL: &str = "vector(1)";

pub(super) fn check(b: &Builder<'_>) -> Check {
    let title = "backend connection".to_owned();
    b.check(ID, title, Kind::Connectivity, PROMQL.to_owned())
}

impl Eval<'_> {
    pub(super) fn connected(&mut self, c: &Check) {
        let detail = format!("the backend answers PromQL ({PROMQL})");
        self.push(c, None, Status::Pass, detail);
    }

    /// The one outcome when the backend does not answer.
    pub(super) fn unreachable(&mut self, c: &Check, error: &str, cause: Option<&Error>) {
        let detail = format!(
            "{error}; the other checks were skipped. {}Check the URL (scheme, host, port \
             and path prefix), the authentication (basic auth, bearer token, SigV4 region \
             and role) and TLS (http or https, the CA, a client certificate)",
            lead(cause)
        );
        self.push(c, None, Status::Fail, detail);
    }
}

/// What the error itself points at, when it points at something.
fn lead(cause: Option<&Error>) -> &'static str {
    let Some(e) = cause else { return "" };
    let text = e.to_string().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if matches!(e, Error::Decode { .. }) {
        "The URL answers, but not with the Prometheus HTTP API: a wrong path prefix \
         (/prometheus behind a proxy, /api/prom for Cortex and Mimir, \
         /workspaces/<id> for AMP, /select/0/prometheus for a VictoriaMetrics cluster)? "
    } else if has(&["401", "403", "unauthorized", "forbidden"]) {
        "The backend refuses the credentials. "
    } else if has(&["certificate", "tls", "ssl", "handshake"]) {
        "The TLS handshake failed. "
    } else {
        ""
    }
}
