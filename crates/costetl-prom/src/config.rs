//! [`PromConfig`]: everything a [`crate::PromSource`] needs, as one
//! serde type the CLI loads from YAML or TOML, plus OpenCost's environment
//! variables ([`PromConfig::apply_env`]).
//!
//! Every field has a default (`#[serde(default)]`), unknown fields are
//! errors (`deny_unknown_fields`, so a typo is not silently ignored), and
//! durations are written the Prometheus way (`"100ms"`, `"30s"`, `"2m"`,
//! `"1h30m"`; a bare number is seconds). What is *not* here: the cluster
//! label and everything else about which PromQL to send, which belongs to
//! the engine ([`costetl_core::plan::EngineConfig`]).
//!
//! ```
//! use costetl_prom::PromConfig;
//!
//! let cfg: PromConfig = toml::from_str(r#"
//!     url = "https://mimir.example.com/prometheus"
//!     headers = { "X-Scope-OrgID" = "team-a" }
//!     params = { dedup = "true", partial_response = "false" }
//!     [auth]
//!     type = "basic"
//!     username = "costetl"
//!     password = "s3cret"
//! "#).unwrap();
//! assert!(!format!("{cfg:?}").contains("s3cret"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::PromError;
use crate::secret::Secret;
use crate::sigv4::SigV4Config;

/// Configuration of one Prometheus-compatible endpoint.
///
/// `Debug` hides secrets: a password in `url`, basic auth passwords,
/// tokens and header values (except `X-Scope-OrgID`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromConfig {
    /// Base URL, with any path prefix: `http://prometheus:9090`,
    /// `http://mimir/prometheus`, `http://vmselect:8481/select/0/prometheus`,
    /// `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-…`.
    /// A trailing slash is fine. Env: `PROMETHEUS_SERVER_ENDPOINT`.
    pub url: String,
    /// How requests authenticate.
    pub auth: AuthConfig,
    /// Static headers sent with every request, e.g. `X-Scope-OrgID` for
    /// Mimir, Cortex and Loki-style tenants. Values are hidden in `Debug`
    /// (a header may carry a key). Env: `PROMETHEUS_HEADER_X_SCOPE_ORGID`.
    pub headers: Headers,
    /// Extra query parameters sent with every request (and every retry and
    /// split piece): Thanos `dedup`, `partial_response`,
    /// `max_source_resolution`; VictoriaMetrics `nocache`, `extra_label`;
    /// AMP `max_samples_processed_warning_threshold` and
    /// `max_samples_processed_error_threshold`. A list sends the parameter
    /// once per value.
    pub params: BTreeMap<String, ParamValues>,
    /// `post` (default): PromQL in an `application/x-www-form-urlencoded`
    /// body, so long queries pass proxies' URL limits. `get`: everything in
    /// the URL, for gateways that only allow GET.
    pub method: Method,
    /// TLS: trusted CA, client certificate (mTLS), verification.
    pub tls: TlsConfig,
    /// Most requests in flight at once from this source (default 5, as
    /// OpenCost). Env: `MAX_QUERY_CONCURRENCY`.
    pub concurrency: usize,
    /// Time allowed to open a connection (TCP and TLS handshake).
    #[serde(with = "duration_text")]
    pub connect_timeout: Duration,
    /// Deadline of one attempt, from sending to the last body byte (default
    /// 120 s). Env: `PROMETHEUS_QUERY_TIMEOUT`.
    #[serde(with = "duration_text")]
    pub request_timeout: Duration,
    /// Also send Prometheus' `timeout` parameter, set to 90% of
    /// `request_timeout`, so the server gives up (with a clear `timeout`
    /// error) before the client cuts the connection.
    pub server_timeout: bool,
    /// When and how often to try again.
    pub retry: RetryConfig,
    /// Request size limits; range queries are split to respect them.
    pub limits: LimitsConfig,
}

impl Default for PromConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            auth: AuthConfig::None,
            headers: Headers::default(),
            params: BTreeMap::new(),
            method: Method::Post,
            tls: TlsConfig::default(),
            concurrency: 5,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(120),
            server_timeout: true,
            retry: RetryConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl PromConfig {
    /// `url` with any password in it (`user:password@`) and query values
    /// replaced by `***`, for messages and logs (also when it does not
    /// parse).
    pub fn redacted_url(&self) -> String {
        crate::secret::redact_url(self.url.trim())
    }
}

impl fmt::Debug for PromConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromConfig")
            .field("url", &self.redacted_url())
            .field("auth", &self.auth)
            .field("headers", &self.headers)
            .field("params", &self.params)
            .field("method", &self.method)
            .field("tls", &self.tls)
            .field("concurrency", &self.concurrency)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("server_timeout", &self.server_timeout)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
            .finish()
    }
}

/// How requests authenticate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No authentication (default).
    #[default]
    None,
    /// HTTP basic authentication (Grafana Cloud, a gateway, Prometheus'
    /// own `basic_auth_users`). Env: `DB_BASIC_AUTH_USERNAME`,
    /// `DB_BASIC_AUTH_PW`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        #[serde(default)]
        password: Secret,
    },
    /// `Authorization: Bearer <token>`: a static token (env
    /// `DB_BEARER_TOKEN`) or one read from `token_file` before every
    /// request, so a rotated token (a Kubernetes service-account token, a
    /// sidecar-refreshed cloud token) is picked up without a restart.
    Bearer {
        /// A static token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<Secret>,
        /// A file holding the token (surrounding whitespace is trimmed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_file: Option<PathBuf>,
    },
    /// AWS Signature V4 (Amazon Managed Service for Prometheus), signed by
    /// [`crate::sigv4::SigV4Signer`]. An empty region is taken from an AMP
    /// workspace URL, else from the AWS environment.
    #[serde(rename = "sigv4")]
    SigV4(SigV4Config),
}

/// HTTP method for queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Form body (default).
    #[default]
    Post,
    /// URL query string.
    Get,
}

/// TLS settings for `https://` endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA(s) to trust *instead of* the system roots. Env:
    /// `PROM_MTLS_AUTH_CA_FILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mTLS. Env:
    /// `PROM_MTLS_AUTH_CRT_FILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`. Env: `PROM_MTLS_AUTH_KEY_FILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate. Only for tests and emergencies.
    /// Env: `INSECURE_SKIP_VERIFY`.
    pub insecure_skip_verify: bool,
}

/// When to try a request again, and how long to wait in between.
///
/// Retried: HTTP 408, 429, 502, 503, 504, AMP's `ThrottlingException` (with
/// any 4xx status), connection failures and resets, truncated bodies and
/// timeouts. Never retried: other 4xx (400 `bad_data`, 401, 403, 404,
/// 422 `execution`), TLS failures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Whether to retry at all. Env: `PROMETHEUS_RETRY_ON_RATE_LIMIT`.
    pub enabled: bool,
    /// Retries after the first attempt (default 5). Env:
    /// `PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES`.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one, with
    /// jitter (default 100 ms). Env:
    /// `PROMETHEUS_RETRY_ON_RATE_LIMIT_DEFAULT_WAIT`.
    #[serde(with = "duration_text")]
    pub initial_backoff: Duration,
    /// Cap of each single wait, also of a server's `Retry-After` (default
    /// 10 s).
    #[serde(with = "duration_text")]
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Size limits for range queries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most evaluation points per series in one range request (Prometheus
    /// refuses more than 11,000).
    pub max_points: u32,
    /// Longest range of one range request (default 24 h, a day as the
    /// query frontends of Mimir/Thanos split).
    #[serde(with = "duration_text")]
    pub max_range: Duration,
    /// When the backend says a range request is too large (AMP's 413,
    /// Prometheus' sample limit, chunk limits), the range is halved and
    /// retried, but never below this span (default 1 h).
    #[serde(with = "duration_text")]
    pub min_split_range: Duration,
    /// Largest response body read (default 256 MiB; AMP's own cap is 50
    /// MiB). A longer answer is refused as too large, so the engine asks
    /// for half the window instead of holding gigabytes.
    pub max_response_bytes: u64,
}

/// Default [`LimitsConfig::max_response_bytes`]: ten times the largest
/// answer of a 60,000-container day (docs/benchmarks.md).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_points: 11_000,
            max_range: Duration::from_secs(24 * 3600),
            min_split_range: Duration::from_secs(3600),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Static request headers: name → value. `Debug` shows the names and hides
/// the values, except `X-Scope-OrgID` (a tenant name, not a secret).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl Headers {
    /// Sets `name` to `value`, replacing a header of the same name in any
    /// letter case.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|k, _| !k.eq_ignore_ascii_case(&name));
        self.0.insert(name, value.into());
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.0 {
            if k.eq_ignore_ascii_case("x-scope-orgid") {
                m.entry(k, v);
            } else {
                m.entry(k, &"***");
            }
        }
        m.finish()
    }
}

/// The value(s) of one extra query parameter: a string, number or bool,
/// or a list of them (the parameter is then repeated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ParamInput", into = "Vec<String>")]
pub struct ParamValues(pub Vec<String>);

impl From<&str> for ParamValues {
    fn from(v: &str) -> Self {
        Self(vec![v.to_owned()])
    }
}

impl From<ParamValues> for Vec<String> {
    fn from(v: ParamValues) -> Self {
        v.0
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ParamScalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ParamScalar {
    fn text(self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(x) => x.to_string(),
            Self::Text(s) => s,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ParamInput {
    One(ParamScalar),
    Many(Vec<ParamScalar>),
}

impl From<ParamInput> for ParamValues {
    fn from(v: ParamInput) -> Self {
        match v {
            ParamInput::One(s) => Self(vec![s.text()]),
            ParamInput::Many(l) => Self(l.into_iter().map(ParamScalar::text).collect()),
        }
    }
}

/// OpenCost's variable for the Mimir/Cortex tenant header.
const ORG_ID_ENV: &str = "PROMETHEUS_HEADER_X_SCOPE_ORGID";

/// Where Kubernetes mounts a pod's service-account token and the service
/// CA (used with `KUBE_RBAC_PROXY_ENABLED`, as OpenCost does).
const SA_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const SA_SERVICE_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/service-ca.crt";

impl PromConfig {
    /// A configuration for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The defaults overridden by OpenCost's environment variables, read
    /// through `lookup` (e.g. `|k| std::env::var(k).ok()`); see
    /// [`PromConfig::apply_env`].
    ///
    /// # Errors
    ///
    /// [`PromError::InvalidConfig`] naming the variable whose value does
    /// not parse.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PromError> {
        let mut cfg = Self::default();
        cfg.apply_env(lookup)?;
        Ok(cfg)
    }

    /// Overrides settings (e.g. loaded from a file) with the environment
    /// variables OpenCost uses for the same things. Unset and empty
    /// variables change nothing.
    ///
    /// | variable | sets |
    /// |---|---|
    /// | `PROMETHEUS_SERVER_ENDPOINT` | `url` |
    /// | `MAX_QUERY_CONCURRENCY` | `concurrency` (≤ 0: the number of CPUs) |
    /// | `PROMETHEUS_QUERY_TIMEOUT` | `request_timeout` (OpenCost uses it as a dial timeout; here it bounds the whole request) |
    /// | `PROMETHEUS_RETRY_ON_RATE_LIMIT` | `retry.enabled` |
    /// | `PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES` | `retry.max_retries` |
    /// | `PROMETHEUS_RETRY_ON_RATE_LIMIT_DEFAULT_WAIT` | `retry.initial_backoff` |
    /// | `PROMETHEUS_HEADER_X_SCOPE_ORGID` | header `X-Scope-OrgID` |
    /// | `DB_BASIC_AUTH_USERNAME`, `DB_BASIC_AUTH_PW` | basic auth |
    /// | `DB_BEARER_TOKEN` | static bearer token |
    /// | `KUBE_RBAC_PROXY_ENABLED` | bearer token file = the pod's service-account token, CA = the service CA |
    /// | `PROM_MTLS_AUTH_CA_FILE`, `_CRT_FILE`, `_KEY_FILE` | `tls.ca_file`, `cert_file`, `key_file` |
    /// | `INSECURE_SKIP_VERIFY` | `tls.insecure_skip_verify` |
    ///
    /// Booleans are Go's (`1`, `t`, `true`, `0`, `f`, `false`, any case);
    /// durations Go's or Prometheus' (`120s`, `2m0s`, `1.5s`, `100ms`).
    ///
    /// # Errors
    ///
    /// [`PromError::InvalidConfig`] naming the variable whose value does
    /// not parse, or when both basic auth and a bearer token are set.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), PromError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |var: &str, reason: String| PromError::InvalidConfig {
            field: var.to_owned(),
            reason,
        };
        if let Some(v) = get("PROMETHEUS_SERVER_ENDPOINT") {
            self.url = v;
        }
        if let Some(v) = get("MAX_QUERY_CONCURRENCY") {
            let n: i64 = v.parse().map_err(|_| {
                invalid("MAX_QUERY_CONCURRENCY", format!("{v:?} is not an integer"))
            })?;
            self.concurrency = if n <= 0 {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            } else {
                usize::try_from(n).unwrap_or(usize::MAX)
            };
        }
        if let Some(v) = get("PROMETHEUS_QUERY_TIMEOUT") {
            self.request_timeout =
                parse_duration(&v).map_err(|e| invalid("PROMETHEUS_QUERY_TIMEOUT", e))?;
        }
        if let Some(v) = get("PROMETHEUS_RETRY_ON_RATE_LIMIT") {
            self.retry.enabled =
                parse_bool(&v).map_err(|e| invalid("PROMETHEUS_RETRY_ON_RATE_LIMIT", e))?;
        }
        if let Some(v) = get("PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES") {
            self.retry.max_retries = v.parse().map_err(|_| {
                invalid(
                    "PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES",
                    format!("{v:?} is not a non-negative integer"),
                )
            })?;
        }
        if let Some(v) = get("PROMETHEUS_RETRY_ON_RATE_LIMIT_DEFAULT_WAIT") {
            self.retry.initial_backoff = parse_duration(&v)
                .map_err(|e| invalid("PROMETHEUS_RETRY_ON_RATE_LIMIT_DEFAULT_WAIT", e))?;
        }
        if let Some(v) = get(ORG_ID_ENV) {
            self.headers.insert("X-Scope-OrgID", v);
        }
        let user = get("DB_BASIC_AUTH_USERNAME");
        let password = lookup("DB_BASIC_AUTH_PW").filter(|p| !p.is_empty());
        let token = get("DB_BEARER_TOKEN");
        match (user, token) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "DB_BEARER_TOKEN",
                    "both basic auth (DB_BASIC_AUTH_USERNAME) and a bearer token are set; \
                     choose one"
                        .to_owned(),
                ));
            }
            (Some(username), None) => {
                self.auth = AuthConfig::Basic {
                    username,
                    password: Secret::new(password.unwrap_or_default()),
                };
            }
            (None, Some(token)) => {
                self.auth = AuthConfig::Bearer {
                    token: Some(Secret::new(token)),
                    token_file: None,
                };
            }
            (None, None) => {}
        }
        if let Some(v) = get("KUBE_RBAC_PROXY_ENABLED")
            && parse_bool(&v).map_err(|e| invalid("KUBE_RBAC_PROXY_ENABLED", e))?
        {
            self.auth = AuthConfig::Bearer {
                token: None,
                token_file: Some(PathBuf::from(SA_TOKEN_FILE)),
            };
            self.tls.ca_file = Some(PathBuf::from(SA_SERVICE_CA_FILE));
        }
        for (var, slot) in [
            ("PROM_MTLS_AUTH_CA_FILE", &mut self.tls.ca_file),
            ("PROM_MTLS_AUTH_CRT_FILE", &mut self.tls.cert_file),
            ("PROM_MTLS_AUTH_KEY_FILE", &mut self.tls.key_file),
        ] {
            if let Some(v) = get(var) {
                *slot = Some(PathBuf::from(v));
            }
        }
        if let Some(v) = get("INSECURE_SKIP_VERIFY") {
            self.tls.insecure_skip_verify =
                parse_bool(&v).map_err(|e| invalid("INSECURE_SKIP_VERIFY", e))?;
        }
        Ok(())
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{v:?} is not a boolean (true/false)")),
    }
}

/// Parses `100ms`, `30s`, `2m`, `1h30m`, `2m0s`, `1.5s`, `1d`, or a bare
/// number of seconds.
///
/// # Errors
///
/// A message saying what is wrong with `text`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (e.g. 100ms, 30s, 2m, 1h30m)");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0.0_f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// `d` in the shortest of the forms [`parse_duration`] reads back.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}s", d.as_secs_f64())
    } else if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        let s = d.as_secs();
        if s != 0 && s.is_multiple_of(3600) {
            format!("{}h", s / 3600)
        } else if s != 0 && s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// Serde for durations as text (`"30s"`) or a number of seconds.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        Secs(f64),
        Text(String),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Input::deserialize(d)? {
            Input::Secs(s) => Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom),
            Input::Text(t) => super::parse_duration(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn durations_parse_and_format() {
        for (text, want) in [
            ("100ms", Duration::from_millis(100)),
            ("30s", Duration::from_secs(30)),
            ("2m", Duration::from_secs(120)),
            ("2m0s", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            ("120", Duration::from_secs(120)),
            ("0.25", Duration::from_millis(250)),
            ("1d", Duration::from_secs(86_400)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
            assert_eq!(parse_duration(&format_duration(want)), Ok(want), "{text}");
        }
        for bad in ["", "s", "10x", "-1s", "1..2s", "ms10"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn defaults_round_trip_through_toml_and_json() {
        let cfg = PromConfig::default();
        let toml_text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<PromConfig>(&toml_text).unwrap(), cfg);
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<PromConfig>(&json).unwrap(), cfg);
        // An empty document is the default configuration.
        assert_eq!(toml::from_str::<PromConfig>("").unwrap(), cfg);
    }

    #[test]
    fn full_config_from_toml() {
        let cfg: PromConfig = toml::from_str(
            r#"
            url = "https://thanos.example.com/"
            method = "get"
            concurrency = 8
            connect_timeout = "2s"
            request_timeout = 90
            server_timeout = false
            headers = { "X-Scope-OrgID" = "tenant-1", "X-Api-Key" = "k3y" }
            [params]
            dedup = true
            max_source_resolution = "5m"
            extra_label = ["team=a", "env=prod"]
            max_samples_processed_error_threshold = 1000000
            [auth]
            type = "bearer"
            token_file = "/var/run/secrets/token"
            [tls]
            ca_file = "/etc/ca.pem"
            insecure_skip_verify = true
            [retry]
            max_retries = 2
            initial_backoff = "250ms"
            [limits]
            max_points = 5000
            max_range = "6h"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.method, Method::Get);
        assert_eq!(cfg.concurrency, 8);
        assert_eq!(cfg.connect_timeout, Duration::from_secs(2));
        assert_eq!(cfg.request_timeout, Duration::from_secs(90));
        assert_eq!(cfg.params["dedup"].0, ["true"]);
        assert_eq!(cfg.params["extra_label"].0, ["team=a", "env=prod"]);
        assert_eq!(
            cfg.params["max_samples_processed_error_threshold"].0,
            ["1000000"]
        );
        assert_eq!(
            cfg.auth,
            AuthConfig::Bearer {
                token: None,
                token_file: Some("/var/run/secrets/token".into())
            }
        );
        assert!(cfg.tls.insecure_skip_verify);
        assert_eq!(cfg.retry.max_retries, 2);
        assert!(cfg.retry.enabled, "unset fields keep their default");
        assert_eq!(cfg.limits.max_range, Duration::from_secs(6 * 3600));
        assert_eq!(cfg.limits.max_points, 5000);
        let debug = format!("{cfg:?}");
        assert!(
            debug.contains("tenant-1") && !debug.contains("k3y"),
            "{debug}"
        );
    }

    #[test]
    fn sigv4_defaults_service_to_aps() {
        let cfg: PromConfig =
            toml::from_str("[auth]\ntype = \"sigv4\"\nregion = \"eu-west-1\"\n").unwrap();
        let AuthConfig::SigV4(s) = cfg.auth else {
            panic!("{:?}", cfg.auth)
        };
        assert_eq!(
            (s.region.as_str(), s.service.as_str()),
            ("eu-west-1", "aps")
        );
    }

    #[test]
    fn unknown_fields_are_errors() {
        for text in [
            "urll = \"http://x\"",
            "[retry]\nmax_retry = 3",
            "[tls]\nca = \"x\"",
            "[auth]\ntype = \"basic\"\nusername = \"u\"\npasswd = \"p\"",
            "[auth]\ntype = \"kerberos\"",
            "method = \"put\"",
            "request_timeout = \"soon\"",
        ] {
            let err = toml::from_str::<PromConfig>(text).unwrap_err().to_string();
            assert!(!err.is_empty(), "{text}");
        }
    }

    #[test]
    fn basic_password_hidden_in_debug() {
        let cfg = PromConfig {
            auth: AuthConfig::Basic {
                username: "u".into(),
                password: "pw-123".into(),
            },
            ..PromConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("pw-123"));
    }

    #[test]
    fn opencost_environment() {
        let cfg = PromConfig::from_env(env(&[
            ("PROMETHEUS_SERVER_ENDPOINT", "http://prom:9090"),
            ("MAX_QUERY_CONCURRENCY", "12"),
            ("PROMETHEUS_QUERY_TIMEOUT", "2m0s"),
            ("PROMETHEUS_RETRY_ON_RATE_LIMIT", "False"),
            ("PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES", "3"),
            ("PROMETHEUS_RETRY_ON_RATE_LIMIT_DEFAULT_WAIT", "200ms"),
            ("PROMETHEUS_HEADER_X_SCOPE_ORGID", "tenant-a"),
            ("DB_BASIC_AUTH_USERNAME", "grafana"),
            ("DB_BASIC_AUTH_PW", "glc_token"),
            ("PROM_MTLS_AUTH_CA_FILE", "/ca.pem"),
            ("PROM_MTLS_AUTH_CRT_FILE", "/c.pem"),
            ("PROM_MTLS_AUTH_KEY_FILE", "/k.pem"),
            ("INSECURE_SKIP_VERIFY", "1"),
        ]))
        .unwrap();
        assert_eq!(cfg.url, "http://prom:9090");
        assert_eq!(cfg.concurrency, 12);
        assert_eq!(cfg.request_timeout, Duration::from_secs(120));
        assert!(!cfg.retry.enabled);
        assert_eq!(cfg.retry.max_retries, 3);
        assert_eq!(cfg.retry.initial_backoff, Duration::from_millis(200));
        assert_eq!(cfg.headers.0["X-Scope-OrgID"], "tenant-a");
        assert_eq!(
            cfg.auth,
            AuthConfig::Basic {
                username: "grafana".into(),
                password: "glc_token".into()
            }
        );
        assert_eq!(cfg.tls.ca_file, Some("/ca.pem".into()));
        assert_eq!(cfg.tls.cert_file, Some("/c.pem".into()));
        assert_eq!(cfg.tls.key_file, Some("/k.pem".into()));
        assert!(cfg.tls.insecure_skip_verify);
    }

    #[test]
    fn environment_overrides_file_and_ignores_empty() {
        let mut cfg: PromConfig = toml::from_str(
            "url = \"http://file:9090\"\nconcurrency = 3\nheaders = { \"x-scope-orgid\" = \"old\" }",
        )
        .unwrap();
        cfg.apply_env(env(&[
            ("PROMETHEUS_SERVER_ENDPOINT", "http://env:9090"),
            ("MAX_QUERY_CONCURRENCY", ""),
            ("PROMETHEUS_HEADER_X_SCOPE_ORGID", "new"),
            ("DB_BEARER_TOKEN", "tok"),
        ]))
        .unwrap();
        assert_eq!(cfg.url, "http://env:9090");
        assert_eq!(cfg.concurrency, 3, "empty variable is unset");
        assert_eq!(cfg.headers.0.len(), 1, "{:?}", cfg.headers.0.keys());
        assert_eq!(cfg.headers.0["X-Scope-OrgID"], "new");
        assert_eq!(
            cfg.auth,
            AuthConfig::Bearer {
                token: Some("tok".into()),
                token_file: None
            }
        );
        let zero = PromConfig::from_env(env(&[("MAX_QUERY_CONCURRENCY", "0")])).unwrap();
        assert!(zero.concurrency >= 1);
    }

    #[test]
    fn kube_rbac_proxy_uses_the_service_account() {
        let cfg = PromConfig::from_env(env(&[("KUBE_RBAC_PROXY_ENABLED", "true")])).unwrap();
        assert_eq!(
            cfg.auth,
            AuthConfig::Bearer {
                token: None,
                token_file: Some(SA_TOKEN_FILE.into())
            }
        );
        assert_eq!(cfg.tls.ca_file, Some(SA_SERVICE_CA_FILE.into()));
    }

    #[test]
    fn bad_environment_names_the_variable() {
        for (var, value) in [
            ("MAX_QUERY_CONCURRENCY", "many"),
            ("PROMETHEUS_QUERY_TIMEOUT", "forever"),
            ("PROMETHEUS_RETRY_ON_RATE_LIMIT", "yes please"),
            ("PROMETHEUS_RETRY_ON_RATE_LIMIT_MAX_RETRIES", "-1"),
            ("INSECURE_SKIP_VERIFY", "maybe"),
        ] {
            let err = PromConfig::from_env(env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
        let both = PromConfig::from_env(env(&[
            ("DB_BASIC_AUTH_USERNAME", "u"),
            ("DB_BEARER_TOKEN", "t"),
        ]))
        .unwrap_err();
        assert!(both.to_string().contains("choose one"), "{both}");
    }
}
