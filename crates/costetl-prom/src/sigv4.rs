//! AWS Signature Version 4 for Amazon Managed Service for Prometheus (AMP):
//! [`SigV4Signer`], a [`RequestSigner`](crate::sign::RequestSigner) that signs the exact request the
//! adapter sends, with credentials from the standard AWS chain.
//!
//! What a signature covers: method, path, query string, the headers present
//! when signing (`host`, `content-type`, …) and the SHA-256 of the exact body
//! bytes. The signer adds `x-amz-date`, `x-amz-content-sha256`,
//! `authorization` and, for temporary credentials, `x-amz-security-token`.
//! It replaces its own headers when called again (every retry is re-signed,
//! so signatures never go stale). A query string is rewritten in SigV4's
//! own encoding first (same parameters, same order; `%20` rather than `+`),
//! so that the URL sent is the canonical one whichever way a verifier reads
//! it.
//!
//! Credentials come from [`costetl_aws`]'s chain (environment, shared
//! profiles, web identity/IRSA, container, instance metadata; the same one
//! the ETL store uses for S3): a `profile` in [`SigV4Config`] restricts it
//! to that profile, a `role_arn` is assumed with whatever it found.
//!
//! Built without the `sigv4` feature, [`SigV4Config`] still parses (a config
//! file means the same in every build) and [`SigV4Signer::new`] returns an
//! error saying the feature is missing.

use serde::{Deserialize, Serialize};

#[cfg(feature = "sigv4")]
pub use costetl_aws::{AwsEnvironment, CredentialsInfo, StaticCredentials};
#[cfg(not(feature = "sigv4"))]
pub use disabled::SigV4Signer;
#[cfg(feature = "sigv4")]
pub use enabled::SigV4Signer;
#[cfg(feature = "sigv4")]
pub use enabled::SigV4SignerBuilder;

/// The signing service name of Amazon Managed Service for Prometheus.
pub const AMP_SERVICE: &str = "aps";

/// Settings of AWS SigV4 signing (the `sigv4` section of the adapter's
/// configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigV4Config {
    /// AWS region of the workspace, e.g. `eu-west-1` (the `<region>` in
    /// `https://aps-workspaces.<region>.amazonaws.com`). Empty: taken from
    /// `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub region: String,
    /// Signing service name; `aps` (the default) for AMP.
    pub service: String,
    /// Take credentials from this profile of the shared AWS files only
    /// (instead of the whole chain, where `AWS_PROFILE` picks the profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Assume this role (STS `AssumeRole`) with the chain's credentials and
    /// sign with the role's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Session name for `role_arn` (default `costetl-<unix millis>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_session_name: Option<String>,
    /// External ID the role's trust policy requires, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Default for SigV4Config {
    fn default() -> Self {
        Self {
            region: String::new(),
            service: AMP_SERVICE.to_owned(),
            profile: None,
            role_arn: None,
            role_session_name: None,
            external_id: None,
        }
    }
}

/// The region of an AMP workspace URL
/// (`https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>`), if
/// `url` is one.
pub fn region_from_amp_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':', '?']).next()?;
    let region = host.strip_prefix("aps-workspaces.")?.split('.').next()?;
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| region.to_owned())
}

#[cfg(not(feature = "sigv4"))]
mod disabled {
    use std::fmt;

    use prometheus_http_query::reqwest;

    use super::SigV4Config;
    use crate::sign::{RequestSigner, SignError, SignFuture};

    /// Placeholder: this build has no SigV4 support (feature `sigv4` off).
    pub struct SigV4Signer {
        _private: (),
    }

    impl fmt::Debug for SigV4Signer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SigV4Signer(disabled)")
        }
    }

    impl SigV4Signer {
        /// Always fails: costetl-prom was built without feature `sigv4`.
        pub fn new(config: SigV4Config) -> Result<Self, SignError> {
            Err(SignError {
                message: format!(
                    "SigV4 signing (region {:?}, service {:?}) needs costetl-prom's \
                     `sigv4` feature, which this build does not include",
                    config.region, config.service
                ),
                transient: false,
            })
        }
    }

    impl RequestSigner for SigV4Signer {
        fn sign<'a>(&'a self, _request: &'a mut reqwest::Request) -> SignFuture<'a> {
            Box::pin(async {
                Err(SignError {
                    message: "SigV4 support is not built in".to_owned(),
                    transient: false,
                })
            })
        }
    }
}

#[cfg(feature = "sigv4")]
mod enabled {
    use std::fmt;
    use std::sync::Arc;
    use std::time::SystemTime;

    use costetl_aws::{
        AwsEnvironment, AwsError, ChainConfig, Clock, CredentialChain, CredentialsInfo,
        StaticCredentials,
    };
    use prometheus_http_query::reqwest;

    use super::SigV4Config;
    use crate::sign::{RequestSigner, SignError, SignFuture};

    impl From<AwsError> for SignError {
        fn from(e: AwsError) -> Self {
            SignError {
                transient: e.is_transient(),
                message: e.to_string(),
            }
        }
    }

    /// Signs requests with AWS SigV4; see the [module docs](super).
    pub struct SigV4Signer {
        region: String,
        service: String,
        content_sha256_header: bool,
        chain: CredentialChain,
        clock: Clock,
    }

    impl fmt::Debug for SigV4Signer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SigV4Signer")
                .field("region", &self.region)
                .field("service", &self.service)
                .field("credentials", &self.chain)
                .finish_non_exhaustive()
        }
    }

    /// Options for a [`SigV4Signer`]; start from [`SigV4Signer::builder`].
    pub struct SigV4SignerBuilder {
        config: SigV4Config,
        environment: Option<AwsEnvironment>,
        credentials: Option<StaticCredentials>,
        clock: Option<Clock>,
        content_sha256_header: bool,
    }

    impl fmt::Debug for SigV4SignerBuilder {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SigV4SignerBuilder")
                .field("config", &self.config)
                .field("environment", &self.environment)
                .field("credentials", &self.credentials)
                .field("content_sha256_header", &self.content_sha256_header)
                .finish_non_exhaustive()
        }
    }

    impl SigV4SignerBuilder {
        /// Look variables and files up here instead of the process (tests).
        pub fn environment(mut self, environment: AwsEnvironment) -> Self {
            self.environment = Some(environment);
            self
        }

        /// Sign with these credentials instead of the chain's (a
        /// `role_arn` in the config is still assumed with them).
        pub fn static_credentials(mut self, credentials: StaticCredentials) -> Self {
            self.credentials = Some(credentials);
            self
        }

        /// Read the time from `clock` instead of the system clock (tests).
        pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
            self.clock = Some(Arc::new(clock));
            self
        }

        /// Whether to send the body hash as `x-amz-content-sha256` (default
        /// true). The hash is signed either way; AWS's test vectors omit the
        /// header.
        pub fn content_sha256_header(mut self, on: bool) -> Self {
            self.content_sha256_header = on;
            self
        }

        /// Check the settings and build the signer. Credentials are looked
        /// up on the first [`RequestSigner::sign`], not here.
        pub fn build(self) -> Result<SigV4Signer, SignError> {
            let environment = self.environment.unwrap_or_else(AwsEnvironment::process);
            let clock = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
            let region = costetl_aws::environment::region(&self.config.region, &environment)?
                .ok_or_else(|| {
                    permanent(
                        "no AWS region: set `region` in the sigv4 settings (for AMP, the \
                         <region> of https://aps-workspaces.<region>.amazonaws.com) or \
                         AWS_REGION"
                            .to_owned(),
                    )
                })?;
            let service = self.config.service.trim().to_owned();
            if service.is_empty() {
                return Err(permanent(
                    "the SigV4 service name is empty (AMP's is \"aps\")".to_owned(),
                ));
            }
            let chain = CredentialChain::new(
                &chain_config(&self.config),
                &region,
                environment,
                self.credentials,
                clock.clone(),
            )?;
            Ok(SigV4Signer {
                region,
                service,
                content_sha256_header: self.content_sha256_header,
                chain,
                clock,
            })
        }
    }

    /// The credential part of the signer's settings.
    fn chain_config(config: &SigV4Config) -> ChainConfig {
        ChainConfig {
            profile: config.profile.clone(),
            role_arn: config.role_arn.clone(),
            role_session_name: config.role_session_name.clone(),
            external_id: config.external_id.clone(),
            sts_endpoint: None,
        }
    }

    impl SigV4Signer {
        /// A signer for `config` with credentials from the standard chain
        /// of the process environment.
        pub fn new(config: SigV4Config) -> Result<Self, SignError> {
            Self::builder(config).build()
        }

        /// Same as [`SigV4Signer::new`].
        pub fn from_config(config: SigV4Config) -> Result<Self, SignError> {
            Self::new(config)
        }

        /// A signer with fixed credentials (the region must be in `config`
        /// or the process environment).
        pub fn with_static_credentials(
            config: SigV4Config,
            credentials: StaticCredentials,
        ) -> Result<Self, SignError> {
            Self::builder(config)
                .static_credentials(credentials)
                .build()
        }

        /// Options beyond the config: environment, clock, credentials.
        pub fn builder(config: SigV4Config) -> SigV4SignerBuilder {
            SigV4SignerBuilder {
                config,
                environment: None,
                credentials: None,
                clock: None,
                content_sha256_header: true,
            }
        }

        /// The region requests are signed for.
        pub fn region(&self) -> &str {
            &self.region
        }

        /// The service name requests are signed for.
        pub fn service(&self) -> &str {
            &self.service
        }

        /// Resolve credentials now (or take the cached ones) and describe
        /// them, e.g. for a `diagnose` command.
        pub async fn credentials_info(&self) -> Result<CredentialsInfo, SignError> {
            Ok(self.chain.credentials().await?.info())
        }

        async fn sign_request(&self, request: &mut reqwest::Request) -> Result<(), SignError> {
            let resolved = self.chain.credentials().await?;
            costetl_aws::sign_request(
                request,
                resolved.credentials(),
                &self.region,
                &self.service,
                (self.clock)(),
                self.content_sha256_header,
            )?;
            Ok(())
        }
    }

    impl RequestSigner for SigV4Signer {
        fn sign<'a>(&'a self, request: &'a mut reqwest::Request) -> SignFuture<'a> {
            Box::pin(self.sign_request(request))
        }
    }

    /// A permanent [`SignError`].
    fn permanent(message: String) -> SignError {
        SignError {
            message,
            transient: false,
        }
    }
}
