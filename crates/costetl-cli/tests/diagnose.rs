//! `costetl diagnose` end to end: the binary against a real Prometheus
//! loaded with the simulator's `small` scenario (healthy, degraded, with
//! families dropped, with GPUs, evaluated after its data), the replay of
//! its recorded answers, an unreachable backend and usage errors.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use costetl_sim::Scenario;
use costetl_testkit::PromServer;
use serde_json::Value;

/// The scenario's end: 2 hours after its start.
const AT: &str = "2023-11-14T02:00:00Z";

fn scenario() -> Scenario {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios/small.json");
    Scenario::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn start(s: &Scenario) -> PromServer {
    assert_eq!(s.end.to_rfc3339(), "2023-11-14T02:00:00+00:00");
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    PromServer::start_with_openmetrics(std::str::from_utf8(&text).unwrap()).unwrap()
}

/// As [`start`], without the series of `families` (as when a
/// kube-state-metrics allowlist or a relabelling drops them).
fn start_without(s: &Scenario, families: &[&str]) -> PromServer {
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    let text = std::str::from_utf8(&text).unwrap();
    let dropped = |line: &str| {
        families.iter().any(|f| {
            line.strip_prefix("# TYPE ")
                .unwrap_or(line)
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
    };
    let kept: Vec<&str> = text.lines().filter(|l| !dropped(l)).collect();
    PromServer::start_with_openmetrics(&(kept.join("\n") + "\n")).unwrap()
}

fn costetl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .env_remove("PROMETHEUS_SERVER_ENDPOINT")
        .output()
        .expect("the costetl binary runs")
}

/// `costetl diagnose` of the backend at `url` at the scenario's end,
/// looking back over all of it.
fn diagnose_scenario(url: &str) -> Output {
    costetl(&[
        "diagnose",
        "--prometheus",
        url,
        "--at",
        AT,
        "--lookback",
        "2h",
    ])
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// The `STATUS  name: detail` lines, checking that the summary comes
/// first (then perhaps a hint line), agrees with them, and that each is
/// followed by its indented query line.
fn checks(out: &str) -> Vec<(String, String)> {
    let mut lines = out.lines().peekable();
    let summary = lines.next().expect("output");
    lines.next_if(|l| l.starts_with("hint: "));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len() % 2, 0, "{out}");
    let c: Vec<(String, String)> = body
        .chunks(2)
        .map(|pair| {
            let (status, rest) = pair[0].split_once("  ").expect("STATUS  name: detail");
            assert!(["PASS", "WARN", "FAIL"].contains(&status), "{}", pair[0]);
            let query = pair[1]
                .strip_prefix("      query: ")
                .unwrap_or_else(|| panic!("{}", pair[1]));
            assert!(!query.is_empty());
            (status.to_owned(), rest.to_owned())
        })
        .collect();
    let n = |s: &str| c.iter().filter(|(status, _)| status == s).count();
    let counts = format!(
        "{} failed, {} warnings, {} passed; ",
        n("FAIL"),
        n("WARN"),
        n("PASS")
    );
    assert!(summary.starts_with(&counts), "{counts}\n{out}");
    c
}

fn names(checks: &[(String, String)], status: &str) -> BTreeSet<String> {
    checks
        .iter()
        .filter(|(s, _)| s == status)
        .map(|(_, rest)| {
            // `cluster c: title: detail` or `title: detail`.
            let skip = if rest.starts_with("cluster ") {
                rest.find(": ").expect("cluster c: ") + 2
            } else {
                0
            };
            let end = skip + rest[skip..].find(": ").expect("name: detail");
            rest[..end].to_owned()
        })
        .collect()
}

#[test]
fn healthy_backend_passes_and_exits_zero() {
    let server = start(&scenario());
    let url = server.url();
    let out = diagnose_scenario(&url);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = checks(&text);
    assert!(names(&c, "FAIL").is_empty(), "{text}");
    // The verdict first.
    assert_eq!(
        text.lines().next(),
        Some(format!("0 failed, 0 warnings, {} passed; clusters: small", c.len()).as_str()),
        "{text}"
    );
    assert!(
        text.contains("PASS  cluster small: container_memory_working_set_bytes: present ("),
        "{text}"
    );
    assert!(
        text.contains(
            "      query: count by (cluster_id) (last_over_time(container_memory_working_set_bytes{container!=\"\", container!=\"POD\"}[2h]))\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("PASS  cluster small: kube-state-metrics version: v2 series names"),
        "{text}"
    );
    assert!(
        text.contains(
            "PASS  cluster small: GPU capacity: no GPU in use: no node has a GPU price above 0 \
             or GPU requests (last 2h)\n"
        ),
        "{text}"
    );
}

/// Duplicate kube-state-metrics, `kube_pod_labels` without the cluster
/// label, an unpriced node and a missing recording rule: four failures,
/// exit code 1; the recorded answers replay to the same report.
#[test]
fn degraded_backend_fails_and_replays_offline() {
    let mut s = scenario();
    s.options.duplicate_ksm = true;
    s.options.drop_cluster_label_for = vec!["kube_pod_labels".to_owned()];
    s.options.omit_node_prices_for = vec!["node-b".to_owned()];
    let server = start(&s);
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().to_str().unwrap();
    let flags = [
        "--lookback",
        "2h",
        "--recording-rule",
        "kubecost_container_cpu_usage_irate",
    ];
    let mut args = vec![
        "diagnose",
        "--prometheus",
        &url,
        "--at",
        AT,
        "--record",
        rec,
    ];
    args.extend(flags);
    let live = costetl(&args);
    let text = stdout(&live);
    assert_eq!(live.status.code(), Some(1), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&live.stderr),
        "error: 4 check(s) failed\n"
    );
    let c = checks(&text);
    assert_eq!(
        names(&c, "FAIL"),
        BTreeSet::from(
            [
                "cluster small: duplicate kube-state-metrics series",
                "cluster_id label on every series",
                "cluster small: node prices",
                "recording rule kubecost_container_cpu_usage_irate",
            ]
            .map(str::to_owned)
        ),
        "{text}"
    );
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("4 failed, ") && first.ends_with(" passed; clusters: small"),
        "{text}"
    );
    assert!(
        text.contains("differing in instance: \"ksm-0\", \"ksm-1\""),
        "{text}"
    );
    assert!(
        text.contains("have no node_cpu_hourly_cost series in the last 2h: node-b;"),
        "{text}"
    );
    drop(server);

    // Offline: the time comes from the recording.
    let mut args = vec!["diagnose", "--fixtures", rec];
    args.extend(flags);
    let replay = costetl(&args);
    assert_eq!(replay.status.code(), Some(1));
    assert_eq!(stdout(&replay), text);

    args.extend(["--format", "json"]);
    let json = costetl(&args);
    assert_eq!(json.status.code(), Some(1));
    // The summary first, as in the text.
    let raw = String::from_utf8(json.stdout.clone()).unwrap();
    assert!(
        raw.starts_with("{\n  \"summary\": {\n    \"fail\": 4,"),
        "{raw}"
    );
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["at"], "2023-11-14T02:00:00+00:00");
    assert_eq!(v["lookback_seconds"], 7200);
    assert_eq!(v["summary"]["fail"], 4);
    assert_eq!(v["summary"]["clusters"], serde_json::json!(["small"]));
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), c.len());
    let dup = checks
        .iter()
        .find(|c| c["check"] == "duplicate_ksm")
        .unwrap();
    assert_eq!(dup["cluster"], "small");
    assert_eq!(dup["status"], "fail");
    assert!(
        dup["query"]
            .as_str()
            .unwrap()
            .starts_with("last_over_time((kube_pod_container_status_running"),
        "{dup}"
    );
}

/// A new user's report: `node prices` passed with no node series at all.
/// A check with nothing to look at fails (or warns) saying what was
/// missing; with only `kube_node_info` dropped it still has the engine's
/// own node list, and its pass says how many nodes it checked.
#[test]
fn a_check_with_nothing_to_look_at_does_not_pass() {
    let s = scenario();
    let args = |url: &str| -> Vec<String> {
        [
            "diagnose",
            "--prometheus",
            url,
            "--at",
            AT,
            "--lookback",
            "2h",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |server: &PromServer| {
        let a = args(&server.url());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        costetl(&a)
    };

    let server = start_without(&s, &["kube_node_info", "kube_node_status_capacity"]);
    let out = run(&server);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: 2 check(s) failed\n"
    );
    assert_eq!(
        names(&checks(&text), "FAIL"),
        BTreeSet::from(
            [
                "cluster small: kube_node_status_capacity",
                "cluster small: node prices"
            ]
            .map(str::to_owned)
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "FAIL  cluster small: node prices: not checked: no nodes in kube_node_info or \
             kube_node_status_capacity in the last 2h, so there was nothing to check\n      \
             query: count by (cluster_id) (group by (cluster_id, node) \
             (last_over_time(kube_node_info[2h]) or \
             last_over_time(kube_node_status_capacity{resource=\"cpu\"}[2h])))\n"
        ),
        "{text}"
    );
    drop(server);

    let server = start_without(&s, &["kube_node_info"]);
    let out = run(&server);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "PASS  cluster small: node prices: all 2 node(s) in kube_node_info or \
             kube_node_status_capacity have node_cpu_hourly_cost (last 2h)\n"
        ),
        "{text}"
    );
}

/// Evaluated days after the data: every check finds nothing, and none
/// but the connection passes (the duplicate, node, uid and label checks
/// once did); a hint line names the latest sample, for `--at`.
#[test]
fn nothing_at_the_evaluation_time_passes_nothing() {
    let server = start(&scenario());
    let url = server.url();
    let at = "2023-11-20T00:00:00Z";
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().to_str().unwrap();
    let out = costetl(&[
        "diagnose",
        "--prometheus",
        &url,
        "--at",
        at,
        "--record",
        rec,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The probe (a range query) is recorded and replays too.
    assert_eq!(stdout(&costetl(&["diagnose", "--fixtures", rec])), text);
    let c = checks(&text);
    assert_eq!(
        names(&c, "PASS"),
        BTreeSet::from(["backend connection".to_owned()]),
        "{text}"
    );
    for check in [
        "duplicate kube-state-metrics series",
        "node prices",
        "cluster_id label on every series",
    ] {
        assert!(
            text.contains(&format!("FAIL  {check}: not checked: no ")),
            "{check}: {text}"
        );
    }
    assert!(
        text.contains("WARN  pod uid on kube-state-metrics series: not checked: no "),
        "{text}"
    );

    // The second line says where the data is; following it finds it.
    let hint = text.lines().nth(1).unwrap();
    let prefix = "hint: no series in the 1h before 2023-11-20T00:00:00Z: is the data older? \
                  pass --at TIME (the latest sample of kube_node_status_capacity is at ";
    let latest = hint
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(latest, "2023-11-14T02:00:00Z", "{text}");
    let out = costetl(&["diagnose", "--prometheus", &url, "--at", latest]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("hint: "), "{text}");

    let json = costetl(&[
        "diagnose",
        "--prometheus",
        &url,
        "--at",
        at,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["hint"].as_str(), hint.strip_prefix("hint: "));
    assert_eq!(v["summary"]["clusters"], serde_json::json!([]));
}

/// Without `kube_replicaset_owner`, Deployments show as ReplicaSets: a
/// warning naming that consequence, and exit code 0.
#[test]
fn missing_replicaset_owners_warn() {
    let server = start_without(&scenario(), &["kube_replicaset_owner"]);
    let url = server.url();
    let out = diagnose_scenario(&url);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        names(&checks(&text), "WARN"),
        BTreeSet::from(["cluster small: kube_replicaset_owner".to_owned()]),
        "{text}"
    );
    assert!(
        text.contains(
            "WARN  cluster small: kube_replicaset_owner: missing: no series in the last 2h; \
             Deployments show as ReplicaSets: the controller of every Deployment (or Argo \
             Rollout) pod is its ReplicaSet"
        ),
        "{text}"
    );
    assert!(
        text.contains("PASS  cluster small: kube_pod_owner: present ("),
        "{text}"
    );
}

/// node-a has a GPU, priced; node-b is priced for GPUs it does not have,
/// and a pod on it requests one: node-b fails the GPU capacity check,
/// named, and node-a, whose capacity is there, is not.
#[test]
fn gpu_requests_without_gpu_capacity_fail_naming_the_node() {
    let mut s = scenario();
    let nodes = &mut s.clusters[0].nodes;
    nodes[0].gpus = 1.0;
    nodes[0].prices.gpu = 2.5;
    nodes[1].prices.gpu = 0.5;
    let node_b = nodes[1].name.clone();
    let pod = s.clusters[0]
        .pods
        .iter_mut()
        .find(|p| p.node == node_b)
        .expect("a pod on node-b");
    pod.containers[0].gpu_request = 1.0;
    let server = start(&s);
    let url = server.url();
    let out = diagnose_scenario(&url);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: 1 check(s) failed\n"
    );
    assert_eq!(
        names(&checks(&text), "FAIL"),
        BTreeSet::from(["cluster small: GPU capacity".to_owned()]),
        "{text}"
    );
    assert!(
        text.contains(
            "FAIL  cluster small: GPU capacity: 1 node(s) have GPU requests but no GPU \
             capacity: node-b; their GPU requests are charged while the node's GPU cost \
             (capacity × price) is 0"
        ),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(": GPU capacity: "))
        .unwrap();
    assert!(!line.contains("node-a"), "{line}");
}

/// The user's report: one connection error printed once per check. Now
/// one failure, the connectivity check's, with the error and what to
/// look at; nothing else was asked.
#[test]
fn unreachable_backend_is_one_failure_with_a_hint() {
    let port = costetl_testkit::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let out = costetl(&["diagnose", "--prometheus", &url, "--at", AT]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: 1 check(s) failed\n"
    );
    assert!(
        text.starts_with("1 failed, 0 warnings, 0 passed; no cluster found\n"),
        "{text}"
    );
    let c = checks(&text);
    let [(status, rest)] = c.as_slice() else {
        panic!("{text}")
    };
    assert_eq!(status, "FAIL", "{text}");
    assert!(
        rest.starts_with("backend connection: query connectivity failed: "),
        "{rest}"
    );
    assert!(rest.contains(&url), "{rest}");
    assert!(
        rest.ends_with(
            "; the other checks were skipped. Check the URL (scheme, host, port and path \
             prefix), the authentication (basic auth, bearer token, SigV4 region and role) \
             and TLS (http or https, the CA, a client certificate)"
        ),
        "{rest}"
    );
    assert!(text.contains("      query: vector(1)\n"), "{text}");
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["diagnose"][..],
        &[
            "diagnose",
            "--prometheus",
            "http://127.0.0.1:1",
            "--lookback",
            "0m",
        ],
        &[
            "diagnose",
            "--prometheus",
            "http://127.0.0.1:1",
            "--at",
            "yesterday",
        ],
        &["diagnose", "--fixtures", "x", "--record", "y"],
    ] {
        let out = costetl(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
