//! Credentials over HTTP: STS (`AssumeRoleWithWebIdentity`, `AssumeRole`),
//! the container credentials endpoint and EC2 instance metadata.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use prometheus_http_query::reqwest::{self, StatusCode, Url, header::HeaderValue};

use super::chain::{Context, Lookup, Resolved, error_chain};
use super::enabled::{permanent, sign_with};
use crate::sign::SignError;

/// STS API version of the query protocol.
const STS_VERSION: &str = "2011-06-15";
/// How long one STS or container-endpoint request may take.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one instance metadata request may take (it is on-link; a
/// machine without one must not wait long).
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// The default instance metadata endpoint.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// ECS's container credentials host for relative URIs.
const ECS_HOST: &str = "http://169.254.170.2";
/// Body excerpts in messages are cut here.
const EXCERPT: usize = 200;

/// The HTTP clients for credentials.
pub(crate) struct Http {
    /// STS: honours the system proxy settings.
    sts: reqwest::Client,
    /// Container and instance metadata endpoints (link-local or loopback):
    /// never through a proxy.
    local: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Result<Self, SignError> {
        let build = |local: bool| {
            let builder = reqwest::Client::builder()
                .use_preconfigured_tls(tls_config()?)
                .connect_timeout(Duration::from_secs(5))
                .timeout(REMOTE_TIMEOUT)
                .user_agent(concat!("costetl/", env!("CARGO_PKG_VERSION")));
            let builder = if local { builder.no_proxy() } else { builder };
            builder.build().map_err(|e| {
                permanent(format!(
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
fn tls_config() -> Result<rustls::ClientConfig, SignError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
        permanent(format!(
            "cannot load the system's CA certificates for AWS credentials: {e}"
        ))
    })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| permanent(format!("TLS setup for AWS credentials: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The STS endpoint: `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else the
/// regional one.
fn sts_endpoint(ctx: &Context) -> String {
    let env = &ctx.env;
    if let Some(url) = env
        .var("AWS_ENDPOINT_URL_STS")
        .or_else(|| env.var("AWS_ENDPOINT_URL"))
    {
        return url.trim_end_matches('/').to_owned() + "/";
    }
    let suffix = if ctx.region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{}.{suffix}/", ctx.region)
}

/// A session name when none is configured: `costetl-<unix millis>`.
fn default_session_name(now: SystemTime) -> String {
    let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("costetl-{millis}")
}

/// STS `AssumeRoleWithWebIdentity` with the token in `token_file`.
pub(crate) async fn assume_role_with_web_identity(
    ctx: &Context,
    token_file: &str,
    role_arn: &str,
    session_name: Option<&str>,
    source: &str,
) -> Result<Resolved, SignError> {
    // Read on every call: the kubelet rotates the projected token.
    let token = ctx.env.read(Path::new(token_file)).await.map_err(|e| {
        permanent(format!(
            "{source}: cannot read the web identity token file {token_file}: {e}"
        ))
    })?;
    let token = String::from_utf8(token).map_err(|_| {
        permanent(format!(
            "{source}: the web identity token file {token_file} is not UTF-8"
        ))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(permanent(format!(
            "{source}: the web identity token file {token_file} is empty"
        )));
    }
    let session = session_name.map_or_else(|| default_session_name(ctx.now()), str::to_owned);
    let endpoint = sts_endpoint(ctx);
    let request = ctx
        .http
        .sts
        .post(&endpoint)
        .form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", STS_VERSION),
            ("RoleArn", role_arn),
            ("RoleSessionName", session.as_str()),
            ("WebIdentityToken", token),
        ])
        .build()
        .map_err(|e| permanent(format!("STS request to {endpoint}: {}", error_chain(&e))))?;
    let credentials = sts_call(
        ctx,
        request,
        "AssumeRoleWithWebIdentity",
        role_arn,
        &endpoint,
    )
    .await?;
    Ok(Resolved::new(
        credentials,
        format!("{source} (role {role_arn})"),
        ctx.now(),
    ))
}

/// STS `AssumeRole` of `role_arn`, signed with `base`'s credentials.
pub(crate) async fn assume_role(
    ctx: &Context,
    base: &Resolved,
    role_arn: &str,
    session_name: Option<&str>,
    external_id: Option<&str>,
) -> Result<Resolved, SignError> {
    let session = session_name.map_or_else(|| default_session_name(ctx.now()), str::to_owned);
    let endpoint = sts_endpoint(ctx);
    let mut form = vec![
        ("Action", "AssumeRole"),
        ("Version", STS_VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session.as_str()),
    ];
    if let Some(id) = external_id {
        form.push(("ExternalId", id));
    }
    let mut request = ctx
        .http
        .sts
        .post(&endpoint)
        .form(&form)
        .build()
        .map_err(|e| permanent(format!("STS request to {endpoint}: {}", error_chain(&e))))?;
    sign_with(
        &mut request,
        &base.credentials,
        &ctx.region,
        "sts",
        ctx.now(),
        true,
    )?;
    let credentials = sts_call(ctx, request, "AssumeRole", role_arn, &endpoint).await?;
    Ok(Resolved::new(
        credentials,
        format!("role {role_arn} (assumed with {})", base.source),
        ctx.now(),
    ))
}

/// The status and body of a credentials request; a transport failure
/// (no answer, a cut body) is transient, and says what was asked.
async fn answer(
    what: &str,
    sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> Result<(StatusCode, String), SignError> {
    let response = sent.await.map_err(|e| SignError {
        message: format!("{what}: {}", error_chain(&e)),
        transient: true,
    })?;
    let status = response.status();
    let body = response.text().await.map_err(|e| SignError {
        message: format!("{what}: reading the answer: {}", error_chain(&e)),
        transient: true,
    })?;
    Ok((status, body))
}

/// Send an STS request and read the credentials from its answer.
async fn sts_call(
    ctx: &Context,
    request: reqwest::Request,
    action: &str,
    role_arn: &str,
    endpoint: &str,
) -> Result<Credentials, SignError> {
    let what = format!("STS {action} of role {role_arn} at {endpoint}");
    let (status, body) = answer(&what, ctx.http.sts.execute(request)).await?;
    if !status.is_success() {
        let (code, message) = sts_error(&body);
        let transient = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || matches!(
                code.as_deref(),
                Some("Throttling" | "IDPCommunicationError" | "ServiceUnavailable")
            );
        let detail = match (code, message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code,
            _ => format!("body starts with {}", excerpt(&body)),
        };
        return Err(SignError {
            message: format!("{what}: HTTP {status}, {detail}"),
            transient,
        });
    }
    sts_credentials(&body).map_err(|why| permanent(format!("{what}: unusable answer: {why}")))
}

/// The `Credentials` of an STS `…Response` document.
fn sts_credentials(body: &str) -> Result<Credentials, String> {
    let doc = roxmltree::Document::parse(body).map_err(|e| format!("not XML ({e})"))?;
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Credentials")
        .ok_or("no <Credentials> element")?;
    let field = |name: &str| {
        node.children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("no <{name}> in <Credentials>"))
    };
    let expiration = field("Expiration")?;
    let expiry = parse_time(expiration)
        .ok_or_else(|| format!("<Expiration> {expiration:?} is not an RFC 3339 time"))?;
    Ok(Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        Some(field("SessionToken")?.to_owned()),
        Some(expiry),
        "sts",
    ))
}

/// `Code` and `Message` of an STS `ErrorResponse`.
fn sts_error(body: &str) -> (Option<String>, Option<String>) {
    let Ok(doc) = roxmltree::Document::parse(body) else {
        return (None, None);
    };
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(|t| t.trim().to_owned())
    };
    (text("Code"), text("Message"))
}

/// An RFC 3339 time (`2024-01-02T03:04:05Z`) as a [`SystemTime`].
fn parse_time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}

/// The JSON the container endpoint and instance metadata answer with.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    code: Option<String>,
    message: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

impl JsonCredentials {
    fn into_credentials(self, provider: &'static str) -> Result<Credentials, String> {
        if let Some(code) = self.code.filter(|c| c != "Success") {
            return Err(format!(
                "code {code}: {}",
                self.message.as_deref().unwrap_or("(no message)")
            ));
        }
        let (Some(id), Some(secret)) = (self.access_key_id, self.secret_access_key) else {
            return Err("no AccessKeyId/SecretAccessKey".to_owned());
        };
        let expiry = match self.expiration {
            None => None,
            Some(text) => Some(
                parse_time(&text)
                    .ok_or_else(|| format!("Expiration {text:?} is not an RFC 3339 time"))?,
            ),
        };
        Ok(Credentials::new(id, secret, self.token, expiry, provider))
    }
}

/// The credentials JSON. serde_json's own message can quote a value (a
/// secret with the wrong type), so only its kind and position are kept.
fn decode_json(body: &str) -> Result<JsonCredentials, String> {
    serde_json::from_str(body).map_err(|e| {
        format!(
            "malformed JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })
}

/// Step 4: the container credentials endpoint (EKS Pod Identity, ECS).
pub(crate) async fn container(ctx: &Context) -> Result<Lookup, SignError> {
    let env = &ctx.env;
    let uri = if let Some(relative) = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("{ECS_HOST}{relative}")
    } else if let Some(full) = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        check_container_uri(&full)?;
        full
    } else {
        return Ok(Lookup::Missing(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_CREDENTIALS_RELATIVE_URI unset"
                .to_owned(),
        ));
    };
    let what = format!("container credentials at {uri}");
    let token = if let Some(file) = env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        // Read on every call: EKS rotates it.
        let bytes = env.read(Path::new(&file)).await.map_err(|e| {
            permanent(format!(
                "{what}: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {file}: {e}"
            ))
        })?;
        Some(String::from_utf8_lossy(&bytes).trim().to_owned())
    } else {
        env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    };
    let mut request = ctx
        .http
        .local
        .get(&uri)
        .header("accept", "application/json");
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&token).map_err(|_| {
            permanent(format!(
                "{what}: the authorization token is not a valid header value"
            ))
        })?;
        value.set_sensitive(true);
        request = request.header("authorization", value);
    }
    let (status, body) = answer(&what, request.send()).await?;
    if !status.is_success() {
        return Err(SignError {
            message: format!("{what}: HTTP {status}, body starts with {}", excerpt(&body)),
            transient: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
        });
    }
    let credentials = decode_json(&body)
        .and_then(|j| j.into_credentials("container"))
        .map_err(|why| permanent(format!("{what}: unusable answer: {why}")))?;
    Ok(Lookup::Found(Resolved::new(
        credentials,
        format!("container ({uri})"),
        ctx.now(),
    )))
}

/// A full container credentials URI must be https, or plain http to
/// loopback or the ECS/EKS agents (the SDKs' rule: credentials never cross
/// a network in clear text).
fn check_container_uri(uri: &str) -> Result<(), SignError> {
    let fail = |why: &str| {
        Err(permanent(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI {uri:?}: {why}"
        )))
    };
    let Ok(url) = Url::parse(uri) else {
        return fail("not a URL");
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            // `host_str` keeps IPv6 brackets: `[::1]`.
            let host = url
                .host_str()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim_end_matches(']');
            let agents: [IpAddr; 3] = [
                IpAddr::from([169, 254, 170, 2]),
                IpAddr::from([169, 254, 170, 23]),
                IpAddr::from([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23]),
            ];
            let allowed = host == "localhost"
                || host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback() || agents.contains(&ip));
            if allowed {
                Ok(())
            } else {
                fail(
                    "plain http is only allowed to loopback, 169.254.170.2, 169.254.170.23 or \
                     fd00:ec2::23",
                )
            }
        }
        _ => fail("the scheme must be http or https"),
    }
}

/// Step 5: EC2 instance metadata (IMDSv2): the instance profile's role.
pub(crate) async fn instance_metadata(ctx: &Context) -> Result<Lookup, SignError> {
    let env = &ctx.env;
    if env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(Lookup::Missing(
            "disabled by AWS_EC2_METADATA_DISABLED".to_owned(),
        ));
    }
    let endpoint = env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT").map_or_else(
        || IMDS_ENDPOINT.to_owned(),
        |e| e.trim_end_matches('/').to_owned(),
    );
    let http = &ctx.http.local;
    let token_url = format!("{endpoint}/latest/api/token");
    // No answer here means "not on EC2": not an error, the next step (none)
    // reports it.
    let response = match http
        .put(&token_url)
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .timeout(IMDS_TIMEOUT)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Ok(Lookup::Missing(format!(
                "no answer from {endpoint}: {}",
                error_chain(&e)
            )));
        }
    };
    if !response.status().is_success() {
        return Ok(Lookup::Missing(format!(
            "{token_url} answered HTTP {}",
            response.status()
        )));
    }
    let transport = |e: reqwest::Error| SignError {
        message: format!("instance metadata at {endpoint}: {}", error_chain(&e)),
        transient: true,
    };
    let mut token = HeaderValue::from_str(response.text().await.map_err(transport)?.trim())
        .map_err(|_| permanent(format!("instance metadata at {endpoint}: unusable token")))?;
    token.set_sensitive(true);
    let get = |url: String| {
        http.get(url)
            .header("x-aws-ec2-metadata-token", token.clone())
            .timeout(IMDS_TIMEOUT)
            .send()
    };
    let roles_url = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let response = get(roles_url.clone()).await.map_err(transport)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(Lookup::Missing(
            "the instance has no IAM role (instance profile)".to_owned(),
        ));
    }
    let status = response.status();
    let text = response.text().await.map_err(transport)?;
    let Some(role) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(permanent(format!(
            "{roles_url}: HTTP {status}, no role name in the answer"
        )));
    };
    let creds_url = format!("{roles_url}{role}");
    let response = get(creds_url.clone()).await.map_err(transport)?;
    let status = response.status();
    let body = response.text().await.map_err(transport)?;
    if !status.is_success() {
        return Err(SignError {
            message: format!(
                "{creds_url}: HTTP {status}, body starts with {}",
                excerpt(&body)
            ),
            transient: status.is_server_error(),
        });
    }
    let credentials = decode_json(&body)
        .and_then(|j| j.into_credentials("instance metadata"))
        .map_err(|why| permanent(format!("{creds_url}: unusable answer: {why}")))?;
    Ok(Lookup::Found(Resolved::new(
        credentials,
        format!("instance metadata (role {role})"),
        ctx.now(),
    )))
}

/// The first [`EXCERPT`] characters of `body`, quoted.
fn excerpt(body: &str) -> String {
    let mut out: String = body.chars().take(EXCERPT).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    format!("{out:?}")
}
