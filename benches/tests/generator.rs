//! The generator's day is what the engine expects: every query of the plan
//! is covered, bodies decode, and the computed set has one allocation per
//! container plus one idle per node and conserves the nodes' cost.

use costetl_benches::{Scale, decode_all, end_to_end, generate};
use costetl_core::engine;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn generator_covers_every_query_in_the_plan() {
    let day = generate(&Scale::TINY);
    assert!(
        day.unknown_queries.is_empty(),
        "the plan has queries the bench generator does not know: {:?}; \
         teach benches/src/lib.rs their response shape",
        day.unknown_queries
    );
}

#[test]
fn tiny_day_computes_and_conserves_cost() {
    let day = generate(&Scale::TINY);
    assert_eq!(day.containers, 100);
    assert_eq!(day.nodes, 10);
    let results = decode_all(&day.bodies).unwrap();
    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    let unmounted = set.iter().filter(|a| a.is_unmounted()).count();
    assert_eq!(set.len(), day.expected_allocations() + unmounted);
    assert_eq!(set.iter().filter(|a| a.is_idle()).count(), 10);
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
    assert!(set.iter().any(|a| {
        a.properties
            .labels
            .contains_key("topology_kubernetes_io_zone")
    }));
    // Capacity is ample: no over-allocation, every node priced.
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    assert!(set.iter().all(|a| !a.default_priced));
    // Controllers resolved through the ReplicaSet owners and CronJobs.
    let kinds: std::collections::BTreeSet<_> = set
        .iter()
        .filter(|a| !a.is_idle() && !a.is_unmounted())
        .map(|a| a.properties.controller_kind.as_str())
        .collect();
    for k in ["daemonset", "deployment", "job"] {
        assert!(kinds.contains(k), "{kinds:?}");
    }
    assert!(!kinds.contains("replicaset"), "{kinds:?}");
    assert!(set.iter().any(|a| a.gpu_cost > 0.0));
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
    let scale = Scale {
        nodes: 30,
        gpu_nodes: 2,
        pods: 1000,
        containers_per_pod: 2,
        namespaces: 40,
        seed: 1,
    };
    let day = generate(&scale);
    assert_eq!(day.containers, 2000);
    let results = decode_all(&day.bodies).unwrap();
    let set = engine::compute(day.window, &results, &day.cfg).unwrap();
    let unmounted = set.iter().filter(|a| a.is_unmounted()).count();
    assert_eq!(set.len(), 2000 + 30 + unmounted);
    assert!(close(set.total_cost(), day.node_cost + day.pod_level_cost));
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    let kinds: std::collections::BTreeSet<_> = set
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
