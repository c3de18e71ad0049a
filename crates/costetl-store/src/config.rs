//! [`StoreConfig`]: where the ETL store is and how to reach it, as one serde
//! type (the CLI reads it from the `[store]` section of its TOML file).
//!
//! S3 credentials not given here come from costetl's AWS chain (the
//! Prometheus adapter's: `AWS_ACCESS_KEY_ID`…, `AWS_PROFILE` and the shared
//! files, web identity for IRSA, the container and EC2 metadata
//! endpoints); other S3 settings not given here from object_store's
//! `AWS_*` variables (`AWS_REGION`, `AWS_ENDPOINT_URL`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where the store is.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `file:///var/db/costetl`, a plain directory path (created if
    /// missing), `s3://bucket[/prefix]`, `gs://bucket[/prefix]` or
    /// `az://container[/prefix]`.
    pub url: String,
    /// Settings for `s3://` URLs.
    pub s3: S3Config,
    /// Settings for `gs://` URLs.
    pub gcs: GcsConfig,
    /// Settings for `az://` URLs.
    pub azure: AzureConfig,
}

/// How to reach a Google Cloud Storage bucket. Without a key, the
/// environment's (`GOOGLE_APPLICATION_CREDENTIALS`, workload identity).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcsConfig {
    /// A service account key, the JSON itself (hidden in `Debug`).
    pub service_account_key: Option<String>,
    /// Another endpoint (an emulator), e.g. `http://127.0.0.1:9023`.
    pub endpoint: Option<String>,
}

/// How to reach an Azure Blob Storage container. Without a key, the
/// environment's (`AZURE_*` variables, workload identity).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureConfig {
    /// The storage account.
    pub account: String,
    /// Its access key (hidden in `Debug`).
    pub access_key: Option<String>,
    /// Another endpoint (Azurite, a sovereign cloud), e.g.
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: Option<String>,
    /// Allow `http://` endpoints.
    pub allow_http: bool,
}

/// How to reach an S3 or S3-compatible bucket.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`,
    /// `https://gateway.storjshare.io`); none for AWS. Implies path-style
    /// requests unless `virtual_hosted_style`.
    pub endpoint: Option<String>,
    /// Bucket region (default `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Static credentials; none: the AWS credential chain (environment,
    /// profile, web identity, container, instance metadata).
    pub access_key_id: Option<String>,
    /// Secret of `access_key_id` (hidden in `Debug`).
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials (hidden in `Debug`).
    pub session_token: Option<String>,
    /// Take credentials from this profile of the shared AWS files only
    /// (without it, `AWS_PROFILE` or `default` is one step of the chain).
    pub profile: Option<String>,
    /// Assume this role (STS `AssumeRole`) with the chain's credentials,
    /// e.g. a writer role in the account that owns a fleet's bucket.
    pub role_arn: Option<String>,
    /// STS endpoint for web identity and `role_arn` (default
    /// `AWS_ENDPOINT_URL_STS`, else the region's).
    pub sts_endpoint: Option<String>,
    /// Allow `http://` endpoints (a loopback test server, a cluster-local
    /// gateway).
    pub allow_http: bool,
    /// `https://bucket.endpoint/…` instead of `https://endpoint/bucket/…`.
    pub virtual_hosted_style: bool,
    /// Accept any TLS certificate (Thanos' `insecure_skip_verify`): for a
    /// test gateway only.
    pub allow_invalid_certificates: bool,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("s3", &self.s3)
            .field(
                "gcs.service_account_key",
                &hidden(&self.gcs.service_account_key),
            )
            .field("gcs.endpoint", &self.gcs.endpoint)
            .field("azure.account", &self.azure.account)
            .field("azure.access_key", &hidden(&self.azure.access_key))
            .field("azure.endpoint", &self.azure.endpoint)
            .finish()
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("profile", &self.profile)
            .field("role_arn", &self.role_arn)
            .field("sts_endpoint", &self.sts_endpoint)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field(
                "allow_invalid_certificates",
                &self.allow_invalid_certificates,
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let cfg = StoreConfig {
            url: "s3://bucket/etl".into(),
            s3: S3Config {
                access_key_id: Some("AKIDEXAMPLE".into()),
                secret_access_key: Some("wJalrXUtnFEMI".into()),
                session_token: Some("FwoGZXIvYXdz".into()),
                ..S3Config::default()
            },
            gcs: GcsConfig {
                service_account_key: Some("{\"private_key\": \"PEMSECRET\"}".into()),
                endpoint: None,
            },
            azure: AzureConfig {
                account: "acct".into(),
                access_key: Some("AZKEYSECRET".into()),
                ..AzureConfig::default()
            },
        };
        let text = format!("{cfg:?}");
        assert!(
            text.contains("AKIDEXAMPLE") && text.contains("acct"),
            "{text}"
        );
        for secret in ["wJalrXUtnFEMI", "FwoGZXIvYXdz", "PEMSECRET", "AZKEYSECRET"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
