//! Criterion benchmarks at fleet scale (issue 13): the generated day at
//! 30,000 and 60,000 containers (`Scale::FLEET_30K`, `Scale::FLEET_60K`),
//! each stage and end to end, against the fixed reference parse
//! (`costetl_benches::reference`: serde_json into borrowed structs of the
//! response shape), plus the day's ETL file. Ratios come from one run;
//! threads from `RAYON_NUM_THREADS` (run it with 1 and with 2).
//!
//! `cargo bench -p costetl-benches --bench fleet`

use std::hint::black_box;
use std::time::Duration;

use costetl_benches::{
    Scale, aggregate_namespace_idle, decode_all, end_to_end, generate, reference,
};
use costetl_core::engine;
use costetl_core::etl::{EtlKey, EtlMeta, Resolution};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .sampling_mode(SamplingMode::Flat);
    g
}

fn scale(c: &mut Criterion, name: &str, scale: &Scale) {
    let day = generate(scale);
    assert!(day.unknown_queries.is_empty(), "{:?}", day.unknown_queries);
    let bytes = day.total_bytes() as u64;
    eprintln!(
        "{name}: {} containers, {} nodes, {} queries, {bytes} response bytes, {} threads",
        day.containers,
        day.nodes,
        day.bodies.len(),
        rayon_threads()
    );

    let mut g = group(c, name);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("reference_parse", |b| {
        b.iter(|| black_box(reference::parse_all(black_box(&day.bodies))))
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(decode_all(black_box(&day.bodies)).unwrap()))
    });
    let results = decode_all(&day.bodies).unwrap();
    g.bench_function("compute", |b| {
        b.iter(|| black_box(engine::compute(day.window, black_box(&results), &day.cfg).unwrap()))
    });
    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    drop(results);
    g.bench_function("aggregate", |b| {
        b.iter(|| black_box(aggregate_namespace_idle(black_box(&set)).unwrap()))
    });
    g.bench_function("end_to_end", |b| {
        b.iter(|| black_box(end_to_end(black_box(&day)).unwrap()))
    });

    let key = EtlKey::new("bench-1", Resolution::Daily, set.window()).unwrap();
    let meta = EtlMeta::describe(&set, &key, "costetl-bench", set.window().end());
    let file = costetl_parquet::encode(&set, &meta).unwrap();
    eprintln!(
        "{name}: ETL file {} bytes for {} allocations ({:.0} bytes each)",
        file.len(),
        set.len(),
        file.len() as f64 / set.len() as f64
    );
    g.bench_function("etl_encode", |b| {
        b.iter(|| black_box(costetl_parquet::encode(black_box(&set), &meta).unwrap()))
    });
    g.bench_function("etl_decode", |b| {
        b.iter(|| black_box(costetl_parquet::decode(black_box(&file)).unwrap()))
    });
    g.finish();
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".to_owned())
}

fn benches(c: &mut Criterion) {
    scale(c, "fleet_30k", &Scale::FLEET_30K);
    scale(c, "fleet_60k", &Scale::FLEET_60K);
}

criterion_group!(fleet_benches, benches);
criterion_main!(fleet_benches);
