//! The CLI's settings layers end to end: a real Prometheus behind basic
//! auth (its own `--web.config.file`), reached through a `--config` TOML
//! file, through OpenCost's environment variables, and with the
//! environment overriding the file. Every run starts from an empty
//! environment so the machine's variables cannot leak in.

use std::path::Path;
use std::process::{Command, Output};

use costetl_testkit::{PromServer, WebConfig};
use serde_json::Value;

mod common;

const AT: &str = "2023-11-14T02:00:00Z";
const WINDOW: &str = "2023-11-14T00:00:00Z,2023-11-14T02:00:00Z";
const USER: &str = "costetl";
const PASSWORD: &str = "pa55word";

fn start() -> PromServer {
    let web = WebConfig {
        basic_auth: Some((USER.into(), PASSWORD.into())),
        ..WebConfig::default()
    };
    PromServer::start_with_web_config(&common::small_scenario_openmetrics(), &web, &[]).unwrap()
}

fn costetl(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the costetl binary runs")
}

fn explain(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_config(dir: &Path, name: &str, url: &str, password: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"
[prometheus]
url = "{url}"
concurrency = 2
[prometheus.auth]
type = "basic"
username = "{USER}"
password = "{password}"
[prometheus.retry]
enabled = false

[engine]
cluster_label = "cluster_id"
resolution = "1m"
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// Σ totalCost of the first set of an `--format json` run.
fn total(out: &Output) -> f64 {
    assert!(out.status.success(), "{}", explain(out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["data"][0]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["totalCost"].as_f64().unwrap())
        .sum()
}

#[test]
fn config_file_and_opencost_environment_reach_an_authenticated_backend() {
    let prom = start();
    let url = prom.url();
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), "good.toml", &url, PASSWORD);
    let stale = write_config(dir.path(), "stale.toml", &url, "old-password");

    // Without credentials the connectivity check fails with the server's
    // 401 (and the others are skipped).
    let out = costetl(&["diagnose", "--prometheus", &url, "--at", AT], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("401"),
        "{}",
        explain(&out)
    );

    // The file alone: endpoint, auth and engine settings.
    let diagnose = ["diagnose", "--at", AT, "--lookback", "2h"];
    let out = costetl(&[&diagnose[..], &["--config", &good]].concat(), &[]);
    assert!(out.status.success(), "{}", explain(&out));

    // The file with a stale password loses to OpenCost's variables.
    let env_auth = [
        ("DB_BASIC_AUTH_USERNAME", USER),
        ("DB_BASIC_AUTH_PW", PASSWORD),
    ];
    let out = costetl(&[&diagnose[..], &["--config", &stale]].concat(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let out = costetl(&[&diagnose[..], &["--config", &stale]].concat(), &env_auth);
    assert!(out.status.success(), "{}", explain(&out));

    // The environment alone, as in an OpenCost pod.
    let mut env = env_auth.to_vec();
    env.push(("PROMETHEUS_SERVER_ENDPOINT", &url));
    let out = costetl(&diagnose, &env);
    assert!(out.status.success(), "{}", explain(&out));

    // Allocations: the file and the environment compute the same result.
    let allocation = [
        "allocation",
        "--window",
        WINDOW,
        "--aggregate",
        "namespace",
        "--format",
        "json",
    ];
    let by_file = total(&costetl(
        &[&allocation[..], &["--config", &good]].concat(),
        &[],
    ));
    let by_env = total(&costetl(&allocation, &env));
    assert!(by_file > 0.1, "total {by_file}");
    assert_eq!(by_file, by_env);

    // OpenCost's cluster filter: only CLUSTER_ID's cluster is computed.
    let filter = |cluster: &'static str| {
        let mut e = env.clone();
        e.extend([
            ("CLUSTER_ID", cluster),
            ("CURRENT_CLUSTER_ID_FILTER_ENABLED", "true"),
        ]);
        costetl(&allocation, &e)
    };
    // Another cluster's id computes nothing, and says so: no $0 success.
    let other = filter("some-other-cluster");
    assert_eq!(other.status.code(), Some(1), "{}", explain(&other));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("no allocations in the window"),
        "{}",
        explain(&other)
    );
    assert_eq!(total(&filter("small")), by_env);
}

#[test]
fn no_backend_anywhere_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("capture");
    for args in [
        &["allocation", "--window", WINDOW][..],
        &["diagnose"],
        &[
            "capture",
            "--window",
            WINDOW,
            "--out",
            out_dir.to_str().unwrap(),
        ],
    ] {
        let out = costetl(args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", explain(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no backend given"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("PROMETHEUS_SERVER_ENDPOINT"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_bad_config_file_is_named_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("costetl.toml");
    std::fs::write(
        &path,
        "[prometheus]\nurl = \"http://127.0.0.1:1\"\ntimeout = \"1s\"\n",
    )
    .unwrap();
    let out = costetl(
        &["diagnose", "--config", path.to_str().unwrap(), "--at", AT],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    // What the file may hold instead is in the message.
    assert!(stderr.contains("request_timeout"), "{stderr}");
}
