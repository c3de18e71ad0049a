//! `costetl rules` end to end: the printed rule file loads into promtool,
//! its rules backfilled into a real Prometheus (`promtool tsdb
//! create-blocks-from rules`) are read by the plan where they cover the
//! window, and the allocations stay those of the raw series.

mod common;

use std::process::{Command, Output};

use costetl_core::engine::{self, Computation};
use costetl_core::plan::{EngineConfig, RulesMode};
use costetl_core::{AllocationSet, Window};
use costetl_prom::PromSource;
use costetl_testkit::PromServer;

const WINDOW: &str = "2023-11-14T00:00:00Z,2023-11-14T02:00:00Z";

fn costetl(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .env_remove("PROMETHEUS_SERVER_ENDPOINT")
        .output()
        .expect("the costetl binary runs");
    assert!(o.status.success(), "{args:?}: {o:?}");
    o
}

fn window() -> Window {
    let (start, end) = WINDOW.split_once(',').unwrap();
    Window::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

fn compute(server: &PromServer, rules: RulesMode) -> Computation {
    let cfg = EngineConfig {
        rules,
        ..EngineConfig::default()
    };
    let src = PromSource::new(&server.url()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(engine::allocations(&src, window(), &cfg))
        .unwrap()
}

fn whole(c: &Computation) -> AllocationSet {
    assert_eq!(c.range.sets.len(), 1);
    c.range.sets[0].clone()
}

/// The `cpu_max` query a capture recorded.
fn captured_cpu_max(server: &PromServer, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capture");
    let url = server.url();
    let mut args = vec![
        "capture",
        "--prometheus",
        &url,
        "--window",
        WINDOW,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    costetl(&args);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    manifest["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "cpu_max")
        .and_then(|q| q["promql"].as_str())
        .expect("a cpu_max query")
        .to_owned()
}

#[test]
fn backfilled_rules_are_read_and_allocate_as_the_raw_series_do() {
    let rules = String::from_utf8(costetl(&["rules"]).stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool runs");
    assert!(check.status.success(), "{check:?}");

    let text = common::small_scenario_openmetrics();
    let w = window();
    let (start, end) = (w.start().timestamp(), w.end().timestamp());
    let with = PromServer::start_with_openmetrics_and_rules(&text, &rules, start, end).unwrap();
    let without = PromServer::start_with_openmetrics(&text).unwrap();

    let ruled = compute(&with, RulesMode::Auto);
    let raw = compute(&without, RulesMode::Auto);
    assert_eq!(ruled.rules, RulesMode::Use);
    assert_eq!(raw.rules, RulesMode::Ignore);
    // Told to ignore the rule, the server holding it computes what the
    // server without it does, to the bit.
    let ignored = compute(&with, RulesMode::Ignore);
    assert_eq!(ignored.rules, RulesMode::Ignore);
    assert_eq!(whole(&ignored), whole(&raw));

    // The rule changes only the largest CPU rate (a scrape interval's
    // rather than a step's), hence at most which containers get an
    // excess follow-up: every other number is the raw series'.
    let (a, b) = (whole(&ruled), whole(&raw));
    let names = |s: &AllocationSet| s.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    let close = |x: f64, y: f64, rel: f64| (x - y).abs() <= rel * x.abs().max(y.abs()) + 1e-9;
    let (mut cpu_a, mut cpu_b) = (0.0, 0.0);
    for x in a.iter() {
        let y = b.get(&x.name).unwrap();
        for (what, u, v) in [
            ("ram", x.ram_cost, y.ram_cost),
            ("gpu", x.gpu_cost, y.gpu_cost),
            ("pv", x.pv_cost(), y.pv_cost()),
            ("network", x.network_cost, y.network_cost),
            ("lb", x.load_balancer_cost, y.load_balancer_cost),
            (
                "cpu usage",
                x.cpu_core_usage_average,
                y.cpu_core_usage_average,
            ),
        ] {
            assert!(close(u, v, 1e-9), "{} {what}: {u} vs {v}", x.name);
        }
        assert!(
            close(x.cpu_cost, y.cpu_cost, 0.02),
            "{} cpu: {} vs {}",
            x.name,
            x.cpu_cost,
            y.cpu_cost
        );
        cpu_a += x.cpu_cost;
        cpu_b += y.cpu_cost;
    }
    assert!(close(cpu_a, cpu_b, 0.005), "cpu total {cpu_a} vs {cpu_b}");
    let peak = |s: &AllocationSet| -> f64 {
        s.iter()
            .filter_map(|x| x.raw_allocation_only.map(|r| r.cpu_core_usage_max))
            .fold(0.0, f64::max)
    };
    assert!(peak(&a) > 0.0, "the rule's maxima reach the allocations");

    // The CLI reads the rule by default and not with --no-rules.
    let read = captured_cpu_max(&with, &[]);
    assert!(read.contains("costetl:container_cpu_usage:irate"), "{read}");
    let skipped = captured_cpu_max(&with, &["--no-rules"]);
    assert!(!skipped.contains("costetl:"), "{skipped}");
    assert_eq!(
        captured_cpu_max(&without, &[]),
        skipped,
        "without the rule the plan is the raw one"
    );
}
