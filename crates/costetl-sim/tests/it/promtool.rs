//! The output goes through `promtool tsdb create-blocks-from openmetrics`,
//! and promtool keeps every sample (it drops out-of-order ones silently,
//! so accepting the file is not enough).

use std::path::PathBuf;
use std::process::Command;

use costetl_sim::Scenario;

use crate::util::fixture;

fn promtool() -> Option<&'static str> {
    let ok = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some("promtool")
}

/// Write `s`, build blocks from it, and return the samples promtool stored.
fn blocks(s: &Scenario, name: &str) -> Option<(u64, u64)> {
    let Some(promtool) = promtool() else {
        eprintln!(
            "SKIPPED: promtool not found on PATH (Debian/Ubuntu: apt-get install prometheus)"
        );
        return None;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("promtool-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("metrics.om");
    let stats = s
        .write_openmetrics(std::fs::File::create(&input).unwrap())
        .unwrap();
    let out = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // BLOCK ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, …: the
    // duration has no spaces, so NUM SAMPLES is the fifth column.
    let stored: u64 = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(4).unwrap().parse::<u64>().unwrap())
        .sum();
    let _ = std::fs::remove_dir_all(&dir);
    Some((stats.samples, stored))
}

#[test]
fn promtool_accepts_small() {
    if let Some((written, stored)) = blocks(&fixture("small"), "small") {
        assert_eq!(written, stored);
    }
}

#[test]
fn promtool_accepts_small_with_every_option() {
    let mut s = fixture("small");
    s.options.duplicate_ksm = true;
    s.options.drop_cluster_label_for = vec!["kube_pod_info".into()];
    s.options.omit_node_prices_for = vec!["small/node-a".into()];
    s.scrape_interval_seconds = 17;
    if let Some((written, stored)) = blocks(&s, "small-options") {
        assert_eq!(written, stored);
    }
}

/// About 10 s and 140 MB of text: run with `cargo test -p costetl-sim -- --ignored`.
#[test]
#[ignore = "slow: writes the day's 137 MB and runs promtool on it"]
fn promtool_accepts_the_day() {
    if let Some((written, stored)) = blocks(&fixture("two-clusters-day"), "day") {
        assert_eq!(written, stored);
    }
}
