//! The `costetl-sim` binary.

use std::path::PathBuf;
use std::process::Command;

use costetl_core::json;

use crate::util::{fixture, fixture_path, win};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_costetl-sim"))
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn expected_writes_the_set_as_opencost_json() {
    let out = tmp("cli-expected.json");
    let status = bin()
        .args(["expected", "--scenario"])
        .arg(fixture_path("small"))
        .args([
            "--window",
            "2023-11-14T00:30:00Z,2023-11-14T01:30:00Z",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let w = win("2023-11-14T00:30:00Z", "2023-11-14T01:30:00Z");
    let read = json::set_from_value(&serde_json::from_str(&text).unwrap(), Some(w)).unwrap();
    let want = fixture("small").expected_allocations(w).unwrap();
    let names =
        |s: &costetl_core::AllocationSet| s.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&read), names(&want));
    // JSON keeps 5 decimals.
    assert!((read.total_cost() - want.total_cost()).abs() < 1e-4);
}

#[test]
fn openmetrics_writes_the_text() {
    let out = tmp("cli-small.om");
    let o = bin()
        .args(["openmetrics", "--scenario"])
        .arg(fixture_path("small"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("samples"));
    let mut want = Vec::new();
    fixture("small").write_openmetrics(&mut want).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), want);
}

#[test]
fn errors_are_reported() {
    let o = bin()
        .args(["expected", "--scenario"])
        .arg(fixture_path("small"))
        .args(["--window", "2023-11-13T00:00:00Z,2023-11-14T01:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not within the scenario"));
    let o = bin()
        .args(["expected", "--scenario", "x.json", "--window", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn generate_writes_a_scenario_that_loads() {
    let run = |out: &PathBuf| {
        let o = bin()
            .args([
                "generate",
                "--clusters",
                "2",
                "--nodes",
                "5",
                "--pods",
                "40",
                "--hours",
                "3",
                "--scrape-seconds",
                "60",
                "--seed",
                "9",
                "--start",
                "2023-11-14T00:00:00Z",
                "--out",
            ])
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("40 pods"));
        std::fs::read_to_string(out).unwrap()
    };
    let (a, b) = (tmp("cli-generate-a.json"), tmp("cli-generate-b.json"));
    let text = run(&a);
    assert_eq!(text, run(&b), "the same seed writes the same file");
    let s = costetl_sim::Scenario::from_path(&a).unwrap();
    assert_eq!(s.clusters.iter().map(|c| c.pods.len()).sum::<usize>(), 40);
    assert_eq!(s.scrape_interval_seconds, 60);
    assert!(s.expected_allocations(s.window()).unwrap().total_cost() > 0.0);
}
