//! `costetl_core::diagnose` against a real Prometheus loaded with the
//! simulator's scenarios: a healthy scenario passes every required check;
//! degraded ones (duplicate kube-state-metrics, a family without the
//! cluster label, unpriced nodes, a cluster without cost exporter, a
//! recording rule that does not exist) fail exactly the checks they should,
//! naming the culprits.

use std::collections::BTreeSet;
use std::path::PathBuf;

use costetl_core::diagnose::{self, CheckOutcome, DiagnoseOptions, Status};
use costetl_core::plan::EngineConfig;
use costetl_prom::PromSource;
use costetl_sim::Scenario;
use costetl_testkit::PromServer;

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios")
        .join(name);
    Scenario::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn start(s: &Scenario) -> PromServer {
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    PromServer::start_with_openmetrics(std::str::from_utf8(&text).unwrap()).unwrap()
}

/// Diagnose the whole scenario: evaluated at its end, looking back over
/// all of it.
fn diagnose(s: &Scenario, server: &PromServer, rules: &[&str]) -> Vec<CheckOutcome> {
    let live = PromSource::new(&server.url()).unwrap();
    let opts = DiagnoseOptions {
        lookback: s.end - s.start,
        recording_rules: rules.iter().map(|r| (*r).to_owned()).collect(),
        ..DiagnoseOptions::new(s.end)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt
        .block_on(diagnose::run(&live, &EngineConfig::default(), &opts))
        .unwrap()
        .outcomes;
    for o in &out {
        eprintln!(
            "{}  {}: {}\n      query: {}",
            o.status, o.name, o.detail, o.query
        );
    }
    out
}

/// `(check, cluster)` of every outcome with `status`.
fn with_status(out: &[CheckOutcome], status: Status) -> BTreeSet<(String, Option<String>)> {
    out.iter()
        .filter(|o| o.status == status)
        .map(|o| (o.check.clone(), o.cluster.clone()))
        .collect()
}

fn key(check: &str, cluster: Option<&str>) -> (String, Option<String>) {
    (check.to_owned(), cluster.map(str::to_owned))
}

fn find<'a>(out: &'a [CheckOutcome], check: &str, cluster: Option<&str>) -> &'a CheckOutcome {
    out.iter()
        .find(|o| o.check == check && o.cluster.as_deref() == cluster)
        .unwrap_or_else(|| panic!("no outcome {check} {cluster:?}"))
}

/// The checks a healthy cluster must pass.
const REQUIRED: &[&str] = &[
    "cadvisor_memory",
    "cadvisor_cpu",
    "ksm_running",
    "ksm_requests",
    "ksm_pod_info",
    "ksm_node_capacity",
    "ksm_version",
    "cost_node_total",
    "cost_node_cpu",
    "cost_node_ram",
    "duplicate_ksm",
    "duplicate_cadvisor",
    "node_prices",
];

#[test]
fn healthy_scenario_passes_every_required_check() {
    let s = scenario("small.json");
    let server = start(&s);
    let out = diagnose(&s, &server, &[]);
    assert!(with_status(&out, Status::Fail).is_empty(), "{out:#?}");
    for check in REQUIRED {
        let o = find(&out, check, Some("small"));
        assert_eq!(o.status, Status::Pass, "{o:#?}");
    }
    assert_eq!(find(&out, "cluster_label", None).status, Status::Pass);
    let mem = find(&out, "cadvisor_memory", Some("small"));
    assert_eq!(
        mem.name,
        "cluster small: container_memory_working_set_bytes"
    );
    assert!(mem.detail.starts_with("present ("), "{}", mem.detail);
    assert!(
        mem.detail.ends_with(" series in the last 2h)"),
        "{}",
        mem.detail
    );
    assert_eq!(
        find(&out, "ksm_version", Some("small")).detail,
        "v2 series names (kube_pod_container_resource_requests, kube_node_status_capacity)"
    );
}

/// Two kube-state-metrics scraped, `kube_pod_labels` without the cluster
/// label, node-b without cost-exporter series, and a recording rule that is
/// not loaded: exactly those four checks fail.
#[test]
fn degraded_scenario_fails_exactly_the_expected_checks() {
    let mut s = scenario("small.json");
    s.options.duplicate_ksm = true;
    s.options.drop_cluster_label_for = vec!["kube_pod_labels".to_owned()];
    s.options.omit_node_prices_for = vec!["node-b".to_owned()];
    let server = start(&s);
    let out = diagnose(&s, &server, &["kubecost_container_cpu_usage_irate"]);

    assert_eq!(
        with_status(&out, Status::Fail),
        BTreeSet::from([
            key("duplicate_ksm", Some("small")),
            key("cluster_label", None),
            key("node_prices", Some("small")),
            key("recording_rule", None),
        ]),
        "{out:#?}"
    );

    let dup = find(&out, "duplicate_ksm", Some("small"));
    assert!(
        dup.detail
            .contains("e.g. {cluster_id=\"small\", namespace=\""),
        "{}",
        dup.detail
    );
    assert!(
        dup.detail
            .contains("(2 series, differing in instance: \"ksm-0\", \"ksm-1\")"),
        "{}",
        dup.detail
    );
    assert!(
        dup.query
            .starts_with("last_over_time((kube_pod_container_status_running and on"),
        "{}",
        dup.query
    );

    let label = find(&out, "cluster_label", None);
    assert!(
        label
            .detail
            .starts_with("series without cluster_id: kube_pod_labels ("),
        "{}",
        label.detail
    );
    assert!(
        !label.detail.contains("kube_pod_info"),
        "only the dropped family is named: {}",
        label.detail
    );

    let prices = find(&out, "node_prices", Some("small"));
    assert!(
        prices.detail.starts_with(
            "1 node(s) in kube_node_info or kube_node_status_capacity have no \
             node_cpu_hourly_cost series in the last 2h: node-b;"
        ),
        "{}",
        prices.detail
    );

    let rule = find(&out, "recording_rule", None);
    assert_eq!(
        rule.name,
        "recording rule kubecost_container_cpu_usage_irate"
    );
    assert!(
        rule.detail.starts_with("no series named"),
        "{}",
        rule.detail
    );

    // The price series of node-a are still there.
    assert_eq!(
        find(&out, "cost_node_total", Some("small")).status,
        Status::Pass
    );
}

/// Two clusters in one backend: "other" has no cost exporter at all, and
/// the working set of both lacks the cluster label. The failures are per
/// cluster and name the cluster.
#[test]
fn per_cluster_failures_in_a_two_cluster_backend() {
    let mut s = scenario("small.json");
    let mut other = s.clusters[0].clone();
    other.name = "other".into();
    // Different node names keep the unlabelled cAdvisor series of the two
    // clusters apart (same labels would be the same series).
    for n in &mut other.nodes {
        n.name = format!("other-{}", n.name);
    }
    for p in &mut other.pods {
        p.node = format!("other-{}", p.node);
        p.uid = None;
    }
    let other_nodes: Vec<String> = other
        .nodes
        .iter()
        .map(|n| format!("other/{}", n.name))
        .collect();
    s.clusters.push(other);
    s.options.omit_node_prices_for = other_nodes;
    s.options.drop_cluster_label_for = vec!["container_memory_working_set_bytes".to_owned()];
    let server = start(&s);
    let out = diagnose(&s, &server, &[]);

    assert_eq!(
        with_status(&out, Status::Fail),
        BTreeSet::from([
            key("cadvisor_memory", Some("small")),
            key("cadvisor_memory", Some("other")),
            key("cost_node_total", Some("other")),
            key("cost_node_cpu", Some("other")),
            key("cost_node_ram", Some("other")),
            key("node_prices", Some("other")),
            key("cluster_label", None),
        ]),
        "{out:#?}"
    );
    let total = find(&out, "cost_node_total", Some("other"));
    assert_eq!(total.name, "cluster other: node_total_hourly_cost");
    assert!(
        total
            .detail
            .contains("the cost exporter (OpenCost/Kubecost) is not scraped"),
        "{}",
        total.detail
    );
    assert_eq!(
        find(&out, "cost_node_total", Some("small")).status,
        Status::Pass
    );
    let mem = find(&out, "cadvisor_memory", Some("other"));
    assert!(
        mem.detail.contains("series have no cluster_id label"),
        "{}",
        mem.detail
    );
    let prices = find(&out, "node_prices", Some("other"));
    assert!(
        prices.detail.contains(": other-node-a, other-node-b;"),
        "{}",
        prices.detail
    );
    let label = find(&out, "cluster_label", None);
    assert!(
        label
            .detail
            .contains("series without cluster_id: container_memory_working_set_bytes ("),
        "{}",
        label.detail
    );
    assert!(
        label.detail.contains("(clusters other, small)"),
        "{}",
        label.detail
    );
}
