//! Credentials as the chain hands them out: [`StaticCredentials`] a caller
//! supplies, [`Resolved`] credentials with their source and age, and
//! [`CredentialsInfo`] for diagnostics.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;

/// The clock credential expiry (and signatures) are read from.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// How long credentials without an expiry are reused before the chain is
/// asked again (rotated files are picked up).
pub(crate) const REREAD_AFTER: Duration = Duration::from_secs(15 * 60);
/// Temporary credentials are refreshed this long before they expire.
pub(crate) const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Fixed credentials (for tests, or keys the caller manages itself).
#[derive(Clone)]
pub struct StaticCredentials {
    /// Access key ID (`AKIA…`/`ASIA…`; not a secret).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// What the signer currently signs with (for diagnostics): never the
/// secret parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsInfo {
    /// Where they came from, e.g. `environment`, `profile "dev"`,
    /// `web identity (role arn:aws:iam::…)`.
    pub source: String,
    /// The access key ID.
    pub access_key_id: String,
    /// Whether a session token comes with them.
    pub has_session_token: bool,
    /// When they expire, for temporary credentials.
    pub expires: Option<SystemTime>,
}

/// Credentials and where they came from (`Debug` shows no secret:
/// `Credentials` redacts its own).
#[derive(Debug)]
pub struct Resolved {
    credentials: Credentials,
    /// e.g. `environment`, `profile "dev"`.
    source: String,
    /// When they were obtained (by the signer's clock).
    fetched: SystemTime,
}

impl Resolved {
    pub(crate) fn new(credentials: Credentials, source: String, now: SystemTime) -> Self {
        Self {
            credentials,
            source,
            fetched: now,
        }
    }

    /// The credentials (their `Debug` redacts the secret parts).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Where they came from, e.g. `environment`, `profile "dev"`,
    /// `web identity (role arn:aws:iam::…)`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// What they are, without the secret parts.
    pub fn info(&self) -> CredentialsInfo {
        CredentialsInfo {
            source: self.source.clone(),
            access_key_id: self.credentials.access_key_id().to_owned(),
            has_session_token: self.credentials.session_token().is_some(),
            expires: self.credentials.expiry(),
        }
    }

    /// Whether to use them without asking again.
    pub(crate) fn fresh(&self, now: SystemTime) -> bool {
        match self.credentials.expiry() {
            Some(expiry) => now
                .checked_add(REFRESH_BEFORE)
                .is_some_and(|limit| limit < expiry),
            None => self
                .fetched
                .checked_add(REREAD_AFTER)
                .is_some_and(|limit| now < limit),
        }
    }

    /// Whether they still work (a failed refresh falls back to them).
    pub(crate) fn unexpired(&self, now: SystemTime) -> bool {
        self.credentials.expiry().is_none_or(|expiry| now < expiry)
    }
}
