//! S3 credentials from costetl's AWS chain (`costetl-aws`: environment,
//! `AWS_PROFILE` and the shared files, web identity for IRSA, container,
//! instance metadata), the same chain the Prometheus adapter signs AMP
//! queries with, handed to object_store as its `CredentialProvider`.
//! object_store's own chain ignores `AWS_PROFILE` and the shared files.

use std::sync::{Arc, Mutex};

use costetl_aws::{AwsEnvironment, ChainConfig, CredentialChain, Resolved};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;

use crate::config::S3Config;

/// The region object_store assumes when none is configured.
const DEFAULT_REGION: &str = "us-east-1";

/// A [`CredentialProvider`] over a [`CredentialChain`].
#[derive(Debug)]
pub(crate) struct ChainCredentials {
    chain: CredentialChain,
    /// The last credentials handed out, kept while the chain returns the
    /// same ones (object_store asks before every request).
    last: Mutex<Option<(Arc<Resolved>, Arc<AwsCredential>)>>,
}

impl ChainCredentials {
    /// The chain for `cfg`'s profile, role and STS endpoint, reading
    /// `environment`; STS calls go to `cfg`'s region (else `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, `us-east-1`).
    pub(crate) fn new(
        cfg: &S3Config,
        environment: AwsEnvironment,
    ) -> Result<Self, costetl_aws::AwsError> {
        let region = costetl_aws::environment::region(
            cfg.region.as_deref().unwrap_or_default(),
            &environment,
        )?
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let config = ChainConfig {
            profile: cfg.profile.clone(),
            role_arn: cfg.role_arn.clone(),
            sts_endpoint: cfg.sts_endpoint.clone(),
            ..ChainConfig::default()
        };
        let clock = Arc::new(std::time::SystemTime::now);
        Ok(Self {
            chain: CredentialChain::new(&config, &region, environment, None, clock)?,
            last: Mutex::new(None),
        })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let resolved =
            self.chain
                .credentials()
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "S3",
                    source: Box::new(e),
                })?;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((r, c)) = last.as_ref()
            && Arc::ptr_eq(r, &resolved)
        {
            return Ok(c.clone());
        }
        let info = resolved.info();
        tracing::info!(
            source = %info.source,
            access_key_id = %info.access_key_id,
            "S3 credentials from {} (access key {})",
            info.source,
            info.access_key_id
        );
        let c = resolved.credentials();
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_owned(),
            secret_key: c.secret_access_key().to_owned(),
            token: c.session_token().map(str::to_owned),
        });
        *last = Some((resolved, credential.clone()));
        Ok(credential)
    }
}
