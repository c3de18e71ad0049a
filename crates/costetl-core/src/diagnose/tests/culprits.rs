//! The checks that look for culprits (pod uid, cluster label, duplicates,
//! unpriced nodes, GPU capacity), and what they say with nothing to look
//! at.

use super::*;

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
/// GPU price warn, each named; a cluster without GPUs says so.
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
}

/// A clean GPU check says how many GPU nodes it saw; without requests and
/// prices, GPU use is unknown and it warns.
#[test]
fn gpu_capacity_passes_saying_what_it_saw() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut set = healthy(&["a"]);
    set.push(("gpu_capacity:nodes", body(&[(&[("cluster_id", "a")], 3.0)])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
    assert_eq!(
        find(&out, "gpu_capacity", Some("a")).detail,
        "all 3 node(s) with a GPU price above 0 or GPU requests have GPU capacity (last 1h)"
    );

    set.push(("ksm_requests", body(&[])));
    set.push(("cost_node_cpu", body(&[])));
    let out = evaluate(&cfg, &o, &answers(&cfg, &o, &set)).outcomes;
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
