//! The store's `az://` backend against Azure Blob Storage's own emulator,
//! Azurite, on 127.0.0.1: object_store's Azure client with the account's
//! SharedKey, reached through `[store.azure]` settings and through a
//! Kubecost `federated-store.yaml` of `type: AZURE`. The same checks as
//! the S3 bucket's (`common::bucket_holds_the_fleet`): list, load, the
//! overwrite policy (`If-Match` replacements), two racing writers
//! (`If-None-Match: *`), a zero-byte blob, delete.

mod common;

use costetl_core::Window;
use costetl_core::etl::Resolution;
use costetl_store::{AzureConfig, EtlStore, StoreConfig};
use costetl_testkit::{AZURITE_ACCESS_KEY, AZURITE_ACCOUNT, AzuriteServer};

use common::{a_missing_bucket_is_named, bucket_holds_the_fleet, rt, start, write_fleet};

/// The store's TOML configuration of `az`'s container under `prefix`.
fn azurite(az: &AzuriteServer, prefix: &str) -> StoreConfig {
    StoreConfig {
        url: format!("az://{}/{prefix}", az.container()),
        azure: AzureConfig {
            account: AZURITE_ACCOUNT.into(),
            access_key: Some(AZURITE_ACCESS_KEY.into()),
            endpoint: Some(az.blob_endpoint()),
            allow_http: true,
        },
        ..StoreConfig::default()
    }
}

#[test]
fn azure_container_holds_the_fleet_under_a_prefix() {
    let az = AzuriteServer::start("costetl-etl").unwrap();
    let cfg = azurite(&az, "fleet-a");
    let store = EtlStore::open(&cfg).unwrap();
    // The container without the store, to put a zero-byte blob.
    let raw = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_access_key(AZURITE_ACCESS_KEY)
        .with_endpoint(az.blob_endpoint())
        .with_container_name(az.container())
        .with_allow_http(true)
        .build()
        .unwrap();
    rt().block_on(async {
        bucket_holds_the_fleet(&store, &raw, "fleet-a").await;
        let other = EtlStore::open(&azurite(&az, "fleet-b")).unwrap();
        assert!(other.clusters().await.unwrap().is_empty());
    });
    a_missing_bucket_is_named(&cfg, "az://no-such-container/x", "no-such-container");
}

/// Kubecost's `federated-store.yaml` of `type: AZURE` reaches the
/// container: the same files as the TOML configuration, under its
/// `prefix`. Its `endpoint` is a URL here: Thanos takes only a host
/// suffix (`https://<account>.<endpoint>`), which cannot name Azurite's
/// `http://127.0.0.1:<port>/<account>`.
#[test]
fn kubecost_federated_store_yaml_reaches_the_container() {
    let az = AzuriteServer::start("kubecost-etl").unwrap();
    let yaml = format!(
        r#"type: AZURE
prefix: fleet
config:
  storage_account: "{AZURITE_ACCOUNT}"
  storage_account_key: "{AZURITE_ACCESS_KEY}"
  container: "{container}"
  endpoint: "{endpoint}"
  max_retries: 0
  http_config:
    idle_conn_timeout: 90s
"#,
        container = az.container(),
        endpoint = az.blob_endpoint(),
    );
    let cfg = costetl_store::from_objstore_yaml(&yaml).unwrap();
    assert_eq!(cfg.url, format!("az://{}/fleet", az.container()));
    let store = EtlStore::open(&cfg).unwrap();
    rt().block_on(async {
        let total = write_fleet(&store, &["prod-eu"], 1, None).await;
        let same = EtlStore::open(&azurite(&az, "fleet")).unwrap();
        let range = Window::new(start(0), start(1)).unwrap();
        let loaded = same.load(None, Resolution::Daily, range).await.unwrap();
        assert!((loaded.range.total_cost() - total).abs() < 1e-9 * total.abs().max(1.0));
        assert_eq!(loaded.metas.len(), 1);
    });
}
