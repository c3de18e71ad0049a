//! The ETL store against real parts: a local directory, a real
//! S3-compatible server on 127.0.0.1 (moto's), and DuckDB reading the files
//! the store wrote.

mod common;

use std::path::Path;
use std::process::Command;

use chrono::TimeDelta;
use costetl_core::etl::{Decision, EtlKey, OverwritePolicy, Resolution, SCHEMA_VERSION};
use costetl_core::testing::day;
use costetl_core::{AllocationSet, Warning, WarningKind, Window};
use costetl_store::{EtlStore, Migrated, S3Config, StoreConfig, StoreError};
use costetl_testkit::{S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, S3Server};

use common::{
    a_missing_bucket_is_named, bucket_holds_the_fleet, cluster_set, good_build_replaces_unreadable,
    meta, rt, start, write_fleet, written,
};

fn local(dir: &Path) -> EtlStore {
    EtlStore::open(&StoreConfig {
        url: format!("file://{}", dir.display()),
        ..StoreConfig::default()
    })
    .unwrap()
}

/// Every file under `dir`, relative, sorted.
/// Every file under `dir` but the writers' lock file at its root.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| f != ".costetl.lock");
    out.sort();
    out
}

#[test]
fn local_files_round_trip_in_the_partitioned_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    rt().block_on(async {
        write_fleet(&store, &["prod-eu", "prod-us"], 2, None).await;
        assert_eq!(store.clusters().await.unwrap(), ["prod-eu", "prod-us"]);
        let keys = store.list("prod-eu", Resolution::Daily).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].window, day(start(0)));
        assert!(
            store
                .list("prod-eu", Resolution::Hourly)
                .await
                .unwrap()
                .is_empty()
        );

        let want = cluster_set("prod-us", 1, 2.1);
        let key = EtlKey::new("prod-us", Resolution::Daily, day(start(1))).unwrap();
        let (got, m) = store.get(&key).await.unwrap().expect("stored");
        assert_eq!(got, want);
        assert_eq!(m, meta(&want, "prod-us"));
        let absent = EtlKey::new("prod-us", Resolution::Daily, day(start(5))).unwrap();
        assert!(store.get(&absent).await.unwrap().is_none());
    });
    // Exactly the four files, in their cluster and day partitions: no
    // staging files left behind.
    assert_eq!(
        files(dir.path()),
        [
            "allocations/resolution=1d/cluster=prod-eu/day=2023-11-14/1699920000-1700006400.parquet",
            "allocations/resolution=1d/cluster=prod-eu/day=2023-11-15/1700006400-1700092800.parquet",
            "allocations/resolution=1d/cluster=prod-us/day=2023-11-14/1699920000-1700006400.parquet",
            "allocations/resolution=1d/cluster=prod-us/day=2023-11-15/1700006400-1700092800.parquet",
        ]
    );
}

#[test]
fn worse_builds_never_replace_good_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let good = cluster_set("prod-eu", 0, 1.0);
    let key = EtlKey::new("prod-eu", Resolution::Daily, good.window()).unwrap();
    let path = dir.path().join(key.path());
    rt().block_on(async {
        let policy = OverwritePolicy::default();
        let out = store
            .put(&good, &meta(&good, "prod-eu"), &policy)
            .await
            .unwrap();
        assert!(written(&out.decision));
        let stored = std::fs::read(&path).unwrap();

        // Prometheus' retention ran out: the rebuild is empty.
        let empty = AllocationSet::new(good.window());
        let out = store
            .put(&empty, &meta(&empty, "prod-eu"), &policy)
            .await
            .unwrap();
        assert!(!written(&out.decision), "{:?}", out.decision);
        // Half the pods gone: fewer container-hours.
        let mut partial = AllocationSet::new(good.window());
        for a in good.iter().take(good.len() / 2) {
            partial.insert(a.clone());
        }
        let out = store
            .put(&partial, &meta(&partial, "prod-eu"), &policy)
            .await
            .unwrap();
        let Decision::Keep { reason } = &out.decision else {
            panic!("{:?}", out.decision)
        };
        assert!(reason.contains("container-hours"), "{reason}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            stored,
            "the good file is untouched"
        );

        // Forced, the partial build is written; a full one then repairs it.
        let force = OverwritePolicy {
            force: true,
            ..OverwritePolicy::default()
        };
        let out = store
            .put(&partial, &meta(&partial, "prod-eu"), &force)
            .await
            .unwrap();
        assert!(written(&out.decision));
        assert_eq!(store.get(&key).await.unwrap().unwrap().0, partial);
        let out = store
            .put(&good, &meta(&good, "prod-eu"), &policy)
            .await
            .unwrap();
        assert!(written(&out.decision), "{:?}", out.decision);
        assert_eq!(store.get(&key).await.unwrap().unwrap().0, good);

        // A corrupt file is reported by get and replaced by the next build.
        std::fs::write(&path, b"PAR1 not really").unwrap();
        let err = store.get(&key).await.unwrap_err();
        assert!(matches!(err, StoreError::Format { .. }), "{err}");
        assert!(err.to_string().contains(&key.path()), "{err}");
        let out = store
            .put(&good, &meta(&good, "prod-eu"), &policy)
            .await
            .unwrap();
        let Decision::Write { reason } = &out.decision else {
            panic!("{:?}", out.decision)
        };
        assert!(reason.contains("unreadable"), "{reason}");
        assert_eq!(store.get(&key).await.unwrap().unwrap().0, good);
    });
}

#[test]
fn federated_load_merges_clusters_and_names_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let clusters = ["a", "b", "c"];
    rt().block_on(async {
        let total = write_fleet(&store, &clusters, 3, Some(("c", 1))).await;
        let range = Window::new(start(0), start(3)).unwrap();
        let loaded = store.load(None, Resolution::Daily, range).await.unwrap();
        assert_eq!(loaded.range.sets.len(), 3);
        assert_eq!(loaded.metas.len(), 8);
        let missing = EtlKey::new("c", Resolution::Daily, day(start(1))).unwrap();
        assert_eq!(loaded.missing, [missing]);
        // Conservation: the fleet's files add up to what was written.
        let got = loaded.range.total_cost();
        assert!((got - total).abs() < 1e-9 * total, "{got} vs {total}");
        for (i, set) in loaded.range.sets.iter().enumerate() {
            let want: f64 = clusters
                .iter()
                .enumerate()
                .filter(|(_, c)| !(**c == "c" && i == 1))
                .map(|(ci, c)| {
                    cluster_set(c, i as i64, 1.0 + ci as f64 + i as f64 / 10.0).total_cost()
                })
                .sum();
            assert!((set.total_cost() - want).abs() < 1e-9, "day {i}");
            assert_eq!(set.window(), day(start(i as i64)));
        }

        // Only some clusters; a range outside the files gives empty sets
        // and names every file as missing.
        let only = ["b".to_owned()];
        let loaded = store
            .load(Some(&only), Resolution::Daily, range)
            .await
            .unwrap();
        assert!(
            loaded
                .range
                .sets
                .iter()
                .flat_map(|s| s.iter())
                .all(|a| a.properties.cluster == "b")
        );
        let later = Window::new(start(10), start(12)).unwrap();
        let loaded = store.load(None, Resolution::Daily, later).await.unwrap();
        assert_eq!(loaded.range.total_cost(), 0.0);
        assert_eq!(loaded.missing.len(), 6);

        // A range not aligned to days is a typed error.
        let odd = Window::new(start(0) + TimeDelta::hours(3), start(1)).unwrap();
        let err = store.load(None, Resolution::Daily, odd).await.unwrap_err();
        assert!(matches!(err, StoreError::Format { .. }), "{err}");
    });
}

/// `EtlStore::query` (file by file) gives what loading the range and
/// running the query on it gives, with shared idle (per cluster) and with a
/// shared namespace (merged per window first), accumulated or per day; a
/// missing and a damaged file are warnings on their days, counted apart.
#[test]
fn a_fleet_query_read_file_by_file_is_the_loaded_query() {
    use costetl_core::aggregate::AggregationOptions;
    use costetl_core::{Accumulate, AggregationProperty, AllocationQuery};
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let clusters = ["a", "b", "c"];
    rt().block_on(async {
        write_fleet(&store, &clusters, 3, Some(("c", 1))).await;
        let damaged = EtlKey::new("b", Resolution::Daily, day(start(2))).unwrap();
        let path = dir.path().join(damaged.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let range = Window::new(start(0), start(3)).unwrap();
        for (share_namespaces, accumulate) in [
            (vec![], Accumulate::All),
            (vec![], Accumulate::None),
            (vec!["kube-system".to_owned()], Accumulate::All),
        ] {
            let query = AllocationQuery {
                window: Some(range),
                include_idle: true,
                aggregate: Some(vec![AggregationProperty::Namespace]),
                options: AggregationOptions {
                    share_idle: true,
                    share_namespaces,
                    ..AggregationOptions::default()
                },
                accumulate,
            };
            let read = store
                .query(None, Resolution::Daily, range, &query)
                .await
                .unwrap();
            assert_eq!((read.files, read.missing, read.damaged), (8, 1, 1));
            let loaded = store.load(None, Resolution::Daily, range).await.unwrap();
            let want = query.run(loaded.range.sets).unwrap();
            assert_eq!(read.reports.len(), want.len());
            for (got, want) in read.reports.iter().zip(&want) {
                assert_eq!(got.set.window(), want.set.window());
                let names =
                    |s: &AllocationSet| s.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
                assert_eq!(names(&got.set), names(&want.set));
                for a in want.set.iter() {
                    let g = got.set.get(&a.name).unwrap().total_cost();
                    assert!(
                        (g - a.total_cost()).abs() < 1e-9,
                        "{}: {g} vs {}",
                        a.name,
                        a.total_cost()
                    );
                }
            }
            let kinds: Vec<WarningKind> = (read.reports.iter())
                .flat_map(|r| &r.set.warnings)
                .map(|w| w.kind)
                .collect();
            assert!(kinds.contains(&WarningKind::MissingFile), "{kinds:?}");
            assert!(kinds.contains(&WarningKind::DamagedFile), "{kinds:?}");
        }
    });
}

/// The store's TOML configuration of `s3`'s bucket under `prefix`.
fn moto(s3: &S3Server, prefix: &str) -> StoreConfig {
    StoreConfig {
        url: format!("s3://{}/{prefix}", s3.bucket()),
        s3: S3Config {
            endpoint: Some(s3.url()),
            region: Some(S3_REGION.into()),
            access_key_id: Some(S3_ACCESS_KEY_ID.into()),
            secret_access_key: Some(S3_SECRET_ACCESS_KEY.into()),
            allow_http: true,
            ..S3Config::default()
        },
        ..StoreConfig::default()
    }
}

#[test]
fn s3_bucket_holds_the_fleet_under_a_prefix() {
    let s3 = S3Server::start("costetl-etl").unwrap();
    let cfg = moto(&s3, "fleet-a");
    let store = EtlStore::open(&cfg).unwrap();
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(s3.bucket())
        .with_endpoint(s3.url())
        .with_region(S3_REGION)
        .with_access_key_id(S3_ACCESS_KEY_ID)
        .with_secret_access_key(S3_SECRET_ACCESS_KEY)
        .with_allow_http(true)
        .build()
        .unwrap();
    rt().block_on(async {
        bucket_holds_the_fleet(&store, &raw, "fleet-a").await;
        // Another prefix of the same bucket is another store.
        let other = EtlStore::open(&moto(&s3, "fleet-b")).unwrap();
        assert!(other.clusters().await.unwrap().is_empty());
    });
    // moto accepts any key, so an unknown bucket stands for a bad address.
    a_missing_bucket_is_named(&cfg, "s3://no-such-bucket/x", "no-such-bucket");
}

#[test]
fn bad_store_urls_are_config_errors() {
    for url in ["", "s3://", "gs://", "az://", "ftp://host/dir"] {
        let err = EtlStore::open(&StoreConfig {
            url: url.into(),
            ..StoreConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, StoreError::Config { .. }), "{url:?}: {err}");
    }
}

/// DuckDB reads the fleet the store wrote, with a glob over clusters, and
/// sums to the same totals.
#[test]
fn duckdb_reads_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let clusters = ["a", "b", "c"];
    let total = rt().block_on(write_fleet(&store, &clusters, 2, None));
    let glob = format!(
        "{}/allocations/resolution=1d/*/*/*.parquet",
        dir.path().display()
    );
    let sql = format!(
        "SELECT cluster, count(*) AS n, sum(total_cost) AS cost, \
                min(window_start)::VARCHAR AS first, sum(len(services)) AS services \
         FROM read_parquet('{glob}') GROUP BY cluster ORDER BY cluster"
    );
    let script = format!(
        "import duckdb, json\n\
         rows = duckdb.sql({sql:?}).fetchall()\n\
         print(json.dumps([[r[0], r[1], r[2], r[3]] for r in rows]))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs (bash .ci/run installs duckdb with pip)");
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, u64, f64, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        clusters
    );
    let per_cluster = cluster_set("a", 0, 1.0).len() as u64 * 2;
    let mut sum = 0.0;
    for (i, (c, n, cost, first)) in rows.iter().enumerate() {
        assert_eq!(*n, per_cluster, "{c}");
        let want: f64 = (0..2)
            .map(|d| cluster_set(c, d, 1.0 + i as f64 + d as f64 / 10.0).total_cost())
            .sum();
        assert!((cost - want).abs() < 1e-9, "{c}: {cost} vs {want}");
        assert!(first.starts_with("2023-11-14 00:00:00"), "{c}: {first}");
        sum += cost;
    }
    assert!((sum - total).abs() < 1e-9 * total);
}

/// `stored` lists every file with its meta (or why it is unreadable) for
/// the sync planner; `delete` removes files, twice without error.
#[test]
fn stored_metas_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    rt().block_on(async {
        write_fleet(&store, &["a", "b"], 2, None).await;
        let stored = store.stored(Resolution::Daily).await.unwrap();
        let keys: Vec<String> = stored
            .iter()
            .map(|(k, _)| format!("{}@{}", k.cluster, k.window.start().format("%d")))
            .collect();
        assert_eq!(keys, ["a@14", "a@15", "b@14", "b@15"]);
        for (key, meta) in &stored {
            let meta = meta.as_ref().unwrap();
            assert_eq!(&meta.key().unwrap(), key);
            assert!(meta.complete && meta.allocations > 0);
        }
        assert!(store.stored(Resolution::Hourly).await.unwrap().is_empty());

        // A corrupt file, and a file copied under another key, are listed
        // as unreadable with the reason.
        let path = |k: &EtlKey| dir.path().join(k.path());
        let (a14, a15, b14) = (&stored[0].0, &stored[1].0, &stored[2].0);
        std::fs::write(path(a14), b"PAR1 not really").unwrap();
        std::fs::copy(path(a15), path(b14)).unwrap();
        let stored = store.stored(Resolution::Daily).await.unwrap();
        let reason = |i: usize| stored[i].1.as_ref().err().cloned().unwrap_or_default();
        assert!(!reason(0).is_empty(), "{:?}", stored[0].1);
        assert!(stored[1].1.is_ok());
        assert!(reason(2).contains("meta describes a 1d"), "{}", reason(2));

        // A footer longer than the first ranged read (3,000 warnings in
        // the meta) is read with a second one.
        let mut noisy = cluster_set("c", 0, 1.0);
        noisy.warnings = (0..3000)
            .map(|i| {
                let node = format!("c-node-{i}");
                let text = format!("node {node} has no price series: default prices used");
                Warning::new(WarningKind::DefaultPrices, text).node("c", node)
            })
            .collect();
        let noisy_meta = meta(&noisy, "c");
        store
            .put(&noisy, &noisy_meta, &OverwritePolicy::default())
            .await
            .unwrap();
        let size = std::fs::metadata(path(&noisy_meta.key().unwrap()))
            .unwrap()
            .len();
        let listed = store.stored(Resolution::Daily).await.unwrap();
        let (_, got) = listed.iter().find(|(k, _)| k.cluster == "c").unwrap();
        assert_eq!(got.as_ref().unwrap(), &noisy_meta, "file of {size} bytes");
        assert!(size > 150_000, "{size}");
        // and put decides against it from its footer: an empty rebuild is kept out.
        let empty = AllocationSet::new(noisy.window());
        let out = store
            .put(&empty, &meta(&empty, "c"), &OverwritePolicy::default())
            .await
            .unwrap();
        assert!(!written(&out.decision), "{:?}", out.decision);
        store.delete(&noisy_meta.key().unwrap()).await.unwrap();

        // A zero-byte object at a key (an interrupted foreign upload) is
        // unreadable, and a good build replaces it.
        std::fs::write(path(a14), b"").unwrap();
        let listed = store.stored(Resolution::Daily).await.unwrap();
        assert!(listed[0].1.is_err(), "{:?}", listed[0].1);
        good_build_replaces_unreadable(&store, "a", 0).await;

        store.delete(a14).await.unwrap();
        store.delete(a14).await.unwrap();
        assert_eq!(
            store.list("a", Resolution::Daily).await.unwrap(),
            std::slice::from_ref(a15)
        );
        assert_eq!(store.stored(Resolution::Daily).await.unwrap().len(), 3);
    });
}

/// A rolling upgrade must not downgrade the fleet: a file written by a
/// newer costetl (a newer schema version in its footer) is kept, whatever
/// an older build holds, unless forced.
#[test]
fn files_of_a_newer_schema_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let set = cluster_set("a", 0, 1.0);
    let m = meta(&set, "a");
    let path = dir.path().join(m.key().unwrap().path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // The footer's `costetl.schema_version` value becomes the next one.
    let (this, next) = (SCHEMA_VERSION.to_string(), (SCHEMA_VERSION + 1).to_string());
    assert_eq!((this.len(), next.len()), (1, 1), "a one-digit edit");
    let mut bytes = costetl_parquet::encode(&set, &m).unwrap();
    let key = b"costetl.schema_version";
    let at = bytes
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("the version key is in the footer")
        + key.len();
    let digit = at
        + (bytes[at..at + 4].iter())
            .position(|&b| b == this.as_bytes()[0])
            .unwrap();
    bytes[digit] = next.as_bytes()[0];
    std::fs::write(&path, &bytes).unwrap();
    rt().block_on(async {
        let out = store
            .put(&set, &m, &OverwritePolicy::default())
            .await
            .unwrap();
        assert!(!written(&out.decision), "{:?}", out.decision);
        assert!(
            out.decision
                .reason()
                .contains(&format!("schema version {next}, newer")),
            "{:?}",
            out.decision
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the newer file is untouched"
        );
        let force = OverwritePolicy {
            force: true,
            ..OverwritePolicy::default()
        };
        assert!(written(
            &store.put(&set, &m, &force).await.unwrap().decision
        ));
    });
}

/// A cluster id holding `/` (an EKS ARN, common as a cluster label) is one
/// directory, `%2F` for the slash, beside the other clusters; the store
/// lists it under its own id and reads it back.
#[test]
fn cluster_ids_with_slashes_are_stored_beside_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let arn = "arn:aws:eks:us-east-1:123456789012:cluster/prod";
    rt().block_on(async {
        write_fleet(&store, &[arn, "plain"], 1, None).await;
        assert_eq!(store.clusters().await.unwrap(), [arn, "plain"]);
        let keys = store.list(arn, Resolution::Daily).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].cluster, arn);
        let (got, m) = store.get(&keys[0]).await.unwrap().expect("stored");
        assert_eq!(m.cluster, arn);
        assert_eq!(got, cluster_set(arn, 0, 1.0));
    });
    assert_eq!(
        files(dir.path()),
        [
            "allocations/resolution=1d/cluster=arn:aws:eks:us-east-1:123456789012:cluster%2Fprod/day=2023-11-14/1699920000-1700006400.parquet",
            "allocations/resolution=1d/cluster=plain/day=2023-11-14/1699920000-1700006400.parquet",
        ]
    );
}

/// Two writers of one directory store (two processes, or two stores in
/// one): the comparison and the write happen under the store's lock, so a
/// worse build racing a better one over an unreadable file never ends up
/// stored. Each round starts both at once over a damaged file.
#[test]
fn concurrent_writers_never_leave_the_worse_build() {
    let dir = tempfile::tempdir().unwrap();
    let good = cluster_set("a", 0, 1.0);
    let worse = cluster_set("a", 0, 0.5);
    let key = meta(&good, "a").key().unwrap();
    let path = dir.path().join(key.path());
    let policy = OverwritePolicy::default();
    for round in 0..40 {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"PAR1 damaged").unwrap();
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for set in [&good, &worse] {
                let (barrier, policy, root) = (&barrier, &policy, dir.path());
                s.spawn(move || {
                    let store = local(root);
                    barrier.wait();
                    rt().block_on(store.put(set, &meta(set, "a"), policy))
                        .unwrap();
                });
            }
        });
        let stored = rt()
            .block_on(local(dir.path()).get(&key))
            .unwrap()
            .unwrap()
            .0;
        assert!(
            stored == good,
            "round {round}: the worse build was left stored"
        );
    }
    // Nothing but the file and the lock: no staging files left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [path.file_name().unwrap().to_str().unwrap()]);
}

/// Kubecost's `federated-store.yaml`, as a fleet has it in its secret,
/// reaches the bucket: the same files as the TOML configuration, under
/// its `prefix`.
#[test]
fn kubecost_federated_store_yaml_reaches_the_bucket() {
    let s3 = S3Server::start("kubecost-etl").unwrap();
    let endpoint = s3.url();
    let host = endpoint.strip_prefix("http://").unwrap();
    let yaml = format!(
        r#"type: S3
prefix: fleet
config:
  bucket: "{bucket}"
  endpoint: "{host}"
  region: "{S3_REGION}"
  access_key: "{S3_ACCESS_KEY_ID}"
  secret_key: "{S3_SECRET_ACCESS_KEY}"
  insecure: true
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
"#,
        bucket = s3.bucket()
    );
    let cfg = costetl_store::from_objstore_yaml(&yaml).unwrap();
    assert_eq!(cfg.url, format!("s3://{}/fleet", s3.bucket()));
    let store = EtlStore::open(&cfg).unwrap();
    rt().block_on(async {
        let total = write_fleet(&store, &["prod-eu"], 1, None).await;
        let same = EtlStore::open(&moto(&s3, "fleet")).unwrap();
        let range = Window::new(start(0), start(1)).unwrap();
        let loaded = same.load(None, Resolution::Daily, range).await.unwrap();
        assert!((loaded.range.total_cost() - total).abs() < 1e-9 * total.abs().max(1.0));
        assert_eq!(loaded.metas.len(), 1);
    });
}

/// A store of the layout costetl wrote before schema version 2: reads
/// and syncs refuse it (a reader of the new layout would miss its files),
/// `migrate` moves its files and markers through the overwrite policy,
/// leaves a damaged file and other tools' files alone, and a second run
/// has nothing left to do but name the damaged file.
#[test]
fn a_legacy_store_is_refused_until_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(dir.path());
    let v1 = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etl/allocations-v1.parquet"),
    )
    .unwrap();
    let (fixture_set, fixture_meta) = costetl_parquet::decode(&v1).unwrap();
    let key = fixture_meta.key().unwrap();
    let next = EtlKey::new(&key.cluster, Resolution::Daily, day(key.window.end())).unwrap();
    let after = EtlKey::new(&key.cluster, Resolution::Daily, day(next.window.end())).unwrap();
    let put = |rel: String, bytes: &[u8]| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put(key.legacy_path(), &v1);
    put(next.legacy_path().replace(".parquet", ".pending"), b"");
    let mut damaged = v1.clone();
    damaged[200] ^= 0xff;
    put(after.legacy_path(), &damaged);
    let bingen = format!("federated/{}/etl/bingen/allocations/1d/x", key.cluster);
    put(bingen.clone(), b"kubecost's own");

    rt().block_on(async {
        let refused = store
            .load(None, Resolution::Daily, key.window)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, StoreError::LegacyLayout { objects: 3, .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("costetl etl migrate"),
            "{refused}"
        );
        assert!(store.inventory(Resolution::Daily, false).await.is_err());

        let done = store.migrate(&OverwritePolicy::default()).await.unwrap();
        let outcomes: Vec<(&str, &EtlKey)> = (done.iter())
            .map(|m| match m {
                Migrated::Moved { key, decision } => {
                    assert!(written(decision), "{decision:?}");
                    ("moved", key)
                }
                Migrated::Marker(key) => ("marker", key),
                Migrated::Damaged { key, .. } => ("damaged", key),
            })
            .collect();
        assert_eq!(
            outcomes,
            [("moved", &key), ("marker", &next), ("damaged", &after)]
        );
        // The same content, now a version-2 file in its partition.
        let (set, meta) = store.get(&key).await.unwrap().expect("moved");
        assert_eq!(set, fixture_set);
        assert_eq!(meta.schema_version, SCHEMA_VERSION);
        assert_eq!(
            (meta.producer.as_str(), meta.built_at),
            (fixture_meta.producer.as_str(), fixture_meta.built_at)
        );
        assert_eq!(
            store.pending(Resolution::Daily).await.unwrap(),
            std::slice::from_ref(&next)
        );

        // The damaged file still blocks reads until someone removes it.
        let again = store.migrate(&OverwritePolicy::default()).await.unwrap();
        assert!(matches!(&again[..], [Migrated::Damaged { key, .. }] if *key == after));
        assert!(
            store
                .load(None, Resolution::Daily, key.window)
                .await
                .is_err()
        );
        std::fs::remove_file(dir.path().join(after.legacy_path())).unwrap();
        let loaded = store
            .load(None, Resolution::Daily, key.window)
            .await
            .unwrap();
        assert_eq!(loaded.range.total_cost(), 82.0);
    });
    assert!(!dir.path().join(key.legacy_path()).exists());
    assert!(dir.path().join(&bingen).exists(), "other tools' files stay");
}
