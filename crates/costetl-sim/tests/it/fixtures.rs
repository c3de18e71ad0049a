//! The bundled scenarios: they load, they contain what they promise, and
//! their expectations conserve cost.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use costetl_core::{Allocation, AllocationSet, PvKey, Window};
use costetl_sim::{Prices, Scenario};

use crate::util::{assert_close, fixture, t, win};

/// Relative tolerance of "exact": the identities below hold exactly in
/// real numbers; only float summation order differs.
const EXACT: f64 = 1e-9;

/// Per cluster and per node, per resource: Σ allocations + Σ idle = Σ
/// node costs.
fn assert_conserves(s: &Scenario, w: Window) {
    let set = s.expected_allocations(w).unwrap();
    assert_node_costs_conserved(s, w, &set);
    assert_pvs_and_lbs_land_once(s, w, &set);
}

/// Allocations are in the window with sane costs, and per cluster and per
/// node they add up to the node costs.
fn assert_node_costs_conserved(s: &Scenario, w: Window, set: &AllocationSet) {
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
    let node_part: f64 = set
        .iter()
        .map(|a| a.cpu_cost + a.ram_cost + a.gpu_cost)
        .sum();
    assert_close(node_part, total, EXACT, &format!("{w} total"));
}

/// PVs and LBs: every dollar lands in exactly one allocation, and only
/// unmounted allocations hold unmounted PV cost.
fn assert_pvs_and_lbs_land_once(s: &Scenario, w: Window, set: &AllocationSet) {
    let pv_want: f64 = s.pv_costs(w).unwrap().iter().map(|p| p.cost).sum();
    let pv_got: f64 = set.iter().map(Allocation::pv_cost).sum();
    assert_close(pv_got, pv_want, EXACT, &format!("{w} PV"));
    for pv in s.pv_costs(w).unwrap() {
        let key = PvKey {
            cluster: pv.cluster.clone(),
            name: pv.name.clone(),
        };
        let (cost, byte_hours) = set
            .iter()
            .filter_map(|a| a.pvs.get(&key))
            .fold((0.0, 0.0), |(c, b), p| (c + p.cost, b + p.byte_hours));
        assert_close(cost, pv.cost, EXACT, &format!("{w} {key}"));
        assert_close(
            byte_hours,
            pv.byte_hours,
            EXACT,
            &format!("{w} {key} GiB-h"),
        );
    }
    let lb_want: f64 = s.lb_costs(w).unwrap().iter().map(|l| l.cost).sum();
    let lb_got: f64 = set.iter().map(|a| a.load_balancer_cost).sum();
    let lb_entries: f64 = set
        .iter()
        .flat_map(|a| a.load_balancers.values())
        .map(|l| l.cost)
        .sum();
    assert_close(lb_got, lb_want, EXACT, &format!("{w} LB"));
    assert_close(lb_entries, lb_want, EXACT, &format!("{w} LB entries"));
    for a in set.iter() {
        if a.is_unmounted() {
            assert_close(a.unmounted_pv_cost, a.pv_cost(), EXACT, &a.name);
            assert!(a.properties.node.is_empty(), "{}", a.name);
        } else {
            assert_eq!(a.unmounted_pv_cost, 0.0, "{}", a.name);
        }
        assert_close(
            a.network_cost,
            a.network_cross_zone_cost + a.network_cross_region_cost + a.network_internet_cost,
            EXACT,
            &a.name,
        );
    }
}

/// PV, LB and network totals per window add up to the whole's: they are
/// attributed at every instant (per allocation they need not be: who
/// shares depends on who runs in the window).
fn assert_totals_additive(s: &Scenario, whole: Window, step: TimeDelta) {
    let totals = |set: &AllocationSet| {
        set.iter().fold([0.0; 5], |mut t, a| {
            t[0] += a.pv_cost();
            t[1] += a.load_balancer_cost;
            t[2] += a.network_cost;
            t[3] += a.network_transfer_bytes;
            t[4] += a.network_receive_bytes;
            t
        })
    };
    let want = totals(&s.expected_allocations(whole).unwrap());
    let mut got = [0.0; 5];
    for w in whole.split(step) {
        for (g, v) in got
            .iter_mut()
            .zip(totals(&s.expected_allocations(w).unwrap()))
        {
            *g += v;
        }
    }
    for i in 0..5 {
        assert_close(got[i], want[i], EXACT, &format!("{whole} total {i}"));
    }
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
    assert_totals_additive(&s, s.window(), TimeDelta::minutes(10));
}

#[test]
fn day_conserves_and_is_additive() {
    let s = fixture("two-clusters-day");
    assert_conserves(&s, s.window());
    assert_conserves(&s, win("2023-11-14T10:17:23Z", "2023-11-14T13:05:41Z"));
    assert_additive(&s, s.window(), TimeDelta::hours(1));
    assert_totals_additive(&s, s.window(), TimeDelta::hours(1));
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
    assert_eq!(s.clusters[0].pods.len(), 5);
    let set = s.expected_allocations(s.window()).unwrap();
    // 5 containers, 2 idle, 2 unmounted (namespace `app` and cluster).
    assert_eq!(set.len(), 5 + 2 + 2);
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

    // Node labels: allow-listed only.
    assert_eq!(
        web.properties.labels["topology_kubernetes_io_region"],
        "us-east-1"
    );
    assert_eq!(
        web.properties.labels["node_kubernetes_io_instance_type"],
        "m5.xlarge"
    );
    assert!(!web.properties.labels.contains_key("kubernetes_io_hostname"));
    assert_eq!(db.properties.labels["karpenter_sh_capacity_type"], "spot");
    assert_eq!(web.properties.services, ["web"]);
    assert_eq!(db.properties.services, ["db"]);
    assert!(job.properties.services.is_empty());
}

/// small's volumes: each mounter's share over time, the rest unmounted.
#[test]
fn small_volumes_follow_their_mounters() {
    let s = fixture("small");
    let set = s.expected_allocations(s.window()).unwrap();
    let db = get(&set, "small/node-b/app/db-0/postgres");
    let job = get(&set, "small/node-b/app/migrate-4kd9z/migrate");
    let web = get(&set, "small/node-a/app/web-5d8f7c9b6c-x2k4p/nginx");
    let pv = |a: &Allocation, name: &str| {
        a.pvs
            .get(&PvKey {
                cluster: "small".into(),
                name: name.into(),
            })
            .map_or(0.0, |p| p.cost)
    };
    // One pod mounts pv-db-0 all the time: 20 GiB × 0.00014 × 2 h.
    assert_close(pv(db, "pv-db-0"), 20.0 * 0.00014 * 2.0, EXACT, "db pv");
    // web-shared (0.02 $/h): x2k4p alone until the second replica starts
    // at 00:20:00.5, m7q9r alone during x2k4p's restart gap, shared
    // otherwise.
    let web2 = get(&set, "small/node-a/app/web-5d8f7c9b6c-m7q9r/nginx");
    assert_eq!(web2.start, t("2023-11-14T00:20:00.500Z"));
    let alone = hours("2023-11-14T00:00:00Z", "2023-11-14T00:20:00.500Z");
    let gap = 3.5 / 60.0;
    let shared = 2.0 - alone - gap;
    assert_close(
        pv(web, "pv-web-shared"),
        0.02 * (alone + shared / 2.0),
        EXACT,
        "web shared pv",
    );
    assert_close(
        pv(web2, "pv-web-shared"),
        0.02 * (gap + shared / 2.0),
        EXACT,
        "web2 shared pv",
    );
    // The migrate job mounts its scratch volume (active from 00:05) while
    // it runs; before and after, the namespace pays.
    let scratch = 10.0 * 0.00011;
    let job_h = hours("2023-11-14T00:10:00Z", "2023-11-14T00:40:17Z");
    assert_close(
        pv(job, "pv-migrate-scratch"),
        scratch * job_h,
        EXACT,
        "job pv",
    );
    let app = get(&set, "small//app/__unmounted__/__unmounted__");
    assert_close(
        pv(app, "pv-migrate-scratch"),
        scratch * (2.0 - 5.0 / 60.0 - job_h),
        EXACT,
        "scratch unmounted",
    );
    assert_close(
        pv(app, "pv-reports-archive"),
        200.0 * 0.000055 * 2.0,
        EXACT,
        "never mounted",
    );
    assert_eq!(app.unmounted_pv_cost, app.pv_cost());
    let orphan = get(&set, "small//__unmounted__/__unmounted__/__unmounted__");
    assert_close(orphan.pv_cost(), 30.0 * 0.00011, EXACT, "unclaimed");
    assert_eq!(orphan.end, t("2023-11-14T01:00:00Z"));
}

/// small's load balancers split by running time, and its network traffic.
#[test]
fn small_balancers_and_network() {
    let s = fixture("small");
    let set = s.expected_allocations(s.window()).unwrap();
    let db = get(&set, "small/node-b/app/db-0/postgres");
    let job = get(&set, "small/node-b/app/migrate-4kd9z/migrate");
    let web = get(&set, "small/node-a/app/web-5d8f7c9b6c-x2k4p/nginx");
    let web2 = get(&set, "small/node-a/app/web-5d8f7c9b6c-m7q9r/nginx");
    let app = get(&set, "small//app/__unmounted__/__unmounted__");
    let alone = hours("2023-11-14T00:00:00Z", "2023-11-14T00:20:00.500Z");
    let gap = 3.5 / 60.0;
    let job_h = hours("2023-11-14T00:10:00Z", "2023-11-14T00:40:17Z");
    // The web LB ($0.025/h from 00:30) splits by running time; the
    // legacy-shop LB selects nothing.
    let (run1, run2) = (2.0 - gap, 2.0 - alone);
    assert_close(
        web.load_balancer_cost,
        0.025 * 1.5 * run1 / (run1 + run2),
        EXACT,
        "web lb",
    );
    let lb = &web2.load_balancers["small/app/web"];
    assert_eq!((lb.service.as_str(), lb.private), ("app/web", true));
    assert_close(lb.hours, 1.5, EXACT, "lb hours");
    assert_close(app.load_balancer_cost, 0.0225 * 2.0, EXACT, "legacy lb");
    assert_eq!(app.properties.services, ["legacy-shop"]);
    assert!(!app.load_balancers["small/app/legacy-shop"].private);

    // Network: the job's 30 min 17 s; web's whole 2 h, restart gap
    // included.
    assert_close(
        job.network_transfer_bytes,
        2e6 * job_h * 3600.0,
        EXACT,
        "job tx",
    );
    let gib = 1024.0_f64.powi(3);
    assert_close(
        job.network_cost,
        (2e5 * 0.02 + 4e5 * 0.09) * job_h * 3600.0 / gib,
        EXACT,
        "job egress",
    );
    assert_close(web.network_receive_bytes, 5e5 * 7200.0, EXACT, "web rx");
    assert_close(
        db.network_cross_zone_cost,
        2e5 * 7200.0 / gib * 0.01,
        EXACT,
        "db zone",
    );
    assert_eq!(web2.network_cost, 0.0);
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
}

/// two-clusters-day's restart gap, default prices, a node that joins and
/// leaves, BestEffort, a bare ReplicaSet, labels and usage steps.
#[test]
fn day_restarts_defaults_and_labels() {
    let s = fixture("two-clusters-day");
    let day = s.window();
    let set = s.expected_allocations(day).unwrap();
    let nodes = s.node_costs(day).unwrap();
    let node = |n: &str| nodes.iter().find(|x| x.node == n).unwrap();

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

/// two-clusters-day's volumes across a move, shared and unmounted, its
/// load balancers and network traffic.
#[test]
fn day_volumes_balancers_and_network() {
    let s = fixture("two-clusters-day");
    let set = s.expected_allocations(s.window()).unwrap();
    let before = get(&set, "prod-us/us-node-2/data/postgres-0/postgres");
    let after = get(&set, "prod-us/us-node-1/data/postgres-0/postgres");
    let ml = get(&set, "prod-us/us-gpu-1/batch/ml-train/trainer");
    let ml_h = hours("2023-11-14T10:17:23Z", "2023-11-14T16:45:00Z");

    let pv = |a: &Allocation, cluster: &str, name: &str| {
        a.pvs
            .get(&PvKey {
                cluster: cluster.into(),
                name: name.into(),
            })
            .map_or(0.0, |p| p.cost)
    };
    // postgres-data follows postgres-0 across its move; the 52 s between
    // the two pods are the namespace's.
    let pg = 100.0 * 0.00014;
    let old_h = hours("2023-11-14T00:00:00Z", "2023-11-14T13:05:10Z");
    let new_h = hours("2023-11-14T13:06:02Z", "2023-11-15T00:00:00Z");
    assert_close(
        pv(before, "prod-us", "pv-postgres-data"),
        pg * old_h,
        EXACT,
        "pg old",
    );
    assert_close(
        pv(after, "prod-us", "pv-postgres-data"),
        pg * new_h,
        EXACT,
        "pg new",
    );
    let data = get(&set, "prod-us//data/__unmounted__/__unmounted__");
    assert_close(data.pv_cost(), pg * 52.0 / 3600.0, EXACT, "between pods");
    // frontend-cache: two replicas of two containers, a quarter each; the
    // frontend LB likewise (all run all day).
    for name in [
        "prod-us/us-node-1/web/frontend-7d9f8b6c5d-x2k4p/nginx",
        "prod-us/us-node-2/web/frontend-7d9f8b6c5d-qw8zn/app",
    ] {
        let a = get(&set, name);
        assert_close(
            pv(a, "prod-us", "pv-frontend-cache"),
            20.0 * 0.0004 * 24.0 / 4.0,
            EXACT,
            name,
        );
        assert_close(a.load_balancer_cost, 0.025 * 24.0 / 4.0, EXACT, name);
        assert_eq!(a.properties.services, ["frontend"]);
    }
    // ml-train's traffic over its 6.5 hours.
    assert_close(
        ml.network_receive_bytes,
        25e6 * ml_h * 3600.0,
        EXACT,
        "ml rx",
    );
    // prod-eu: kafka-1's volume (from 06:00) is unmounted before 06:05 and
    // after 18:25, the backup archive (from 18:00) never mounted, the
    // released volume unclaimed until 06:00, the legacy LB selects
    // nothing until 12:00.
    let kafka = get(&set, "prod-eu/eu-node-3/data/kafka-1/kafka");
    let k = 500.0 * 0.000056;
    assert_close(
        pv(kafka, "prod-eu", "pv-kafka-1"),
        k * hours("2023-11-14T06:05:00Z", "2023-11-14T18:25:00Z"),
        EXACT,
        "kafka-1",
    );
    let eu_data = get(&set, "prod-eu//data/__unmounted__/__unmounted__");
    assert_close(
        pv(eu_data, "prod-eu", "pv-kafka-1"),
        k * (5.0 / 60.0 + hours("2023-11-14T18:25:00Z", "2023-11-15T00:00:00Z")),
        EXACT,
        "kafka-1 unmounted",
    );
    assert_close(
        pv(eu_data, "prod-eu", "pv-backup-archive"),
        1000.0 * 0.000056 * 6.0,
        EXACT,
        "backup",
    );
    let released = get(&set, "prod-eu//__unmounted__/__unmounted__/__unmounted__");
    assert_close(released.pv_cost(), 50.0 * 0.00023 * 6.0, EXACT, "released");
    let eu_web = get(&set, "prod-eu//web/__unmounted__/__unmounted__");
    assert_close(eu_web.load_balancer_cost, 0.03 * 12.0, EXACT, "legacy LB");
    assert_eq!(eu_web.properties.services, ["shop-legacy"]);
    let moved = get(&set, "prod-eu/eu-node-3/web/api-59d7c6b8f4-k8s2d/api");
    assert_close(
        moved.network_transfer_bytes,
        3e5 * hours("2023-11-14T06:10:00Z", "2023-11-14T18:20:00Z") * 3600.0,
        EXACT,
        "api tx",
    );
}
