//! Criterion benchmarks of the ETL format and store at fleet scale: the
//! large cluster-day (20,000 containers) encoded to and decoded from one
//! Parquet file, and a 100-cluster store on local disk read back whole
//! (`EtlStore::load`) and listed for a sync (`EtlStore::stored`). See
//! `docs/benchmarks.md`.
//!
//! `cargo bench -p costetl-benches --bench etl`

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use costetl_benches::{Scale, decode_all, generate};
use costetl_core::etl::{EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::{AllocationSet, engine};
use costetl_parquet as etl;
use costetl_store::{EtlStore, StoreConfig};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

/// Clusters in the fleet store.
const FLEET: usize = 100;

fn meta(set: &AllocationSet, cluster: &str) -> EtlMeta {
    let key = EtlKey::new(cluster, Resolution::Daily, set.window()).expect("a daily key");
    let built: DateTime<Utc> = set.window().end();
    EtlMeta::describe(set, &key, "costetl-bench", built)
}

/// The large day's allocations dealt out to `FLEET` clusters by
/// namespace (two namespaces each), names and cluster ids rewritten.
fn fleet(day: &AllocationSet) -> Vec<(String, AllocationSet)> {
    let mut parts: Vec<(String, AllocationSet)> = (0..FLEET)
        .map(|i| (format!("cluster-{i:03}"), AllocationSet::new(day.window())))
        .collect();
    for (i, a) in day.iter().filter(|a| !a.is_idle()).enumerate() {
        let ns = a
            .properties
            .namespace
            .bytes()
            .fold(i, |h, b| h.wrapping_mul(31) + b as usize);
        let (cluster, part) = &mut parts[ns % FLEET];
        let mut a = a.clone();
        a.name = a.name.replacen(&*a.properties.cluster, cluster, 1);
        a.properties.cluster = cluster.as_str().into();
        part.insert(a);
    }
    parts
}

fn benches(c: &mut Criterion) {
    let day = generate(&Scale::LARGE);
    let results = decode_all(&day.bodies).expect("the generated bodies decode");
    let set = engine::compute(day.window, &results, &day.cfg).expect("the day computes");
    drop(results);
    drop(day);
    let cluster = set
        .iter()
        .next()
        .map(|a| a.properties.cluster.clone())
        .expect("a non-empty day");
    let one = meta(&set, &cluster);
    let bytes = etl::encode(&set, &one).expect("the day encodes");

    let mut g = c.benchmark_group("etl_large_day");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(set.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| black_box(etl::encode(black_box(&set), &one).unwrap()))
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(etl::decode(black_box(&bytes)).unwrap()))
    });
    g.bench_function("decode_meta", |b| {
        b.iter(|| black_box(etl::decode_meta(black_box(&bytes)).unwrap()))
    });
    g.finish();
    eprintln!(
        "etl_large_day: {} allocations, {} bytes ({:.0} bytes/allocation)",
        set.len(),
        bytes.len(),
        bytes.len() as f64 / set.len() as f64
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EtlStore::open(&StoreConfig {
        url: dir.path().display().to_string(),
        ..StoreConfig::default()
    })
    .expect("a local store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let parts = fleet(&set);
    let allocations: usize = parts.iter().map(|(_, p)| p.len()).sum();
    rt.block_on(async {
        for (cluster, part) in &parts {
            let out = store
                .put(part, &meta(part, cluster), &OverwritePolicy::default())
                .await
                .expect("the fleet is written");
            assert!(out.decision.is_write());
        }
    });
    drop(parts);

    let mut g = c.benchmark_group("etl_fleet_100_clusters");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(allocations as u64));
    g.bench_function("load_day", |b| {
        b.iter(|| {
            let loaded = rt
                .block_on(store.load(None, Resolution::Daily, set.window()))
                .unwrap();
            assert!(loaded.missing.is_empty());
            black_box(loaded)
        })
    });
    g.throughput(Throughput::Elements(FLEET as u64));
    g.bench_function("stored_metas", |b| {
        b.iter(|| black_box(rt.block_on(store.stored(Resolution::Daily)).unwrap()))
    });
    g.finish();
}

criterion_group!(etl_benches, benches);
criterion_main!(etl_benches);
