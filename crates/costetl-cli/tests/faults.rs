//! The write path's fault matrix: `costetl etl sync` stopped dead (the
//! process aborts, as under `kill -9`) at each chosen point of a build —
//! after marking the window, with a file staged, before its rename, after
//! the first cluster's put — over an empty store and over a store whose
//! good file must survive while a damaged one is rebuilt. After each crash:
//! no half-written ETL file, no good file changed, the crash loud (the
//! process did not exit 0); then one sync completes the store and
//! `etl status` shows nothing missing, interrupted or unreadable.

use std::path::{Path, PathBuf};
use std::process::Command;

use costetl_store::FAILPOINT_VAR;

const AT: &str = "2023-11-15T00:00:00Z";
const POINTS: &[&str] = &[
    "etl-marked",
    "store-staged",
    "store-before-rename",
    "etl-stored",
];

fn sync(store: &Path, failpoint: Option<&str>) -> std::process::Output {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let mut c = Command::new(env!("CARGO_BIN_EXE_costetl"));
    c.args(["etl", "sync", "--fixtures"])
        .arg(&fixtures)
        .arg("--store")
        .arg(store)
        .args(["--retention", "1d", "--at", AT])
        .env_remove("PROMETHEUS_SERVER_ENDPOINT")
        .env_remove(FAILPOINT_VAR);
    if let Some(p) = failpoint {
        c.env(FAILPOINT_VAR, p);
    }
    c.output().expect("the costetl binary runs")
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

fn parquet(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

const US: &str =
    "allocations/resolution=1d/cluster=prod-us/day=2023-11-14/1699920000-1700006400.parquet";
const EU: &str =
    "allocations/resolution=1d/cluster=prod-eu/day=2023-11-14/1699920000-1700006400.parquet";

#[test]
fn a_build_killed_at_any_point_loses_nothing_and_the_next_sync_completes_it() {
    let mut trials = 0;
    for damaged in [false, true] {
        for &point in POINTS {
            let what = format!(
                "{point}, {}",
                if damaged {
                    "damaged file"
                } else {
                    "empty store"
                }
            );
            let dir = tempfile::tempdir().unwrap();
            let store = dir.path().join("store");
            let mut good = None;
            if damaged {
                // A complete store, then prod-us's file damaged: the sync
                // rebuilds it and must leave prod-eu's alone.
                assert!(sync(&store, None).status.success());
                std::fs::write(store.join(US), b"PAR1 damaged").unwrap();
                good = Some(std::fs::read(store.join(EU)).unwrap());
            }

            let crashed = sync(&store, Some(point));
            trials += 1;
            assert!(!crashed.status.success(), "{what}: the crash is loud");
            assert_eq!(crashed.status.code(), None, "{what}: killed by a signal");
            for f in parquet(&store) {
                let bytes = std::fs::read(store.join(&f)).unwrap();
                let damaged_left = damaged && f == Path::new(US) && bytes == b"PAR1 damaged";
                assert!(
                    damaged_left || costetl_parquet::decode(&bytes).is_ok(),
                    "{what}: {} is half-written",
                    f.display()
                );
            }
            if let Some(g) = &good {
                assert_eq!(
                    &std::fs::read(store.join(EU)).unwrap(),
                    g,
                    "{what}: good file changed"
                );
            }

            let done = sync(&store, None);
            assert!(
                done.status.success(),
                "{what}: {}{}",
                String::from_utf8_lossy(&done.stdout),
                String::from_utf8_lossy(&done.stderr)
            );
            let names: Vec<PathBuf> = files(&store)
                .into_iter()
                .filter(|f| f != Path::new(".costetl.lock"))
                .collect();
            assert_eq!(
                names,
                [PathBuf::from(EU), PathBuf::from(US)],
                "{what}: the store is complete, without markers or staging files"
            );
            for f in &names {
                costetl_parquet::decode(&std::fs::read(store.join(f)).unwrap())
                    .unwrap_or_else(|e| panic!("{what}: {}: {e}", f.display()));
            }
            let status = Command::new(env!("CARGO_BIN_EXE_costetl"))
                .args(["etl", "status", "--store"])
                .arg(&store)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&status.stdout);
            for bad in ["missing", "interrupted", "unreadable", "provisional"] {
                assert!(!text.contains(bad), "{what}: {text}");
            }
        }
    }
    assert_eq!(trials, 2 * POINTS.len());
}
