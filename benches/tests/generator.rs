//! The generator's day is what the engine expects: every query of the plan
//! and of the follow-ups is covered, every series carries the labels its
//! query's `by (…)` leaves, bodies decode, and the computed set has one
//! allocation per container plus one idle per node, conserves the nodes'
//! cost, and matches the generator's ground truth per container.

use std::collections::{BTreeSet, HashSet};

use costetl_benches::{Day, SEMANTICS, Scale, decode_all, end_to_end, generate};
use costetl_core::plan::{self, QueryId, TERM_LABEL};
use costetl_core::{AllocationSet, engine, promjson};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The follow-up queries: run edges and start times of containers that
/// did not run all day, usage above requests, node prices that change,
/// claims several pods mount.
const FOLLOWUPS: [QueryId; 13] = [
    QueryId::RunFirst,
    QueryId::RunLast,
    QueryId::ContainerStarted,
    QueryId::PvShares,
    QueryId::CpuExcess,
    QueryId::RamExcess,
    QueryId::CpuRunPrice,
    QueryId::RamRunPrice,
    QueryId::GpuRunPrice,
    QueryId::CpuUsagePrice,
    QueryId::RamUsagePrice,
    QueryId::CpuExcessPrice,
    QueryId::RamExcessPrice,
];

fn mid() -> Scale {
    Scale {
        nodes: 30,
        gpu_nodes: 2,
        pods: 1000,
        containers_per_pod: 2,
        namespaces: 40,
        seed: 2,
    }
}

#[test]
fn generator_covers_every_query_in_the_plan() {
    let day = generate(&Scale::TINY);
    assert!(
        day.unknown_queries.is_empty(),
        "the plan has queries the bench generator does not know: {:?}; \
         teach benches/src/respond.rs (or followup.rs) their response shape",
        day.unknown_queries
    );
    let plan = plan::plan(day.window, &day.cfg, SEMANTICS).unwrap();
    assert_eq!(day.first_round, plan.len());
    for ((q, _), p) in day.bodies.iter().zip(&plan) {
        assert_eq!(q, p);
    }
    // The second round is what the engine asks for after the first.
    let first = decode_all(&day.bodies[..day.first_round]).unwrap();
    let more = engine::followups(day.window, &first, &day.cfg, SEMANTICS).unwrap();
    let asked: Vec<_> = day.followups().iter().map(|(q, _)| q.clone()).collect();
    assert_eq!(asked, more);
    let ids: BTreeSet<QueryId> = asked.iter().map(|q| q.id.parse().unwrap()).collect();
    assert_eq!(ids, FOLLOWUPS.into(), "TINY exercises every follow-up");
}

/// Every series of a `<agg> by (…)` query carries exactly those labels
/// (and the label a `label_replace` around it sets; follow-up terms:
/// `costetl_term`).
fn check_labels(day: &Day) {
    for (i, (q, body)) in day.bodies.iter().enumerate() {
        let r = promjson::decode(&q.id, body).unwrap();
        let by = |text: &str| -> Option<BTreeSet<String>> {
            let rest = &text[text.find(" by (")? + 5..];
            Some(
                rest[..rest.find(')')?]
                    .split(',')
                    .map(|l| l.trim().to_owned())
                    .collect(),
            )
        };
        let followup = i >= day.first_round;
        let expected = if followup {
            by(&q.promql).map(|mut b| {
                b.insert(TERM_LABEL.to_owned());
                b
            })
        } else if let Some(inner) = q.promql.strip_prefix("label_replace(")
            && by(inner).is_some()
        {
            // `label_replace(<agg> by (…) (…), "<label>", …) or …`.
            let term = q.promql.split(" or ").next().unwrap();
            let target = &term[term.rfind("), \"").unwrap() + 4..];
            by(inner).map(|mut b| {
                b.insert(target[..target.find('"').unwrap()].to_owned());
                b
            })
        } else if ["max by", "min by", "avg by", "sum by"]
            .iter()
            .any(|a| q.promql.starts_with(a))
        {
            by(&q.promql)
        } else {
            None
        };
        let Some(expected) = expected else { continue };
        assert!(!r.series.is_empty() || q.id == "duplicates", "{}", q.id);
        for s in &r.series {
            let got: BTreeSet<String> = s.labels.iter().map(|(k, _)| k.to_string()).collect();
            assert_eq!(got, expected, "{}: {:?}", q.id, s.labels);
        }
        let values = |name: &str| -> HashSet<String> {
            r.series
                .iter()
                .filter_map(|s| s.label(name).map(str::to_owned))
                .collect()
        };
        match q.id.parse::<QueryId>().unwrap() {
            QueryId::RequestMax => assert_eq!(
                values("resource"),
                ["cpu", "memory", "nvidia_com_gpu"]
                    .map(str::to_owned)
                    .into()
            ),
            QueryId::PriceSum | QueryId::PriceSteps | QueryId::PriceChanges => assert_eq!(
                values("price"),
                ["cpu", "ram", "gpu"].map(str::to_owned).into()
            ),
            _ => {}
        }
    }
}

/// The engine's allocations against the generator's ground truth: exact
/// for containers without edges (most of them), whatever their usage and
/// node prices did; restarted BestEffort containers' RAM aside (the
/// engine reads a working set as an average per cgroup).
fn check_truth(day: &Day, set: &AllocationSet) -> usize {
    let mut checked = 0;
    for a in set.iter().filter(|a| !a.is_idle() && !a.is_unmounted()) {
        let p = &a.properties;
        let e = day
            .expected
            .get(&(
                p.namespace.to_string(),
                p.pod.to_string(),
                p.container.to_string(),
            ))
            .unwrap_or_else(|| panic!("no truth for {}", a.name));
        if e.edges {
            continue;
        }
        checked += 1;
        let got = [
            (a.cpu_core_hours, e.hours[0]),
            (a.ram_byte_hours, e.hours[1]),
            (a.gpu_hours, e.hours[2]),
            (a.cpu_cost, e.cost[0]),
            (a.ram_cost, e.cost[1]),
            (a.gpu_cost, e.cost[2]),
        ];
        for (i, (got, want)) in got.into_iter().enumerate() {
            let usage_ram = i % 3 == 1 && a.ram_bytes_request_average == 0.0;
            if e.restarted && usage_ram {
                continue;
            }
            assert!(close(got, want), "{} [{i}]: {got} != {want}", a.name);
        }
    }
    checked
}

fn conserves(day: &Day, set: &AllocationSet) {
    assert!(
        close(set.total_cost(), day.node_cost + day.pod_level_cost),
        "{} != {} + {}",
        set.total_cost(),
        day.node_cost,
        day.pod_level_cost
    );
    let resource_cost: f64 = set
        .iter()
        .map(|a| a.cpu_cost + a.ram_cost + a.gpu_cost)
        .sum();
    assert!(
        close(resource_cost, day.node_cost),
        "{resource_cost} != {}",
        day.node_cost
    );
}

#[test]
fn tiny_day_computes_and_conserves_cost() {
    let day = generate(&Scale::TINY);
    assert_eq!(day.containers, 100);
    assert_eq!(day.nodes, 10);
    check_labels(&day);
    let results = decode_all(&day.bodies).unwrap();
    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    let unmounted = set.iter().filter(|a| a.is_unmounted()).count();
    assert_eq!(set.len(), day.expected_allocations() + unmounted);
    assert_eq!(set.iter().filter(|a| a.is_idle()).count(), 10);
    conserves(&day, &set);
    let checked = check_truth(&day, &set);
    assert!(checked > day.containers / 2, "{checked}");
    // Every pod-level kind of cost reached containers, and the unclaimed
    // volume its own allocation.
    assert!(set.iter().any(|a| a.pv_cost() > 0.0 && !a.is_unmounted()));
    assert!(
        set.iter()
            .any(|a| a.load_balancer_cost > 0.0 && !a.properties.services.is_empty())
    );
    assert!(
        set.iter()
            .any(|a| a.network_internet_cost > 0.0 && a.network_transfer_bytes > 0.0)
    );
    assert!(
        set.iter()
            .any(|a| a.is_unmounted() && a.properties.namespace == "__unmounted__")
    );
    for l in ["topology_kubernetes_io_zone", "karpenter_sh_capacity_type"] {
        assert!(
            set.iter().any(|a| a.properties.labels.contains_key(l)),
            "{l}"
        );
    }
    // Capacity is ample: no over-allocation, every node priced.
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    assert!(set.iter().all(|a| !a.default_priced));
    // Controllers resolved through the ReplicaSet owners and CronJobs.
    let kinds: BTreeSet<_> = set
        .iter()
        .filter(|a| !a.is_idle() && !a.is_unmounted())
        .map(|a| a.properties.controller_kind.as_str())
        .collect();
    for k in ["daemonset", "deployment", "job"] {
        assert!(kinds.contains(k), "{kinds:?}");
    }
    assert!(!kinds.contains("replicaset"), "{kinds:?}");
    assert!(
        set.iter()
            .any(|a| a.gpu_cost > 0.0 && !a.is_idle() && !a.is_unmounted())
    );
    assert!(set.iter().any(|a| !a.properties.labels.is_empty()));

    let agg = end_to_end(&day).unwrap();
    assert!(close(
        agg.set.total_cost(),
        day.node_cost + day.pod_level_cost
    ));
    assert!(agg.set.iter().all(|a| !a.is_idle()), "idle is shared");
}

#[test]
fn generation_is_deterministic_and_scales() {
    let a = generate(&Scale::TINY);
    let b = generate(&Scale::TINY);
    assert_eq!(a.bodies, b.bodies);
    let day = generate(&mid());
    assert_eq!(day.containers, 2000);
    assert!(day.unknown_queries.is_empty(), "{:?}", day.unknown_queries);
    let ids: BTreeSet<QueryId> = day
        .followups()
        .iter()
        .map(|(q, _)| q.id.parse().unwrap())
        .collect();
    assert_eq!(ids, FOLLOWUPS.into());
    check_labels(&day);
    let results = decode_all(&day.bodies).unwrap();
    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    let unmounted = set.iter().filter(|a| a.is_unmounted()).count();
    assert_eq!(set.len(), 2000 + 30 + unmounted);
    conserves(&day, &set);
    assert!(check_truth(&day, &set) > 1000);
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    let kinds: BTreeSet<_> = set
        .iter()
        .filter(|a| !a.is_idle() && !a.is_unmounted())
        .map(|a| a.properties.controller_kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["daemonset", "deployment", "job", "statefulset"].into(),
        "{kinds:?}"
    );
}

/// The follow-ups matter: without them, containers whose usage crosses
/// their request or whose node is re-priced would be charged differently.
#[test]
fn followups_change_the_answer() {
    let day = generate(&Scale::TINY);
    let mut first = decode_all(&day.bodies[..day.first_round]).unwrap();
    // Follow-ups answered with empty vectors: the per-step products are 0.
    for (q, _) in day.followups() {
        first.insert(
            q.id.clone(),
            promjson::decode(
                &q.id,
                br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            )
            .unwrap(),
        );
    }
    let without = engine::compute(day.window, &first, &day.cfg).unwrap();
    let with = engine::compute(day.window, &decode_all(&day.bodies).unwrap(), &day.cfg).unwrap();
    let cost = |s: &AllocationSet| -> f64 {
        s.iter()
            .filter(|a| !a.is_idle())
            .map(|a| a.cpu_cost + a.ram_cost + a.gpu_cost)
            .sum()
    };
    assert!(cost(&with) > cost(&without) * 1.01);
}

#[test]
fn label_order_keeps_every_series_and_the_answer() {
    let shuffled = generate(&Scale::TINY);
    let sorted = generate(&Scale::TINY).in_label_order();
    let mut reordered = 0;
    for ((q, before), (_, after)) in shuffled.bodies.iter().zip(&sorted.bodies) {
        let (before, after) = (
            promjson::decode(&q.id, before).unwrap().series,
            promjson::decode(&q.id, after).unwrap().series,
        );
        assert!(
            after.is_sorted_by(|a, b| a.labels < b.labels),
            "{}: not in label order",
            q.id
        );
        // The same series, samples and all, in another order.
        let text = |s: &[promjson::Series]| -> Vec<String> {
            let mut v: Vec<String> = (s.iter())
                .map(|s| format!("{:?} {:?}", s.labels, s.samples))
                .collect();
            v.sort();
            v
        };
        assert_eq!(text(&before), text(&after), "{}", q.id);
        reordered += usize::from(
            before
                .iter()
                .map(|s| &s.labels)
                .ne(after.iter().map(|s| &s.labels)),
        );
    }
    assert!(reordered > 10, "{reordered} bodies reordered");
    assert_eq!(shuffled.total_bytes(), sorted.total_bytes());
    let compute = |day: &Day| {
        let results = decode_all(&day.bodies).unwrap();
        engine::compute(day.window, &results, &day.cfg).unwrap()
    };
    let (x, y) = (compute(&shuffled), compute(&sorted));
    assert_eq!(x.len(), y.len());
    for (p, q) in x.iter().zip(y.iter()) {
        assert_eq!(p.name, q.name);
        assert!(close(p.total_cost(), q.total_cost()), "{}", p.name);
    }
}
