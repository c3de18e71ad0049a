//! Steps 4 and 5 of the chain: the container credentials endpoint (EKS
//! Pod Identity, ECS) and EC2 instance metadata (IMDSv2).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use aws_credential_types::Credentials;
use reqwest::header::HeaderValue;
use reqwest::{StatusCode, Url};

use crate::chain::{Context, Lookup};
use crate::credentials::Resolved;
use crate::error::{AwsError, error_chain};
use crate::http::{answer, excerpt, parse_time};

/// How long one instance metadata request may take (it is on-link; a
/// machine without one must not wait long).
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
/// The default instance metadata endpoint.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// ECS's container credentials host for relative URIs.
const ECS_HOST: &str = "http://169.254.170.2";

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
pub(crate) async fn container(ctx: &Context) -> Result<Lookup, AwsError> {
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
            AwsError::config(format!(
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
            AwsError::config(format!(
                "{what}: the authorization token is not a valid header value"
            ))
        })?;
        value.set_sensitive(true);
        request = request.header("authorization", value);
    }
    let (status, body) = answer(&what, request.send()).await?;
    if !status.is_success() {
        return Err(AwsError::answer(
            format!("{what}: HTTP {status}, body starts with {}", excerpt(&body)),
            status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let credentials = decode_json(&body)
        .and_then(|j| j.into_credentials("container"))
        .map_err(|why| AwsError::config(format!("{what}: unusable answer: {why}")))?;
    Ok(Lookup::Found(Resolved::new(
        credentials,
        format!("container ({uri})"),
        ctx.now(),
    )))
}

/// A full container credentials URI must be https, or plain http to
/// loopback or the ECS/EKS agents (the SDKs' rule: credentials never cross
/// a network in clear text).
fn check_container_uri(uri: &str) -> Result<(), AwsError> {
    let fail = |why: &str| {
        Err(AwsError::config(format!(
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
pub(crate) async fn instance_metadata(ctx: &Context) -> Result<Lookup, AwsError> {
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
    let transport = |e: reqwest::Error| {
        AwsError::answer(
            format!("instance metadata at {endpoint}: {}", error_chain(&e)),
            true,
        )
    };
    let mut token = HeaderValue::from_str(response.text().await.map_err(transport)?.trim())
        .map_err(|_| {
            AwsError::config(format!("instance metadata at {endpoint}: unusable token"))
        })?;
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
        return Err(AwsError::config(format!(
            "{roles_url}: HTTP {status}, no role name in the answer"
        )));
    };
    let creds_url = format!("{roles_url}{role}");
    let response = get(creds_url.clone()).await.map_err(transport)?;
    let status = response.status();
    let body = response.text().await.map_err(transport)?;
    if !status.is_success() {
        return Err(AwsError::answer(
            format!(
                "{creds_url}: HTTP {status}, body starts with {}",
                excerpt(&body)
            ),
            status.is_server_error(),
        ));
    }
    let credentials = decode_json(&body)
        .and_then(|j| j.into_credentials("instance metadata"))
        .map_err(|why| AwsError::config(format!("{creds_url}: unusable answer: {why}")))?;
    Ok(Lookup::Found(Resolved::new(
        credentials,
        format!("instance metadata (role {role})"),
        ctx.now(),
    )))
}
