//! Presence checks: each family the engine needs has series in every
//! cluster; the kube-state-metrics version; recording rules.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{KSM_V1, KSM_V2, Metric};
use super::eval::Eval;
use super::outcome::Status;
use super::plan::Check;
use super::text::{count, value};
use crate::promjson::QueryResult;

impl Eval<'_> {
    pub(super) fn presence(&mut self, c: &Check, m: &Metric, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, f64> = BTreeMap::new();
        for s in &r.series {
            *found.entry(self.scope.cluster_of(s)).or_default() += value(s);
        }
        let unlabeled = found.remove(&None).unwrap_or(0.0);
        let miss = if m.required {
            Status::Fail
        } else {
            Status::Warn
        };
        let note = if unlabeled > 0.0 {
            format!(
                "; {} series have no {} label (see the cluster label check)",
                count(unlabeled),
                self.scope.label
            )
        } else {
            String::new()
        };
        if self.scope.clusters.is_empty() {
            let detail = format!(
                "no series in any cluster in the last {}{note}: {}",
                self.lookback, m.missing
            );
            self.push(c, None, miss, detail);
            return;
        }
        for cl in self.scope.clusters.clone() {
            match found.get(&Some(cl.clone())) {
                Some(n) if *n > 0.0 => {
                    let detail = format!(
                        "present ({} series in the last {})",
                        count(*n),
                        self.lookback
                    );
                    self.push(c, Some(&cl), Status::Pass, detail);
                }
                _ => {
                    let detail = format!(
                        "missing: no series in the last {}{note}; {}",
                        self.lookback, m.missing
                    );
                    self.push(c, Some(&cl), miss, detail);
                }
            }
        }
    }

    pub(super) fn ksm_version(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for s in &r.series {
            if value(s) > 0.0 {
                let name = s.label("__name__").unwrap_or_default().to_owned();
                found
                    .entry(self.scope.cluster_of(s))
                    .or_default()
                    .insert(name);
            }
        }
        let keys = self.scope.keys(&found);
        if keys.is_empty() {
            let detail = format!(
                "no kube-state-metrics request or capacity series (v2 {} or v1 {}) in the last {}",
                KSM_V2.join(", "),
                KSM_V1.join(", "),
                self.lookback
            );
            self.push(c, None, Status::Fail, detail);
            return;
        }
        for cl in keys {
            let names = found.get(&cl).cloned().unwrap_or_default();
            let pick = |set: &[&str]| -> Vec<String> {
                set.iter()
                    .filter(|n| names.contains(**n))
                    .map(|n| (*n).to_owned())
                    .collect()
            };
            let (v2, v1) = (pick(KSM_V2), pick(KSM_V1));
            let (status, detail) = match (v2.is_empty(), v1.is_empty()) {
                (false, true) => (Status::Pass, format!("v2 series names ({})", v2.join(", "))),
                (false, false) => (
                    Status::Warn,
                    format!(
                        "v1 series names ({}) next to v2 ({}): kube-state-metrics 1.9 (which \
                         emits both) or a second, older kube-state-metrics is scraped; costetl \
                         reads only the v2 names",
                        v1.join(", "),
                        v2.join(", ")
                    ),
                ),
                (true, false) => (
                    Status::Fail,
                    format!(
                        "only v1 series names ({}): costetl reads the v2 names ({}); upgrade \
                         kube-state-metrics to 2.x",
                        v1.join(", "),
                        KSM_V2.join(", ")
                    ),
                ),
                (true, true) => (
                    Status::Fail,
                    format!(
                        "no kube-state-metrics request or capacity series (v2 {} or v1 {}) in \
                         the last {}",
                        KSM_V2.join(", "),
                        KSM_V1.join(", "),
                        self.lookback
                    ),
                ),
            };
            self.push(c, cl.as_deref(), status, detail);
        }
    }

    pub(super) fn recording_rule(&mut self, c: &Check, rule: &str, r: &QueryResult) {
        let n: f64 = r.series.iter().map(value).sum();
        if n > 0.0 {
            let detail = format!(
                "present ({} series in the last {})",
                count(n),
                self.lookback
            );
            self.push(c, None, Status::Pass, detail);
        } else {
            let detail = format!(
                "no series named {rule} in the last {}: the rule is not loaded (Prometheus \
                 rule_files, or the AMP/Mimir ruler for remote-write setups), is named \
                 differently, or its inputs are missing",
                self.lookback
            );
            self.push(c, None, Status::Fail, detail);
        }
    }
}
