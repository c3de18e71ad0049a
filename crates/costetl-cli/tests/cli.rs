//! End-to-end tests of the `costetl` binary on the bundled OpenCost mock
//! fixture (`fixtures/opencost-mock/allocation.json`: two days of OpenCost's
//! mock set with cluster idle; per day namespace1 costs 28, namespace2 36,
//! namespace3 18, idle 30).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/opencost-mock/allocation.json")
}

fn costetl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .output()
        .expect("the costetl binary runs")
}

/// `costetl allocation --input <fixture> <args>`, which must succeed;
/// returns stdout.
fn allocation(args: &[&str]) -> String {
    let fixture = fixture();
    let mut all = vec![
        "allocation",
        "--input",
        fixture.to_str().expect("UTF-8 path"),
    ];
    all.extend_from_slice(args);
    let out = costetl(&all);
    assert!(
        out.status.success(),
        "costetl {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The TOTAL $ cell of every table row named `name`.
fn totals(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first() == Some(&name))
        // NAME, CPU, GPU, RAM, PV, NETWORK, LB, SHARED, TOTAL, …
        .map(|cells| cells[8].to_owned())
        .collect()
}

#[test]
fn table_by_namespace_accumulated() {
    let out = allocation(&["--aggregate", "namespace", "--accumulate", "all"]);
    assert!(
        out.starts_with("Window [2021-01-01T00:00:00Z, 2021-01-03T00:00:00Z) (2d)\n"),
        "{out}"
    );
    assert_eq!(totals(&out, "namespace1"), ["56.00"]);
    assert_eq!(totals(&out, "namespace2"), ["72.00"]);
    assert_eq!(totals(&out, "TOTAL"), ["164.00"]);
    // Idle is left out without --idle; sorted by total, highest first.
    assert!(!out.contains("__idle__"));
    let names: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(names, ["namespace2", "namespace1", "namespace3", "TOTAL"]);
    assert!(out.contains("CPU EFF") && out.contains("100.0%"));
}

#[test]
fn table_per_day_without_accumulation() {
    let out = allocation(&["--aggregate", "namespace", "--idle"]);
    assert_eq!(out.matches("Window [").count(), 2);
    assert_eq!(totals(&out, "namespace1"), ["28.00", "28.00"]);
    assert_eq!(totals(&out, "__idle__"), ["30.00", "30.00"]);
    assert_eq!(totals(&out, "TOTAL"), ["112.00", "112.00"]);
}

#[test]
fn share_idle() {
    let out = allocation(&[
        "--aggregate",
        "namespace",
        "--share-idle",
        "--accumulate",
        "all",
    ]);
    // 2 × 42.6875 = 85.375, rounded half away from zero.
    assert_eq!(totals(&out, "namespace1"), ["85.38"]);
    assert_eq!(totals(&out, "TOTAL"), ["224.00"]);
    assert!(!out.contains("__idle__"));
}

#[test]
fn filter_reports_what_it_removed() {
    let out = allocation(&[
        "--aggregate",
        "namespace",
        "--idle",
        "--accumulate",
        "all",
        "--filter",
        r#"namespace:"namespace1""#,
    ]);
    assert_eq!(totals(&out, "namespace1"), ["56.00"]);
    assert!(totals(&out, "namespace2").is_empty());
    let line = out
        .lines()
        .find(|l| l.starts_with("filtered out: $"))
        .unwrap_or_else(|| panic!("no filtered-out line in\n{out}"));
    assert!(line.ends_with("(idle and shared cost included)"));
    // What is shown plus what was filtered is everything (224 with idle).
    let shown: f64 = totals(&out, "TOTAL")[0].parse().unwrap();
    let filtered: f64 = line["filtered out: $".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (shown + filtered - 224.0).abs() < 0.011,
        "{shown} + {filtered}"
    );
}

#[test]
fn window_selects_sets() {
    let out = allocation(&[
        "--window",
        "2021-01-02T00:00:00Z,2021-01-03T00:00:00Z",
        "--aggregate",
        "namespace",
    ]);
    assert_eq!(out.matches("Window [").count(), 1);
    assert!(out.starts_with("Window [2021-01-02T00:00:00Z, 2021-01-03T00:00:00Z)"));
}

#[test]
fn json_is_an_opencost_response() {
    let out = allocation(&["--aggregate", "namespace", "--idle", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["code"], 200);
    assert_eq!(v["status"], "success");
    let data = v["data"].as_array().expect("data is an array");
    assert_eq!(data.len(), 2);
    for set in data {
        let keys: Vec<&str> = set
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["__idle__", "namespace1", "namespace2", "namespace3"]);
        let ns1 = &set["namespace1"];
        assert_eq!(ns1["name"], "namespace1");
        assert_eq!(ns1["properties"]["namespace"], "namespace1");
        assert_eq!(ns1["totalCost"], 28);
        assert!(ns1["window"]["start"].is_string());
    }
    // OpenCost's field order, not serde_json's sorted keys.
    assert!(out.find("\"name\"").unwrap() < out.find("\"cpuCores\"").unwrap());
}

#[test]
fn csv_has_a_row_per_allocation() {
    let out = allocation(&["--format", "csv"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("window_start,window_end,name,"));
    // 12 containers per day, idle dropped.
    assert_eq!(lines.len(), 1 + 2 * 12);
    let cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols));
    assert!(lines[1].starts_with("2021-01-01T00:00:00Z,2021-01-02T00:00:00Z,cluster1/"));

    let with_idle = allocation(&["--format", "csv", "--idle"]);
    assert_eq!(with_idle.lines().count(), 1 + 2 * 14);
}

#[test]
fn bad_filter_is_a_usage_error_naming_the_column() {
    let fixture = fixture();
    let out = costetl(&[
        "allocation",
        "--input",
        fixture.to_str().unwrap(),
        "--filter",
        r#"namespace="x""#,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--filter"), "{err}");
    assert!(err.contains("column 10"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_file_names_the_path() {
    let out = costetl(&["allocation", "--input", "no/such/allocation.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/allocation.json"), "{err}");
}

#[test]
fn bad_files_fail_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (name, text) in [
        ("not-json.json", "{\"code\": 200, \"data\": ["),
        ("not-a-set.json", "[1, 2]"),
        ("error-response.json", r#"{"code": 500, "message": "boom"}"#),
        (
            "bad-window.json",
            r#"{"a": {"name": "a", "window": {"start": "x"}}}"#,
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = costetl(&["allocation", "--input", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn fixture_is_what_mock_writes() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mock/allocation.json");
    let out = costetl(&["mock", "--out", path.to_str().unwrap(), "--days", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    assert!(
        read(&path) == read(&fixture()),
        "fixtures/opencost-mock/allocation.json is stale; regenerate it as \
         fixtures/README.md says"
    );
}

/// The bundled capture of the simulator's two-cluster day replays offline
/// through the engine: the README's main command.
#[test]
fn fixtures_replay_through_the_engine() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let window = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";
    let run = |extra: &[&str]| {
        let mut args = vec![
            "allocation",
            "--fixtures",
            dir.to_str().unwrap(),
            "--window",
            window,
        ];
        args.extend_from_slice(extra);
        costetl(&args)
    };
    let out = run(&["--aggregate", "cluster", "--idle", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let set = v["data"][0].as_object().unwrap();
    let total: f64 = set.values().map(|a| a["totalCost"].as_f64().unwrap()).sum();
    // The simulator's day costs $49.998 (nodes $46.807, volumes, load
    // balancers and egress $3.191); replay sees $50.016 (a leaving node
    // lingers for Prometheus' lookback in backfilled data).
    assert!((total - 50.016).abs() < 0.01, "total {total}");
    let keys: Vec<&String> = set.keys().collect();
    assert_eq!(keys, ["__idle__", "prod-eu", "prod-us"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("eu-node-2 has no price series"), "{stderr}");

    // A window the capture does not hold is a clear error, not a panic.
    let out = costetl(&[
        "allocation",
        "--fixtures",
        dir.to_str().unwrap(),
        "--window",
        "2023-11-15T00:00:00Z,2023-11-16T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not contain query"), "{stderr}");
}

/// `etl build` stores the bundled capture's day as one Parquet file per
/// cluster; `etl status` lists them; the files' totals are the day's.
#[test]
fn etl_build_stores_one_file_per_cluster_and_day() {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let build = |window: &str| {
        costetl(&[
            "etl",
            "build",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--window",
            window,
            "--store",
            store.to_str().unwrap(),
        ])
    };
    let out = build("2023-11-14T00:00:00Z,2023-11-15T00:00:00Z");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.ends_with(&format!(
            "2 file(s) written, 0 kept, 0 failed, 0 empty window(s), in file://{}\n",
            store.display()
        )),
        "{text}"
    );
    // "written <cluster> <window>: N allocations, $X, …" per file.
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("written "))
        .map(|l| {
            let dollars = l.split(", $").nth(1).unwrap();
            dollars.split(',').next().unwrap().parse::<f64>().unwrap()
        })
        .sum();
    assert!((total - 50.016).abs() < 0.01, "{total}\n{text}");
    for cluster in ["prod-eu", "prod-us"] {
        let file = store.join(format!(
            "allocations/resolution=1d/cluster={cluster}/day=2023-11-14/1699920000-1700006400.parquet"
        ));
        assert!(file.is_file(), "{}", file.display());
    }

    let out = costetl(&["etl", "status", "--store", store.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{status}");
    assert!(
        status.contains(
            "prod-eu: 1 1d file(s) covering [2023-11-14T00:00:00Z, 2023-11-15T00:00:00Z); $17.72\n"
        ),
        "{status}"
    );
    assert!(
        status.contains("prod-us: 1 1d file(s) covering"),
        "{status}"
    );
    // A bad file is named as such.
    std::fs::write(
        store.join("allocations/resolution=1d/cluster=prod-us/day=2023-11-14/1699920000-1700006400.parquet"),
        b"PAR1",
    )
    .unwrap();
    let out = costetl(&["etl", "status", "--store", store.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        status.contains("prod-us: 1 1d file(s) covering [2023-11-14T00:00:00Z, 2023-11-15T00:00:00Z); $0.00; unreadable 2023-11-14T00:00Z"),
        "{status}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unreadable file fails the check"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 window(s) missing, unreadable"),
        "{stderr}"
    );

    // Windows not aligned to days are a usage error, and nothing is
    // written.
    let out = build("2023-11-14T03:00:00Z,2023-11-15T00:00:00Z");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--window"), "{stderr}");
    // No store anywhere is a usage error.
    let out = costetl(&["etl", "status"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `allocation --store` reads back what `etl build` wrote: the same
/// allocations, to the bit, as computing the day from the capture; a
/// missing cluster file is a warning naming the cluster, not a quiet gap.
#[test]
fn allocation_reads_the_store_back() {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let day = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";
    let (fx, st) = (fixtures.to_str().unwrap(), store.to_str().unwrap());
    costetl_ok(&[
        "etl",
        "build",
        "--fixtures",
        fx,
        "--window",
        day,
        "--store",
        st,
    ]);

    let report = [
        "--aggregate",
        "cluster,namespace",
        "--idle",
        "--format",
        "json",
    ];
    let computed = report_costs(&costetl_ok(
        &[
            &["allocation", "--fixtures", fx, "--window", day][..],
            &report,
        ]
        .concat(),
    ));
    let read = costetl_ok(&[&["allocation", "--store", st, "--window", day][..], &report].concat());
    assert_eq!(report_costs(&read), computed);
    assert!(computed.len() > 3, "{computed:?}");

    // A wider, unaligned window reads the whole day inside it, and says so.
    let wide = "2023-11-13T12:00:00Z,2023-11-15T06:00:00Z";
    let out = costetl_ok(
        &[
            &["allocation", "--store", st, "--window", wide][..],
            &report,
        ]
        .concat(),
    );
    assert_eq!(report_costs(&out), computed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("whole 1d windows inside --window: [2023-11-14T00:00:00Z"),
        "{stderr}"
    );

    // A day never built is a gap: the two days cost what the one built
    // day does, and each cluster's missing file is named.
    let two_days = "2023-11-14T00:00:00Z,2023-11-16T00:00:00Z";
    let out = costetl_ok(
        &[
            &[
                "allocation",
                "--store",
                st,
                "--window",
                two_days,
                "--accumulate",
                "all",
            ][..],
            &report,
        ]
        .concat(),
    );
    assert_eq!(report_costs(&out), computed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for cluster in ["prod-eu", "prod-us"] {
        assert!(
            stderr.contains(&format!(
                "no file for cluster {cluster} in [2023-11-15T00:00:00Z"
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("in [2023-11-14T00:00:00Z"), "{stderr}");
    store_reads_refused_with_the_reason(st, fx, day);
}

/// `costetl args`, which must succeed.
fn costetl_ok(args: &[&str]) -> Output {
    let out = costetl(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The total cost of each allocation of a one-set JSON report.
fn report_costs(out: &Output) -> Vec<(String, f64)> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{v}");
    data[0]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, a)| (k.clone(), a["totalCost"].as_f64().unwrap()))
        .collect()
}

/// No whole day inside the window, and --store with --fixtures, are
/// refused with the reason.
fn store_reads_refused_with_the_reason(st: &str, fx: &str, day: &str) {
    let out = costetl(&[
        "allocation",
        "--store",
        st,
        "--window",
        "2023-11-14T01:00:00Z,2023-11-14T23:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no whole 1d window"), "{stderr}");
    let out = costetl(&[
        "allocation",
        "--store",
        st,
        "--fixtures",
        fx,
        "--window",
        day,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `costetl etl sync` of the bundled capture into `store` as of `at` (one
/// day of retention), with `extra` flags: its exit code and stdout.
fn etl_sync(store: &Path, at: &str, extra: &[&str]) -> (Option<i32>, String) {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let (fx, st) = (fixtures.to_str().unwrap(), store.to_str().unwrap());
    let args = [
        &[
            "etl",
            "sync",
            "--fixtures",
            fx,
            "--store",
            st,
            "--retention",
            "1d",
            "--at",
            at,
        ][..],
        extra,
    ]
    .concat();
    let out = costetl(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `etl sync` on the bundled capture: builds the new day, then nothing;
/// rebuilds only the cluster whose file went bad; a dry run changes
/// nothing; a later sync prunes what left retention and reports the days
/// the capture cannot compute as failed (exit 1) without stopping.
#[test]
fn etl_sync_plans_builds_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let sync = |at: &str, extra: &[&str]| etl_sync(&store, at, extra);
    let day_end = "2023-11-15T00:00:00Z";
    let (code, text) = sync(day_end, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("build [2023-11-14T00:00:00Z, 2023-11-15T00:00:00Z): new window"),
        "{text}"
    );
    assert!(text.contains("2 file(s) written, 0 kept"), "{text}");

    let (code, text) = sync(day_end, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 window(s) to build"), "{text}");
    // The same facts for machines.
    let (code, json) = sync(day_end, &["--format", "json", "--dry-run"]);
    assert_eq!(code, Some(0), "{json}");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["retention"].as_str(), v["dry_run"].as_bool()),
        (Some("1d"), Some(true))
    );
    assert_eq!(v["build"], serde_json::json!([]));
    assert_eq!(v["retained"]["start"], "2023-11-14T00:00:00Z");

    let eu = store.join(
        "allocations/resolution=1d/cluster=prod-eu/day=2023-11-14/1699920000-1700006400.parquet",
    );
    let us = store.join(
        "allocations/resolution=1d/cluster=prod-us/day=2023-11-14/1699920000-1700006400.parquet",
    );
    let us_before = std::fs::read(&us).unwrap();
    std::fs::write(&eu, b"not parquet").unwrap();
    // An agent of prod-us alone (the cluster filter) has nothing to do.
    let (code, text) = sync(
        day_end,
        &["--cluster-id", "prod-us", "--cluster-filter", "--dry-run"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 window(s) to build"), "{text}");
    let (code, text) = sync(day_end, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("prod-eu unreadable"), "{text}");
    assert!(text.contains("1 file(s) written, 0 kept"), "{text}");
    assert!(text.contains("written prod-eu"), "{text}");
    assert_eq!(
        std::fs::read(&us).unwrap(),
        us_before,
        "the good file was rewritten"
    );

    let later = "2023-11-16T12:00:00Z";
    let (code, text) = sync(later, &["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("2 window(s) to build, 2 file(s) past retention"),
        "{text}"
    );
    assert!(text.contains("dry run"), "{text}");
    assert!(eu.is_file() && us.is_file());

    // Without --prune expired files stay; the capture holds no later day,
    // so both builds fail, each named, and the run exits 1.
    let (code, text) = sync(later, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(text.matches("FAILED  [2023-11-1").count(), 2, "{text}");
    assert!(text.contains("2 file(s) past retention kept"), "{text}");
    assert!(eu.is_file() && us.is_file());
    let (code, text) = sync(later, &["--prune"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("2 pruned"), "{text}");
    assert!(!eu.exists() && !us.exists());
}

/// A crash between the two clusters' files of a window: the build had
/// marked both, wrote prod-eu's and died. `etl status` names the
/// interrupted window and one `etl sync` completes the store; without the
/// marker the same store shows nothing to do (the file of prod-us is not
/// expected anywhere), which is the gap the marker closes.
#[test]
fn etl_sync_completes_a_window_a_crash_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let st = store.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = costetl(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let sync = |extra: &[&str]| etl_sync(&store, "2023-11-15T00:00:00Z", extra);
    let (code, text) = sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    let us_dir = store.join("allocations/resolution=1d/cluster=prod-us/day=2023-11-14");
    let us = us_dir.join("1699920000-1700006400.parquet");
    let marker = us_dir.join("_1699920000-1700006400.pending");
    assert!(us.exists() && !marker.exists(), "markers are cleared");

    // The crash: prod-us's file never written, its marker left.
    std::fs::remove_file(&us).unwrap();
    std::fs::write(&marker, b"").unwrap();
    // A monitor's check: the store needs a sync, exit 1.
    let (code, text) = run(&["etl", "status", "--store", st]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("prod-us: no 1d files; interrupted 2023-11-14T00:00Z"),
        "{text}"
    );
    let (code, json) = run(&["etl", "status", "--store", st, "--format", "json"]);
    assert_eq!(code, Some(1), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let listed = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == "prod-us")
        .unwrap();
    assert_eq!(
        listed["interrupted"],
        serde_json::json!([{"start": "2023-11-14T00:00:00Z", "end": "2023-11-15T00:00:00Z"}])
    );
    let (code, text) = sync(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("build [2023-11-14T00:00:00Z, 2023-11-15T00:00:00Z): prod-us missing"),
        "{text}"
    );
    let (code, text) = sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1 file(s) written, 0 kept"), "{text}");
    assert!(us.exists() && !marker.exists());

    // Without the marker, nothing says prod-us's file should exist.
    std::fs::remove_file(&us).unwrap();
    let (code, text) = sync(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 window(s) to build"), "{text}");
}

/// Mistakes read as mistakes: a mistyped store is an error that creates
/// nothing (not "(no allocations)" and a new directory), an empty store is
/// not a success, and what the user typed wrong is a usage error (2).
#[test]
fn typos_are_loud_and_read_only_commands_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("stroe");
    let t = typo.to_str().unwrap();
    let day = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    for args in [
        &["allocation", "--store", t, "--window", day][..],
        &["etl", "status", "--store", t][..],
    ] {
        let o = costetl(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
        assert!(!typo.exists(), "{args:?} created the store");
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = empty.to_str().unwrap();
    let o = costetl(&["etl", "status", "--store", e]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no ETL files in file://"),
        "{}",
        stderr(&o)
    );
    let o = costetl(&["allocation", "--store", e, "--window", day]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds no 1d ETL file"),
        "{}",
        stderr(&o)
    );

    for (args, needle) in [
        (
            vec!["allocation", "--prometheus", "http://127.0.0.1:9"],
            "--window is required",
        ),
        (
            vec![
                "allocation",
                "--prometheus",
                "127.0.0.1:9090",
                "--window",
                day,
            ],
            "no scheme",
        ),
    ] {
        let o = costetl(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
}

/// One flipped byte inside a row group: footers still read, so only
/// `--verify` finds it; a fleet read names it and reads the rest; `etl sync
/// --verify` rebuilds it.
#[test]
fn a_damaged_row_group_is_found_named_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let st = store.to_str().unwrap();
    let (code, text) = etl_sync(&store, "2023-11-15T00:00:00Z", &[]);
    assert_eq!(code, Some(0), "{text}");
    let eu = store.join(
        "allocations/resolution=1d/cluster=prod-eu/day=2023-11-14/1699920000-1700006400.parquet",
    );
    let good = std::fs::read(&eu).unwrap();
    let mut bad = good.clone();
    // Inside the first column chunk (after the "PAR1" magic), far from
    // the footer at the end.
    bad[64] ^= 0x01;
    std::fs::write(&eu, &bad).unwrap();

    let status = |extra: &[&str]| costetl(&[&["etl", "status", "--store", st][..], extra].concat());
    assert_eq!(
        status(&[]).status.code(),
        Some(0),
        "a footer read cannot see it"
    );
    let verified = status(&["--verify"]);
    let text = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert_eq!(verified.status.code(), Some(1), "{text}");
    assert!(
        text.contains("prod-eu: 1 1d file(s)") && text.contains("unreadable 2023-11-14"),
        "{text}"
    );

    // The fleet read goes on with prod-us and names prod-eu's file.
    let day = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";
    let out = costetl(&[
        "allocation",
        "--store",
        st,
        "--window",
        day,
        "--aggregate",
        "cluster",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("prod-us") && !stdout.contains("prod-eu"),
        "{stdout}"
    );
    assert!(
        stderr.contains("ETL file of cluster prod-eu for [2023-11-14T00:00:00Z")
            && stderr.contains("does not decode"),
        "{stderr}"
    );

    // A plain sync trusts the footer; a verifying one rebuilds the file.
    let (code, text) = etl_sync(&store, "2023-11-15T00:00:00Z", &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 window(s) to build"), "{text}");
    let (code, text) = etl_sync(&store, "2023-11-15T00:00:00Z", &["--verify"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("prod-eu unreadable"), "{text}");
    assert!(text.contains("written prod-eu"), "{text}");
    assert_eq!(status(&["--verify"]).status.code(), Some(0));
}

/// Kubecost's `federated-store.yaml`, as its secret mounts it, names the
/// store for every command that uses one: `etl build` writes the bucket,
/// `etl status` lists it and `allocation --store-config` reads it back
/// (moto's S3 on 127.0.0.1).
#[test]
fn kubecost_store_yaml_serves_build_status_and_read_back() {
    use costetl_testkit::{S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, S3Server};
    let s3 = S3Server::start("kubecost-etl").unwrap();
    let host = s3.url().strip_prefix("http://").unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("federated-store.yaml");
    std::fs::write(
        &yaml,
        format!(
            "type: S3\nprefix: fleet\nconfig:\n  bucket: \"{}\"\n  endpoint: \"{host}\"\n  \
             region: \"{S3_REGION}\"\n  access_key: \"{S3_ACCESS_KEY_ID}\"\n  \
             secret_key: \"{S3_SECRET_ACCESS_KEY}\"\n  insecure: true\n",
            s3.bucket()
        ),
    )
    .unwrap();
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/two-clusters-day");
    let (fx, cfg) = (fixtures.to_str().unwrap(), yaml.to_str().unwrap());
    let day = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";
    let etl = ["etl", "build", "--fixtures", fx, "--window", day];
    costetl_ok(&[&etl[..], &["--store-config", cfg]].concat());
    let status = costetl_ok(&["etl", "status", "--store-config", cfg]);
    let listed = String::from_utf8_lossy(&status.stdout);
    assert!(
        listed.contains("prod-eu") && listed.contains("prod-us"),
        "{listed}"
    );
    let report = [
        "--window",
        day,
        "--aggregate",
        "cluster",
        "--format",
        "json",
    ];
    let read = costetl_ok(&[&["allocation", "--store-config", cfg][..], &report].concat());
    let computed = costetl_ok(&[&["allocation", "--fixtures", fx][..], &report].concat());
    assert_eq!(report_costs(&read), report_costs(&computed));
}
