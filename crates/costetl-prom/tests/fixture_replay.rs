//! The bundled capture (`fixtures/two-clusters-day`, recorded from Debian's
//! Prometheus loaded with the simulator's two-cluster day) replays offline,
//! and the result still matches the simulator's ground truth. No network.

use std::path::PathBuf;

use chrono::TimeDelta;
use costetl_core::engine;
use costetl_core::plan::EngineConfig;
use costetl_fixtures::FixtureSource;
use costetl_sim::Scenario;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn bundled_capture_replays_to_ground_truth() {
    let s = Scenario::from_path(root().join("fixtures/scenarios/two-clusters-day.json")).unwrap();
    let src = FixtureSource::open(root().join("fixtures/two-clusters-day")).unwrap();
    let cfg = EngineConfig {
        resolution: TimeDelta::minutes(1),
        ..EngineConfig::default()
    };
    let c = futures::executor::block_on(engine::allocations(&src, s.window(), &cfg)).unwrap();
    assert_eq!(c.range.sets.len(), 1);
    let got = &c.range.sets[0];
    let want = s.expected_allocations(s.window()).unwrap();
    let node_cost: f64 = s
        .node_costs(s.window())
        .unwrap()
        .iter()
        .map(|n| n.total_cost())
        .sum();
    let resources: f64 = got
        .iter()
        .map(|a| a.cpu_cost + a.ram_cost + a.gpu_cost)
        .sum();
    assert!((resources - node_cost).abs() / node_cost < 1e-3);
    // PV, LB and network cost on top, conserved too (the lookback of
    // volumes and balancers that end mid-day is the only gap).
    assert!(
        (got.total_cost() - want.total_cost()).abs() / want.total_cost() < 1e-3,
        "{} vs {}",
        got.total_cost(),
        want.total_cost()
    );
    let (mut worst, mut n) = (0.0_f64, 0);
    for w in want.iter().filter(|a| !a.is_idle()) {
        let g = got
            .get(&w.name)
            .unwrap_or_else(|| panic!("missing {}", w.name));
        assert_eq!(g.properties.namespace, w.properties.namespace);
        assert_eq!(
            g.properties.controller_kind, w.properties.controller_kind,
            "{}",
            w.name
        );
        assert_eq!(
            g.properties.controller, w.properties.controller,
            "{}",
            w.name
        );
        assert_eq!(g.properties.labels, w.properties.labels, "{}", w.name);
        assert_eq!(g.default_priced, w.default_priced, "{}", w.name);
        assert_eq!(g.properties.services, w.properties.services, "{}", w.name);
        // Unmounted volumes lag by the lookback when they end mid-day;
        // engine_prometheus.rs bounds them separately.
        if w.minutes() >= 10.0 && !w.is_unmounted() {
            worst = worst.max((g.total_cost() - w.total_cost()).abs() / w.total_cost());
            n += 1;
        }
    }
    assert!(
        // Within 2%: a container that starts or stops between steps is
        // priced at its average rate for the partial step (docs/accuracy.md).
        n > 20 && worst < 0.02,
        "worst container error {worst} over {n}"
    );
    assert!(
        got.warnings.iter().any(|w| w.node == "eu-node-2"),
        "{:?}",
        got.warnings
    );
}
