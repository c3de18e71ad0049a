//! `costetl etl sync` against a real Prometheus holding the simulator's
//! small two-hour scenario, as a cost-model service would run it on a
//! timer: an hour still open is stored provisional, the next sync after it
//! closes replaces it with the complete build, and the store read back
//! costs what computing the two hours from Prometheus costs.

use std::process::{Command, Output};

use costetl_testkit::PromServer;
use serde_json::Value;

mod common;

fn start() -> PromServer {
    PromServer::start_with_openmetrics(&common::small_scenario_openmetrics()).unwrap()
}

/// Runs costetl from an empty environment; it must succeed.
fn costetl(args: &[&str]) -> String {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .env_clear()
        .output()
        .expect("the costetl binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Σ totalCost over the sets of an `allocation --format json` answer.
fn total(json: &str) -> f64 {
    let v: Value = serde_json::from_str(json).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|set| set.as_object().unwrap().values())
        .map(|a| a["totalCost"].as_f64().unwrap())
        .sum()
}

/// `written <cluster> <window>: N allocations, $X, …` → Σ X.
fn written_dollars(report: &str) -> f64 {
    report
        .lines()
        .filter(|l| l.starts_with("written "))
        .map(|l| {
            let dollars = l.split(", $").nth(1).unwrap();
            dollars.split(',').next().unwrap().parse::<f64>().unwrap()
        })
        .sum()
}

#[test]
fn sync_stores_the_open_hour_provisionally_then_completes_it() {
    let prom = start();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (url, st) = (prom.url(), store.to_str().unwrap().to_owned());
    let backend = [
        "--prometheus",
        &url,
        "--cluster-label",
        "cluster_id",
        "--resolution",
        "1m",
    ];
    let sync = |at: &str, retention: &str| {
        costetl(
            &[
                &["etl", "sync"][..],
                &backend,
                &[
                    "--store",
                    &st,
                    "--etl-resolution",
                    "hourly",
                    "--retention",
                    retention,
                    "--at",
                    at,
                ],
            ]
            .concat(),
        )
    };

    // 01:30: hour 00 is closed, hour 01 is open and built up to 01:30.
    let first = sync("2023-11-14T01:30:00Z", "1h");
    assert!(
        first.contains(
            "retained [2023-11-14T00:00:00Z, 2023-11-14T02:00:00Z); 2 window(s) to build"
        ),
        "{first}"
    );
    assert!(!first.contains("KEPT"), "{first}");
    let provisional = written_dollars(&first);
    assert!(provisional > 0.0, "{first}");

    // 02:30: hour 00 is good and left alone; hour 01 was provisional and
    // is rebuilt whole; hour 02 is new (and empty: the data ends at 02:00).
    let second = sync("2023-11-14T02:30:00Z", "2h");
    assert!(
        second.contains("build [2023-11-14T01:00:00Z, 2023-11-14T02:00:00Z): small provisional"),
        "{second}"
    );
    assert!(
        second.contains("build [2023-11-14T02:00:00Z, 2023-11-14T03:00:00Z): new window"),
        "{second}"
    );
    assert!(
        !second.contains("written small [2023-11-14T00:00:00Z"),
        "{second}"
    );
    assert!(
        second.contains("written small [2023-11-14T01:00:00Z, 2023-11-14T02:00:00Z)")
            && second.contains("before the window closed; new build is complete"),
        "{second}"
    );

    // A third sync at the same time rebuilds only the hour still open.
    let third = sync("2023-11-14T02:30:00Z", "2h");
    assert!(third.contains("1 window(s) to build"), "{third}");
    assert!(
        third.contains("build [2023-11-14T02:00:00Z, 2023-11-14T03:00:00Z): small provisional"),
        "{third}"
    );

    // Read back, the two stored hours cost what computing them does.
    let window = "2023-11-14T00:00:00Z,2023-11-14T02:00:00Z";
    let json = ["--format", "json", "--accumulate", "all", "--idle"];
    let read = total(&costetl(
        &[
            &[
                "allocation",
                "--store",
                &st,
                "--etl-resolution",
                "hourly",
                "--window",
                window,
            ][..],
            &json,
        ]
        .concat(),
    ));
    let computed = total(&costetl(
        &[&["allocation", "--window", window][..], &backend, &json].concat(),
    ));
    assert!(computed > provisional, "{computed} vs {provisional}");
    assert!(
        (read - computed).abs() <= 0.005 * computed,
        "store {read} vs computed {computed}"
    );
}

/// A wrong --cluster-label makes every series label-less, so the whole
/// fleet would be stored as the built-in `default-cluster` beside the real
/// clusters: refused (exit 1, nothing written) unless the user names the
/// cluster or allows the default id.
#[test]
fn the_built_in_cluster_id_is_never_stored_unasked() {
    let prom = start();
    let url = prom.url();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let st = store.to_str().unwrap();
    let window = "2023-11-14T00:00:00Z,2023-11-14T01:00:00Z";
    let build = |extra: &[&str]| {
        let args = [
            &[
                "etl",
                "build",
                "--prometheus",
                url.as_str(),
                "--store",
                st,
                "--etl-resolution",
                "hourly",
                "--window",
                window,
                "--cluster-label",
                "kubernetes_cluster",
            ][..],
            extra,
        ]
        .concat();
        Command::new(env!("CARGO_BIN_EXE_costetl"))
            .args(&args)
            .env_clear()
            .output()
            .unwrap()
    };
    let out = build(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED  default-cluster") && stdout.contains("an id nobody set"),
        "{stdout}"
    );
    assert!(
        !store
            .join("allocations/resolution=1h/cluster=default-cluster")
            .exists()
    );

    let out = build(&["--allow-default-cluster"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        store
            .join("allocations/resolution=1h/cluster=default-cluster")
            .exists()
    );
    let out = build(&["--cluster-id", "small"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        store
            .join("allocations/resolution=1h/cluster=small")
            .exists()
    );
}
