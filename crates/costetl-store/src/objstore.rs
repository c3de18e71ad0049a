//! Kubecost's store configuration, unchanged: the `federated-store.yaml`
//! (Thanos objstore YAML) a Kubecost fleet already has in its secret, read
//! into a [`StoreConfig`]. `type: S3|GCS|AZURE`, `config: {…}`, optional
//! `prefix`. Every documented key is known: those costetl uses are mapped,
//! those that tune Go's HTTP client or tracing are accepted and ignored
//! (listed in `docs/etl.md`), and those that would change what is written
//! in a way costetl cannot honour are refused by name. Unknown keys are
//! errors, as Kubecost's strict parse makes them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::{AzureConfig, GcsConfig, S3Config, StoreConfig};
use crate::error::StoreError;

/// The file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Objstore {
    #[serde(rename = "type")]
    kind: String,
    config: serde_norway::Value,
    #[serde(default)]
    prefix: String,
}

/// Go's HTTP client settings: accepted; only `insecure_skip_verify` has a
/// counterpart.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct HttpConfig {
    idle_conn_timeout: Option<serde_norway::Value>,
    response_header_timeout: Option<serde_norway::Value>,
    insecure_skip_verify: bool,
    tls_handshake_timeout: Option<serde_norway::Value>,
    expect_continue_timeout: Option<serde_norway::Value>,
    max_idle_conns: Option<u64>,
    max_idle_conns_per_host: Option<u64>,
    max_conns_per_host: Option<u64>,
    tls_config: Option<serde_norway::Value>,
    disable_compression: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Trace {
    enable: bool,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Sse {
    #[serde(rename = "type")]
    kind: String,
    kms_key_id: Option<String>,
    kms_encryption_context: Option<BTreeMap<String, String>>,
    encryption_key: Option<String>,
}

/// `type: S3` (the OpenCost fork of Thanos' S3 config).
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct S3 {
    bucket: String,
    endpoint: String,
    region: Option<String>,
    aws_sdk_auth: bool,
    access_key: Option<String>,
    secret_key: Option<String>,
    session_token: Option<String>,
    insecure: bool,
    signature_version2: bool,
    put_user_metadata: BTreeMap<String, String>,
    http_config: HttpConfig,
    trace: Trace,
    list_objects_version: Option<String>,
    bucket_lookup_type: Option<String>,
    send_content_md5: Option<bool>,
    disable_multipart: Option<bool>,
    part_size: Option<u64>,
    sse_config: Option<Sse>,
    sts_endpoint: Option<String>,
}

/// `type: GCS`.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Gcs {
    bucket: String,
    service_account: Option<String>,
    http_config: HttpConfig,
    use_grpc: Option<bool>,
    grpc_conn_pool_size: Option<u64>,
    chunk_size_bytes: Option<u64>,
    max_retries: Option<u64>,
}

/// `type: AZURE`.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Azure {
    storage_account: String,
    storage_account_key: Option<String>,
    storage_connection_string: Option<String>,
    container: String,
    endpoint: Option<String>,
    max_retries: Option<u64>,
    msi_resource: Option<String>,
    user_assigned_id: Option<String>,
    http_config: HttpConfig,
    reader_config: Option<serde_norway::Value>,
    pipeline_config: Option<serde_norway::Value>,
}

/// Read a `federated-store.yaml` (or `object-store.yaml`) into a store
/// configuration.
///
/// # Errors
///
/// [`StoreError::Config`] naming the key: YAML that does not parse, an
/// unknown `type` or key, a missing bucket, or a setting costetl cannot
/// honour (`signature_version2: true`, SSE-C, user metadata other than
/// the bucket-owner ACL, an Azure connection string or managed identity).
pub fn from_objstore_yaml(text: &str) -> Result<StoreConfig, StoreError> {
    let top: Objstore = parse(text, "")?;
    let prefix = top.prefix.trim_matches('/');
    match top.kind.to_ascii_uppercase().as_str() {
        "S3" => s3(parse_value(top.config, "config")?, prefix),
        "GCS" => gcs(parse_value(top.config, "config")?, prefix),
        "AZURE" => azure(parse_value(top.config, "config")?, prefix),
        other => Err(config(format!(
            "type {other:?} is not supported (S3, GCS or AZURE)"
        ))),
    }
}

fn config(message: String) -> StoreError {
    StoreError::Config {
        message: format!("federated-store.yaml: {message}"),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, at: &str) -> Result<T, StoreError> {
    serde_norway::from_str(text).map_err(|e| config(format!("{at}{e}")))
}

fn parse_value<T: for<'de> Deserialize<'de>>(
    v: serde_norway::Value,
    at: &str,
) -> Result<T, StoreError> {
    serde_norway::from_value(v).map_err(|e| config(format!("{at}: {e}")))
}

/// `scheme://bucket[/prefix]`.
fn url(scheme: &str, bucket: &str, prefix: &str) -> Result<String, StoreError> {
    if bucket.trim().is_empty() {
        return Err(config("config: no bucket (container) name".into()));
    }
    Ok(match prefix {
        "" => format!("{scheme}://{bucket}"),
        p => format!("{scheme}://{bucket}/{p}"),
    })
}

fn s3(c: S3, prefix: &str) -> Result<StoreConfig, StoreError> {
    refuse_s3_settings(&c)?;
    // AWS' own endpoints are the default: the region picks the host.
    let aws = c.endpoint.is_empty()
        || (c.endpoint.starts_with("s3.") && c.endpoint.ends_with(".amazonaws.com"));
    let scheme = if c.insecure { "http" } else { "https" };
    let endpoint = (!aws).then(|| match c.endpoint.contains("://") {
        true => c.endpoint.clone(),
        false => format!("{scheme}://{}", c.endpoint),
    });
    Ok(StoreConfig {
        url: url("s3", &c.bucket, prefix)?,
        s3: S3Config {
            allow_http: endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
            virtual_hosted_style: c.bucket_lookup_type.as_deref() == Some("virtual-hosted"),
            endpoint,
            region: c.region.filter(|r| !r.is_empty()),
            access_key_id: c.access_key.filter(|k| !k.is_empty()),
            secret_access_key: c.secret_key.filter(|k| !k.is_empty()),
            session_token: c.session_token.filter(|k| !k.is_empty()),
            sts_endpoint: c.sts_endpoint.filter(|k| !k.is_empty()),
            allow_invalid_certificates: c.http_config.insecure_skip_verify,
            ..S3Config::default()
        },
        ..StoreConfig::default()
    })
}

/// The S3 settings whose meaning costetl cannot keep, refused by name
/// rather than silently dropped.
fn refuse_s3_settings(c: &S3) -> Result<(), StoreError> {
    if c.signature_version2 {
        return Err(config(
            "config.signature_version2: true is not supported (AWS Signature V4 only)".into(),
        ));
    }
    // The seed's bucket-owner ACL is what a bucket with object ownership
    // "bucket owner enforced" (the AWS default since 2023) does anyway.
    for (k, v) in &c.put_user_metadata {
        let owner_acl = k.eq_ignore_ascii_case("x-amz-acl") && v == "bucket-owner-full-control";
        if !owner_acl {
            return Err(config(format!(
                "config.put_user_metadata {k:?}: only \"X-Amz-Acl\": \
                 \"bucket-owner-full-control\" is supported"
            )));
        }
    }
    if let Some(sse) = &c.sse_config
        && !sse.kind.is_empty()
        && sse.kind != "SSE-S3"
    {
        return Err(config(format!(
            "config.sse_config.type {:?}: only SSE-S3 (the bucket's default encryption) is \
             supported",
            sse.kind
        )));
    }
    Ok(())
}

fn gcs(c: Gcs, prefix: &str) -> Result<StoreConfig, StoreError> {
    Ok(StoreConfig {
        url: url("gs", &c.bucket, prefix)?,
        gcs: GcsConfig {
            service_account_key: c.service_account.filter(|k| !k.trim().is_empty()),
            ..GcsConfig::default()
        },
        ..StoreConfig::default()
    })
}

fn azure(c: Azure, prefix: &str) -> Result<StoreConfig, StoreError> {
    if c.storage_connection_string.is_some() || c.msi_resource.is_some() {
        return Err(config(
            "config.storage_connection_string and msi_resource are not supported: give \
             storage_account and storage_account_key, or none for the Azure environment \
             (AZURE_* variables, workload identity)"
                .into(),
        ));
    }
    if c.storage_account.trim().is_empty() {
        return Err(config("config.storage_account is missing".into()));
    }
    // Thanos' `endpoint` is the account's host suffix: the container is at
    // `https://<account>.<endpoint>/<container>` (a sovereign cloud's
    // `blob.core.chinacloudapi.cn`). A URL is taken as the account's blob
    // endpoint as it is, an extension for emulators (Azurite's
    // `http://127.0.0.1:10000/devstoreaccount1`), which a suffix cannot name.
    let endpoint = c
        .endpoint
        .filter(|e| !e.is_empty() && e != "blob.core.windows.net")
        .map(|e| match e.contains("://") {
            true => e,
            false => format!("https://{}.{}", c.storage_account, e.trim_matches('.')),
        });
    Ok(StoreConfig {
        url: url("az", &c.container, prefix)?,
        azure: AzureConfig {
            account: c.storage_account,
            access_key: c.storage_account_key.filter(|k| !k.is_empty()),
            allow_http: endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
            endpoint,
        },
        ..StoreConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's `federated-store.yaml`, verbatim but for the variables.
    const SEED: &str = r#"
type: S3
config:
  bucket: "kc-fleet"
  endpoint: "s3.amazonaws.com"
  region: "us-west-2"
  insecure: false
  signature_version2: false
  put_user_metadata:
      "X-Amz-Acl": "bucket-owner-full-control"
  http_config:
    idle_conn_timeout: 90s
    response_header_timeout: 2m
    insecure_skip_verify: false
  trace:
    enable: true
  part_size: 134217728
"#;

    #[test]
    fn the_seed_file_reads_as_an_aws_bucket() {
        let c = from_objstore_yaml(SEED).unwrap();
        assert_eq!(c.url, "s3://kc-fleet");
        assert_eq!(c.s3.endpoint, None, "AWS' endpoint is the region's default");
        assert_eq!(c.s3.region.as_deref(), Some("us-west-2"));
        assert!(!c.s3.allow_http && c.s3.access_key_id.is_none());
    }

    #[test]
    fn s3_compatible_servers_prefixes_and_keys() {
        let yaml = "type: s3\nprefix: /fleet/\nconfig:\n  bucket: b\n  endpoint: 127.0.0.1:9000\n  \
                    insecure: true\n  access_key: AK\n  secret_key: SK\n";
        let c = from_objstore_yaml(yaml).unwrap();
        assert_eq!(c.url, "s3://b/fleet");
        assert_eq!(c.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(c.s3.allow_http);
        assert_eq!(c.s3.access_key_id.as_deref(), Some("AK"));
        assert_eq!(c.s3.secret_access_key.as_deref(), Some("SK"));
    }

    #[test]
    fn gcs_and_azure() {
        let c = from_objstore_yaml("type: GCS\nconfig:\n  bucket: g\n  service_account: '{}'\n")
            .unwrap();
        assert_eq!(
            (c.url.as_str(), c.gcs.service_account_key.as_deref()),
            ("gs://g", Some("{}"))
        );
        let c = from_objstore_yaml(
            "type: AZURE\nprefix: p\nconfig:\n  storage_account: acct\n  storage_account_key: \
             k\n  container: c\n  endpoint: blob.core.windows.net\n",
        )
        .unwrap();
        assert_eq!(c.url, "az://c/p");
        assert_eq!(c.azure.account, "acct");
        assert_eq!(c.azure.endpoint, None);
        // Another cloud's suffix is a host under it; a URL stays one.
        let endpoint = |e: &str| {
            let yaml = format!(
                "type: AZURE\nconfig: {{storage_account: acct, container: c, endpoint: '{e}'}}\n"
            );
            let c = from_objstore_yaml(&yaml).unwrap();
            // object_store takes it (a bare suffix is no URL to it).
            crate::EtlStore::open(&c).unwrap();
            (c.azure.endpoint.unwrap(), c.azure.allow_http)
        };
        assert_eq!(
            endpoint("blob.core.chinacloudapi.cn"),
            ("https://acct.blob.core.chinacloudapi.cn".into(), false)
        );
        assert_eq!(
            endpoint("http://127.0.0.1:10000/acct"),
            ("http://127.0.0.1:10000/acct".into(), true)
        );
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        let err = |yaml: &str| from_objstore_yaml(yaml).unwrap_err().to_string();
        let e = err("type: S3\nconfig:\n  bucket: b\n  bucket_name: typo\n");
        assert!(e.contains("bucket_name"), "{e}");
        let e = err("type: S3\nconfig: {bucket: b}\nextra: 1\n");
        assert!(e.contains("extra"), "{e}");
        let e = err("type: FILESYSTEM\nconfig: {directory: /x}\n");
        assert!(e.contains("FILESYSTEM"), "{e}");
        let e = err("type: S3\nconfig: {bucket: b, signature_version2: true}\n");
        assert!(e.contains("signature_version2"), "{e}");
        let e = err("type: S3\nconfig: {bucket: b, sse_config: {type: SSE-C}}\n");
        assert!(e.contains("SSE-C"), "{e}");
        let e = err("type: S3\nconfig: {endpoint: x}\n");
        assert!(e.contains("no bucket"), "{e}");
        let e = err("type: S3\nconfig: [\n");
        assert!(
            e.starts_with("ETL store configuration: federated-store.yaml:"),
            "{e}"
        );
    }
}
