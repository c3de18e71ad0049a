//! The HTTP side every credentials endpoint shares: the clients (TLS on
//! ring with the system's roots), reading an answer, quoting a body.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use crate::error::{AwsError, error_chain};

/// How long one STS or container-endpoint request may take.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(20);
/// Body excerpts in messages are cut here.
const EXCERPT: usize = 200;

/// The HTTP clients for credentials.
pub(crate) struct Http {
    /// STS: honours the system proxy settings.
    pub(crate) sts: reqwest::Client,
    /// Container and instance metadata endpoints (link-local or loopback):
    /// never through a proxy.
    pub(crate) local: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Result<Self, AwsError> {
        let build = |local: bool| {
            let builder = reqwest::Client::builder()
                .use_preconfigured_tls(tls_config()?)
                .connect_timeout(Duration::from_secs(5))
                .timeout(REMOTE_TIMEOUT)
                .user_agent(concat!("costetl/", env!("CARGO_PKG_VERSION")));
            let builder = if local { builder.no_proxy() } else { builder };
            builder.build().map_err(|e| {
                AwsError::config(format!(
                    "cannot create the HTTP client for AWS credentials: {}",
                    error_chain(&e)
                ))
            })
        };
        Ok(Self {
            sts: build(false)?,
            local: build(true)?,
        })
    }
}

/// rustls on the `ring` provider with the system's roots (the adapter's
/// TLS stack; no process-wide provider needed).
fn tls_config() -> Result<rustls::ClientConfig, AwsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
        AwsError::config(format!(
            "cannot load the system's CA certificates for AWS credentials: {e}"
        ))
    })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AwsError::config(format!("TLS setup for AWS credentials: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The status and body of a credentials request; a transport failure
/// (no answer, a cut body) is transient, and says what was asked.
pub(crate) async fn answer(
    what: &str,
    sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> Result<(StatusCode, String), AwsError> {
    let response = sent
        .await
        .map_err(|e| AwsError::answer(format!("{what}: {}", error_chain(&e)), true))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| {
        AwsError::answer(
            format!("{what}: reading the answer: {}", error_chain(&e)),
            true,
        )
    })?;
    Ok((status, body))
}

/// An RFC 3339 time (`2024-01-02T03:04:05Z`) as a [`SystemTime`].
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}

/// The first [`EXCERPT`] characters of `body`, quoted.
pub(crate) fn excerpt(body: &str) -> String {
    let mut out: String = body.chars().take(EXCERPT).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    format!("{out:?}")
}
