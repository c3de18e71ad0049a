//! [`PromError`]: the crate's one error type, for building a source and
//! for a failed request, and its mapping to the core's
//! [`SourceError`] with a [`SourceErrorKind`].
//!
//! No variant carries a secret: URLs are shown without their password,
//! header values and token file contents never appear.

use std::path::PathBuf;

use costetl_core::source::{SourceError, SourceErrorKind};
use prometheus_http_query::reqwest;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromError {
    /// The base URL is not a usable `http://` or `https://` URL.
    #[error("invalid Prometheus base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given (password replaced by `***`).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value (or environment variable) is unusable.
    #[error("invalid setting {field}: {reason}")]
    InvalidConfig {
        /// The field or environment variable.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS file (CA, certificate, key) cannot be read or used.
    #[error("TLS setup failed{}: {reason}", path.as_ref().map(|p| format!(" for {}", p.display())).unwrap_or_default())]
    Tls {
        /// The file, where one is at fault.
        path: Option<PathBuf>,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {error}")]
    HttpClient {
        /// reqwest's error.
        error: reqwest::Error,
    },
    /// A credential (bearer token file) could not be read. Transient: the
    /// file may be in the middle of a rotation.
    #[error("cannot read the bearer token from {}: {reason}", path.display())]
    Credentials {
        /// The token file.
        path: PathBuf,
        /// Why (never the file's content).
        reason: String,
    },
    /// The request signer (SigV4) failed.
    #[error("{method} {url}: {error}")]
    Sign {
        /// `POST` or `GET`.
        method: &'static str,
        /// The request URL.
        url: String,
        /// The signer's error.
        error: crate::sign::SignError,
    },
    /// The request got no complete answer: connection refused or reset,
    /// TLS failure, timeout, truncated body.
    #[error("{method} {url}: {message}")]
    Transport {
        /// `POST` or `GET`.
        method: &'static str,
        /// The request URL.
        url: String,
        /// What happened, with reqwest's error chain.
        message: String,
        /// Whether a retry may help.
        kind: SourceErrorKind,
    },
    /// The backend answered with something that is not a Prometheus API
    /// response: a proxy's HTML page, AMP's `413` text, a `401` from an
    /// authenticating gateway.
    #[error(
        "{method} {url}: HTTP {status}, content type {}, body starts with {excerpt}",
        content_type.as_deref().unwrap_or("(none)")
    )]
    Status {
        /// `POST` or `GET`.
        method: &'static str,
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The `Content-Type` header.
        content_type: Option<String>,
        /// The start of the body, quoted.
        excerpt: String,
        /// Whether a retry (or a smaller request) may help.
        kind: SourceErrorKind,
    },
    /// A range query's pieces could not be put back together.
    #[error("cannot merge the pieces of a split range query: {reason}")]
    Merge {
        /// What was wrong.
        reason: String,
    },
    /// A query cannot be sent as asked.
    #[error("{reason}")]
    Unsupported {
        /// Why not.
        reason: String,
    },
    /// Retries ran out; the last failure is inside.
    #[error("{source} (gave up after {attempts} attempts)")]
    Exhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        source: Box<PromError>,
    },
}

impl PromError {
    /// What a caller can do about this error.
    pub fn kind(&self) -> SourceErrorKind {
        match self {
            Self::Transport { kind, .. } | Self::Status { kind, .. } => *kind,
            Self::Credentials { .. } => SourceErrorKind::Transient,
            Self::Sign { error, .. } if error.transient => SourceErrorKind::Transient,
            Self::Exhausted { source, .. } => source.kind(),
            _ => SourceErrorKind::Permanent,
        }
    }
}

impl From<PromError> for SourceError {
    fn from(e: PromError) -> Self {
        SourceError::new(e.kind(), e.to_string())
    }
}

/// The kind of an HTTP status that came without a Prometheus answer.
pub(crate) fn status_kind(status: u16, throttled: bool) -> SourceErrorKind {
    match status {
        _ if throttled => SourceErrorKind::Transient,
        408 | 429 | 502 | 503 | 504 => SourceErrorKind::Transient,
        413 => SourceErrorKind::TooLarge,
        _ => SourceErrorKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use SourceErrorKind::{Permanent, TooLarge, Transient};
        for (status, kind) in [
            (400, Permanent),
            (401, Permanent),
            (403, Permanent),
            (404, Permanent),
            (422, Permanent),
            (413, TooLarge),
            (408, Transient),
            (429, Transient),
            (502, Transient),
            (503, Transient),
            (504, Transient),
            (500, Permanent),
        ] {
            assert_eq!(status_kind(status, false), kind, "{status}");
        }
        assert_eq!(status_kind(400, true), Transient, "AMP throttling");
    }

    #[test]
    fn exhausted_keeps_the_kind_and_says_how_often() {
        let e = PromError::Exhausted {
            attempts: 3,
            source: Box::new(PromError::Transport {
                method: "POST",
                url: "http://x/api/v1/query".into(),
                message: "connection reset".into(),
                kind: SourceErrorKind::Transient,
            }),
        };
        let s: SourceError = e.into();
        assert_eq!(s.kind, SourceErrorKind::Transient);
        assert!(
            s.message.ends_with("(gave up after 3 attempts)"),
            "{}",
            s.message
        );
    }
}
