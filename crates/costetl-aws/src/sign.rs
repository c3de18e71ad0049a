//! SigV4 signing of a complete [`reqwest::Request`] in place: what a
//! signature covers is the exact request sent (method, path, query string,
//! headers present when signing, the SHA-256 of the body bytes).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use reqwest::header::HeaderValue;

use crate::error::{AwsError, error_chain};

/// Headers the signer owns; removed before (re-)signing.
const SIGNING_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// Sign `request` in place with `credentials` at `time`.
pub fn sign_request(
    request: &mut reqwest::Request,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    content_sha256_header: bool,
) -> Result<(), AwsError> {
    for name in SIGNING_HEADERS {
        request.headers_mut().remove(name);
    }
    canonicalize_query(request.url_mut());
    let signing_error = |e: &dyn std::error::Error| {
        AwsError::config(format!(
            "SigV4 signing of {} {} failed: {}",
            request.method(),
            redacted_url(request.url()),
            error_chain(e)
        ))
    };
    let body: &[u8] = match request.body() {
        None => &[],
        Some(body) => body.as_bytes().ok_or_else(|| {
            AwsError::config(format!(
                "cannot SigV4-sign {} {}: the body is a stream, its bytes are not known \
                 before sending",
                request.method(),
                redacted_url(request.url())
            ))
        })?,
    };
    let mut headers = Vec::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        let value = value.to_str().map_err(|_| {
            AwsError::config(format!(
                "cannot SigV4-sign header {name}: its value is not visible ASCII"
            ))
        })?;
        headers.push((name.as_str(), value));
    }
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| signing_error(&e))?;
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    if content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| signing_error(&e))?
        .into();
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_error(&e))?
        .into_parts();
    let (new_headers, _params) = instructions.into_parts();
    for header in new_headers {
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|e| AwsError::config(format!("SigV4 header {}: {e}", header.name())))?;
        // Keeps the token and signature out of `Debug` of the request.
        if header.sensitive() || header.name() == "authorization" {
            value.set_sensitive(true);
        }
        request.headers_mut().insert(header.name(), value);
    }
    Ok(())
}

/// Rewrite the query string in SigV4's encoding (every byte but
/// `A-Za-z0-9-_.~` as `%XX`), order kept, so that the URL sent is
/// already canonical.
///
/// reqwest's `.query()` writes `application/x-www-form-urlencoded`
/// (space as `+`, `~` as `%7E`). Verifiers disagree on such a query:
/// aws-sigv4 and most servers decode and re-encode it (`+` becomes
/// `%20`), botocore takes it as already encoded (`+` stays `+`). With a
/// canonical URL both readings are the same. The pairs are decoded the
/// way Prometheus (Go's `url.ParseQuery`) reads them, so the backend
/// sees the same parameters.
fn canonicalize_query(url: &mut reqwest::Url) {
    if url.query().is_none_or(str::is_empty) {
        return;
    }
    let mut out = String::new();
    for (key, value) in url.query_pairs() {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, &key);
        out.push('=');
        encode_into(&mut out, &value);
    }
    url.set_query(Some(&out));
}

/// Percent-encode `text` into `out` as SigV4 does (RFC 3986 unreserved
/// characters kept, uppercase hex).
fn encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// `url` without userinfo or query, for messages: the query may carry
/// credentials (presigned URLs) and the userinfo a password.
fn redacted_url(url: &reqwest::Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}
