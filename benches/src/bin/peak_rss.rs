//! Runs the benchmark's end-to-end path once on the generated large day
//! (both rounds: the plan and its follow-ups) and reports the input size
//! and the resident memory (Linux `/proc/self/status`) of the process that
//! runs it.
//!
//! Generating the day decodes the plan's bodies to ask the engine for its
//! follow-ups, and glibc keeps that freed memory. So this process only
//! generates the bodies and writes them to a temporary directory; a child
//! process (this binary, `--measure <dir>`) reads them back into a clean
//! heap, resets its peak (`VmHWM`) and runs decode + compute + aggregate:
//! the reported peak is theirs with the input bytes resident.
//!
//! `cargo run --release -p costetl-benches --bin peak-rss [-- --per-query] [--scale 30k|60k]`

use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use chrono::DateTime;
use costetl_benches::{Scale, aggregate_namespace_idle, decode_all, generate, reset_peak_rss, rss};
use costetl_core::plan::EngineConfig;
use costetl_core::source::{QueryKind, QuerySpec};
use costetl_core::{Window, engine};

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
    if let [flag, dir] = args.as_slice()
        && flag == "--measure"
    {
        measure(Path::new(dir));
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
    let t = Instant::now();
    let day = generate(&scale);
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

    // The bodies, one file each, and a manifest: the window and the node
    // cost, then `<file> <query id>` per body.
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
    let status = Command::new(std::env::current_exe().expect("this binary"))
        .arg("--measure")
        .arg(&dir)
        .status();
    let _ = fs::remove_dir_all(&dir);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        other => {
            eprintln!("the measuring process failed: {other:?}");
            ExitCode::FAILURE
        }
    }
}

/// The child: read the bodies, then decode, compute and aggregate them
/// once, reporting resident memory at each stage.
fn measure(dir: &Path) {
    report("start");
    let manifest = fs::read_to_string(dir.join("manifest")).expect("the manifest");
    let mut lines = manifest.lines();
    let head: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    let time = |s: &str| DateTime::from_timestamp(s.parse().expect("unix seconds"), 0).unwrap();
    let window = Window::new(time(head[0]), time(head[1])).expect("the day");
    let node_cost: f64 = head[2].parse().expect("the node cost");
    let cfg = EngineConfig::default();
    let bodies: Vec<(QuerySpec, Vec<u8>)> = lines
        .map(|l| {
            let (file, id) = l.split_once(' ').expect("<file> <id>");
            let spec = QuerySpec {
                id: id.to_owned(),
                promql: String::new(),
                kind: QueryKind::Instant { time: window.end() },
            };
            (spec, fs::read(dir.join(file)).expect("a body"))
        })
        .collect();
    let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    report("after reading the bodies");
    let reset = reset_peak_rss();
    report(if reset {
        "peak reset"
    } else {
        "peak NOT reset (clear_refs)"
    });
    let before = rss().map(|(_, now)| now);

    let t = Instant::now();
    let results = decode_all(&bodies).expect("bodies decode");
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
            "input {} ; peak RSS {} ; peak above the RSS before decode {} ({:.2}× the input)",
            mib(bytes as u64),
            mib(hwm),
            mib(hwm.saturating_sub(before)),
            hwm.saturating_sub(before) as f64 / bytes as f64
        );
    }
}
