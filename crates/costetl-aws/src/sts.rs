//! STS: `AssumeRoleWithWebIdentity` (EKS IRSA, profiles with
//! `web_identity_token_file`) and `AssumeRole` (a profile's or the
//! caller's `role_arn`), on the query protocol.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use reqwest::StatusCode;

use crate::chain::Context;
use crate::credentials::Resolved;
use crate::error::{AwsError, error_chain};
use crate::http::{answer, excerpt, parse_time};
use crate::sign::sign_request;

/// STS API version of the query protocol.
const STS_VERSION: &str = "2011-06-15";

/// The STS endpoint: the configured one, `AWS_ENDPOINT_URL_STS`,
/// `AWS_ENDPOINT_URL`, else the regional one.
fn sts_endpoint(ctx: &Context) -> String {
    let env = &ctx.env;
    if let Some(url) = ctx
        .sts_endpoint
        .clone()
        .or_else(|| env.var("AWS_ENDPOINT_URL_STS"))
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
) -> Result<Resolved, AwsError> {
    // Read on every call: the kubelet rotates the projected token.
    let token = ctx.env.read(Path::new(token_file)).await.map_err(|e| {
        AwsError::config(format!(
            "{source}: cannot read the web identity token file {token_file}: {e}"
        ))
    })?;
    let token = String::from_utf8(token).map_err(|_| {
        AwsError::config(format!(
            "{source}: the web identity token file {token_file} is not UTF-8"
        ))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(AwsError::config(format!(
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
        .map_err(|e| AwsError::config(format!("STS request to {endpoint}: {}", error_chain(&e))))?;
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
) -> Result<Resolved, AwsError> {
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
        .map_err(|e| AwsError::config(format!("STS request to {endpoint}: {}", error_chain(&e))))?;
    sign_request(
        &mut request,
        base.credentials(),
        &ctx.region,
        "sts",
        ctx.now(),
        true,
    )?;
    let credentials = sts_call(ctx, request, "AssumeRole", role_arn, &endpoint).await?;
    Ok(Resolved::new(
        credentials,
        format!("role {role_arn} (assumed with {})", base.source()),
        ctx.now(),
    ))
}

/// Send an STS request and read the credentials from its answer.
async fn sts_call(
    ctx: &Context,
    request: reqwest::Request,
    action: &str,
    role_arn: &str,
    endpoint: &str,
) -> Result<Credentials, AwsError> {
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
        return Err(AwsError::answer(
            format!("{what}: HTTP {status}, {detail}"),
            transient,
        ));
    }
    sts_credentials(&body)
        .map_err(|why| AwsError::config(format!("{what}: unusable answer: {why}")))
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
