//! The hook that signs a request just before it is sent, for backends whose
//! authentication covers the request itself (AWS SigV4 for Amazon Managed
//! Service for Prometheus) rather than a static header.
//!
//! The request path builds the complete [`reqwest::Request`] (method, URL,
//! headers, form body bytes) and hands it to the signer, which adds its
//! headers in place; the request is sent exactly as signed. A signer is
//! called again for every retry, so time-stamped signatures stay fresh.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use prometheus_http_query::reqwest;

/// Why a request could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot sign the request: {message}")]
pub struct SignError {
    /// What went wrong (never containing a secret).
    pub message: String,
    /// Whether trying again may succeed (e.g. a credentials endpoint that
    /// timed out).
    pub transient: bool,
}

/// The future [`RequestSigner::sign`] returns.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SignError>> + Send + 'a>>;

/// Adds authentication to a fully built request.
pub trait RequestSigner: Send + Sync + fmt::Debug {
    /// Sign `request` in place (add headers such as `authorization`,
    /// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token`).
    fn sign<'a>(&'a self, request: &'a mut reqwest::Request) -> SignFuture<'a>;
}
