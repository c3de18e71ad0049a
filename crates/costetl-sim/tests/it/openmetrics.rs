//! What the OpenMetrics text says, sample by sample.

use std::io::Write;

use crate::util::{Checker, assert_close, fixture, matching, one, scrape, t};

fn ms(s: &str) -> i64 {
    t(s).timestamp_millis()
}

fn times(samples: &[(i64, f64)]) -> (i64, i64) {
    (samples.first().unwrap().0, samples.last().unwrap().0)
}

#[test]
fn terminated_pod_lingers_with_running_zero() {
    let m = scrape(&fixture("small"));
    // migrate runs 00:10:00 → 00:40:17, its pod object is deleted 5
    // minutes later.
    let running = one(&m, &["kube_pod_container_status_running{", "migrate-4kd9z"]);
    assert_eq!(
        times(running),
        (ms("2023-11-14T00:10:00Z"), ms("2023-11-14T00:45:00Z"))
    );
    for &(ts, v) in running {
        assert_eq!(
            v,
            if ts < ms("2023-11-14T00:40:17Z") {
                1.0
            } else {
                0.0
            },
            "at {ts}"
        );
    }
    for family in ["kube_pod_info{", "kube_pod_labels{", "kube_pod_owner{"] {
        let s = one(&m, &[family, "migrate-4kd9z"]);
        assert_eq!(times(s).1, ms("2023-11-14T00:45:00Z"), "{family}");
    }
    for r in matching(
        &m,
        &["kube_pod_container_resource_requests{", "migrate-4kd9z"],
    ) {
        assert_eq!(times(r.1).1, ms("2023-11-14T00:45:00Z"));
    }
    // cAdvisor only while running.
    let mem = one(
        &m,
        &["container_memory_working_set_bytes{", "migrate-4kd9z"],
    );
    assert_eq!(
        times(mem),
        (ms("2023-11-14T00:10:00Z"), ms("2023-11-14T00:40:00Z"))
    );
}

#[test]
fn cpu_counter_integrates_usage_and_restarts_with_the_container() {
    let m = scrape(&fixture("small"));
    let db = one(&m, &["container_cpu_usage_seconds_total{", "db-0"]);
    let at = |s: &str| db.iter().find(|x| x.0 == ms(s)).unwrap().1;
    assert_close(
        at("2023-11-14T00:30:00Z"),
        0.5 * 1800.0,
        1e-12,
        "before the step",
    );
    assert_close(
        at("2023-11-14T01:00:00Z"),
        0.5 * 2700.0 + 1.5 * 900.0,
        1e-12,
        "after",
    );
    // The scenario ends at 02:00 and the pod runs past it: a closing
    // sample at the end.
    assert_eq!(times(db).1, ms("2023-11-14T02:00:00Z"));

    // nginx is down 01:20:00 → 01:23:30: no cAdvisor samples, running 0,
    // and the counter starts again from 0.
    let web = one(&m, &["container_cpu_usage_seconds_total{", "web-"]);
    let at = |s: &str| web.iter().find(|x| x.0 == ms(s)).map(|x| x.1);
    assert_close(
        at("2023-11-14T01:19:30Z").unwrap(),
        0.2 * 4770.0,
        1e-12,
        "before gap",
    );
    assert_eq!(at("2023-11-14T01:20:00Z"), None);
    assert_eq!(at("2023-11-14T01:23:00Z"), None);
    assert_eq!(at("2023-11-14T01:23:30Z"), Some(0.0));
    assert_close(
        at("2023-11-14T01:24:00Z").unwrap(),
        0.2 * 30.0,
        1e-12,
        "after gap",
    );
    let running = one(&m, &["kube_pod_container_status_running{", "web-"]);
    let zeros: Vec<i64> = running.iter().filter(|x| x.1 == 0.0).map(|x| x.0).collect();
    assert_eq!(zeros.len(), 7, "01:20:00 … 01:23:00");
}

#[test]
fn requests_owners_and_prices() {
    let m = scrape(&fixture("small"));
    // BestEffort: no request series at all.
    assert!(
        matching(
            &m,
            &["kube_pod_container_resource_requests{", "node-exporter"]
        )
        .is_empty()
    );
    let cpu = one(
        &m,
        &[
            "kube_pod_container_resource_requests{",
            "db-0",
            "resource=\"cpu\",unit=\"core\"",
        ],
    );
    assert!(cpu.iter().all(|x| x.1 == 1.0));
    one(
        &m,
        &[
            "kube_pod_container_resource_requests{",
            "db-0",
            "resource=\"memory\",unit=\"byte\"",
        ],
    );

    let owner = matching(&m, &["kube_pod_owner{", "pod=\"web-"]);
    assert_eq!(owner.len(), 1);
    let rs = owner[0]
        .0
        .split("owner_name=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        owner[0].0.contains("owner_kind=\"ReplicaSet\""),
        "{}",
        owner[0].0
    );
    one(
        &m,
        &[
            "kube_replicaset_owner{",
            &format!("replicaset=\"{rs}\""),
            "owner_kind=\"Deployment\",owner_name=\"web\"",
        ],
    );
    one(
        &m,
        &[
            "kube_pod_owner{",
            "db-0",
            "owner_kind=\"StatefulSet\",owner_name=\"db\"",
        ],
    );

    let price = one(&m, &["node_cpu_hourly_cost{", "node=\"node-b\""]);
    let total = one(&m, &["node_total_hourly_cost{", "node=\"node-b\""]);
    for (&(ts, p), &(_, tot)) in price.iter().zip(total) {
        let (cpu, ram) = if ts < ms("2023-11-14T01:00:00Z") {
            (0.012, 0.0016)
        } else {
            (0.018, 0.0024)
        };
        assert_eq!(p, cpu);
        assert_close(tot, 2.0 * cpu + 8.0 * ram, 1e-12, "total");
    }
    assert!(
        one(&m, &["kubecost_node_is_spot{", "node=\"node-b\""])
            .iter()
            .all(|x| x.1 == 1.0)
    );
    assert!(
        one(&m, &["kubecost_node_is_spot{", "node=\"node-a\""])
            .iter()
            .all(|x| x.1 == 0.0)
    );
    one(
        &m,
        &[
            "kube_node_labels{",
            "node=\"node-b\"",
            "label_karpenter_sh_capacity_type=\"spot\"",
        ],
    );
    one(
        &m,
        &[
            "kube_namespace_labels{",
            "namespace=\"app\"",
            "label_team=\"payments\"",
        ],
    );
    one(&m, &["kube_pod_labels{", "db-0", "label_app=\"db\""]);
    one(
        &m,
        &[
            "kube_pod_annotations{",
            "web-",
            "annotation_prometheus_io_scrape=\"true\"",
        ],
    );
}

#[test]
fn options_shape_the_output() {
    let mut s = fixture("small");
    s.options.duplicate_ksm = true;
    s.options.drop_cluster_label_for = vec![
        "kube_pod_labels".into(),
        "container_cpu_usage_seconds_total".into(),
    ];
    s.options.omit_node_prices_for = vec!["node-b".into()];
    s.options.terminated_running_zero_minutes = 0;
    let m = scrape(&s);
    // Two KSM replicas: every KSM series twice, the rest once.
    for family in [
        "kube_pod_info{",
        "kube_pod_container_status_running{",
        "kube_node_info{",
    ] {
        let all = matching(&m, &[family]);
        assert_eq!(
            all.len(),
            2 * matching(&m, &[family, "instance=\"ksm-0\""]).len()
        );
    }
    assert_eq!(matching(&m, &["kube_pod_info{"]).len(), 8);
    assert_eq!(
        matching(&m, &["container_memory_working_set_bytes{"]).len(),
        4
    );
    // No cluster label where asked.
    for k in m.keys() {
        let dropped = k.starts_with("kube_pod_labels{")
            || k.starts_with("container_cpu_usage_seconds_total{");
        assert_eq!(!k.contains("cluster_id=\"small\""), dropped, "{k}");
    }
    // node-b has no cost-exporter series, but is still a node.
    assert!(
        matching(&m, &["node_", "node=\"node-b\""])
            .iter()
            .all(|(k, _)| !k.starts_with("node_"))
    );
    assert!(matching(&m, &["kubecost_node_is_spot{", "node-b"]).is_empty());
    assert_eq!(
        matching(&m, &["kube_node_info{", "node=\"node-b\""]).len(),
        2
    );
    // No lingering: the job's pod series end when it stops.
    let info = one(&m, &["kube_pod_info{", "migrate-4kd9z", "ksm-1"]);
    assert_eq!(times(info).1, ms("2023-11-14T00:40:00Z"));
}

#[test]
fn moved_pod_and_node_lifetimes_in_the_day() {
    let m = scrape(&fixture("two-clusters-day"));
    let infos = matching(&m, &["kube_pod_info{", "pod=\"postgres-0\""]);
    assert_eq!(infos.len(), 2);
    let old = one(
        &m,
        &["kube_pod_info{", "pod=\"postgres-0\"", "node=\"us-node-2\""],
    );
    let new = one(
        &m,
        &["kube_pod_info{", "pod=\"postgres-0\"", "node=\"us-node-1\""],
    );
    // The old pod lingers (running 0) while the new one already runs.
    assert_eq!(times(old).1, ms("2023-11-14T13:10:00Z"));
    assert_eq!(times(new).0, ms("2023-11-14T13:06:30Z"));
    let cadvisor = matching(
        &m,
        &["container_cpu_usage_seconds_total{", "pod=\"postgres-0\""],
    );
    assert_eq!(cadvisor.len(), 2, "one series per node");

    let node3 = one(&m, &["kube_node_info{", "node=\"eu-node-3\""]);
    assert_eq!(
        times(node3),
        (ms("2023-11-14T06:00:00Z"), ms("2023-11-14T18:29:30Z"))
    );
    let price3 = one(&m, &["node_cpu_hourly_cost{", "node=\"eu-node-3\""]);
    assert_eq!(times(price3), times(node3));
    assert!(matching(&m, &["node_cpu_hourly_cost{", "node=\"eu-node-2\""]).is_empty());
    one(
        &m,
        &[
            "kube_pod_container_resource_requests{",
            "ml-train",
            "resource=\"nvidia_com_gpu\",unit=\"integer\"",
        ],
    );
    one(
        &m,
        &[
            "kube_node_status_capacity{",
            "us-gpu-1",
            "resource=\"nvidia_com_gpu\"",
        ],
    );
    assert!(
        matching(
            &m,
            &["kube_node_status_capacity{", "us-node-1", "nvidia_com_gpu"]
        )
        .is_empty()
    );
}

/// The day's text streams through the checker without being held in
/// memory; prints its size (see the crate report / fixtures README).
#[test]
fn day_output_is_well_formed() {
    let s = fixture("two-clusters-day");
    let mut c = Checker::default();
    let stats = s.write_openmetrics(&mut c).unwrap();
    c.flush().unwrap();
    c.assert_ok();
    assert_eq!(
        (stats.samples, stats.bytes, stats.series),
        (c.samples, c.bytes, c.series())
    );
    assert_eq!(stats.families, 20);
    eprintln!("two-clusters-day: {stats:?}");
}
