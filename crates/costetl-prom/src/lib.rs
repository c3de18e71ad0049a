//! Adapter from a Prometheus-compatible backend (Prometheus, VictoriaMetrics,
//! Thanos, Mimir/Cortex, …) to the core crate's
//! [`MetricsSource`].
//!
//! [`PromSource`] sends each query to the backend's HTTP API and returns the
//! response body verbatim: decoding is the core's job
//! ([`costetl_core::promjson`]), so a live run and a replay of its recorded
//! fixture see exactly the same bytes. Transport is the
//! [`prometheus-http-query`](prometheus_http_query) crate (its query
//! builders and `post_raw()`); its own response types are deliberately not
//! used (they drop `warnings`, reject VictoriaMetrics' error bodies and are
//! several times slower than the core's decoder).
//!
//! What it does:
//! - instant queries as `POST /api/v1/query` with form fields `query` and
//!   `time`; range queries as `POST /api/v1/query_range` with `query`,
//!   `start`, `end`, `step` (POST because cost PromQL can outgrow URL limits
//!   at proxies);
//! - base URLs with a path prefix (`http://gw/prometheus`,
//!   `http://vmselect:8481/select/0/prometheus`), with or without trailing
//!   slashes;
//! - a 5 s connect timeout and a whole-request deadline (default 120 s);
//! - non-2xx answers that carry a Prometheus error envelope are returned
//!   as bodies (the core turns them into `Error::Backend` with the backend's
//!   `errorType`); anything else that is not JSON (a proxy's HTML or plain
//!   text) becomes a [`SourceError`] naming the HTTP status, content type
//!   and the start of the body.
//!
//! This is the minimal live source. The complete adapter (authentication,
//! TLS, tenant headers, extra backend parameters, retries with backoff,
//! concurrency and request-size limits) comes later. The crate never starts
//! an async runtime; reqwest needs tokio to drive it, which the binary
//! provides.

pub mod sign;

use std::fmt;
use std::time::Duration;

use chrono::SecondsFormat;
use costetl_core::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};
use prometheus_http_query::reqwest::{self, Url};

/// Time allowed to establish a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed for a whole request, from sending to the last body byte.
/// Prometheus' own default query timeout is 2 minutes.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How many characters of a non-JSON error body a [`SourceError`] quotes.
const BODY_EXCERPT_CHARS: usize = 200;

/// Why a [`PromSource`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromError {
    /// The base URL is not a usable `http://` URL.
    #[error("invalid Prometheus base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {error}")]
    HttpClient {
        /// reqwest's error.
        error: reqwest::Error,
    },
}

/// A live [`MetricsSource`] for one Prometheus-compatible HTTP endpoint.
///
/// Cheap to share: queries take `&self` and may run concurrently over the
/// client's connection pool.
#[derive(Clone)]
pub struct PromSource {
    client: prometheus_http_query::Client,
    /// The normalised base URL, for [`PromSource::base_url`].
    base_url: String,
    /// The base URL for messages: no password, no trailing slash.
    display_base: String,
    request_timeout: Duration,
}

impl fmt::Debug for PromSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromSource")
            .field("base_url", &self.display_base)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Options for a [`PromSource`]; start from [`PromSource::builder`].
#[derive(Clone, Debug)]
pub struct PromSourceBuilder {
    base_url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl PromSourceBuilder {
    /// Time allowed to establish a connection (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Deadline for a whole request including the body (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Validate the base URL and create the HTTP client.
    pub fn build(self) -> Result<PromSource, PromError> {
        let url = normalise_base_url(&self.base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(concat!("costetl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| PromError::HttpClient { error })?;
        let client = prometheus_http_query::Client::from(http, url.as_str()).map_err(|e| {
            PromError::InvalidBaseUrl {
                url: self.base_url.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(PromSource {
            client,
            base_url: url.as_str().to_owned(),
            display_base: display_base(&url),
            request_timeout: self.request_timeout,
        })
    }
}

impl PromSource {
    /// A source for the backend at `base_url` (e.g. `http://127.0.0.1:9090`
    /// or `http://gateway/prometheus/`) with default timeouts.
    pub fn new(base_url: &str) -> Result<Self, PromError> {
        Self::builder(base_url).build()
    }

    /// Options for a source at `base_url`.
    pub fn builder(base_url: &str) -> PromSourceBuilder {
        PromSourceBuilder {
            base_url: base_url.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The normalised base URL requests are sent under (`/api/v1/…` is
    /// appended to it).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn fetch(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        let (endpoint, sent) = match q.kind {
            QueryKind::Instant { time } => {
                let b = self.client.query(&q.promql);
                // The crate's `.at()` takes whole seconds; send RFC 3339
                // (which Prometheus also accepts) rather than round a
                // sub-second time.
                let b = if time.timestamp_subsec_nanos() == 0 {
                    b.at(time.timestamp())
                } else {
                    b.query("time", time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                };
                ("api/v1/query", b.post_raw().await)
            }
            QueryKind::Range { start, end, step } => {
                // The crate only sends whole-second bounds; refuse rather
                // than silently query a different range.
                if start.timestamp_subsec_nanos() != 0 || end.timestamp_subsec_nanos() != 0 {
                    return Err(SourceError {
                        message: format!(
                            "range query bounds must be whole seconds, got {} to {}",
                            start.to_rfc3339(),
                            end.to_rfc3339()
                        ),
                        kind: SourceErrorKind::Permanent,
                    });
                }
                let b = self.client.query_range(
                    &q.promql,
                    start.timestamp(),
                    end.timestamp(),
                    step.as_seconds_f64(),
                );
                ("api/v1/query_range", b.post_raw().await)
            }
        };
        let url = format!("{}/{endpoint}", self.display_base);
        let response = sent.map_err(|e| {
            let inner = match &e {
                prometheus_http_query::Error::Client(c) => c.inner(),
                _ => None,
            };
            self.transport_error(&url, inner, &e)
        })?;

        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&url, Some(&e), &e))?;

        // Success bodies, and Prometheus error envelopes whatever the status
        // (400 bad_data, 422 execution, 503 timeout, VictoriaMetrics' 422),
        // go to the core verbatim; only bodies that are not a Prometheus
        // answer at all (proxy pages, AMP's 413 text) are reported here.
        if looks_like_json(&body) && (status.is_success() || is_error_envelope(&body)) {
            return Ok(RawResponse { body: body.into() });
        }
        Err(SourceError {
            message: format!(
                "POST {url}: HTTP {status}, content type {}, body starts with {}",
                content_type.as_deref().unwrap_or("(none)"),
                excerpt(&body)
            ),
            // Gateways' overload and timeout statuses may pass; AMP's 413
            // asks for less; anything else will fail again the same way.
            kind: match status.as_u16() {
                408 | 429 | 502 | 503 | 504 => SourceErrorKind::Transient,
                413 => SourceErrorKind::TooLarge,
                _ => SourceErrorKind::Permanent,
            },
        })
    }

    /// A [`SourceError`] for a request that got no complete answer. `inner`
    /// is reqwest's error where there is one, to classify the failure.
    fn transport_error(
        &self,
        url: &str,
        inner: Option<&reqwest::Error>,
        e: &dyn std::error::Error,
    ) -> SourceError {
        let timed_out = inner.is_some_and(reqwest::Error::is_timeout);
        // Connection failures and resets are worth another try; a request
        // that could not even be built is not.
        let retryable = inner
            .is_some_and(|r| r.is_timeout() || r.is_connect() || r.is_request() || r.is_body());
        let mut message = format!("POST {url}: ");
        if timed_out {
            message.push_str(&format!(
                "timed out (request timeout {:?}): ",
                self.request_timeout
            ));
        }
        message.push_str(&error_chain(e));
        let kind = if retryable {
            SourceErrorKind::Transient
        } else {
            SourceErrorKind::Permanent
        };
        SourceError { message, kind }
    }
}

impl MetricsSource for PromSource {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl std::future::Future<Output = Result<RawResponse, SourceError>> + Send {
        self.fetch(q)
    }
}

/// The parsed, checked base URL, trailing slashes removed from its path.
///
/// prometheus-http-query appends `/api/v1/...` with `format!("{base}/{path}")`
/// unless the path is exactly `/`, so `http://gw/prometheus/` would become
/// `//api/v1/query`; stripping trailing slashes avoids that.
fn normalise_base_url(input: &str) -> Result<Url, PromError> {
    let invalid = |reason: String| PromError::InvalidBaseUrl {
        url: input.to_owned(),
        reason,
    };
    if !input.contains("://") {
        // `host:9090` would otherwise parse as scheme `host`.
        return Err(invalid(
            "no scheme, expected e.g. http://host:9090".to_owned(),
        ));
    }
    let mut url = Url::parse(input.trim()).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(invalid(
                "https needs TLS support, which this build of costetl-prom does not include yet"
                    .to_owned(),
            ));
        }
        other => {
            return Err(invalid(format!(
                "unsupported scheme {other:?}, expected http"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        // Query parameters would be dropped or mangled by the request
        // builder; backend parameters get their own option later.
        return Err(invalid(
            "a base URL cannot have a query string or fragment".to_owned(),
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    // An empty path serialises as `/`, the form the crate joins correctly.
    url.set_path(&path);
    Ok(url)
}

/// `url` without password and trailing slash, for messages.
fn display_base(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Cannot fail for http URLs with a host.
        let _ = url.set_password(Some("***"));
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// Whether `body` starts like a JSON object (cheap pre-check before
/// handing it to the core).
fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Whether `body` is a Prometheus `status: "error"` envelope.
fn is_error_envelope(body: &[u8]) -> bool {
    // The core's decoder is the single definition of the envelope; error
    // bodies are small, so decoding one twice is cheap.
    matches!(
        costetl_core::promjson::decode("", body),
        Err(costetl_core::Error::Backend { .. })
    )
}

/// The first [`BODY_EXCERPT_CHARS`] characters of `body`, quoted.
fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(BODY_EXCERPT_CHARS * 4)];
    let mut out: String = String::from_utf8_lossy(head)
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .collect();
    if out.len() < body.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// `e` and its sources, joined by `: ` (reqwest's top-level message alone
/// hides the cause, e.g. "connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalise_base_url(s)
            .unwrap_or_else(|e| panic!("{e}"))
            .as_str()
            .to_owned()
    }

    #[test]
    fn base_url_normalisation() {
        for (input, want) in [
            ("http://127.0.0.1:9090", "http://127.0.0.1:9090/"),
            ("http://127.0.0.1:9090/", "http://127.0.0.1:9090/"),
            ("http://127.0.0.1:9090//", "http://127.0.0.1:9090/"),
            ("  http://prom:9090  ", "http://prom:9090/"),
            ("http://gw/prometheus", "http://gw/prometheus"),
            ("http://gw/prometheus/", "http://gw/prometheus"),
            ("http://gw/prometheus///", "http://gw/prometheus"),
            (
                "http://vmselect:8481/select/0/prometheus/",
                "http://vmselect:8481/select/0/prometheus",
            ),
            ("http://mimir/api/prom", "http://mimir/api/prom"),
            (
                "http://user:pw@gw/prometheus/",
                "http://user:pw@gw/prometheus",
            ),
        ] {
            assert_eq!(norm(input), want, "{input}");
        }
    }

    #[test]
    fn endpoint_is_appended_once() {
        // What the crate will request: its base URL plus `/api/v1/query`.
        for input in [
            "http://gw/prometheus",
            "http://gw/prometheus/",
            "http://gw/prometheus//",
        ] {
            let source = PromSource::new(input).unwrap();
            assert_eq!(source.base_url(), "http://gw/prometheus");
        }
        let source = PromSource::new("http://127.0.0.1:9090/").unwrap();
        assert_eq!(source.base_url(), "http://127.0.0.1:9090/");
    }

    #[test]
    fn rejected_base_urls() {
        for (input, reason) in [
            ("", "no scheme"),
            ("127.0.0.1:9090", "no scheme"),
            ("prometheus:9090", "no scheme"),
            ("ftp://prometheus:9090", "unsupported scheme"),
            ("prometheus", "no scheme"),
            ("http://", "empty host"),
            ("ftp://host/", "unsupported scheme"),
            ("https://prometheus.example.com", "TLS"),
            ("http://gw/prometheus?tenant=a", "query string"),
            ("http://gw/prometheus#x", "fragment"),
        ] {
            let err = PromSource::new(input).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, PromError::InvalidBaseUrl { .. }),
                "{input}: {text}"
            );
            assert!(text.contains(reason), "{input}: {text}");
        }
    }

    #[test]
    fn display_hides_password() {
        let source = PromSource::new("http://user:secret@gw/prometheus/").unwrap();
        let debug = format!("{source:?}");
        assert!(
            !debug.contains("secret") && debug.contains("http://user:***@gw/prometheus"),
            "{debug}"
        );
    }

    #[test]
    fn body_classification() {
        assert!(looks_like_json(b"  \n{\"status\":\"success\"}"));
        assert!(!looks_like_json(b"<html>"));
        assert!(!looks_like_json(b""));
        assert!(is_error_envelope(
            br#"{"status":"error","errorType":"422","error":"x"}"#
        ));
        assert!(!is_error_envelope(
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
        ));
        assert!(!is_error_envelope(br#"{"message":"Unauthorized"}"#));
    }
}
