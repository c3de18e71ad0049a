//! The bundled scenarios: they load, they contain what they promise, and
//! their expectations conserve cost.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use costetl_core::{Allocation, Window};
use costetl_sim::{Prices, Scenario};

use crate::util::{assert_close, fixture, t, win};

/// Relative tolerance of "exact": the identities below hold exactly in
/// real numbers; only float summation order differs.
const EXACT: f64 = 1e-9;

/// Per cluster and per node, per resource: Σ allocations + Σ idle = Σ
/// node costs.
fn assert_conserves(s: &Scenario, w: Window) {
    let set = s.expected_allocations(w).unwrap();
    let nodes = s.node_costs(w).unwrap();
    let mut by_cluster: BTreeMap<&str, [f64; 6]> = BTreeMap::new();
    let mut by_node: BTreeMap<(&str, &str), [f64; 6]> = BTreeMap::new();
    for a in set.iter() {
        assert_eq!(a.window, w);
        assert!(
            w.start() <= a.start && a.start < a.end && a.end <= w.end(),
            "{}",
            a.name
        );
        if !a.is_idle() {
            for v in [
                a.cpu_cost,
                a.ram_cost,
                a.gpu_cost,
                a.cpu_core_hours,
                a.ram_byte_hours,
            ] {
                assert!(v >= 0.0 && v.is_finite(), "{}: {v}", a.name);
            }
        }
        let c = by_cluster.entry(&a.properties.cluster).or_default();
        c[0] += a.cpu_cost;
        c[1] += a.ram_cost;
        c[2] += a.gpu_cost;
        let n = by_node
            .entry((&a.properties.cluster, &a.properties.node))
            .or_default();
        n[0] += a.cpu_cost;
        n[1] += a.ram_cost;
        n[2] += a.gpu_cost;
    }
    for nc in &nodes {
        let c = by_cluster.entry(&nc.cluster).or_default();
        c[3] += nc.cpu_cost;
        c[4] += nc.ram_cost;
        c[5] += nc.gpu_cost;
        let n = by_node.entry((&nc.cluster, &nc.node)).or_default();
        n[3] += nc.cpu_cost;
        n[4] += nc.ram_cost;
        n[5] += nc.gpu_cost;
        assert!(
            set.get(&format!("{}/{}/__idle__", nc.cluster, nc.node))
                .is_some()
        );
    }
    for (k, v) in by_cluster.iter() {
        for r in 0..3 {
            assert_close(
                v[r],
                v[r + 3],
                EXACT,
                &format!("{w} cluster {k} resource {r}"),
            );
        }
    }
    for (k, v) in by_node.iter() {
        for r in 0..3 {
            assert_close(
                v[r],
                v[r + 3],
                EXACT,
                &format!("{w} node {k:?} resource {r}"),
            );
        }
    }
    let total: f64 = nodes.iter().map(|n| n.total_cost()).sum();
    assert_close(set.total_cost(), total, EXACT, &format!("{w} total"));
}

/// Expectations are additive over time: the hourly sets sum to the whole.
fn assert_additive(s: &Scenario, whole: Window, step: TimeDelta) {
    let all = s.expected_allocations(whole).unwrap();
    let mut sums: BTreeMap<String, [f64; 6]> = BTreeMap::new();
    for w in whole.split(step) {
        assert_conserves(s, w);
        for a in s.expected_allocations(w).unwrap().iter() {
            let e = sums.entry(a.name.clone()).or_default();
            for (i, v) in [
                a.cpu_cost,
                a.ram_cost,
                a.gpu_cost,
                a.cpu_core_hours,
                a.ram_byte_hours,
                a.gpu_hours,
            ]
            .into_iter()
            .enumerate()
            {
                e[i] += v;
            }
        }
    }
    assert_eq!(sums.len(), all.len());
    for a in all.iter() {
        let e = sums[&a.name];
        for (i, v) in [
            a.cpu_cost,
            a.ram_cost,
            a.gpu_cost,
            a.cpu_core_hours,
            a.ram_byte_hours,
            a.gpu_hours,
        ]
        .into_iter()
        .enumerate()
        {
            assert_close(e[i], v, EXACT, &format!("{} field {i}", a.name));
        }
    }
}

#[test]
fn small_conserves_and_is_additive() {
    let s = fixture("small");
    assert_conserves(&s, s.window());
    assert_conserves(&s, win("2023-11-14T00:17:23Z", "2023-11-14T01:21:05Z"));
    assert_additive(&s, s.window(), TimeDelta::minutes(10));
}

#[test]
fn day_conserves_and_is_additive() {
    let s = fixture("two-clusters-day");
    assert_conserves(&s, s.window());
    assert_conserves(&s, win("2023-11-14T10:17:23Z", "2023-11-14T13:05:41Z"));
    assert_additive(&s, s.window(), TimeDelta::hours(1));
}

fn get<'a>(set: &'a costetl_core::AllocationSet, name: &str) -> &'a Allocation {
    set.get(name).unwrap_or_else(|| {
        panic!(
            "no {name} in {:?}",
            set.iter().map(|a| &a.name).collect::<Vec<_>>()
        )
    })
}

fn hours(a: &str, b: &str) -> f64 {
    (t(b) - t(a)).as_seconds_f64() / 3600.0
}

#[test]
fn small_has_what_it_promises() {
    let s = fixture("small");
    assert_eq!(s.clusters.len(), 1);
    assert_eq!(s.clusters[0].nodes.len(), 2);
    assert_eq!(s.clusters[0].pods.len(), 4);
    let set = s.expected_allocations(s.window()).unwrap();
    assert_eq!(set.len(), 4 + 2);
    let db = get(&set, "small/node-b/app/db-0/postgres");
    // Usage 0.5 (under the 1-core request) until 00:45, 1.5 after.
    assert_close(db.cpu_core_hours, 0.75 * 1.0 + 1.25 * 1.5, EXACT, "db cpu");
    // Spot re-priced at 01:00: 0.012 then 0.018 $/core-h.
    assert_close(
        db.cpu_cost,
        0.75 * 0.012 + 0.25 * 1.5 * 0.012 + 1.5 * 0.018,
        EXACT,
        "db cpu $",
    );
    assert_eq!(db.properties.controller_kind, "statefulset");
    let job = get(&set, "small/node-b/app/migrate-4kd9z/migrate");
    assert_eq!(
        (job.start, job.end),
        (t("2023-11-14T00:10:00Z"), t("2023-11-14T00:40:17Z"))
    );
    assert_close(
        job.cpu_core_hours,
        0.4 * hours("2023-11-14T00:10:00Z", "2023-11-14T00:40:17Z"),
        EXACT,
        "job",
    );
    let web = get(&set, "small/node-a/app/web-5d8f7c9b6c-x2k4p/nginx");
    assert_close(
        web.cpu_core_hours,
        0.5 * (2.0 - 3.5 / 60.0),
        EXACT,
        "web gap",
    );
    assert_eq!(web.properties.controller, "web");
    assert_eq!(web.properties.controller_kind, "deployment");
    assert_eq!(web.properties.labels["app_kubernetes_io_part_of"], "shop");
    assert_eq!(web.properties.annotations["prometheus_io_scrape"], "true");
    assert_eq!(web.properties.namespace_labels["team"], "payments");
    assert_eq!(web.properties.provider_id, "aws:///us-east-1a/i-0a1");
}

#[test]
fn day_has_what_it_promises() {
    let s = fixture("two-clusters-day");
    let pods: usize = s.clusters.iter().map(|c| c.pods.len()).sum();
    assert_eq!((s.clusters.len(), pods), (2, 25));
    for c in &s.clusters {
        assert_eq!((c.nodes.len(), c.namespaces.len()), (3, 4));
    }
    let day = s.window();
    let set = s.expected_allocations(day).unwrap();
    let nodes = s.node_costs(day).unwrap();
    let node = |n: &str| nodes.iter().find(|x| x.node == n).unwrap();

    // postgres-0 moves from the spot node to us-node-1 mid-day.
    let before = get(&set, "prod-us/us-node-2/data/postgres-0/postgres");
    let after = get(&set, "prod-us/us-node-1/data/postgres-0/postgres");
    assert_eq!(before.end, t("2023-11-14T13:05:10Z"));
    assert_eq!(after.start, t("2023-11-14T13:06:02Z"));
    assert_ne!(before.properties.provider_id, after.properties.provider_id);
    // Spot re-pricing at noon, on the node and on what ran there.
    let spot = node("us-node-2");
    assert_close(
        spot.cpu_cost,
        4.0 * (12.0 * 0.0144 + 12.0 * 0.0208),
        EXACT,
        "spot node",
    );
    // Usage (above the 1-core request) differs on the two nodes, so an
    // engine that mixes the two cAdvisor series (same namespace, pod and
    // container; only `node` differs) gets the new pod wrong.
    let pg_cpu =
        1.6 * (12.0 * 0.0144 + hours("2023-11-14T12:00:00Z", "2023-11-14T13:05:10Z") * 0.0208);
    assert_close(before.cpu_cost, pg_cpu, EXACT, "postgres on spot");
    assert_close(before.cpu_core_usage_average, 1.6, EXACT, "old pod usage");
    assert_close(after.cpu_core_usage_average, 1.2, EXACT, "new pod usage");
    assert_close(
        after.cpu_core_hours,
        1.2 * hours("2023-11-14T13:06:02Z", "2023-11-15T00:00:00Z"),
        EXACT,
        "new pod",
    );

    // The job runs 40 minutes, using more than it requested.
    let job = get(&set, "prod-us/us-node-1/batch/daily-report-x7k2q/report");
    assert_close(job.hours(), 40.0 / 60.0, EXACT, "job hours");
    assert_close(job.cpu_core_hours, 1.8 * 40.0 / 60.0, EXACT, "job cpu");
    assert_eq!(
        (
            job.properties.controller.as_str(),
            job.properties.controller_kind.as_str()
        ),
        ("daily-report", "job")
    );

    // The ownerless GPU pod.
    let ml = get(&set, "prod-us/us-gpu-1/batch/ml-train/trainer");
    let ml_h = hours("2023-11-14T10:17:23Z", "2023-11-14T16:45:00Z");
    assert_close(ml.gpu_hours, ml_h, EXACT, "gpu hours");
    assert_close(ml.gpu_cost, ml_h * 0.379, EXACT, "gpu cost");
    assert_close(ml.cpu_core_hours, 3.5 * ml_h, EXACT, "usage above request");
    assert_eq!(
        (
            ml.properties.controller.as_str(),
            ml.properties.controller_kind.as_str()
        ),
        ("", "")
    );
    assert_close(node("us-gpu-1").gpu_cost, 24.0 * 0.379, EXACT, "gpu node");

    // redis restarts: 1 min 25 s not running.
    let redis = get(&set, "prod-us/us-node-1/data/redis-5f6d8c7b9-h7gkt/redis");
    assert_close(
        redis.cpu_core_hours,
        0.7 * (24.0 - 85.0 / 3600.0),
        EXACT,
        "redis",
    );
    assert_eq!((redis.start, redis.end), (day.start(), day.end()));

    // The unpriced node is charged default prices; the node that joins
    // and leaves costs only its 12.5 active hours.
    let unpriced = node("eu-node-2");
    assert!(!unpriced.priced);
    let d = Prices::OPENCOST_DEFAULT;
    assert_close(unpriced.cpu_cost, 4.0 * 24.0 * d.cpu, EXACT, "default cpu");
    let export = get(&set, "prod-eu/eu-node-2/batch/nightly-export-5jq2w/export");
    assert_close(
        export.cpu_cost,
        export.cpu_core_hours * d.cpu,
        EXACT,
        "default-priced pod",
    );
    let joined = node("eu-node-3");
    assert_close(
        joined.cpu_core_hours,
        4.0 * 12.5,
        EXACT,
        "node active hours",
    );
    assert_eq!(
        get(&set, "prod-eu/eu-node-3/__idle__").start,
        t("2023-11-14T06:00:00Z")
    );

    // BestEffort, bare ReplicaSet, labels.
    let shell = get(&set, "prod-eu/eu-node-2/web/debug-shell/shell");
    assert_eq!(shell.cpu_core_request_average, 0.0);
    assert_close(
        shell.cpu_core_hours,
        0.02 * 31.75 / 60.0,
        EXACT,
        "best effort",
    );
    let legacy = get(&set, "prod-eu/eu-node-1/web/legacy-rs-8fk2p/legacy");
    assert_eq!(legacy.properties.controller_kind, "replicaset");
    let fe = get(&set, "prod-eu/eu-node-2/web/frontend-6b8c9d7f5-m2x8s/app");
    assert_eq!(fe.properties.labels["app_kubernetes_io_version"], "2.3.1");
    // Request 0.5; usage 0.3, then 0.9 from 14:00 to 18:30, then 0.4.
    assert_close(
        fe.cpu_core_hours,
        14.0 * 0.5 + 4.5 * 0.9 + 5.5 * 0.5,
        EXACT,
        "max(req, use)",
    );
    assert_close(
        fe.cpu_core_usage_average,
        (14.0 * 0.3 + 4.5 * 0.9 + 5.5 * 0.4) / 24.0,
        EXACT,
        "use",
    );
    // Same namespace names in both clusters stay apart.
    assert_eq!(fe.properties.cluster, "prod-eu");
    assert!(
        set.iter()
            .any(|a| a.properties.cluster == "prod-us" && a.properties.namespace == "web")
    );
}
