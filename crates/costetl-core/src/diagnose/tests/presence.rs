//! Presence checks, the kube-state-metrics version, recording rules and
//! the clusters a diagnosis finds.

use super::*;

#[test]
fn healthy_clusters_pass_everything() {
    let cfg = EngineConfig::default();
    let o = opts();
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &healthy(&["a", "b"]))).outcomes;
    let bad: Vec<_> = out.iter().filter(|o| o.status != Status::Pass).collect();
    assert!(bad.is_empty(), "{bad:#?}");
    let m = find(&out, "cadvisor_memory", Some("a"));
    assert_eq!(m.name, "cluster a: container_memory_working_set_bytes");
    assert_eq!(m.detail, "present (10 series in the last 1h)");
    assert_eq!(
        m.query,
        "count by (cluster_id) (last_over_time(container_memory_working_set_bytes\
         {container!=\"\", container!=\"POD\"}[1h]))"
    );
    assert_eq!(find(&out, "ksm_version", Some("b")).status, Status::Pass);
    // Every outcome names the PromQL it ran.
    assert!(out.iter().all(|o| !o.query.is_empty()));
}

#[test]
fn metric_missing_in_one_cluster_fails_for_that_cluster() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    set.push((
        "cost_node_total",
        body(&[
            (&[("cluster_id", "a")], 3.0),
            (&[], 2.0), // no cluster label
        ]),
    ));
    set.push(("cost_pv", body(&[(&[("cluster_id", "a")], 3.0)])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(
        failed(&out),
        [("cost_node_total".to_owned(), Some("b".to_owned()))]
    );
    let f = find(&out, "cost_node_total", Some("b"));
    assert!(
        f.detail.starts_with("missing: no series in the last 1h"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("2 series have no cluster_id label"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("cost exporter"), "{}", f.detail);
    // Optional series missing is a warning.
    assert_eq!(find(&out, "cost_pv", Some("b")).status, Status::Warn);
    assert_eq!(find(&out, "cost_pv", Some("a")).status, Status::Pass);
}

#[test]
fn nothing_at_all_fails_once_per_check() {
    let cfg = EngineConfig::default();
    let o = opts();
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &[])).outcomes;
    let m = find(&out, "cadvisor_cpu", None);
    assert_eq!(m.status, Status::Fail);
    assert!(
        m.detail.starts_with("no series in any cluster"),
        "{}",
        m.detail
    );
    assert_eq!(find(&out, "cost_pv", None).status, Status::Warn);
    assert_eq!(find(&out, "ksm_version", None).status, Status::Fail);
    // Nothing to look at is not a pass: each check whose subject is
    // missing says so, at its own severity (this test once expected
    // `cluster_label` to pass on an empty backend).
    for (check, status, what) in [
        (
            "cluster_label",
            Status::Fail,
            "series of the families costetl reads",
        ),
        (
            "duplicate_ksm",
            Status::Fail,
            "kube_pod_container_status_running series",
        ),
        (
            "duplicate_cadvisor",
            Status::Warn,
            "cAdvisor working-set series",
        ),
        (
            "node_prices",
            Status::Fail,
            "nodes in kube_node_info or kube_node_status_capacity",
        ),
        (
            "pod_uid",
            Status::Warn,
            "kube_pod_info or kube_pod_container_resource_requests series",
        ),
    ] {
        let o = find(&out, check, None);
        assert_eq!(o.status, status, "{o:#?}");
        assert!(
            o.detail
                .starts_with(&format!("not checked: no {what} in the last 1h")),
            "{}",
            o.detail
        );
    }
    let passed: Vec<&str> = out
        .iter()
        .filter(|o| o.status == Status::Pass)
        .map(|o| o.check.as_str())
        .collect();
    assert_eq!(passed, ["connectivity"], "{out:#?}");
}

/// Without `kube_replicaset_owner`, Deployment pods show their ReplicaSet
/// as controller; without `kube_pod_owner`, pods have none. Both warn.
#[test]
fn missing_owner_series_warn_naming_the_consequence() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    let only_a = body(&[(&[("cluster_id", "a")], 10.0)]);
    set.push(("ksm_replicaset_owner", only_a.clone()));
    set.push(("ksm_pod_owner", only_a));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert!(failed(&out).is_empty(), "{out:#?}");
    let rs = find(&out, "ksm_replicaset_owner", Some("b"));
    assert_eq!(rs.status, Status::Warn);
    assert_eq!(rs.name, "cluster b: kube_replicaset_owner");
    assert!(
        rs.detail
            .contains("Deployments show as ReplicaSets: the controller of every Deployment"),
        "{}",
        rs.detail
    );
    assert_eq!(
        rs.query,
        "count by (cluster_id) (last_over_time(kube_replicaset_owner[1h]))"
    );
    let pod = find(&out, "ksm_pod_owner", Some("b"));
    assert_eq!(pod.status, Status::Warn);
    assert!(
        pod.detail.contains("pods have no controller"),
        "{}",
        pod.detail
    );
    assert_eq!(
        find(&out, "ksm_replicaset_owner", Some("a")).status,
        Status::Pass
    );
    // Reported with the kube-state-metrics checks, before the version.
    let order: Vec<&str> = out.iter().map(|o| o.check.as_str()).collect();
    let at = |id: &str| order.iter().position(|c| *c == id).unwrap();
    assert!(at("ksm_node_capacity") < at("ksm_pod_owner"));
    assert!(at("ksm_replicaset_owner") < at("ksm_version"));
    assert!(at("ksm_version") < at("cost_node_total"));
}

#[test]
fn single_cluster_without_label_is_the_default_cluster() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set: Vec<(&str, Vec<u8>)> = PRESENCE
        .iter()
        .map(|m| (m.id, body(&[(&[], 4.0)])))
        .collect();
    set.push((
        "ksm_version",
        body(&[(&[("__name__", "kube_pod_container_resource_requests")], 4.0)]),
    ));
    set.push((
        "cluster_label",
        body(&[(&[("__name__", "kube_pod_info")], 4.0)]),
    ));
    set.push(("node_prices:nodes", body(&[(&[], 2.0)])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert!(failed(&out).is_empty(), "{out:#?}");
    assert_eq!(
        find(&out, "ksm_running", Some("default-cluster")).status,
        Status::Pass
    );
    let l = find(&out, "cluster_label", None);
    assert_eq!(l.status, Status::Warn);
    assert!(
        l.detail.contains("kube_pod_info (4 series)"),
        "{}",
        l.detail
    );
    assert!(
        l.detail.contains("fine for a single cluster"),
        "{}",
        l.detail
    );
}

#[test]
fn ksm_versions() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b", "c"]);
    set.push((
        "ksm_version",
        body(&[
            (
                &[
                    ("__name__", "kube_pod_container_resource_requests"),
                    ("cluster_id", "a"),
                ],
                5.0,
            ),
            (
                &[
                    ("__name__", "kube_node_status_capacity"),
                    ("cluster_id", "a"),
                ],
                5.0,
            ),
            (
                &[
                    ("__name__", "kube_pod_container_resource_requests_cpu_cores"),
                    ("cluster_id", "b"),
                ],
                5.0,
            ),
            (
                &[
                    ("__name__", "kube_node_status_capacity_cpu_cores"),
                    ("cluster_id", "b"),
                ],
                5.0,
            ),
            (
                &[
                    ("__name__", "kube_pod_container_resource_requests"),
                    ("cluster_id", "c"),
                ],
                5.0,
            ),
            (
                &[
                    ("__name__", "kube_pod_container_resource_requests_cpu_cores"),
                    ("cluster_id", "c"),
                ],
                5.0,
            ),
        ]),
    ));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(find(&out, "ksm_version", Some("a")).status, Status::Pass);
    let b = find(&out, "ksm_version", Some("b"));
    assert_eq!(b.status, Status::Fail);
    assert!(
        b.detail.starts_with(
            "only v1 series names (kube_pod_container_resource_requests_cpu_cores, \
             kube_node_status_capacity_cpu_cores)"
        ),
        "{}",
        b.detail
    );
    assert!(
        b.detail.contains("upgrade kube-state-metrics"),
        "{}",
        b.detail
    );
    assert_eq!(find(&out, "ksm_version", Some("c")).status, Status::Warn);
}

#[test]
fn recording_rules_and_failed_queries() {
    let cfg = EngineConfig::default();
    let o = DiagnoseOptions {
        recording_rules: vec![
            "kubecost_container_cpu_usage_irate".into(),
            "cluster:cpu_usage:rate5m".into(),
            "kubecost_container_cpu_usage_irate".into(),
        ],
        ..opts()
    };
    let mut set = healthy(&["a"]);
    set.push((
        "recording_rule:cluster:cpu_usage:rate5m",
        body(&[(&[], 1.0)]),
    ));
    let mut a = answers(&cfg, &o, &set);
    a.insert(
        "cadvisor_cpu",
        Err(Error::Backend {
            query: "cadvisor_cpu".into(),
            error_type: "timeout".into(),
            message: "query timed out in query queue".into(),
        }),
    );
    let out = evaluate(&cfg, &o, &a).outcomes;
    assert_eq!(
        failed(&out),
        [
            ("cadvisor_cpu".to_owned(), None),
            ("recording_rule".to_owned(), None)
        ]
    );
    let e = find(&out, "cadvisor_cpu", None);
    assert_eq!(
        e.detail,
        "query failed: query cadvisor_cpu: backend error timeout: query timed out in query queue"
    );
    let rules: Vec<&CheckOutcome> = out.iter().filter(|o| o.check == "recording_rule").collect();
    assert_eq!(rules.len(), 2, "duplicates are checked once");
    assert_eq!(
        rules[0].name,
        "recording rule kubecost_container_cpu_usage_irate"
    );
    assert_eq!(
        rules[0].query,
        "count(last_over_time({__name__=\"kubecost_container_cpu_usage_irate\"}[1h]))"
    );
    assert_eq!(rules[1].status, Status::Pass);
}

/// The clusters a diagnosis found: those with any presence series.
#[test]
fn the_diagnosis_names_the_clusters_found() {
    let cfg = EngineConfig::default();
    let o = opts();
    let d = evaluate(&cfg, &o, &answers(&cfg, &o, &healthy(&["b", "a"])));
    assert_eq!(d.clusters, ["a", "b"]);
    assert_eq!(d.outcomes[0].check, "connectivity");
    assert_eq!(d.outcomes[0].status, Status::Pass);
    assert_eq!(d.count(Status::Fail), 0);
    // A filtered cluster without any series is not "found".
    let cfg = EngineConfig {
        cluster_filter: Some("c".into()),
        ..EngineConfig::default()
    };
    let d = evaluate(&cfg, &o, &answers(&cfg, &o, &[]));
    assert!(d.clusters.is_empty(), "{:?}", d.clusters);
}
