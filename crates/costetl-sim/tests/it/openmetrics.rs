//! What the OpenMetrics text says, sample by sample.

use std::io::Write;

use costetl_sim::Scenario;

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
    let web = one(
        &m,
        &["container_cpu_usage_seconds_total{", "web-5d8f7c9b6c-x2k4p"],
    );
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
    let running = one(
        &m,
        &["kube_pod_container_status_running{", "web-5d8f7c9b6c-x2k4p"],
    );
    let zeros: Vec<i64> = running.iter().filter(|x| x.1 == 0.0).map(|x| x.0).collect();
    assert_eq!(zeros.len(), 7, "01:20:00 … 01:23:00");
}

#[test]
fn requests_only_for_requested_resources() {
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
}

#[test]
fn pod_and_replicaset_owners() {
    let m = scrape(&fixture("small"));
    let owner = matching(&m, &["kube_pod_owner{", "pod=\"web-5d8f7c9b6c-x2k4p\""]);
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
}

#[test]
fn prices_and_labels() {
    let m = scrape(&fixture("small"));
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
            "web-5d8f7c9b6c-x2k4p",
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
    assert_eq!(matching(&m, &["kube_pod_info{"]).len(), 10);
    assert_eq!(
        matching(&m, &["container_memory_working_set_bytes{"]).len(),
        5
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
    assert_eq!(stats.families, 35);
    eprintln!("two-clusters-day: {stats:?}");
}

/// Seconds since the epoch of an RFC 3339 instant, as KSM's timestamps.
fn unix(s: &str) -> f64 {
    ms(s) as f64 / 1000.0
}

#[test]
fn container_start_and_pod_completion_times() {
    let m = scrape(&fixture("small"));
    // nginx of web-…-x2k4p: the scenario start, then the restart at
    // 01:23:30; nothing while it is down.
    let web = one(
        &m,
        &["kube_pod_container_state_started{", "web-5d8f7c9b6c-x2k4p"],
    );
    for &(ts, v) in web {
        assert!(
            !(ms("2023-11-14T01:20:00Z")..ms("2023-11-14T01:23:30Z")).contains(&ts),
            "sample in the gap at {ts}"
        );
        let want = if ts < ms("2023-11-14T01:20:00Z") {
            unix("2023-11-14T00:00:00Z")
        } else {
            unix("2023-11-14T01:23:30Z")
        };
        assert_eq!(v, want, "at {ts}");
    }
    assert_eq!(times(web).1, ms("2023-11-14T02:00:00Z"));
    // Millisecond precision survives the text.
    let web2 = one(
        &m,
        &["kube_pod_container_state_started{", "web-5d8f7c9b6c-m7q9r"],
    );
    assert!(web2.iter().all(|x| x.1 == 1_699_921_200.5));
    assert_eq!(times(web2).0, ms("2023-11-14T00:20:30Z"));
    let job = one(&m, &["kube_pod_container_state_started{", "migrate-4kd9z"]);
    assert_eq!(
        times(job),
        (ms("2023-11-14T00:10:00Z"), ms("2023-11-14T00:40:00Z"))
    );
    assert!(job.iter().all(|x| x.1 == unix("2023-11-14T00:10:00Z")));

    // Completion: only the job ends; from the first scrape after its end
    // for as long as the pod object lingers (5 minutes).
    let done = matching(&m, &["kube_pod_completion_time{"]);
    assert_eq!(done.len(), 1);
    assert!(done[0].0.contains("pod=\"migrate-4kd9z\"") && done[0].0.contains("uid=\""));
    assert_eq!(
        times(done[0].1),
        (ms("2023-11-14T00:40:30Z"), ms("2023-11-14T00:45:00Z"))
    );
    assert!(
        done[0]
            .1
            .iter()
            .all(|x| x.1 == unix("2023-11-14T00:40:17Z"))
    );
}

/// One node, pod `p` run twice on it under the same name (new uid), with
/// network traffic, scraped every 2 minutes.
fn tiny(linger_minutes: u32) -> Scenario {
    let text = format!(
        r#"{{"start":"2023-11-14T00:00:00Z","end":"2023-11-14T00:30:00Z",
        "scrape_interval_seconds":120,
        "options":{{"terminated_running_zero_minutes":{linger_minutes}}},
        "clusters":[{{"name":"c","nodes":[{{"name":"n","cpu_cores":2,"ram_bytes":4e9,
        "prices":{{"cpu":0.03,"ram":0.004}}}}],"namespaces":[{{"name":"ns"}}],
        "pods":[
          {{"namespace":"ns","name":"p","node":"n","end":"2023-11-14T00:10:30.250Z",
            "containers":[{{"name":"k"}}],
            "network":{{"transmit_bytes_per_second":10,"egress_internet_bytes_per_second":3}}}},
          {{"namespace":"ns","name":"p","node":"n","start":"2023-11-14T00:15:00Z",
            "containers":[{{"name":"k"}}],
            "network":{{"transmit_bytes_per_second":20}}}}]}}]}}"#
    );
    Scenario::from_json(&text).unwrap()
}

#[test]
fn completion_time_is_seen_even_when_the_pod_lingers_less_than_a_scrape() {
    // Lingers 1 minute, scrapes every 2: still seen once, at 00:12.
    let m = scrape(&tiny(1));
    let done = one(&m, &["kube_pod_completion_time{"]);
    assert_eq!(done, [(ms("2023-11-14T00:12:00Z"), 1_699_920_630.25)]);
    // No lingering at all: the object is gone at once, nothing to see.
    let m = scrape(&tiny(0));
    assert!(matching(&m, &["kube_pod_completion_time{"]).is_empty());
}

#[test]
fn pod_network_counters_count_from_each_pod_start() {
    let m = scrape(&tiny(5));
    // One series for both pods (no uid), restarting with the new pod.
    let tx = one(&m, &["container_network_transmit_bytes_total{"]);
    let (name, _) = matching(&m, &["container_network_transmit_bytes_total{"])[0];
    for label in [
        "namespace=\"ns\"",
        "pod=\"p\"",
        "container=\"\"",
        "interface=\"eth0\"",
        "node=\"n\"",
        "cluster_id=\"c\"",
    ] {
        assert!(name.contains(label), "{label} in {name}");
    }
    let at = |s: &str| tx.iter().find(|x| x.0 == ms(s)).map(|x| x.1);
    assert_eq!(at("2023-11-14T00:10:00Z"), Some(10.0 * 600.0));
    assert_eq!(at("2023-11-14T00:12:00Z"), None, "pod ended");
    assert_eq!(at("2023-11-14T00:16:00Z"), Some(20.0 * 60.0));
    assert_eq!(times(tx).1, ms("2023-11-14T00:30:00Z"));
    // Receive exists too (at 0 here).
    let rx = one(&m, &["container_network_receive_bytes_total{"]);
    assert!(rx.iter().all(|x| x.1 == 0.0));
    // The daemonset's three egress counters.
    let egress = matching(&m, &["kubecost_pod_network_egress_bytes_total{"]);
    assert_eq!(egress.len(), 3);
    let internet = one(
        &m,
        &[
            "kubecost_pod_network_egress_bytes_total{",
            "pod_name=\"p\"",
            "namespace=\"ns\"",
            "internet=\"true\",same_zone=\"false\",same_region=\"false\"",
        ],
    );
    assert_eq!(internet[1], (ms("2023-11-14T00:02:00Z"), 3.0 * 120.0));
    for flags in [
        "internet=\"false\",same_zone=\"false\",same_region=\"true\"",
        "internet=\"false\",same_zone=\"false\",same_region=\"false\"",
    ] {
        let s = one(&m, &["kubecost_pod_network_egress_bytes_total{", flags]);
        assert!(s.iter().all(|x| x.1 == 0.0));
    }
    // No prices configured: no price series.
    assert!(matching(&m, &["kubecost_network_"]).is_empty());
}

#[test]
fn volumes_and_claims() {
    let m = scrape(&fixture("small"));
    let gib = 1024.0_f64.powi(3);
    let cap = one(
        &m,
        &[
            "kube_persistentvolume_capacity_bytes{",
            "persistentvolume=\"pv-orphan\"",
        ],
    );
    assert!(cap.iter().all(|x| x.1 == 30.0 * gib));
    assert_eq!(
        times(cap),
        (ms("2023-11-14T00:00:00Z"), ms("2023-11-14T00:59:30Z"))
    );
    let price = one(
        &m,
        &[
            "pv_hourly_cost{",
            "persistentvolume=\"pv-migrate-scratch\",volumename=\"pv-migrate-scratch\"",
            "provider_id=\"aws:///us-east-1b/vol-0mig\"",
        ],
    );
    assert!(price.iter().all(|x| x.1 == 0.00011));
    assert_eq!(times(price).0, ms("2023-11-14T00:05:00Z"));
    assert_eq!(matching(&m, &["pv_hourly_cost{"]).len(), 5);
    // Four claims; the orphan has none.
    assert_eq!(matching(&m, &["kube_persistentvolumeclaim_info{"]).len(), 4);
    one(
        &m,
        &[
            "kube_persistentvolumeclaim_info{",
            "namespace=\"app\",persistentvolumeclaim=\"web-shared\"",
            "storageclass=\"efs-sc\",volumename=\"pv-web-shared\"",
        ],
    );
    let req = one(
        &m,
        &[
            "kube_persistentvolumeclaim_resource_requests_storage_bytes{",
            "persistentvolumeclaim=\"migrate-scratch\"",
        ],
    );
    assert!(req.iter().all(|x| x.1 == 8.0 * gib));
    // Pods mounting claims, for as long as the pod object exists.
    let mounts = matching(
        &m,
        &[
            "kube_pod_spec_volumes_persistentvolumeclaims_info{",
            "volume=\"data-web-shared\",persistentvolumeclaim=\"web-shared\"",
        ],
    );
    assert_eq!(mounts.len(), 2);
    let job = one(
        &m,
        &[
            "kube_pod_spec_volumes_persistentvolumeclaims_info{",
            "migrate-4kd9z",
        ],
    );
    let info = one(&m, &["kube_pod_info{", "migrate-4kd9z"]);
    assert_eq!(times(job), times(info));
}

#[test]
fn services_load_balancers_and_network() {
    let m = scrape(&fixture("small"));
    // Services: selectors all the time, sanitised like pod labels.
    let sel = one(
        &m,
        &[
            "service_selector_labels{",
            "namespace=\"app\",service=\"web\",label_app=\"web\"",
        ],
    );
    assert_eq!(
        times(sel),
        (ms("2023-11-14T00:00:00Z"), ms("2023-11-14T02:00:00Z"))
    );
    assert_eq!(matching(&m, &["service_selector_labels{"]).len(), 3);
    let lb = one(
        &m,
        &[
            "kubecost_load_balancer_cost{",
            "namespace=\"app\",service_name=\"web\",ingress_ip=\"10.0.12.34\"",
        ],
    );
    assert!(lb.iter().all(|x| x.1 == 0.025));
    assert_eq!(times(lb).0, ms("2023-11-14T00:30:00Z"));
    assert_eq!(matching(&m, &["kubecost_load_balancer_cost{"]).len(), 2);

    // Network prices: one series each, only the cluster (and instance).
    for (name, v) in [
        ("kubecost_network_zone_egress_cost{", 0.01),
        ("kubecost_network_region_egress_cost{", 0.02),
        ("kubecost_network_internet_egress_cost{", 0.09),
    ] {
        let all = matching(&m, &[name]);
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].0,
            &format!("{name}cluster_id=\"small\",instance=\"opencost\"}}")
        );
        assert!(all[0].1.iter().all(|x| x.1 == v));
    }
    // Network counters: web's run through its restart gap.
    let tx = one(
        &m,
        &[
            "container_network_transmit_bytes_total{",
            "web-5d8f7c9b6c-x2k4p",
        ],
    );
    let at = |s: &str| tx.iter().find(|x| x.0 == ms(s)).unwrap().1;
    assert_close(at("2023-11-14T01:21:00Z"), 2e5 * 4860.0, 1e-12, "in gap");
    assert_eq!(tx.len(), 241);
    let egress = matching(&m, &["kubecost_pod_network_egress_bytes_total{"]);
    assert_eq!(egress.len(), 3 * 3, "three pods with network");
}
