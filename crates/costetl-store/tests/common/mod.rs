//! Helpers the store's test binaries share: OpenCost's mock allocations
//! as a fleet of clusters and days, the runtime, and the checks every
//! bucket backend (S3, Azure) must pass.

// Each test binary uses its own part of these.
#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use costetl_core::etl::{Decision, EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::testing::mock_set;
use costetl_core::{AllocationSet, Window};
use costetl_store::{EtlStore, PutOutcome, StoreConfig, StoreError};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};

pub fn start(day_index: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap() + TimeDelta::days(day_index)
}

/// OpenCost's mock cluster1 allocations, moved to `cluster`, with CPU cost
/// scaled by `scale` so clusters and days differ.
pub fn cluster_set(cluster: &str, day_index: i64, scale: f64) -> AllocationSet {
    let mock = mock_set(start(day_index));
    let mut set = AllocationSet::new(mock.window());
    for a in mock.iter().filter(|a| a.properties.cluster == "cluster1") {
        let mut a = a.clone();
        a.name = a.name.replacen("cluster1", cluster, 1);
        a.properties.cluster = cluster.into();
        a.cpu_cost *= scale;
        set.insert(a);
    }
    assert!(!set.is_empty());
    set
}

pub fn meta(set: &AllocationSet, cluster: &str) -> EtlMeta {
    let key = EtlKey::new(cluster, Resolution::Daily, set.window()).unwrap();
    // Built an hour after the day closed.
    let built = set.window().end() + TimeDelta::hours(1);
    EtlMeta::describe(set, &key, "costetl-test", built)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn written(decision: &Decision) -> bool {
    matches!(decision, Decision::Write { .. })
}

/// Puts `cluster`'s set for `day_index` over a stored file that does not
/// decode, and checks the policy replaced it for that reason.
pub async fn good_build_replaces_unreadable(store: &EtlStore, cluster: &str, day_index: i64) {
    let good = cluster_set(cluster, day_index, 1.0);
    let out = store
        .put(&good, &meta(&good, cluster), &OverwritePolicy::default())
        .await
        .unwrap();
    assert!(
        out.decision.reason().contains("unreadable"),
        "{:?}",
        out.decision
    );
}

/// Writes `clusters` × `days` (skipping `skip`) and returns Σ total cost.
pub async fn write_fleet(
    store: &EtlStore,
    clusters: &[&str],
    days: i64,
    skip: Option<(&str, i64)>,
) -> f64 {
    let mut total = 0.0;
    for (i, c) in clusters.iter().enumerate() {
        for d in 0..days {
            if skip == Some((c, d)) {
                continue;
            }
            let set = cluster_set(c, d, 1.0 + i as f64 + d as f64 / 10.0);
            total += set.total_cost();
            let out = store
                .put(&set, &meta(&set, c), &OverwritePolicy::default())
                .await
                .unwrap();
            assert!(written(&out.decision), "{c} day {d}: {:?}", out.decision);
        }
    }
    total
}

/// The overwrite policy holds in a bucket too: an empty build does not
/// replace a good file, a build with more data does.
pub async fn policy_holds(store: &EtlStore) {
    let good = cluster_set("prod-eu", 0, 1.0);
    let empty = AllocationSet::new(good.window());
    let out = store
        .put(
            &empty,
            &meta(&empty, "prod-eu"),
            &OverwritePolicy::default(),
        )
        .await
        .unwrap();
    assert!(!written(&out.decision), "{:?}", out.decision);
    let key = EtlKey::new("prod-eu", Resolution::Daily, good.window()).unwrap();
    assert_eq!(store.get(&key).await.unwrap().unwrap().0, good);

    // A repair with more data replaces the file (a conditional
    // If-Match PUT against the version just read).
    let more = cluster_set("prod-eu", 0, 3.0);
    let out = store
        .put(&more, &meta(&more, "prod-eu"), &OverwritePolicy::default())
        .await
        .unwrap();
    assert!(written(&out.decision), "{:?}", out.decision);
    assert_eq!(store.get(&key).await.unwrap().unwrap().0, more);
}

/// Two writers racing for a new file (day 7 of prod-eu): one wins, the
/// other is told (If-None-Match), and nothing is silently overwritten.
/// Returns the file's key.
pub async fn racing_writers_one_wins(store: &EtlStore) -> EtlKey {
    let fresh = cluster_set("prod-eu", 7, 1.0);
    let rival = cluster_set("prod-eu", 7, 2.0);
    let policy = OverwritePolicy::default();
    let (fresh_meta, rival_meta) = (meta(&fresh, "prod-eu"), meta(&rival, "prod-eu"));
    let (a, b) = futures::join!(
        store.put(&fresh, &fresh_meta, &policy),
        store.put(&rival, &rival_meta, &policy),
    );
    // Which interleaving happens depends on the server's timing: both
    // read "no file" and race (one PUT loses with a conflict, nothing is
    // overwritten), or one reads the other's file and the policy
    // decides (the rival, with twice the CPU cost, is the better
    // build). Either way exactly one writer created the file. On a loaded
    // server a third: the fresh writer's PUT lands but its answer is
    // lost, the rival reads that file and replaces it (If-Match, by the
    // policy), and the fresh writer's retry conflicts with a file that is
    // no longer its own: it is told, and nobody reports the creation.
    let creates = |o: &PutOutcome| o.decision.reason() == "no file is stored for this window";
    let conflicts = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict { .. })))
        .count();
    let created = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Ok(o) if creates(o)))
        .count();
    let replaced_lost_creation =
        conflicts == 1 && matches!(&b, Ok(o) if written(&o.decision) && !creates(o));
    assert!(
        created == 1 || replaced_lost_creation,
        "one writer creates the file: {a:?} / {b:?}"
    );
    let winner = match (conflicts, &a) {
        (1, Ok(_)) => &fresh,
        (1, Err(_)) => &rival,
        (0, _) => &rival,
        _ => panic!("both writers conflicted: {a:?} / {b:?}"),
    };
    let key7 = EtlKey::new("prod-eu", Resolution::Daily, fresh.window()).unwrap();
    assert_eq!(&store.get(&key7).await.unwrap().unwrap().0, winner);
    key7
}

/// A zero-byte object (day 8 of prod-eu), put under `prefix` through
/// `raw` (the bucket without the store), is read whole (S3 refuses ranges
/// of empty objects), listed as unreadable and replaced by a good build;
/// then deleted.
pub async fn zero_byte_object_is_replaced(store: &EtlStore, raw: &dyn ObjectStore, prefix: &str) {
    let k8 = EtlKey::new(
        "prod-eu",
        Resolution::Daily,
        cluster_set("prod-eu", 8, 1.0).window(),
    )
    .unwrap();
    let object = object_store::path::Path::from(format!("{prefix}/{}", k8.path()));
    raw.put(&object, Vec::<u8>::new().into()).await.unwrap();
    let listed = store.stored(Resolution::Daily).await.unwrap();
    let (_, empty_meta) = listed.iter().find(|(k, _)| *k == k8).unwrap();
    assert!(empty_meta.is_err(), "{empty_meta:?}");
    good_build_replaces_unreadable(store, "prod-eu", 8).await;
    store.delete(&k8).await.unwrap();
}

/// The bucket itself refuses what the store's conditional PUTs count on it
/// to refuse, deterministically (the racing writers may not race): a
/// create over an object that exists, and a replacement against a version
/// that has moved on. The probe object, under `prefix` but outside the
/// store's layout, is deleted after.
pub async fn conditional_puts_are_enforced(raw: &dyn ObjectStore, prefix: &str) {
    let path = object_store::path::Path::from(format!("{prefix}/conditional-probe"));
    let put = |bytes: &'static [u8], mode: PutMode| {
        raw.put_opts(&path, PutPayload::from_static(bytes), mode.into())
    };
    let first = put(b"one", PutMode::Create).await.unwrap();
    let err = put(b"two", PutMode::Create).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::AlreadyExists { .. }),
        "{err}"
    );
    let v1 = UpdateVersion::from(first);
    put(b"two", PutMode::Update(v1.clone())).await.unwrap();
    let err = put(b"three", PutMode::Update(v1)).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::Precondition { .. }),
        "{err}"
    );
    let stored = raw.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&stored[..], b"two");
    raw.delete(&path).await.unwrap();
}

/// What every bucket backend must do, on an empty store whose objects
/// `raw` reaches under `prefix`: enforce conditional PUTs, hold a
/// two-cluster fleet (list, load), keep the overwrite policy, let one of
/// two racing writers win, replace a zero-byte object, and delete.
pub async fn bucket_holds_the_fleet(store: &EtlStore, raw: &dyn ObjectStore, prefix: &str) {
    conditional_puts_are_enforced(raw, prefix).await;
    let total = write_fleet(store, &["prod-eu", "prod-us"], 2, None).await;
    assert_eq!(store.clusters().await.unwrap(), ["prod-eu", "prod-us"]);
    assert_eq!(
        store
            .list("prod-us", Resolution::Daily)
            .await
            .unwrap()
            .len(),
        2
    );
    let range = Window::new(start(0), start(2)).unwrap();
    let loaded = store.load(None, Resolution::Daily, range).await.unwrap();
    assert!(loaded.missing.is_empty());
    assert!((loaded.range.total_cost() - total).abs() < 1e-9 * total);

    policy_holds(store).await;
    let key7 = racing_writers_one_wins(store).await;
    zero_byte_object_is_replaced(store, raw, prefix).await;

    // Pruning deletes from a bucket too; the planner's listing reads
    // every footer.
    store.delete(&key7).await.unwrap();
    let stored = store.stored(Resolution::Daily).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert!(
        stored
            .iter()
            .all(|(k, m)| k.window != key7.window && m.is_ok())
    );
}

/// A store whose bucket (or container) does not exist fails its first
/// write with an error naming it, not a panic or an empty answer.
pub fn a_missing_bucket_is_named(cfg: &StoreConfig, url: &str, bucket: &str) {
    let mut missing = cfg.clone();
    missing.url = url.into();
    let store = EtlStore::open(&missing).unwrap();
    let set = cluster_set("prod-eu", 0, 1.0);
    let err = rt()
        .block_on(store.put(&set, &meta(&set, "prod-eu"), &OverwritePolicy::default()))
        .unwrap_err();
    assert!(matches!(err, StoreError::ObjectStore { .. }), "{err}");
    assert!(err.to_string().contains(bucket), "{err}");
}
