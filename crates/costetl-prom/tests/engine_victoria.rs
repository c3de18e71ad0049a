//! The engine on VictoriaMetrics: the simulator's `small.json` scenario,
//! loaded into real VictoriaMetrics 1.79 and into real Prometheus 2.42,
//! gives the same allocations through `PromSource`, within the tolerance
//! measured and explained in `docs/accuracy.md` ("VictoriaMetrics"); and
//! both stay close to the simulator's ground truth.
//!
//! Run with `--nocapture` to see the per-allocation figures.

use std::path::PathBuf;

use chrono::TimeDelta;
use costetl_core::engine::{self, Computation};
use costetl_core::plan::EngineConfig;
use costetl_core::{Accumulate, AllocationSet, Window};
use costetl_prom::PromSource;
use costetl_sim::Scenario;
use costetl_testkit::{PromServer, VmServer};

/// How far the two backends may differ, measured on this scenario (see
/// docs/accuracy.md, "VictoriaMetrics"): each allocation's total cost
/// within 3.5% or within $0.0005 (0.06% of the window's cost, for the
/// smallest allocations), and the window's total within 0.5%. Measured:
/// worst 2.9% (a 30-minute job's counter-rate costs), $0.00022 (the
/// unmounted-PV remainder), total 0.23%.
const MAX_ALLOCATION_DIFF: f64 = 0.035;
const MAX_ALLOCATION_ABS_DIFF: f64 = 0.0005;
const MAX_TOTAL_DIFF: f64 = 0.005;

fn scenario() -> Scenario {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios/small.json");
    Scenario::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compute(url: &str, w: Window) -> Computation {
    let source = PromSource::new(url).unwrap();
    let cfg = EngineConfig {
        resolution: TimeDelta::minutes(1),
        ..EngineConfig::default()
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(engine::allocations(&source, w, &cfg))
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn whole(c: &Computation) -> AllocationSet {
    let r = c.range.accumulate(Accumulate::All).unwrap();
    r.sets.into_iter().next().unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a.abs()
    } else {
        (a - b).abs() / b.abs()
    }
}

#[test]
fn victoria_metrics_matches_prometheus_on_the_small_scenario() {
    let s = scenario();
    let w = s.window();
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let prom = PromServer::start_with_openmetrics(&text).unwrap();
    let vm = VmServer::start_with_openmetrics(&text).unwrap();

    let p = compute(&prom.url(), w);
    let v = compute(&vm.url(), w);
    let (ps, vs) = (whole(&p), whole(&v));
    let want = s.expected_allocations(w).unwrap();

    let mut worst: f64 = 0.0;
    let mut compared = 0;
    for a in ps.iter() {
        let b = vs
            .get(&a.name)
            .unwrap_or_else(|| panic!("VictoriaMetrics lacks allocation {}", a.name));
        let d = rel(b.total_cost(), a.total_cost());
        let truth = want.get(&a.name).map(|t| t.total_cost());
        eprintln!(
            "{:60} prometheus {:10.6} victoria {:10.6} diff {:7.4}% truth {}",
            a.name,
            a.total_cost(),
            b.total_cost(),
            d * 100.0,
            truth.map_or("-".to_owned(), |t| format!("{t:10.6}"))
        );
        if d > 0.005 {
            for (name, x) in [("prometheus", a), ("victoria", b)] {
                eprintln!(
                    "    {name:10} {} .. {} cpu {:.6} ram {:.6} gpu {:.6} pv {:.6} net {:.6}",
                    x.start,
                    x.end,
                    x.cpu_cost,
                    x.ram_cost,
                    x.gpu_cost,
                    x.pv_cost(),
                    x.network_cost
                );
            }
        }
        let abs = (b.total_cost() - a.total_cost()).abs();
        assert!(
            d < MAX_ALLOCATION_DIFF || abs < MAX_ALLOCATION_ABS_DIFF,
            "{}: prometheus {} victoria {}",
            a.name,
            a.total_cost(),
            b.total_cost()
        );
        if abs >= MAX_ALLOCATION_ABS_DIFF {
            worst = worst.max(d);
        }
        compared += 1;
    }
    let extra: Vec<_> = vs
        .iter()
        .filter(|a| ps.get(&a.name).is_none())
        .map(|a| a.name.clone())
        .collect();
    assert!(extra.is_empty(), "only on VictoriaMetrics: {extra:?}");
    let total = rel(vs.total_cost(), ps.total_cost());
    eprintln!(
        "{compared} allocations compared: worst difference {:.4}%, total {:.5}% \
         (prometheus {:.6}, victoria {:.6}, queries {} vs {})",
        worst * 100.0,
        total * 100.0,
        ps.total_cost(),
        vs.total_cost(),
        p.stats.queries,
        v.stats.queries,
    );
    assert!(compared >= 9, "{compared}");
    assert!(total < MAX_TOTAL_DIFF, "totals differ by {total}");
    // The probe tells the backends apart (Prometheus 2.42 counts both ends
    // of a range, VictoriaMetrics like Prometheus 3 only the right one);
    // the engine plans each accordingly, which is why they agree.
    eprintln!(
        "range semantics: prometheus {:?}, victoria {:?}",
        p.semantics, v.semantics
    );
}
