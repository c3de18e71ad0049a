//! [`PromSource`]: the [`MetricsSource`] over one endpoint. Holds the
//! transport ([`crate::client`]), the concurrency limit, the retry loop
//! and the range-query splitting ([`crate::range`]).
//!
//! Per query: a range query is planned into pieces; each piece (or the
//! instant query) is sent with retries; a piece the backend calls too
//! large is halved and sent again; the pieces' bodies are merged. Every
//! single HTTP attempt holds one permit of a semaphore of
//! [`PromConfig::concurrency`] permits (not while it waits to retry), so
//! however many queries the caller runs at once, at most that many requests
//! are in flight.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use costetl_core::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};
use tokio::sync::Semaphore;

use crate::client::{Call, Response, Transport};
use crate::config::{PromConfig, RetryConfig};
use crate::error::{PromError, status_kind};
use crate::range::{self, Grid};
use crate::retry;
use crate::sign::RequestSigner;
use crate::sigv4::SigV4Config;

/// How many characters of a non-Prometheus body an error quotes.
const BODY_EXCERPT_CHARS: usize = 200;

/// A live [`MetricsSource`] for one Prometheus-compatible HTTP endpoint.
///
/// Cheap to clone (clones share the connection pool, the concurrency limit
/// and the statistics). Queries take `&self` and may run concurrently.
#[derive(Clone)]
pub struct PromSource {
    transport: Transport,
    permits: Arc<Semaphore>,
    retry: RetryConfig,
    limits: crate::config::LimitsConfig,
    stats: Arc<Counters>,
}

impl fmt::Debug for PromSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromSource")
            .field("base_url", &self.transport.display_base)
            .field("request_timeout", &self.transport.request_timeout)
            .finish_non_exhaustive()
    }
}

/// What a [`PromSource`] has done so far (all clones together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// HTTP requests sent (attempts, including retries and range pieces).
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Total wait planned before retries (backoff or `Retry-After`).
    pub retry_wait: Duration,
    /// Range pieces split in two after a "too large" answer.
    pub splits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    retry_wait_ms: AtomicU64,
    splits: AtomicU64,
}

/// Options for a [`PromSource`]; start from [`PromSource::builder`] or
/// [`PromSourceBuilder::from_config`].
#[derive(Clone, Debug)]
pub struct PromSourceBuilder {
    config: PromConfig,
    signer: Option<Arc<dyn RequestSigner>>,
}

impl PromSourceBuilder {
    /// A builder starting from `config`.
    pub fn from_config(config: &PromConfig) -> Self {
        Self {
            config: config.clone(),
            signer: None,
        }
    }

    /// The configuration so far, to change any setting.
    pub fn config_mut(&mut self) -> &mut PromConfig {
        &mut self.config
    }

    /// Time allowed to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Deadline for a whole attempt including the body (default 120 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Signs every request (e.g. AWS SigV4), after it is completely built
    /// and before it is sent; called again for every retry.
    pub fn signer(mut self, signer: Arc<dyn RequestSigner>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Validates the configuration and creates the HTTP client.
    ///
    /// # Errors
    ///
    /// [`PromError::InvalidBaseUrl`], [`PromError::InvalidConfig`],
    /// [`PromError::Tls`] (unreadable CA or client certificate) or
    /// [`PromError::HttpClient`].
    pub fn build(self) -> Result<PromSource, PromError> {
        let transport = Transport::new(&self.config, self.signer)?;
        Ok(PromSource {
            transport,
            permits: Arc::new(Semaphore::new(self.config.concurrency)),
            retry: self.config.retry.clone(),
            limits: self.config.limits.clone(),
            stats: Arc::default(),
        })
    }
}

/// The signer for [`crate::AuthConfig::SigV4`]: [`crate::sigv4::SigV4Signer`]
/// for `cfg`, its region taken from an AMP workspace URL when not given.
pub(crate) fn sigv4_signer(
    cfg: &SigV4Config,
    url: &str,
) -> Result<Arc<dyn RequestSigner>, PromError> {
    let mut cfg = cfg.clone();
    if cfg.region.is_empty()
        && let Some(region) = crate::sigv4::region_from_amp_url(url)
    {
        cfg.region = region;
    }
    let signer = crate::sigv4::SigV4Signer::new(cfg).map_err(|e| PromError::InvalidConfig {
        field: "auth".to_owned(),
        reason: e.message,
    })?;
    Ok(Arc::new(signer))
}

/// One attempt's verdict.
enum Verdict {
    /// A Prometheus answer (success or error envelope) to hand back.
    Body(Response),
    /// Worth another attempt (after the server's `Retry-After`, if it
    /// gave one); if none is left, this is the answer.
    Retry(Result<Response, PromError>, Option<Duration>),
    /// An error no retry will fix.
    Fail(PromError),
}

impl PromSource {
    /// A source for the backend at `base_url` (e.g. `http://127.0.0.1:9090`
    /// or `http://gateway/prometheus/`) with default settings.
    ///
    /// # Errors
    ///
    /// As [`PromSourceBuilder::build`].
    pub fn new(base_url: &str) -> Result<Self, PromError> {
        Self::builder(base_url).build()
    }

    /// A source for `config`.
    ///
    /// # Errors
    ///
    /// As [`PromSourceBuilder::build`].
    pub fn from_config(config: &PromConfig) -> Result<Self, PromError> {
        PromSourceBuilder::from_config(config).build()
    }

    /// Options for a source at `base_url`.
    pub fn builder(base_url: &str) -> PromSourceBuilder {
        PromSourceBuilder::from_config(&PromConfig::new(base_url))
    }

    /// The normalised base URL requests are sent under (`/api/v1/…` is
    /// appended to it).
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// Requests, retries and splits so far.
    pub fn stats(&self) -> SourceStats {
        SourceStats {
            requests: self.stats.requests.load(Ordering::Relaxed),
            retries: self.stats.retries.load(Ordering::Relaxed),
            retry_wait: Duration::from_millis(self.stats.retry_wait_ms.load(Ordering::Relaxed)),
            splits: self.stats.splits.load(Ordering::Relaxed),
        }
    }

    async fn fetch(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        let body = match q.kind {
            QueryKind::Instant { time } => {
                let call = Call::Instant {
                    promql: &q.promql,
                    time,
                };
                self.send_with_retries(&call).await?.body
            }
            QueryKind::Range { start, end, step } => {
                let grid = Grid { start, end, step };
                self.fetch_range(&q.promql, &grid).await?
            }
        };
        Ok(RawResponse { body })
    }

    /// A range query in pieces, halving those that are too large, merged.
    async fn fetch_range(&self, promql: &str, grid: &Grid) -> Result<Vec<u8>, PromError> {
        let mut pieces: Vec<(range::Piece, Option<Vec<u8>>)> = grid
            .plan(&self.limits)
            .into_iter()
            .map(|p| (p, None))
            .collect();
        loop {
            let todo: Vec<range::Piece> = pieces
                .iter()
                .filter(|(_, b)| b.is_none())
                .map(|(p, _)| *p)
                .collect();
            if todo.is_empty() {
                break;
            }
            // All pending pieces at once; the semaphore bounds the requests.
            let answers = futures::future::join_all(todo.iter().map(|&piece| {
                let (start, end) = grid.bounds(piece);
                let call = Call::Range {
                    promql,
                    start,
                    end,
                    step: grid.step,
                };
                async move { self.send_with_retries(&call).await }
            }))
            .await;
            let mut answers = todo.into_iter().zip(answers);
            let mut next = Vec::with_capacity(pieces.len() + 1);
            for (piece, body) in pieces {
                if body.is_some() {
                    next.push((piece, body));
                    continue;
                }
                let (_, answer) = answers.next().ok_or_else(|| PromError::Merge {
                    reason: "internal: an answer is missing".to_owned(),
                })?;
                let too_large = match &answer {
                    Ok(r) => is_too_large_answer(r),
                    Err(e) => e.kind() == SourceErrorKind::TooLarge,
                };
                if too_large && let Some((a, b)) = grid.halve(piece, &self.limits) {
                    self.stats.splits.fetch_add(1, Ordering::Relaxed);
                    next.push((a, None));
                    next.push((b, None));
                    continue;
                }
                next.push((piece, Some(answer?.body)));
            }
            pieces = next;
        }
        range::merge(pieces.into_iter().filter_map(|(_, b)| b).collect())
    }

    /// One call, retried as the policy allows.
    async fn send_with_retries(&self, call: &Call<'_>) -> Result<Response, PromError> {
        let mut retries = 0;
        loop {
            let sent = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| PromError::Unsupported {
                        reason: "the source's concurrency limiter was closed".to_owned(),
                    })?;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                self.transport.send(call).await
            };
            let verdict = match sent {
                Ok(response) => self.judge(call, response),
                Err(e) if e.kind() == SourceErrorKind::Transient => Verdict::Retry(Err(e), None),
                Err(e) => Verdict::Fail(e),
            };
            let (last, hint) = match verdict {
                Verdict::Body(response) => return Ok(response),
                Verdict::Fail(e) => return Err(e),
                Verdict::Retry(last, hint) => (last, hint),
            };
            if !self.retry.enabled || retries >= self.retry.max_retries {
                return match last {
                    Ok(response) => Ok(response),
                    Err(e) if retries == 0 => Err(e),
                    Err(e) => Err(PromError::Exhausted {
                        attempts: retries + 1,
                        source: Box::new(e),
                    }),
                };
            }
            retries += 1;
            let wait = retry::delay(&self.retry, retries, hint);
            // Errors are already redacted; an answer is named by status.
            let why = match &last {
                Ok(r) => format!("HTTP {}", r.status),
                Err(e) => e.to_string(),
            };
            tracing::info!(retry = retries, wait_ms = wait.as_millis(), %why, "retrying a query");
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            self.stats.retry_wait_ms.fetch_add(
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether `response` is an answer, worth a retry, or an error.
    fn judge(&self, call: &Call<'_>, response: Response) -> Verdict {
        let status = response.status;
        let throttled =
            (400..500).contains(&status) && retry::is_throttling(&response.headers, &response.body);
        let prometheus_answer = looks_like_json(&response.body)
            && ((200..300).contains(&status) || is_error_envelope(&response.body));
        if prometheus_answer && !throttled {
            // Success bodies and Prometheus error envelopes go to the core
            // verbatim (400 bad_data, 422 execution, VictoriaMetrics' 422);
            // gateway statuses worth a retry are retried first.
            // The server's own query timeout is not retried: the same
            // query would time out again (six times, eleven minutes under
            // load); the engine asks for half the window instead.
            let gave_up = envelope_error(&response.body).is_some_and(|e| e.is_too_large());
            return if status_kind(status, false) == SourceErrorKind::Transient && !gave_up {
                let hint = retry::retry_after(&response.headers);
                Verdict::Retry(Ok(response), hint)
            } else {
                Verdict::Body(response)
            };
        }
        let kind = if (200..300).contains(&status) {
            SourceErrorKind::Permanent
        } else {
            status_kind(status, throttled)
        };
        let (method, url) = self.transport.describe(call);
        let error = PromError::Status {
            method,
            url,
            status,
            content_type: response
                .headers
                .get(prometheus_http_query::reqwest::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            excerpt: self.transport.scrub(excerpt(&response.body)),
            kind,
        };
        if kind == SourceErrorKind::Transient {
            Verdict::Retry(Err(error), retry::retry_after(&response.headers))
        } else {
            Verdict::Fail(error)
        }
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

/// Whether an answer says the query asked for too much: AMP's 413, or an
/// error envelope naming a size limit (Prometheus' sample limit and
/// 11,000-point rule, chunk and series limits).
fn is_too_large_answer(r: &Response) -> bool {
    if (200..300).contains(&r.status) {
        return false;
    }
    matches!(costetl_core::promjson::decode("", &r.body), Err(e) if e.is_too_large())
}

/// Whether `body` starts like a JSON object (cheap pre-check before
/// handing it to the core).
fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Whether `body` is a Prometheus `status: "error"` envelope.
fn is_error_envelope(body: &[u8]) -> bool {
    envelope_error(body).is_some()
}

/// The core's error for a Prometheus `status: "error"` envelope, if `body`
/// is one. The core's decoder is the single definition of the envelope;
/// error bodies are small, so decoding one twice is cheap.
fn envelope_error(body: &[u8]) -> Option<costetl_core::Error> {
    match costetl_core::promjson::decode("", body) {
        Err(e @ costetl_core::Error::Backend { .. }) => Some(e),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn too_large_answers() {
        let r = |status, body: &str| Response {
            status,
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        };
        assert!(is_too_large_answer(&r(
            422,
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#
        )));
        assert!(is_too_large_answer(&r(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#
        )));
        assert!(!is_too_large_answer(&r(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#
        )));
        assert!(!is_too_large_answer(&r(200, "{}")));
    }

    #[test]
    fn debug_shows_no_password() {
        let source = PromSource::new("http://user:secret@gw/prometheus/").unwrap();
        let debug = format!("{source:?}");
        assert!(
            !debug.contains("secret") && debug.contains("http://user:***@gw/prometheus"),
            "{debug}"
        );
    }
}
