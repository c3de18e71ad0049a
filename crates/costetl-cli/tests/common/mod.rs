//! Shared by the CLI tests that start a real Prometheus.

use std::path::PathBuf;

use costetl_sim::Scenario;

/// The simulator's small scenario (`fixtures/scenarios/small.json`: one
/// cluster, 2023-11-14 00:00–02:00) as OpenMetrics text for backfilling.
pub fn small_scenario_openmetrics() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios/small.json");
    let s = Scenario::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    String::from_utf8(text).expect("OpenMetrics text is UTF-8")
}
