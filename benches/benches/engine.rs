//! Criterion benchmarks of the engine on a generated large cluster-day
//! (300 nodes, 10,000 pods, 20,000 containers; see `docs/benchmarks.md`).
//! The bodies are both rounds of queries, the plan and the follow-ups the
//! engine asks for after it; every stage below works on both.
//!
//! `cargo bench -p costetl-benches`

use std::hint::black_box;
use std::time::Duration;

use costetl_benches::{Day, Scale, aggregate_namespace_idle, decode_all, end_to_end, generate};
use costetl_core::{engine, promjson};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

fn day() -> Day {
    let day = generate(&Scale::LARGE);
    assert!(
        day.unknown_queries.is_empty(),
        "the generator does not cover queries {:?} of the plan or its follow-ups",
        day.unknown_queries
    );
    day
}

fn benches(c: &mut Criterion) {
    let day = day();
    let bytes = day.total_bytes() as u64;
    // Every group: 10 flat samples over ~10 s (each iteration takes 0.1–1 s),
    // so the suite runs in a few minutes on 2 cores.

    let mut g = c.benchmark_group("decode");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("promjson_all_bodies", |b| {
        b.iter(|| {
            for (q, body) in &day.bodies {
                black_box(promjson::decode(&q.id, black_box(body)).unwrap());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("serde_json_baseline");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("value", |b| {
        b.iter(|| {
            for (_, body) in &day.bodies {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap());
            }
        })
    });
    g.bench_function("ignored_any", |b| {
        b.iter(|| {
            for (_, body) in &day.bodies {
                black_box(
                    serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).unwrap(),
                );
            }
        })
    });
    g.finish();

    let results = decode_all(&day.bodies).unwrap();
    let mut g = c.benchmark_group("compute");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(day.containers as u64));
    g.bench_function("join_price_idle", |b| {
        b.iter(|| black_box(engine::compute(day.window, black_box(&results), &day.cfg).unwrap()))
    });
    g.finish();

    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    drop(results);
    let mut g = c.benchmark_group("aggregate_namespace_idle");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(set.len() as u64));
    g.bench_function("share_idle", |b| {
        b.iter(|| black_box(aggregate_namespace_idle(black_box(&set)).unwrap()))
    });
    g.finish();
    drop(set);

    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("bytes_to_namespace_costs", |b| {
        b.iter(|| black_box(end_to_end(black_box(&day)).unwrap()))
    });
    g.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
