//! Runs the benchmark's end-to-end path once on the generated large day
//! and reports the input size and this process's resident memory (Linux
//! `/proc/self/status`): the peak (`VmHWM`) is reset after the bodies are
//! generated, so the reported peak is that of decode + compute + aggregate
//! with the input bytes resident.
//!
//! `cargo run --release -p costetl-benches --bin peak-rss [-- --per-query]`

use std::time::Instant;

use costetl_benches::{Scale, aggregate_namespace_idle, decode_all, generate, reset_peak_rss, rss};
use costetl_core::engine;

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn report(stage: &str) {
    match rss() {
        Some((hwm, now)) => println!(
            "{stage:<28} VmRSS {:>11}   VmHWM {:>11}",
            mib(now),
            mib(hwm)
        ),
        None => println!("{stage:<28} (no /proc/self/status)"),
    }
}

fn main() {
    let per_query = std::env::args().any(|a| a == "--per-query");
    report("start");
    let t = Instant::now();
    let day = generate(&Scale::LARGE);
    let generated = t.elapsed();
    let bytes = day.total_bytes();
    let series = |b: &[u8]| b.windows(10).filter(|w| w == br#"{"metric":"#).count();
    let total_series: usize = day.bodies.iter().map(|(_, b)| series(b)).sum();
    println!(
        "generated {} queries, {} series, {} bytes ({}) for {} containers on {} nodes in {:.2?}",
        day.bodies.len(),
        total_series,
        bytes,
        mib(bytes as u64),
        day.containers,
        day.nodes,
        generated
    );
    if !day.unknown_queries.is_empty() {
        println!(
            "WARNING: queries the generator does not know (empty bodies): {:?}",
            day.unknown_queries
        );
    }
    if per_query {
        for (q, b) in &day.bodies {
            println!(
                "  {:<24} {:>7} series {:>11} bytes",
                q.id,
                series(b),
                b.len()
            );
        }
    }
    report("after generation");
    let reset = reset_peak_rss();
    report(if reset {
        "peak reset"
    } else {
        "peak NOT reset (clear_refs)"
    });
    let before = rss().map(|(_, now)| now);

    let t = Instant::now();
    let results = decode_all(&day.bodies).expect("bodies decode");
    let t_decode = t.elapsed();
    report("after decode");
    let t = Instant::now();
    let set = engine::compute(day.window, &results, &day.cfg).expect("compute");
    let t_compute = t.elapsed();
    report("after compute");
    let t = Instant::now();
    let agg = aggregate_namespace_idle(&set).expect("aggregate");
    let t_aggregate = t.elapsed();
    report("after aggregate");
    drop(results);
    report("after dropping Results");

    println!(
        "one run: decode {t_decode:.2?}, compute {t_compute:.2?}, aggregate {t_aggregate:.2?}; \
         {} allocations, {} namespaces, total ${:.2} (node cost ${:.2})",
        set.len(),
        agg.set.len(),
        agg.set.total_cost(),
        day.node_cost
    );
    if let (Some(before), Some((hwm, _))) = (before, rss()) {
        println!(
            "input {} ; peak RSS {} ; peak above the RSS before decode {} ({:.2}× the input)",
            mib(bytes as u64),
            mib(hwm),
            mib(hwm.saturating_sub(before)),
            hwm.saturating_sub(before) as f64 / bytes as f64
        );
    }
}
