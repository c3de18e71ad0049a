//! Runs the benchmark's end-to-end path once on the generated large day
//! (both rounds: the plan and its follow-ups) and reports the input size
//! and the resident memory (Linux `/proc/self/status`) of the process that
//! runs it.
//!
//! Generating the day decodes the plan's bodies to ask the engine for its
//! follow-ups, and glibc keeps that freed memory. So this process only
//! generates the bodies and writes them to a temporary directory; child
//! processes (this binary, `--measure <mode> <dir>`) run decode + compute +
//! aggregate on a clean heap, in two modes:
//!
//! - `streamed`, as the engine's driver runs: each body is read and decoded
//!   on its own (a rayon task per body, as the driver decodes a body when
//!   it arrives) and dropped once decoded, so at most one body per thread
//!   is resident besides the decoded results;
//! - `resident`, as the criterion benchmark runs: every body is read first
//!   and stays resident through the run (the peak counts them all).
//!
//! `cargo run --release -p costetl-benches --bin peak-rss [-- --per-query] [--scale 30k|60k]`

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use chrono::DateTime;
use costetl_benches::{Scale, aggregate_namespace_idle, decode_all, generate, reset_peak_rss, rss};
use costetl_core::engine::Results;
use costetl_core::plan::EngineConfig;
use costetl_core::promjson::{self, QueryResult};
use costetl_core::source::{QueryKind, QuerySpec};
use costetl_core::{Window, engine};
use rayon::prelude::*;

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

fn series(b: &[u8]) -> usize {
    b.windows(10).filter(|w| w == br#"{"metric":"#).count()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, mode, dir] = args.as_slice()
        && flag == "--measure"
    {
        let streamed = match mode.as_str() {
            "streamed" => true,
            "resident" => false,
            other => {
                eprintln!("--measure takes streamed or resident, not {other:?}");
                return ExitCode::from(2);
            }
        };
        measure(Path::new(dir), streamed);
        return ExitCode::SUCCESS;
    }
    let per_query = args.iter().any(|a| a == "--per-query");
    let scale = match args
        .iter()
        .position(|a| a == "--scale")
        .map(|i| args.get(i + 1))
    {
        None => Scale::LARGE,
        Some(Some(s)) if s == "30k" => Scale::FLEET_30K,
        Some(Some(s)) if s == "60k" => Scale::FLEET_60K,
        Some(other) => {
            eprintln!(
                "--scale takes 30k or 60k (default: the 20,000-container day), not {other:?}"
            );
            return ExitCode::from(2);
        }
    };
    let dir = write_day(&scale, per_query);
    let mut code = ExitCode::SUCCESS;
    for mode in ["streamed", "resident"] {
        println!("\n== {mode}");
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--measure", mode])
            .arg(&dir)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("the measuring process ({mode}) failed: {status:?}");
            code = ExitCode::FAILURE;
        }
    }
    let _ = fs::remove_dir_all(&dir);
    code
}

/// Generates the day, reports its shape, and writes the bodies to a
/// temporary directory, one file each, with a manifest: the window and the
/// node cost, then `<file> <query id>` per body.
fn write_day(scale: &Scale, per_query: bool) -> PathBuf {
    let t = Instant::now();
    let day = generate(scale);
    let generated = t.elapsed();
    let bytes = day.total_bytes();
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
    let followups = day.followups();
    let followup_bytes: usize = followups.iter().map(|(_, b)| b.len()).sum();
    println!(
        "  the plan: {} queries, {} bytes; follow-ups: {} queries, {} series, {} bytes",
        day.first_round,
        bytes - followup_bytes,
        followups.len(),
        followups.iter().map(|(_, b)| series(b)).sum::<usize>(),
        followup_bytes,
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
    assert_eq!(
        day.cfg,
        EngineConfig::default(),
        "the measuring process computes with the default configuration"
    );

    let dir = std::env::temp_dir().join(format!("costetl-peak-rss-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("a temporary directory");
    let mut manifest = format!(
        "{} {} {}\n",
        day.window.start().timestamp(),
        day.window.end().timestamp(),
        day.node_cost
    );
    for (i, (q, b)) in day.bodies.iter().enumerate() {
        let file = format!("{i:04}.json");
        fs::write(dir.join(&file), b).expect("a body written");
        manifest.push_str(&format!("{file} {}\n", q.id));
    }
    fs::write(dir.join("manifest"), manifest).expect("the manifest written");
    drop(day);
    dir
}

/// The child: decode the bodies (streamed from their files, or read first
/// and kept), then compute and aggregate them once, reporting resident
/// memory at each stage.
fn measure(dir: &Path, streamed: bool) {
    report("start");
    let manifest = fs::read_to_string(dir.join("manifest")).expect("the manifest");
    let mut lines = manifest.lines();
    let head: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    let time = |s: &str| DateTime::from_timestamp(s.parse().expect("unix seconds"), 0).unwrap();
    let window = Window::new(time(head[0]), time(head[1])).expect("the day");
    let node_cost: f64 = head[2].parse().expect("the node cost");
    let cfg = EngineConfig::default();
    let files: Vec<(QuerySpec, PathBuf)> = lines
        .map(|l| {
            let (file, id) = l.split_once(' ').expect("<file> <id>");
            let spec = QuerySpec {
                id: id.to_owned(),
                promql: String::new(),
                kind: QueryKind::Instant { time: window.end() },
            };
            (spec, dir.join(file))
        })
        .collect();
    let bytes: usize = files
        .iter()
        .map(|(_, f)| fs::metadata(f).expect("a body").len() as usize)
        .sum();
    let bodies: Vec<(QuerySpec, Vec<u8>)> = if streamed {
        Vec::new()
    } else {
        let read = files
            .iter()
            .map(|(q, f)| (q.clone(), fs::read(f).expect("a body")));
        let bodies = read.collect();
        report("after reading the bodies");
        bodies
    };
    let reset = reset_peak_rss();
    report(if reset {
        "peak reset"
    } else {
        "peak NOT reset (clear_refs)"
    });
    let before = rss().map(|(_, now)| now);

    let t = Instant::now();
    let results = if streamed {
        decode_each(&files)
    } else {
        decode_all(&bodies).expect("bodies decode")
    };
    let t_decode = t.elapsed();
    report("after decode");
    let t = Instant::now();
    let set = engine::compute(window, &results, &cfg).expect("compute");
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
         {} allocations, {} namespaces, total ${:.2} (node cost ${node_cost:.2})",
        set.len(),
        agg.set.len(),
        agg.set.total_cost(),
    );
    if let (Some(before), Some((hwm, _))) = (before, rss()) {
        println!(
            "input {} ; peak RSS {} ({:.2}× the input) ; peak above the RSS before decode {} \
             ({:.2}× the input)",
            mib(bytes as u64),
            mib(hwm),
            hwm as f64 / bytes as f64,
            mib(hwm.saturating_sub(before)),
            hwm.saturating_sub(before) as f64 / bytes as f64
        );
    }
}

/// Each body read from its file, decoded and dropped, a rayon task per
/// body (the driver's `fetch` decodes each body as it arrives).
fn decode_each(files: &[(QuerySpec, PathBuf)]) -> Results {
    let decoded: Vec<(String, QueryResult)> = files
        .par_iter()
        .map(|(q, f)| {
            let body = fs::read(f).expect("a body");
            let r = promjson::decode(&q.id, &body).expect("a body decodes");
            (q.id.clone(), r)
        })
        .collect();
    let mut results = Results::default();
    for (id, r) in decoded {
        results.insert(id, r);
    }
    results
}
