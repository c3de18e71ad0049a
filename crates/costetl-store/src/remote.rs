//! The object stores behind `s3://`, `gs://` and `az://` URLs, built from
//! a [`StoreConfig`]: settings the config gives, the rest from each
//! cloud's standard environment: for S3 credentials costetl's AWS chain
//! (`crate::aws`), for GCS and Azure object_store's own chains.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;

use costetl_aws::AwsEnvironment;

use crate::Result;
use crate::aws::ChainCredentials;
use crate::config::StoreConfig;
use crate::error::StoreError;

/// The store and the root path `url` names, or `None` for a URL that is
/// not a cloud bucket (a directory).
pub(crate) fn open(url: &str, cfg: &StoreConfig) -> Result<Option<(Arc<dyn ObjectStore>, Path)>> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(None);
    };
    let build = match scheme {
        "s3" => s3,
        "gs" => gcs,
        "az" | "azure" => azure,
        _ => return Ok(None),
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(config(format!("{url}: no bucket name")));
    }
    // reqwest is built without a rustls provider of its own (the adapter
    // picks ring explicitly); https to a cloud needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = build(bucket, cfg).map_err(|e| config(format!("{url}: {e}")))?;
    let root = Path::parse(prefix).map_err(|e| config(format!("{url}: {e}")))?;
    Ok(Some((store, root)))
}

fn config(message: String) -> StoreError {
    StoreError::Config { message }
}

type Built = object_store::Result<Arc<dyn ObjectStore>>;

fn client(allow_http: bool, allow_invalid_certificates: bool) -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_allow_http(allow_http)
        .with_allow_invalid_certificates(allow_invalid_certificates)
}

fn s3(bucket: &str, cfg: &StoreConfig) -> Built {
    let s3 = &cfg.s3;
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_client_options(client(s3.allow_http, s3.allow_invalid_certificates));
    if let Some(endpoint) = &s3.endpoint {
        b = b
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(s3.virtual_hosted_style);
    }
    if let Some(region) = &s3.region {
        b = b.with_region(region);
    }
    if let Some(id) = &s3.access_key_id {
        b = b.with_access_key_id(id);
    }
    if let Some(secret) = &s3.secret_access_key {
        b = b.with_secret_access_key(secret);
    }
    if let Some(token) = &s3.session_token {
        b = b.with_token(token);
    }
    if s3.access_key_id.is_none() && s3.secret_access_key.is_none() {
        let chain = ChainCredentials::new(s3, AwsEnvironment::process()).map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        b = b.with_credentials(Arc::new(chain));
    }
    Ok(Arc::new(b.build()?))
}

fn gcs(bucket: &str, cfg: &StoreConfig) -> Built {
    let g = &cfg.gcs;
    let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
    if let Some(key) = &g.service_account_key {
        b = b.with_service_account_key(key);
    }
    if let Some(endpoint) = &g.endpoint {
        b = b
            .with_base_url(endpoint)
            .with_client_options(client(endpoint.starts_with("http://"), false));
    }
    Ok(Arc::new(b.build()?))
}

fn azure(container: &str, cfg: &StoreConfig) -> Built {
    let a = &cfg.azure;
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_container_name(container)
        .with_client_options(client(a.allow_http, false));
    if !a.account.is_empty() {
        b = b.with_account(&a.account);
    }
    if let Some(key) = &a.access_key {
        b = b.with_access_key(key);
    }
    if let Some(endpoint) = &a.endpoint {
        b = b.with_endpoint(endpoint.clone());
    }
    Ok(Arc::new(b.build()?))
}
