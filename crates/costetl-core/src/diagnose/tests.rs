//! Unit tests of the plan and the evaluation on hand-made answers.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::catalog::{self, KSM_V2, PRESENCE};
use super::text::{count, list};
use super::*;
use crate::error::Error;
use crate::plan::EngineConfig;
use crate::plan::promql::dur;
use crate::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 14, 2, 0, 0).unwrap()
}

fn opts() -> DiagnoseOptions {
    DiagnoseOptions::new(at())
}

/// A vector body with one sample per series.
fn body(series: &[(&[(&str, &str)], f64)]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|(labels, v)| {
            let metric: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            serde_json::json!({"metric": metric, "value": [1_699_927_200, v.to_string()]})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "vector", "result": result}
    }))
    .unwrap()
}

/// Answers where every query returns nothing, then `set` overrides.
fn answers(cfg: &EngineConfig, o: &DiagnoseOptions, set: &[(&str, Vec<u8>)]) -> Answers {
    let mut a = Answers::default();
    for q in queries(cfg, o).unwrap() {
        a.insert_body(&q.id, &body(&[]));
    }
    for (id, b) in set {
        a.insert_body(id, b);
    }
    a
}

fn body_v(series: &[(Vec<(&str, &str)>, f64)]) -> Vec<u8> {
    let v: Vec<(&[(&str, &str)], f64)> = series.iter().map(|(l, v)| (l.as_slice(), *v)).collect();
    body(&v)
}

/// Every required metric present in `clusters`, v2 names, optional
/// series too.
fn healthy(clusters: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let per: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .map(|c| (vec![("cluster_id", *c)], 10.0))
        .collect();
    let mut out: Vec<(&'static str, Vec<u8>)> =
        PRESENCE.iter().map(|m| (m.id, body_v(&per))).collect();
    let versions: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .flat_map(|c| {
            KSM_V2
                .iter()
                .map(move |n| (vec![("__name__", *n), ("cluster_id", *c)], 5.0))
        })
        .collect();
    out.push(("ksm_version", body_v(&versions)));
    let nodes: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .map(|c| (vec![("cluster_id", *c)], 2.0))
        .collect();
    out.push(("node_prices:nodes", body_v(&nodes)));
    out
}

fn find<'a>(out: &'a [CheckOutcome], check: &str, cluster: Option<&str>) -> &'a CheckOutcome {
    out.iter()
        .find(|o| o.check == check && o.cluster.as_deref() == cluster)
        .unwrap_or_else(|| panic!("no outcome {check} {cluster:?} in {out:#?}"))
}

fn failed(out: &[CheckOutcome]) -> Vec<(String, Option<String>)> {
    out.iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| (o.check.clone(), o.cluster.clone()))
        .collect()
}

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
fn series_without_the_pod_uid_warn_for_their_cluster() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    set.push((
        "pod_uid",
        body_v(&[(
            vec![
                ("__name__", "kube_pod_container_resource_requests"),
                ("cluster_id", "b"),
            ],
            7.0,
        )]),
    ));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(find(&out, "pod_uid", Some("a")).status, Status::Pass);
    let b = find(&out, "pod_uid", Some("b"));
    assert_eq!(b.status, Status::Warn);
    assert!(
        b.detail.starts_with(
            "series without the pod uid: kube_pod_container_resource_requests (7 series)"
        ),
        "{}",
        b.detail
    );
    assert!(
        b.query.contains("uid=\"\"") && b.query.contains("kube_pod_info"),
        "{}",
        b.query
    );
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

/// The user's report: `node prices` passed with no `kube_node_info` at
/// all. A cluster whose subject of a check is missing gets that check
/// failed (or warned), naming what is missing, even when other clusters
/// have it.
#[test]
fn a_check_without_its_subject_in_one_cluster_does_not_pass_there() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    // b: no nodes, no running containers, no pods, no cAdvisor.
    set.push(("node_prices:nodes", body(&[(&[("cluster_id", "a")], 2.0)])));
    let only_a = body(&[(&[("cluster_id", "a")], 10.0)]);
    for id in [
        "ksm_running",
        "ksm_pod_info",
        "ksm_requests",
        "cadvisor_memory",
    ] {
        set.push((id, only_a.clone()));
    }
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    for check in [
        "node_prices",
        "duplicate_ksm",
        "duplicate_cadvisor",
        "pod_uid",
    ] {
        assert_eq!(find(&out, check, Some("a")).status, Status::Pass, "{check}");
    }
    let n = find(&out, "node_prices", Some("b"));
    assert_eq!(n.status, Status::Fail);
    assert_eq!(
        n.detail,
        "not checked: no nodes in kube_node_info or kube_node_status_capacity in the last \
         1h, so there was nothing to check"
    );
    // The query shown is the one that came back empty.
    assert_eq!(
        n.query,
        "count by (cluster_id) (group by (cluster_id, node) \
         (last_over_time(kube_node_info[1h]) or \
         last_over_time(kube_node_status_capacity{resource=\"cpu\"}[1h])))"
    );
    let d = find(&out, "duplicate_ksm", Some("b"));
    assert_eq!(d.status, Status::Fail);
    assert!(d.detail.ends_with("(see ksm_running)"), "{}", d.detail);
    assert_eq!(
        find(&out, "duplicate_cadvisor", Some("b")).status,
        Status::Warn
    );
    assert_eq!(find(&out, "pod_uid", Some("b")).status, Status::Warn);
    // A pass says how much it looked at.
    assert_eq!(
        find(&out, "node_prices", Some("a")).detail,
        "all 2 node(s) in kube_node_info or kube_node_status_capacity have \
         node_cpu_hourly_cost (last 1h)"
    );
    assert_eq!(
        find(&out, "duplicate_ksm", Some("a")).detail,
        "no object has more than one kube_pod_container_status_running series at once (10 \
         series, last 1h)"
    );
}

/// A subject whose query failed is unknown, not empty.
#[test]
fn a_failed_subject_query_is_named() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut a = answers(&cfg, &o, &healthy(&["a"]));
    a.insert(
        "node_prices:nodes",
        Err(Error::Backend {
            query: "node_prices:nodes".into(),
            error_type: "timeout".into(),
            message: "query timed out".into(),
        }),
    );
    let out = evaluate(&cfg, &o, &a).outcomes;
    let n = find(&out, "node_prices", Some("a"));
    assert_eq!(n.status, Status::Fail);
    assert_eq!(
        n.detail,
        "not checked: query node_prices:nodes: backend error timeout: query timed out"
    );
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
fn family_without_label_next_to_labelled_ones_fails() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a"]);
    set.push((
        "cluster_label",
        body(&[(&[("__name__", "kube_pod_labels")], 1234.0)]),
    ));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(failed(&out), [("cluster_label".to_owned(), None)]);
    let l = find(&out, "cluster_label", None);
    assert!(
        l.detail.contains("kube_pod_labels (1,234 series)"),
        "{}",
        l.detail
    );
    assert!(l.detail.contains("\"default-cluster\""), "{}", l.detail);
    assert!(l.query.contains("cluster_id=\"\""), "{}", l.query);

    // Not a failure when the default cluster is that cluster.
    let cfg = EngineConfig {
        default_cluster: "a".into(),
        ..EngineConfig::default()
    };
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(find(&out, "cluster_label", None).status, Status::Warn);
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
fn duplicates_name_an_example_and_the_differing_labels() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    let s = |pod: &'static str, inst: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("__name__", "kube_pod_container_status_running"),
            ("cluster_id", "a"),
            ("container", "app"),
            ("instance", inst),
            ("job", "kube-state-metrics"),
            ("namespace", "web"),
            ("pod", pod),
            ("uid", "u-1"),
        ]
    };
    let (a0, a1, b0, b1, c0) = (
        s("api-1", "10.0.0.1:8080"),
        s("api-1", "10.0.0.2:8080"),
        s("api-2", "10.0.0.1:8080"),
        s("api-2", "10.0.0.2:8080"),
        s("api-3", "10.0.0.1:8080"),
    );
    set.push((
        "duplicate_ksm",
        body_v(&[(a0, 1.0), (a1, 1.0), (b0, 1.0), (b1, 1.0), (c0, 1.0)]),
    ));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(
        failed(&out),
        [("duplicate_ksm".to_owned(), Some("a".to_owned()))]
    );
    let d = find(&out, "duplicate_ksm", Some("a"));
    assert!(
        d.detail.starts_with(
            "2 object(s) have more than one kube_pod_container_status_running series at once, \
             e.g. {cluster_id=\"a\", namespace=\"web\", pod=\"api-1\", uid=\"u-1\", \
             container=\"app\"} (2 series, differing in instance: \"10.0.0.1:8080\", \
             \"10.0.0.2:8080\")"
        ),
        "{}",
        d.detail
    );
    assert!(d.detail.contains("two kube-state-metrics"), "{}", d.detail);
    assert_eq!(find(&out, "duplicate_ksm", Some("b")).status, Status::Pass);
    assert_eq!(
        find(&out, "duplicate_cadvisor", Some("a")).status,
        Status::Pass
    );
}

#[test]
fn unpriced_nodes_are_listed_per_cluster() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b"]);
    set.push((
        "node_prices",
        body(&[
            (&[("cluster_id", "b"), ("node", "n2")], 1.0),
            (&[("cluster_id", "b"), ("node", "n1")], 1.0),
        ]),
    ));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(
        failed(&out),
        [("node_prices".to_owned(), Some("b".to_owned()))]
    );
    let n = find(&out, "node_prices", Some("b"));
    assert!(
        n.detail.starts_with(
            "2 node(s) in kube_node_info or kube_node_status_capacity have no \
             node_cpu_hourly_cost series in the last 1h: n1, n2;"
        ),
        "{}",
        n.detail
    );
    assert!(n.detail.contains("$0.021811/core-h"), "{}", n.detail);
    assert_eq!(find(&out, "node_prices", Some("a")).status, Status::Pass);
}

/// Nodes with GPU requests but no GPU capacity fail, nodes with only a
/// GPU price warn; a cluster whose GPU nodes have capacity passes saying
/// how many, one without GPUs says so.
#[test]
fn gpu_capacity_is_required_where_gpus_are_priced_or_requested() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a", "b", "c"]);
    let need = |cluster: &'static str, node: &'static str, need: &'static str| {
        (
            vec![("cluster_id", cluster), ("need", need), ("node", node)],
            1.0,
        )
    };
    set.push((
        "gpu_capacity",
        body_v(&[
            need("a", "gpu-1", "requests"),
            need("a", "gpu-1", "price"),
            need("a", "gpu-2", "price"),
            need("b", "gpu-9", "price"),
        ]),
    ));
    set.push((
        "gpu_capacity:nodes",
        body(&[(&[("cluster_id", "a")], 2.0), (&[("cluster_id", "b")], 1.0)]),
    ));
    let mut with_d = set.clone();
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    let a = find(&out, "gpu_capacity", Some("a"));
    assert_eq!(a.status, Status::Fail);
    assert_eq!(a.name, "cluster a: GPU capacity");
    assert!(
        a.detail.starts_with(
            "1 node(s) have GPU requests but no GPU capacity: gpu-1; their GPU requests are \
             charged"
        ),
        "{}",
        a.detail
    );
    assert!(
        a.detail.contains(
            "1 node(s) have a GPU price above 0 but no GPU capacity: gpu-2; if they have GPUs"
        ),
        "{}",
        a.detail
    );
    assert!(a.detail.contains("node_gpu_count"), "{}", a.detail);
    assert_eq!(
        a.query,
        "max by (cluster_id, node, need) (label_replace(max_over_time(node_gpu_hourly_cost[1h]) \
         > 0, \"need\", \"price\", \"\", \"\") or \
         label_replace(max_over_time(kube_pod_container_resource_requests{node!=\"\", \
         resource=\"nvidia_com_gpu\"}[1h]) > 0, \"need\", \"requests\", \"\", \"\")) unless on \
         (cluster_id, node) ((max by (cluster_id, node) (max_over_time(node_gpu_count[1h])) or \
         max by (cluster_id, node) \
         (max_over_time(kube_node_status_capacity{resource=\"nvidia_com_gpu\"}[1h]))) > 0)"
    );
    let b = find(&out, "gpu_capacity", Some("b"));
    assert_eq!(b.status, Status::Warn);
    assert!(
        b.detail.starts_with("1 node(s) have a GPU price above 0"),
        "{}",
        b.detail
    );
    let c = find(&out, "gpu_capacity", Some("c"));
    assert_eq!(c.status, Status::Pass);
    assert_eq!(
        c.detail,
        "no GPU in use: no node has a GPU price above 0 or GPU requests (last 1h)"
    );

    // GPU nodes with capacity: the pass counts them.
    with_d.push(("gpu_capacity:nodes", body(&[(&[("cluster_id", "c")], 3.0)])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &with_d)).outcomes;
    assert_eq!(
        find(&out, "gpu_capacity", Some("c")).detail,
        "all 3 node(s) with a GPU price above 0 or GPU requests have GPU capacity (last 1h)"
    );

    // Without requests and prices, GPU use is unknown.
    let mut bare = healthy(&["a"]);
    bare.push(("ksm_requests", body(&[])));
    bare.push(("cost_node_cpu", body(&[])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &bare)).outcomes;
    let g = find(&out, "gpu_capacity", Some("a"));
    assert_eq!(g.status, Status::Warn);
    assert!(
        g.detail.starts_with(
            "not checked: no kube_pod_container_resource_requests or node_cpu_hourly_cost series"
        ),
        "{}",
        g.detail
    );
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

#[test]
fn queries_use_the_cluster_label_filter_and_lookback() {
    let cfg = EngineConfig {
        cluster_label: "cluster".into(),
        cluster_filter: Some("prod\"1".into()),
        resolution: TimeDelta::minutes(5),
        ..EngineConfig::default()
    };
    let o = DiagnoseOptions {
        lookback: TimeDelta::hours(6),
        recording_rules: vec!["kubecost_container_cpu_usage_irate".into()],
        ..opts()
    };
    let qs = queries(&cfg, &o).unwrap();
    let ids: BTreeSet<&str> = qs.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids.len(), qs.len(), "query ids are unique");
    let (first, qs) = qs.split_first().unwrap();
    assert_eq!(
        (first.id.as_str(), first.promql.as_str()),
        ("connectivity", "vector(1)")
    );
    for q in qs {
        assert_eq!(q.kind, QueryKind::Instant { time: at() });
        assert!(q.promql.contains("[6h"), "{}", q.promql);
        let unfiltered = q.id == "cluster_label" || q.id.starts_with("recording_rule:");
        assert_eq!(
            q.promql.contains("cluster=\"prod\\\"1\""),
            !unfiltered,
            "{}",
            q.promql
        );
    }
    let dup = qs.iter().find(|q| q.id == "duplicate_ksm").unwrap();
    assert_eq!(
        dup.promql,
        "last_over_time((kube_pod_container_status_running{cluster=\"prod\\\"1\"} and on \
         (cluster, namespace, pod, uid, container) (count by (cluster, namespace, pod, uid, \
         container) (kube_pod_container_status_running{cluster=\"prod\\\"1\"}) > 1))[6h:5m])"
    );
    // With a filter, only that cluster is reported on.
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &[])).outcomes;
    let m = find(&out, "ksm_running", Some("prod\"1"));
    assert_eq!(m.status, Status::Fail);
}

#[test]
fn invalid_options_are_rejected() {
    let cfg = EngineConfig::default();
    let zero = DiagnoseOptions {
        lookback: TimeDelta::zero(),
        ..opts()
    };
    assert!(queries(&cfg, &zero).is_err());
    let short = DiagnoseOptions {
        lookback: TimeDelta::seconds(30),
        ..opts()
    };
    let e = queries(&cfg, &short).unwrap_err();
    assert!(e.to_string().contains("at most the lookback"), "{e}");
    let empty = DiagnoseOptions {
        recording_rules: vec![" ".into()],
        ..opts()
    };
    assert!(queries(&cfg, &empty).is_err());
}

/// The cluster-label check covers every series of the contract the
/// engine reads.
#[test]
fn families_cover_the_metrics_contract() {
    let doc = include_str!("../../../../docs/metrics.md");
    // Exported by OpenCost, but not read by the engine.
    let unread = [
        "container_cpu_allocation",
        "container_memory_allocation_bytes",
    ];
    let mut missing = Vec::new();
    for line in doc.lines() {
        let Some(name) = line
            .strip_prefix("| `")
            .and_then(|l| l.split_once('`'))
            .map(|(n, _)| n)
        else {
            continue;
        };
        if !FAMILIES.contains(&name) && !unread.contains(&name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "add to FAMILIES: {missing:?}");
    let checked: BTreeSet<&str> = PRESENCE.iter().map(|m| m.metric).collect();
    assert!(checked.iter().all(|m| FAMILIES.contains(m)), "{checked:?}");
}

/// A duplicate check's subject is the presence check of the same series.
#[test]
fn duplicate_checks_count_their_own_series() {
    for d in [&catalog::DUP_KSM, &catalog::DUP_CADVISOR] {
        let m = PRESENCE.iter().find(|m| m.id == d.subject).unwrap();
        assert_eq!((m.metric, m.matchers), (d.metric, d.matchers), "{}", d.id);
    }
}

#[test]
fn formatting_helpers() {
    assert_eq!(count(0.0), "0");
    assert_eq!(count(999.0), "999");
    assert_eq!(count(1234.0), "1,234");
    assert_eq!(count(1_234_567.0), "1,234,567");
    assert_eq!(dur(TimeDelta::hours(1)), "1h");
    assert_eq!(dur(TimeDelta::minutes(90)), "90m");
    assert_eq!(dur(TimeDelta::days(2)), "2d");
    assert_eq!(dur(TimeDelta::seconds(45)), "45s");
    assert_eq!(dur(TimeDelta::milliseconds(1500)), "1500ms");
    let items: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
    assert_eq!(list(&items, 2), "n1, n2 and 2 more");
}

/// A source that answers every query with an empty vector, except one
/// that fails.
struct Flaky;

impl MetricsSource for Flaky {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        let r = if q.id == "cost_node_ram" {
            Err(SourceError::new(
                SourceErrorKind::Transient,
                "POST http://prom/api/v1/query: connection refused",
            ))
        } else {
            Ok(RawResponse {
                body: body(&[(&[("cluster_id", "a")], 1.0)]),
            })
        };
        std::future::ready(r)
    }
}

#[test]
fn run_turns_a_failing_query_into_a_failed_check() {
    let cfg = EngineConfig::default();
    let out = futures::executor::block_on(run(&Flaky, &cfg, &opts()))
        .unwrap()
        .outcomes;
    let f = find(&out, "cost_node_ram", None);
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.detail,
        "query failed: query cost_node_ram failed: POST http://prom/api/v1/query: connection refused"
    );
    assert_eq!(find(&out, "cost_node_cpu", Some("a")).status, Status::Pass);
    // Every check has at least one outcome.
    let checks: BTreeSet<&str> = out.iter().map(|o| o.check.as_str()).collect();
    assert_eq!(checks.len(), PRESENCE.len() + 8);
}

/// A source whose every query fails as an unreachable backend does,
/// counting the queries it was asked.
struct Unreachable {
    asked: std::sync::atomic::AtomicUsize,
    message: &'static str,
}

impl MetricsSource for Unreachable {
    fn query(
        &self,
        _: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::future::ready(Err(SourceError::new(
            SourceErrorKind::Transient,
            self.message,
        )))
    }
}

/// The user's report: one connection error printed once per check. The
/// connectivity query goes first and alone; when it fails, one outcome
/// names the error and what to look at, and nothing else is asked.
#[test]
fn an_unreachable_backend_is_one_failure_and_one_query() {
    let src = Unreachable {
        asked: Default::default(),
        message: "POST http://prom:9090/api/v1/query: connection refused",
    };
    let cfg = EngineConfig::default();
    let d = futures::executor::block_on(run(&src, &cfg, &opts())).unwrap();
    assert_eq!(src.asked.into_inner(), 1);
    assert!(d.clusters.is_empty());
    let [o] = d.outcomes.as_slice() else {
        panic!("{d:#?}")
    };
    assert_eq!((o.check.as_str(), o.status), ("connectivity", Status::Fail));
    assert_eq!(o.name, "backend connection");
    assert_eq!(o.query, "vector(1)");
    assert_eq!(
        o.detail,
        "query connectivity failed: POST http://prom:9090/api/v1/query: connection refused; \
         the other checks were skipped. Check the URL (scheme, host, port and path prefix), \
         the authentication (basic auth, bearer token, SigV4 region and role) and TLS (http \
         or https, the CA, a client certificate)"
    );

    // What the error points at leads the hint.
    let cfg = EngineConfig::default();
    let o = opts();
    let mut a = answers(&cfg, &o, &[]);
    a.insert_body("connectivity", b"<html>Grafana</html>");
    let d = evaluate(&cfg, &o, &a);
    assert_eq!(d.outcomes.len(), 1);
    assert!(
        d.outcomes[0].detail.contains(
            "skipped. The URL answers, but not with the Prometheus HTTP API: a wrong path prefix"
        ),
        "{}",
        d.outcomes[0].detail
    );
    a.insert(
        "connectivity",
        Err(Error::Source {
            query: "connectivity".into(),
            message: "POST https://prom/api/v1/query: HTTP 401 Unauthorized".into(),
            kind: SourceErrorKind::Permanent,
        }),
    );
    let d = evaluate(&cfg, &o, &a);
    assert!(
        d.outcomes[0]
            .detail
            .contains("skipped. The backend refuses the credentials. Check the URL"),
        "{}",
        d.outcomes[0].detail
    );
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

/// A range answer: one series per family, `(time, sample time)` points.
fn probe_body(series: &[(&str, &[(f64, f64)])]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|(family, points)| {
            let values: Vec<serde_json::Value> = points
                .iter()
                .map(|(t, v)| serde_json::json!([t, v.to_string()]))
                .collect();
            serde_json::json!({"metric": {"family": family}, "values": values})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": result}
    }))
    .unwrap()
}

/// A source where nothing is at the evaluation time, and the probe finds
/// node capacity a week earlier.
struct Elsewhere;

impl MetricsSource for Elsewhere {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        let body = match q.kind {
            QueryKind::Instant { .. } => body(&[]),
            QueryKind::Range { .. } => probe_body(&[
                ("kube_node_status_capacity", &[(1.0, 1_699_300_000.0)]),
                ("node_total_hourly_cost", &[(1.0, 1_699_200_000.5)]),
            ]),
        };
        std::future::ready(Ok(RawResponse { body }))
    }
}

/// The user's report: nothing found, and no hint that the data may be
/// elsewhere in time. When every presence check is empty, the probe looks
/// for the latest sample and the diagnosis names it for `--at`.
#[test]
fn nothing_found_hints_at_the_evaluation_time() {
    let cfg = EngineConfig::default();
    let o = opts();
    let d = futures::executor::block_on(run(&Elsewhere, &cfg, &o)).unwrap();
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "no series in the 1h before 2023-11-14T02:00:00Z: is the data older? pass --at \
             TIME (the latest sample of kube_node_status_capacity is at 2023-11-06T19:46:40Z)"
        )
    );
    assert!(d.clusters.is_empty());

    // The probe: a range over the 30 days before, hourly, node-level
    // families only, with the cluster filter.
    let filtered = EngineConfig {
        cluster_filter: Some("prod".into()),
        ..EngineConfig::default()
    };
    let empty = answers(&filtered, &o, &[]);
    let q = probe_query(&filtered, &o, &empty).expect("a probe when nothing is found");
    assert_eq!(
        q.kind,
        QueryKind::Range {
            start: at() - TimeDelta::days(30),
            end: at(),
            step: TimeDelta::hours(1),
        }
    );
    assert_eq!(
        q.promql,
        "max by (family) (label_replace(timestamp(kube_node_status_capacity{resource=\"cpu\", \
         cluster_id=\"prod\"}), \"family\", \"kube_node_status_capacity\", \"\", \"\") or \
         label_replace(timestamp(node_total_hourly_cost{cluster_id=\"prod\"}), \"family\", \
         \"node_total_hourly_cost\", \"\", \"\"))"
    );

    // Without the probe's answer, the hint alone; with an empty one or an
    // error, what the probe saw.
    let mut a = answers(&cfg, &o, &[]);
    let hint = |a: &Answers| evaluate(&cfg, &o, a).hint.unwrap();
    assert_eq!(
        hint(&a),
        "no series in the 1h before 2023-11-14T02:00:00Z: is the data older? pass --at TIME"
    );
    a.insert_body("data_probe", &probe_body(&[]));
    assert!(
        hint(&a).ends_with(
            "pass --at TIME (no sample of kube_node_status_capacity or node_total_hourly_cost \
             in the 30d before either)"
        ),
        "{}",
        hint(&a)
    );
    a.insert(
        "data_probe",
        Err(Error::Backend {
            query: "data_probe".into(),
            error_type: "bad_data".into(),
            message: "exceeded maximum resolution".into(),
        }),
    );
    assert!(
        hint(&a).ends_with(
            "(looking for the latest sample failed: query data_probe: backend error bad_data: \
             exceeded maximum resolution)"
        ),
        "{}",
        hint(&a)
    );

    // Anything found: no probe, no hint.
    let a = answers(&cfg, &o, &healthy(&["a"]));
    assert_eq!(probe_query(&cfg, &o, &a), None);
    assert_eq!(evaluate(&cfg, &o, &a).hint, None);
    // Nor when the backend was not reached.
    let mut a = answers(&cfg, &o, &[]);
    a.insert_body("connectivity", b"not json");
    assert_eq!(probe_query(&cfg, &o, &a), None);
    assert_eq!(evaluate(&cfg, &o, &a).hint, None);
}
