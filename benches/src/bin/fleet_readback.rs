//! Read-back at fleet scale (issue 13): a directory store of `--clusters`
//! clusters × `--days` daily files (default 100 × 30), each cluster a
//! `Scale::FLEET_MEMBER` day (generated, computed by the engine, then
//! renamed and shifted to its cluster and day), queried by namespace with
//! idle shared, as `costetl allocation --store … --aggregate namespace
//! --share-idle` does.
//!
//! Each query runs in a child process (this binary, `--measure <how>
//! <dir> <days>`) whose peak RSS (`VmHWM`) is reset after start-up, on a
//! runtime like the CLI's:
//! - `stream`: `EtlStore::query`, file by file (what the CLI runs),
//!   accumulated over the range (one report);
//! - `stream-per-day`: the same, one report per day (the output itself
//!   grows with the days);
//! - `load` (with `--with-load`; 11 GiB and 90 s at 100 × 30):
//!   `EtlStore::load` of the whole range, then `AllocationQuery::run`
//!   (what the CLI ran before).
//!
//! The goal compares the streamed read's peak with one window's files
//! (the bytes of one day's 100 files); every read prints its total, which
//! must agree. `--store DIR` keeps (and reuses) the store.
//!
//! `cargo run --release -p costetl-benches --bin fleet-readback [-- --clusters 100 --days 30] [--store DIR] [--with-load]`

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use chrono::TimeDelta;
use costetl_benches::{Scale, generate, reset_peak_rss, rss, share_idle};
use costetl_core::etl::{EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::{
    Accumulate, AggregationProperty, Allocation, AllocationQuery, AllocationSet, Report, Window,
    engine,
};
use costetl_store::{EtlStore, StoreConfig};

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, how, dir, days] = args.as_slice()
        && flag == "--measure"
    {
        measure(how, Path::new(dir), days.parse().expect("days"));
        return ExitCode::SUCCESS;
    }
    let clusters: usize =
        arg(&args, "--clusters").map_or(100, |v| v.parse().expect("--clusters N"));
    let days: i64 = arg(&args, "--days").map_or(30, |v| v.parse().expect("--days N"));
    let kept = arg(&args, "--store").map(PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("costetl-readback-{}", std::process::id()))
    });
    let first = first_day();
    if dir.join("allocations").is_dir() {
        println!("reusing the store in {}", dir.display());
    } else {
        build(&dir, clusters, days);
    }
    let window_bytes = bytes_under(&dir, &format!("day={}", first.start().format("%Y-%m-%d")));
    let all_bytes = bytes_under(&dir, "");
    println!(
        "store: {clusters} clusters × {days} days; one window's files {} ({window_bytes} bytes), \
         all files {}",
        mib(window_bytes),
        mib(all_bytes)
    );
    let mut ok = true;
    let hows: &[&str] = if args.iter().any(|a| a == "--with-load") {
        &["stream", "stream-per-day", "load"]
    } else {
        &["stream", "stream-per-day"]
    };
    for how in hows {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--measure", how])
            .arg(&dir)
            .arg(days.to_string())
            .env("COSTETL_WINDOW_BYTES", window_bytes.to_string())
            .status();
        ok &= matches!(status, Ok(s) if s.success());
    }
    if kept.is_none() {
        let _ = fs::remove_dir_all(&dir);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("a measuring process failed");
        ExitCode::FAILURE
    }
}

/// The first day of the store.
fn first_day() -> Window {
    let start = "2026-01-01T00:00:00Z".parse().expect("a time");
    Window::new(start, start + TimeDelta::days(1)).expect("a day")
}

/// Write `clusters` × `days` daily files into `dir`.
fn build(dir: &Path, clusters: usize, days: i64) {
    let t = Instant::now();
    let day = generate(&Scale::FLEET_MEMBER);
    let results = costetl_benches::decode_all(&day.bodies).expect("bodies decode");
    let set = engine::compute(day.window, &results, &day.cfg).expect("compute");
    drop(results);
    let store = EtlStore::open(&config(dir)).expect("a directory store");
    let rt = runtime();
    let first = first_day();
    for d in 0..days {
        let shift = first.start() - day.window.start() + TimeDelta::days(d);
        for c in 0..clusters {
            let moved = rehome(&set, &format!("cluster-{c:03}"), shift);
            let key = EtlKey::new(format!("cluster-{c:03}"), Resolution::Daily, moved.window())
                .expect("a key");
            let meta = EtlMeta::describe(&moved, &key, "fleet-readback", moved.window().end());
            rt.block_on(store.put(&moved, &meta, &OverwritePolicy::default()))
                .expect("a file written");
        }
    }
    println!(
        "built {} files of {} allocations each in {:.1?}",
        clusters as i64 * days,
        set.len(),
        t.elapsed()
    );
}

/// `set` as cluster `cluster`'s, `shift` later.
fn rehome(set: &AllocationSet, cluster: &str, shift: TimeDelta) -> AllocationSet {
    let w = set.window();
    let window = Window::new(w.start() + shift, w.end() + shift).expect("a window");
    let mut out = AllocationSet::new(window);
    for a in set.iter() {
        let mut a: Allocation = a.clone();
        let old = std::mem::replace(&mut a.properties.cluster, cluster.into());
        if let Some(rest) = a.name.strip_prefix(old.as_str()) {
            a.name = format!("{cluster}{rest}");
        }
        a.window = window;
        a.start += shift;
        a.end += shift;
        a.pvs = std::mem::take(&mut a.pvs)
            .into_iter()
            .map(|(mut k, v)| {
                k.cluster = cluster.to_owned();
                (k, v)
            })
            .collect();
        out.insert(a);
    }
    out
}

/// The sum of the sizes of the files under `dir` whose path contains
/// `part`.
fn bytes_under(dir: &Path, part: &str) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("a readable directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(part) {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

/// The directory store at `dir`.
fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        url: dir.to_str().expect("UTF-8 path").to_owned(),
        ..StoreConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // As the costetl binary's runtime (see its `main.rs`).
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .build()
        .expect("a runtime")
}

/// The child: one query over the store, its time and peak memory.
fn measure(how: &str, dir: &Path, days: i64) {
    let first = first_day();
    let range = Window::new(first.start(), first.start() + TimeDelta::days(days)).expect("range");
    let query = AllocationQuery {
        window: Some(range),
        include_idle: true,
        aggregate: Some(vec![AggregationProperty::Namespace]),
        options: share_idle(),
        accumulate: if how.ends_with("per-day") {
            Accumulate::None
        } else {
            Accumulate::All
        },
    };
    let store = EtlStore::open_existing(&config(dir)).expect("the store");
    let rt = runtime();
    let reset = reset_peak_rss();
    let before = rss().map_or(0, |(_, now)| now);
    let t = Instant::now();
    let (reports, files): (Vec<Report>, usize) = match how {
        "stream" | "stream-per-day" => {
            let read = rt
                .block_on(store.query(None, Resolution::Daily, range, &query))
                .expect("the query");
            (read.reports, read.files)
        }
        _ => {
            let loaded = rt
                .block_on(store.load(None, Resolution::Daily, range))
                .expect("the load");
            let files = loaded.metas.len();
            (query.run(loaded.range.sets).expect("the query"), files)
        }
    };
    let took = t.elapsed();
    let peak = rss().map_or(0, |(hwm, _)| hwm);
    let window_bytes: u64 = std::env::var("COSTETL_WINDOW_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let total: f64 = reports.iter().map(|r| r.set.total_cost()).sum();
    let warnings: usize = reports.iter().map(|r| r.set.warnings.len()).sum();
    println!(
        "{how:>6}: {files} files in {took:.2?} ({:.2} ms per file); {} reports, total ${total:.6}, {warnings} warnings; \
         RSS before {} , peak {} = {:.2}× one window's files (peak − before: {:.2}×){}",
        took.as_secs_f64() * 1e3 / files.max(1) as f64,
        reports.len(),
        mib(before),
        mib(peak),
        peak as f64 / window_bytes as f64,
        peak.saturating_sub(before) as f64 / window_bytes as f64,
        if reset { "" } else { " (peak NOT reset)" }
    );
}
