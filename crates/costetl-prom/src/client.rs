//! The request path: the HTTP client (timeouts, TLS, static headers and
//! authentication), the base URL, and sending one attempt of one query.
//!
//! Two ways out, on the same `reqwest::Client`:
//!
//! - **normal:** prometheus-http-query's builders (`client.query(…)`,
//!   `query_range(…)`, `.query(name, value)` for extra parameters,
//!   `.header(…)` for a per-request bearer token) and `post_raw()` /
//!   `get_raw()`;
//! - **signed** (only when a [`RequestSigner`] is set, e.g. SigV4 for AMP):
//!   the crate sends a request as soon as it has built it, with no hook in
//!   between, so this path builds the same request itself (same URL join,
//!   same form encoding, same parameters), hands the finished
//!   `reqwest::Request` to the signer and sends exactly what was signed.
//!
//! Response bodies are returned as bytes with status and headers; judging
//! them is [`crate::source`]'s job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use costetl_core::source::SourceErrorKind;
use prometheus_http_query::reqwest::{
    self, Url,
    header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT},
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{AuthConfig, Method, PromConfig, TlsConfig};
use crate::error::PromError;
use crate::secret::{Secret, redact_url};
use crate::sign::RequestSigner;

/// One query as sent: instant at `time`, or range on a grid.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Call<'a> {
    Instant {
        promql: &'a str,
        time: DateTime<Utc>,
    },
    Range {
        promql: &'a str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: TimeDelta,
    },
}

impl Call<'_> {
    fn endpoint(&self) -> &'static str {
        match self {
            Self::Instant { .. } => "api/v1/query",
            Self::Range { .. } => "api/v1/query_range",
        }
    }
}

/// What came back from one attempt.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The HTTP side of a source: client, URL, headers, parameters, signer.
#[derive(Clone)]
pub(crate) struct Transport {
    prom: prometheus_http_query::Client,
    base: Url,
    /// The base URL for messages: no password, no trailing slash.
    pub display_base: String,
    method: Method,
    /// Headers of every request (also set as the client's default
    /// headers); the signed path puts them on the request before signing.
    static_headers: HeaderMap,
    /// A token file read before every attempt.
    bearer_file: Option<PathBuf>,
    /// Extra parameters of every request, `timeout` included.
    params: Vec<(&'static str, String)>,
    signer: Option<Arc<dyn RequestSigner>>,
    pub request_timeout: Duration,
    /// Longest body read before the answer is refused as too large.
    max_response_bytes: u64,
    /// Static credentials, for [`Transport::scrub`].
    secrets: Vec<Secret>,
}

impl Transport {
    /// Builds the client for `cfg`; `signer` signs every request.
    pub(crate) fn new(
        cfg: &PromConfig,
        signer: Option<Arc<dyn RequestSigner>>,
    ) -> Result<Self, PromError> {
        let base = normalise_base_url(&cfg.url)?;
        let mut static_headers = configured_headers(cfg)?;
        let mut secrets = header_and_url_secrets(cfg, &base);
        let Auth {
            bearer_file,
            signer,
        } = authenticate(cfg, signer, &mut static_headers, &mut secrets)?;
        check_limits(cfg)?;
        let params = request_params(cfg)?;
        let http = http_client(cfg, &base, &static_headers)?;
        let prom = prometheus_http_query::Client::from(http, base.as_str()).map_err(|e| {
            PromError::InvalidBaseUrl {
                url: display_base(&base),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            prom,
            display_base: display_base(&base),
            base,
            method: cfg.method,
            static_headers,
            bearer_file,
            params,
            signer,
            request_timeout: cfg.request_timeout,
            max_response_bytes: cfg.limits.max_response_bytes,
            secrets,
        })
    }

    /// `text` with every credential this transport sends replaced by
    /// `***`: servers echo them in error bodies (vmauth quotes an unknown
    /// bearer token), which end up in error messages.
    pub(crate) fn scrub(&self, text: String) -> String {
        let file_token = self
            .bearer_file
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| Secret::new(t.trim()));
        let mut out = text;
        for s in self.secrets.iter().chain(file_token.as_ref()) {
            // Very short secrets would blank out ordinary words.
            if s.expose().len() >= 4 {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }

    /// The normalised base URL.
    pub(crate) fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `METHOD url` of `call`, for messages.
    pub(crate) fn describe(&self, call: &Call<'_>) -> (&'static str, String) {
        (
            self.method_name(),
            format!("{}/{}", self.display_base, call.endpoint()),
        )
    }

    fn method_name(&self) -> &'static str {
        match self.method {
            Method::Post => "POST",
            Method::Get => "GET",
        }
    }

    /// Sends `call` once and reads the whole answer.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Response, PromError> {
        let (method, url) = self.describe(call);
        let auth = self
            .bearer_file
            .as_deref()
            .map(read_bearer_file)
            .transpose()?;
        let response = if let Some(signer) = &self.signer {
            self.send_signed(call, auth, signer.as_ref()).await
        } else {
            self.send_plain(call, auth).await
        }
        .map_err(|e| self.transport_error(method, &url, &*e))?;

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = self.read_body(response, method, &url).await?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// The body, chunk by chunk, refused as too large past
    /// `max_response_bytes` (by its `Content-Length` before reading, or as
    /// it arrives), so a runaway answer never sits whole in memory.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        method: &'static str,
        url: &str,
    ) -> Result<Vec<u8>, PromError> {
        let limit = self.max_response_bytes;
        let too_large = |seen: u64| PromError::Transport {
            method,
            url: url.to_owned(),
            message: format!(
                "response of {seen} bytes or more is larger than the limit of {limit} bytes \
                 (limits.max_response_bytes)"
            ),
            kind: SourceErrorKind::TooLarge,
        };
        if let Some(len) = response.content_length().filter(|&n| n > limit) {
            return Err(too_large(len));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(method, url, &e))?
        {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Through prometheus-http-query.
    async fn send_plain(
        &self,
        call: &Call<'_>,
        auth: Option<HeaderValue>,
    ) -> Result<reqwest::Response, SendError> {
        macro_rules! finish {
            ($b:expr) => {{
                let mut b = $b;
                for (k, v) in &self.params {
                    b = b.query(k, v);
                }
                if let Some(h) = auth {
                    b = b.header(AUTHORIZATION, h);
                }
                match self.method {
                    Method::Post => b.post_raw().await,
                    Method::Get => b.get_raw().await,
                }
            }};
        }
        let sent = match *call {
            Call::Instant { promql, time } => {
                let b = self.prom.query(promql);
                // The crate's `.at()` takes whole seconds; send RFC 3339
                // (which Prometheus also accepts) rather than round.
                let b = if time.timestamp_subsec_nanos() == 0 {
                    b.at(time.timestamp())
                } else {
                    b.query("time", instant_time(time))
                };
                finish!(b)
            }
            Call::Range {
                promql,
                start,
                end,
                step,
            } => {
                whole_seconds(start, end)?;
                finish!(self.prom.query_range(
                    promql,
                    start.timestamp(),
                    end.timestamp(),
                    step.as_seconds_f64()
                ))
            }
        };
        sent.map_err(|e| Box::new(e) as SendError)
    }

    /// Builds the request itself, signs it, sends it.
    async fn send_signed(
        &self,
        call: &Call<'_>,
        auth: Option<HeaderValue>,
        signer: &dyn RequestSigner,
    ) -> Result<reqwest::Response, SendError> {
        // The same parameters, in the same order and text, as the crate's
        // builders produce.
        let mut params: Vec<(&str, String)> = Vec::with_capacity(self.params.len() + 4);
        match *call {
            Call::Instant { promql, time } => {
                params.push(("query", promql.to_owned()));
                params.push((
                    "time",
                    if time.timestamp_subsec_nanos() == 0 {
                        time.timestamp().to_string()
                    } else {
                        instant_time(time)
                    },
                ));
            }
            Call::Range {
                promql,
                start,
                end,
                step,
            } => {
                whole_seconds(start, end)?;
                params.push(("query", promql.to_owned()));
                params.push(("start", start.timestamp().to_string()));
                params.push(("end", end.timestamp().to_string()));
                params.push(("step", step.as_seconds_f64().to_string()));
            }
        }
        params.extend(self.params.iter().map(|(k, v)| (*k, v.clone())));
        let url = endpoint_url(&self.base, call.endpoint());
        let http = self.prom.inner();
        let builder = match self.method {
            Method::Post => http.post(url).form(&params),
            Method::Get => http.get(url).query(&params),
        };
        let mut request = builder
            .headers(self.static_headers.clone())
            .build()
            .map_err(|e| Box::new(e) as SendError)?;
        if let Some(h) = auth {
            request.headers_mut().insert(AUTHORIZATION, h);
        }
        let (method, url) = self.describe(call);
        signer
            .sign(&mut request)
            .await
            .map_err(|error| Box::new(PromError::Sign { method, url, error }) as SendError)?;
        http.execute(request)
            .await
            .map_err(|e| Box::new(e) as SendError)
    }

    /// A [`PromError`] for a request that got no complete answer,
    /// classified by the reqwest error inside `e`.
    fn transport_error(
        &self,
        method: &'static str,
        url: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> PromError {
        if let Some(p) = e.downcast_ref::<PromError>() {
            // Already ours (a signer failure): keep it.
            return match p {
                PromError::Sign { method, url, error } => PromError::Sign {
                    method,
                    url: url.clone(),
                    error: error.clone(),
                },
                other => PromError::Transport {
                    method,
                    url: url.to_owned(),
                    message: other.to_string(),
                    kind: other.kind(),
                },
            };
        }
        let inner = e.downcast_ref::<reqwest::Error>().or_else(|| match e
            .downcast_ref::<prometheus_http_query::Error>(
        ) {
            Some(prometheus_http_query::Error::Client(c)) => c.inner(),
            _ => None,
        });
        let tls = tls_failure(e);
        let timed_out = inner.is_some_and(reqwest::Error::is_timeout);
        let mut message = String::new();
        if let Some(t) = &tls {
            message.push_str(&format!("TLS failure ({t}): "));
        } else if timed_out {
            let which = if inner.is_some_and(reqwest::Error::is_connect) {
                "connect timeout"
            } else {
                "request timeout"
            };
            message.push_str(&format!(
                "timed out ({which}, deadline {:?}): ",
                self.request_timeout
            ));
        }
        message.push_str(&error_chain(e));
        // Connection failures, resets and truncated bodies (reqwest calls a
        // body cut short a decode error; bodies are not decoded here) are
        // worth another try; a TLS failure or a request that could not be
        // built is not.
        let retryable = tls.is_none()
            && inner.is_some_and(|r| {
                r.is_timeout() || r.is_connect() || r.is_request() || r.is_body() || r.is_decode()
            });
        PromError::Transport {
            method,
            url: url.to_owned(),
            // reqwest's chain can quote the request URL or a server's words.
            message: self.scrub(message),
            kind: if retryable {
                SourceErrorKind::Transient
            } else {
                SourceErrorKind::Permanent
            },
        }
    }
}

/// Why a request was not sent or not answered: a reqwest error, the
/// crate's error around one, or a [`PromError`] of our own.
type SendError = Box<dyn std::error::Error + Send + Sync>;

/// The headers of every request: ours, then the configured ones.
fn configured_headers(cfg: &PromConfig) -> Result<HeaderMap, PromError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("costetl/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, value) in &cfg.headers.0 {
        let invalid = |reason: &str| PromError::InvalidConfig {
            field: format!("headers.{name}"),
            reason: reason.to_owned(),
        };
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid("not a valid header name"))?;
        let mut v =
            HeaderValue::from_str(value).map_err(|_| invalid("not a valid header value"))?;
        v.set_sensitive(true);
        headers.insert(n, v);
    }
    Ok(headers)
}

/// The credentials in configured headers and in the URL, to scrub from
/// messages.
fn header_and_url_secrets(cfg: &PromConfig, base: &Url) -> Vec<Secret> {
    let mut secrets = Vec::new();
    // A header may carry a key (`X-Api-Key`); the tenant is a name.
    for (name, value) in &cfg.headers.0 {
        if !name.eq_ignore_ascii_case("x-scope-orgid") {
            secrets.push(Secret::new(value.clone()));
        }
    }
    // A password in the URL is sent as basic auth: hide it and its
    // header form wherever a server echoes them.
    if let Some(password) = base.password() {
        let decoded = percent_decode(password);
        let raw = format!("{}:{decoded}", percent_decode(base.username()));
        secrets.push(Secret::new(decoded));
        secrets.push(Secret::new(password));
        secrets.push(Secret::new(base64(raw.as_bytes())));
    }
    secrets
}

/// How requests authenticate beyond their static headers.
struct Auth {
    /// A token file read before every attempt.
    bearer_file: Option<PathBuf>,
    signer: Option<Arc<dyn RequestSigner>>,
}

/// Applies `cfg.auth`: basic and static bearer credentials become headers
/// (and secrets), a token file is read per attempt, SigV4 makes a signer
/// unless one is given.
fn authenticate(
    cfg: &PromConfig,
    signer: Option<Arc<dyn RequestSigner>>,
    static_headers: &mut HeaderMap,
    secrets: &mut Vec<Secret>,
) -> Result<Auth, PromError> {
    let mut bearer_file = None;
    let mut signer = signer;
    match &cfg.auth {
        AuthConfig::None => {}
        AuthConfig::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose());
            secrets.push(password.clone());
            secrets.push(Secret::new(base64(raw.as_bytes())));
            static_headers.insert(
                AUTHORIZATION,
                sensitive(
                    &format!("Basic {}", base64(raw.as_bytes())),
                    "auth.password",
                )?,
            );
        }
        AuthConfig::Bearer { token, token_file } => match (token, token_file) {
            (Some(t), None) => {
                secrets.push(t.clone());
                static_headers.insert(AUTHORIZATION, bearer(t, "auth.token")?);
            }
            (None, Some(path)) => bearer_file = Some(path.clone()),
            _ => {
                return Err(PromError::InvalidConfig {
                    field: "auth".to_owned(),
                    reason: "bearer auth needs exactly one of `token` and `token_file`".to_owned(),
                });
            }
        },
        AuthConfig::SigV4(sigv4) => {
            if signer.is_none() {
                signer = Some(crate::source::sigv4_signer(sigv4, &cfg.url)?);
            }
        }
    }
    Ok(Auth {
        bearer_file,
        signer,
    })
}

/// At least one query in flight, positive query limits.
fn check_limits(cfg: &PromConfig) -> Result<(), PromError> {
    if cfg.concurrency == 0 {
        return Err(PromError::InvalidConfig {
            field: "concurrency".to_owned(),
            reason: "must be at least 1".to_owned(),
        });
    }
    if cfg.limits.max_points == 0 || cfg.limits.max_range.is_zero() {
        return Err(PromError::InvalidConfig {
            field: "limits".to_owned(),
            reason: "max_points and max_range must be positive".to_owned(),
        });
    }
    Ok(())
}

/// The extra parameters of every request: the configured ones (none the
/// query sets itself) and the server-side `timeout`.
fn request_params(cfg: &PromConfig) -> Result<Vec<(&'static str, String)>, PromError> {
    let mut params = Vec::new();
    for (name, values) in &cfg.params {
        if RESERVED_PARAMS.contains(&name.as_str()) {
            return Err(PromError::InvalidConfig {
                field: format!("params.{name}"),
                reason: "set by the query itself".to_owned(),
            });
        }
        let key = intern(name);
        params.extend(values.0.iter().map(|v| (key, v.clone())));
    }
    if cfg.server_timeout {
        // 90% of the client's deadline: the server's timeout error
        // arrives before the client gives up.
        let ms = cfg.request_timeout.as_millis() * 9 / 10;
        params.push(("timeout", format!("{}ms", ms.max(1))));
    }
    Ok(params)
}

/// The HTTP client: timeouts, default headers, TLS for https (none for
/// plain http, where TLS settings are a mistake).
fn http_client(
    cfg: &PromConfig,
    base: &Url,
    static_headers: &HeaderMap,
) -> Result<reqwest::Client, PromError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.request_timeout)
        .default_headers(static_headers.clone());
    if base.scheme() == "https" {
        builder = builder.tls_backend_preconfigured(tls_config(&cfg.tls)?);
    } else if cfg.tls == TlsConfig::default() {
        // reqwest would otherwise look for a process-wide rustls
        // provider even for plain http. Trusting no one is right here:
        // the endpoint has no TLS, and a redirect to https fails.
        builder = builder.tls_backend_preconfigured(no_tls_config()?);
    } else {
        return Err(PromError::InvalidConfig {
            field: "tls".to_owned(),
            reason: format!(
                "TLS settings given for a plain http URL {}",
                display_base(base)
            ),
        });
    }
    builder
        .build()
        .map_err(|error| PromError::HttpClient { error })
}

/// Parameters a query sets itself; configuring them would send them twice.
const RESERVED_PARAMS: &[&str] = &["query", "time", "start", "end", "step"];

/// `name` as a `&'static str`, as prometheus-http-query's `.query()` wants.
///
/// Well-known parameters are static already; any other name is leaked
/// once per process (a set remembers it), so building many sources with
/// the same configuration does not leak more.
fn intern(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "dedup",
        "partial_response",
        "max_source_resolution",
        "replicaLabels[]",
        "storeMatch[]",
        "engine",
        "nocache",
        "extra_label",
        "extra_filters[]",
        "latency_offset",
        "round_digits",
        "max_samples_processed_warning_threshold",
        "max_samples_processed_error_threshold",
        "lookback_delta",
        "limit",
        "stats",
        "timeout",
    ];
    if let Some(k) = KNOWN.iter().find(|k| **k == name) {
        return k;
    }
    static OTHERS: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut others = OTHERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(k) = others.get(name) {
        return k;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    others.insert(leaked);
    leaked
}

fn instant_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Range bounds must be whole seconds: the crate sends integers, and
/// silently querying a different range would be worse than refusing.
fn whole_seconds(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), SendError> {
    if start.timestamp_subsec_nanos() != 0 || end.timestamp_subsec_nanos() != 0 {
        let e = PromError::Unsupported {
            reason: format!(
                "range query bounds must be whole seconds, got {} to {}",
                start.to_rfc3339(),
                end.to_rfc3339()
            ),
        };
        return Err(Box::new(e));
    }
    Ok(())
}

/// `base` joined with `path` exactly as prometheus-http-query joins them.
fn endpoint_url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    if url.path() == "/" {
        url.set_path(path);
    } else {
        let p = format!("{}/{path}", url.path());
        url.set_path(&p);
    }
    url
}

fn sensitive(value: &str, field: &str) -> Result<HeaderValue, PromError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| PromError::InvalidConfig {
        field: field.to_owned(),
        reason: "contains characters not allowed in an HTTP header".to_owned(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn bearer(token: &Secret, field: &str) -> Result<HeaderValue, PromError> {
    sensitive(&format!("Bearer {}", token.expose().trim()), field)
}

/// `Authorization: Bearer …` from the current content of `path`.
///
/// Read before every attempt (a few hundred bytes; rotation is picked up
/// at once). Blocking `std::fs` on purpose: a runtime-neutral read of a
/// small local file.
fn read_bearer_file(path: &Path) -> Result<HeaderValue, PromError> {
    let fail = |reason: String| PromError::Credentials {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let token = Secret::new(text.trim());
    if token.is_empty() {
        return Err(fail("the file is empty".to_owned()));
    }
    bearer(&token, "auth.token_file").map_err(|_| fail("not a valid header value".to_owned()))
}

/// Standard base64 with padding (for basic auth).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The rustls client configuration for `tls`, on the `ring` provider.
///
/// Built here rather than through reqwest's TLS options so that no
/// process-wide crypto provider has to be installed (reqwest's
/// `rustls-no-provider` would otherwise need one).
fn tls_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, PromError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let fail = |path: Option<&Path>, reason: String| PromError::Tls {
        path: path.map(Path::to_owned),
        reason,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(None, e.to_string()))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else if let Some(ca) = &tls.ca_file {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(ca)? {
            roots
                .add(cert)
                .map_err(|e| fail(Some(ca), format!("unusable CA certificate: {e}")))?;
        }
        builder.with_root_certificates(roots)
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| {
            fail(
                None,
                format!("cannot load the system's CA certificates: {e}"),
            )
        })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| fail(Some(key), format!("no usable PEM private key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| fail(Some(cert), format!("unusable client certificate: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(fail(
                None,
                "a client certificate needs both cert_file and key_file".to_owned(),
            ));
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A rustls configuration for an http endpoint (never used for a
/// handshake; it only spares reqwest a search for a global provider).
fn no_tls_config() -> Result<rustls::ClientConfig, PromError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PromError::Tls {
            path: None,
            reason: e.to_string(),
        })?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PromError> {
    let fail = |reason: String| PromError::Tls {
        path: Some(path.to_owned()),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the file".to_owned()));
    }
    Ok(certs)
}

/// `insecure_skip_verify`: accepts any certificate, but still checks that
/// the server holds the key of the certificate it presents.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls error somewhere in `e`'s chain, if the failure was TLS.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t.to_string());
        }
        // io::Error hides its payload from `source()`.
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(t.to_string());
        }
        current = err.source();
    }
    // Some layers (hyper's connector) keep the rustls error only as text.
    let text = error_chain(e);
    [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "presented no certificates",
    ]
    .iter()
    .find_map(|m| text.find(m).map(|i| text[i..].to_owned()))
}

/// `e` and its sources, joined by `: ` (reqwest's top-level message alone
/// hides the cause, e.g. "connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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

/// The parsed, checked base URL, trailing slashes removed from its path.
///
/// prometheus-http-query appends `/api/v1/...` with `format!("{base}/{path}")`
/// unless the path is exactly `/`, so `http://gw/prometheus/` would become
/// `//api/v1/query`; stripping trailing slashes avoids that.
pub(crate) fn normalise_base_url(input: &str) -> Result<Url, PromError> {
    let invalid = |reason: String| PromError::InvalidBaseUrl {
        url: Url::parse(input.trim()).map_or_else(|_| redact_url(input), |u| display_base(&u)),
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
        "http" | "https" => {}
        other => {
            return Err(invalid(format!(
                "unsupported scheme {other:?}, expected http or https"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        // The request builder would drop or mangle them; extra parameters
        // have their own setting (`params`).
        return Err(invalid(
            "a base URL cannot have a query string or fragment; use `params` for extra \
             parameters"
                .to_owned(),
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    // An empty path serialises as `/`, the form the crate joins correctly.
    url.set_path(&path);
    Ok(url)
}

/// `url` without password, query values and trailing slash, for messages.
pub(crate) fn display_base(url: &Url) -> String {
    redact_url(url.as_str().trim_end_matches('/'))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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
                "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/",
                "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1",
            ),
            (
                "http://user:pw@gw/prometheus/",
                "http://user:pw@gw/prometheus",
            ),
        ] {
            assert_eq!(norm(input), want, "{input}");
        }
    }

    #[test]
    fn endpoints_are_appended_once() {
        for (base, want) in [
            ("http://gw/prometheus/", "http://gw/prometheus/api/v1/query"),
            ("http://gw/api/prom", "http://gw/api/prom/api/v1/query"),
            (
                "http://vm:8481/select/0/prometheus//",
                "http://vm:8481/select/0/prometheus/api/v1/query",
            ),
            (
                "https://aps/workspaces/ws-1",
                "https://aps/workspaces/ws-1/api/v1/query",
            ),
            (
                "http://127.0.0.1:9090/",
                "http://127.0.0.1:9090/api/v1/query",
            ),
        ] {
            let url = normalise_base_url(base).unwrap();
            assert_eq!(endpoint_url(&url, "api/v1/query").as_str(), want, "{base}");
        }
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
            ("http://gw/prometheus?tenant=a", "query string"),
            ("http://gw/prometheus#x", "fragment"),
        ] {
            let err = normalise_base_url(input).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, PromError::InvalidBaseUrl { .. }),
                "{input}: {text}"
            );
            assert!(text.contains(reason), "{input}: {text}");
        }
        let err = normalise_base_url("http://u:secret@gw/p?x=1").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pässword", "dXNlcjpww6Rzc3dvcmQ="),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn interned_names_are_shared() {
        assert!(std::ptr::eq(intern("dedup"), intern("dedup")));
        let a = intern("my_custom_param");
        let b = intern(&String::from("my_custom_param"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(a, "my_custom_param");
    }
}
