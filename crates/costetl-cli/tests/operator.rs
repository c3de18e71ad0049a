//! The CLI as an operator meets it (issue 11's findings): failures and
//! empty results are loud with the documented exit codes, warnings are
//! seen and can be quieted, logs and JSON are there for machines. Runs on
//! the bundled capture and OpenCost mock file; no backend needed.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn costetl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_LOG")
        .output()
        .expect("the costetl binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CAPTURE: &str = "fixtures/two-clusters-day";
const DAY: &str = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";

/// `allocation --fixtures` on the bundled day with `extra` flags.
fn day(extra: &[&str]) -> Output {
    let mut args = vec!["allocation", "--fixtures", CAPTURE, "--window", DAY];
    args.extend_from_slice(extra);
    costetl(&args)
}

#[track_caller]
fn exits(out: &Output, code: i32, message: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
}

#[test]
fn empty_results_and_empty_windows_are_loud() {
    // Another day of the mock file: nothing inside the window.
    let mock = "fixtures/opencost-mock/allocation.json";
    let out = costetl(&[
        "allocation",
        "--input",
        mock,
        "--window",
        "2030-01-01T00:00:00Z,2030-01-02T00:00:00Z",
    ]);
    exits(&out, 1, "no allocation set lies inside --window");
    // A filter that leaves nothing says how much it removed.
    let out = day(&["--aggregate", "namespace", "--filter", "namespace:\"nope\""]);
    exits(
        &out,
        1,
        "the filter left nothing: it removed everything ($19.96)",
    );
    // `T,T` computes nothing: a usage error before any work.
    let out = costetl(&[
        "allocation",
        "--fixtures",
        CAPTURE,
        "--window",
        "2023-11-14T00:00:00Z,2023-11-14T00:00:00Z",
    ]);
    exits(&out, 2, "is empty: its start is its end");
    // A typo in a share rule shares nothing, and says so.
    let out = day(&[
        "--aggregate",
        "namespace",
        "--share-namespaces",
        "kube-sytem",
    ]);
    exits(
        &out,
        0,
        "shared namespace \"kube-sytem\" matches no allocation",
    );
}

#[test]
fn flag_combinations_are_checked_before_computing() {
    // The engine computes one set per window: hourly accumulation of a day
    // cannot work, and is refused up front.
    let out = day(&["--accumulate", "hour"]);
    exits(&out, 2, "--accumulate");
    // A window not aligned to the store's days.
    let store = tempfile::tempdir().unwrap();
    let out = costetl(&[
        "etl",
        "build",
        "--fixtures",
        CAPTURE,
        "--window",
        "2023-11-14T03:00:00Z,2023-11-15T00:00:00Z",
        "--store",
        store.path().to_str().unwrap(),
    ]);
    exits(&out, 2, "not aligned to 1d");
    // A backend URL without a scheme.
    let out = costetl(&[
        "allocation",
        "--prometheus",
        "localhost:9090",
        "--window",
        DAY,
    ]);
    exits(&out, 2, "no scheme");
}

#[test]
fn warnings_are_summarised_quieted_or_listed() {
    let default = day(&["--aggregate", "namespace"]);
    let stderr = text(&default.stderr);
    assert!(default.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: node prod-eu/eu-node-2 has no price series"),
        "{stderr}"
    );
    // -q: nothing on stderr but errors.
    let quiet = day(&["--aggregate", "namespace", "-q"]);
    assert!(quiet.status.success());
    assert_eq!(text(&quiet.stderr), "");
    assert_eq!(quiet.stdout, default.stdout, "-q changes only stderr");
    // -v: logs, one line per query with its time and size.
    let verbose = day(&["--aggregate", "namespace", "-v"]);
    let stderr = text(&verbose.stderr);
    let answered = stderr
        .lines()
        .filter(|l| l.contains("query answered"))
        .count();
    assert!(answered >= 40, "{answered} query lines in: {stderr}");
    assert!(stderr.contains("query=cpu_usage"), "{stderr}");
    // JSON logs for machines: every log line parses.
    let json = day(&["--aggregate", "namespace", "-v", "--log-format", "json"]);
    let logs: Vec<serde_json::Value> = text(&json.stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(logs.len() >= 40, "{} JSON log lines", logs.len());
    assert!(logs.iter().any(|l| l["fields"]["query"] == "ram_max"));
}

#[test]
fn etl_build_shows_the_computation_warnings_and_json() {
    let store = tempfile::tempdir().unwrap();
    let st = store.path().to_str().unwrap();
    let args = [
        "etl",
        "build",
        "--fixtures",
        CAPTURE,
        "--window",
        DAY,
        "--store",
        st,
    ];
    let out = costetl(&[&args[..], &["--format", "json"]].concat());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("eu-node-2 has no price series"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["written"], 2);
    let events = v["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["outcome"] == "written"),
        "{events:?}"
    );
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["kind"] == "default_prices" && w["node"] == "eu-node-2"),
        "{warnings:?}"
    );
    // The same build again replaces both files and says why.
    let again = costetl(&args);
    let lines = text(&again.stdout);
    assert!(again.status.success());
    assert_eq!(
        lines.matches("new build has the same or more data").count(),
        2,
        "{lines}"
    );
}

#[test]
fn a_capture_replays_without_its_window() {
    let with = day(&["--aggregate", "cluster"]);
    let without = costetl(&[
        "allocation",
        "--fixtures",
        CAPTURE,
        "--aggregate",
        "cluster",
    ]);
    assert!(without.status.success(), "{}", text(&without.stderr));
    assert_eq!(without.stdout, with.stdout);
}

#[test]
fn a_closed_stderr_does_not_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(["allocation", "--fixtures", CAPTURE, "--window", DAY])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end of stderr before the warning is written.
    drop(child.stderr.take());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "no panic (101) on a closed stderr");
    assert!(stdout.contains("TOTAL"), "{stdout}");
}

#[test]
fn version_names_the_build_and_completions_print() {
    let out = costetl(&["--version"]);
    let v = text(&out.stdout);
    assert!(v.starts_with("costetl ") && v.contains(" ("), "{v}");
    let out = costetl(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("etl"),
        "bash completion names the commands"
    );
}

/// `etl build --input` imports OpenCost's JSON into the store (a migration
/// path): read back, the store holds what the file holds; sets that do not
/// fit the files' windows are refused, not split.
#[test]
fn etl_build_imports_opencost_json() {
    let mock = "fixtures/opencost-mock/allocation.json";
    let days = "2021-01-01T00:00:00Z,2021-01-03T00:00:00Z";
    let store = tempfile::tempdir().unwrap();
    let st = store.path().to_str().unwrap();
    let build = |extra: &[&str]| {
        let args = [
            "etl", "build", "--input", mock, "--window", days, "--store", st,
        ];
        costetl(&[&args[..], extra].concat())
    };
    let out = build(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("4 file(s) written"),
        "{}",
        text(&out.stdout)
    );
    let report = [
        "--aggregate",
        "cluster",
        "--accumulate",
        "all",
        "--idle",
        "--format",
        "csv",
    ];
    let from_file = costetl(&[&["allocation", "--input", mock][..], &report].concat());
    let from_store = costetl(
        &[
            &["allocation", "--store", st, "--window", days][..],
            &report,
        ]
        .concat(),
    );
    assert!(from_store.status.success(), "{}", text(&from_store.stderr));
    assert_eq!(text(&from_store.stdout), text(&from_file.stdout));
    // Daily sets cannot become hourly files.
    let out = build(&["--etl-resolution", "hourly"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("crosses a window boundary"),
        "{}",
        text(&out.stderr)
    );
}

/// A store written before schema version 2 (Kubecost's federated layout):
/// reading it is refused with the command that fixes it, `etl migrate`
/// moves it, and then it reads as it did.
#[test]
fn a_legacy_store_is_refused_then_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let legacy = store
        .join("federated/opencost-mock/etl/parquet/allocations/1d/1700006400-1700092800.parquet");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::copy(root().join("fixtures/etl/allocations-v1.parquet"), &legacy).unwrap();
    let st = store.to_str().unwrap();
    let read = [
        "allocation",
        "--store",
        st,
        "--window",
        "2023-11-15T00:00:00Z,2023-11-16T00:00:00Z",
        "--aggregate",
        "namespace",
    ];
    exits(&costetl(&read), 1, "costetl etl migrate");
    exits(
        &costetl(&["etl", "status", "--store", st]),
        1,
        "costetl etl migrate",
    );

    let out = costetl(&["etl", "migrate", "--store", st]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("MOVED    opencost-mock 1d"), "{said}");
    assert!(said.contains("migrated 1 file(s)"), "{said}");
    assert!(!legacy.exists());

    let out = costetl(&read);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("82.00"), "{}", text(&out.stdout));
    let out = costetl(&["etl", "migrate", "--store", st, "--format", "json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
}
