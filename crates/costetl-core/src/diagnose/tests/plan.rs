//! The plan: query ids, filters and lookbacks, option validation, the
//! families the checks cover, text helpers.

use super::*;

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
    let doc = include_str!("../../../../../docs/metrics.md");
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
