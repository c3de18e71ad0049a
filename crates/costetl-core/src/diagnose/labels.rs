//! Label checks: the cluster label on every series the engine reads, the
//! pod uid on kube-state-metrics series.

use std::collections::BTreeMap;

use super::catalog::{FAMILIES, UID_FAMILIES};
use super::eval::Eval;
use super::outcome::Status;
use super::plan::Check;
use super::text::{count, list, value};
use crate::promjson::QueryResult;

impl Eval<'_> {
    pub(super) fn cluster_label(&mut self, c: &Check, r: &QueryResult) {
        let k = self.scope.label;
        let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
        for s in &r.series {
            let name = s.label("__name__").unwrap_or("?").to_owned();
            *by_name.entry(name).or_default() += value(s);
        }
        by_name.retain(|_, n| *n > 0.0);
        if by_name.is_empty() {
            self.clean(c, None, Status::Fail, |n, lookback| {
                format!(
                    "every series of the {} families costetl reads carries {k} (last \
                     {lookback}; the presence checks found {n} series)",
                    FAMILIES.len(),
                )
            });
            return;
        }
        let names: Vec<String> = by_name
            .iter()
            .map(|(n, v)| format!("{n} ({} series)", count(*v)))
            .collect();
        let names = list(&names, 12);
        let default = &self.cfg.default_cluster;
        let (status, detail) = if let Some(f) = &self.cfg.cluster_filter {
            (
                Status::Warn,
                format!("series without {k}: {names}; the cluster filter {k}={f:?} ignores them"),
            )
        } else if self.scope.unlabeled_to.is_some() && self.scope.clusters.len() == 1 {
            (
                Status::Warn,
                format!(
                    "series without {k}: {names}; they count for the default cluster \
                     {default:?}, which is fine for a single cluster; label every series \
                     (Prometheus external_labels or relabelling) before adding another"
                ),
            )
        } else if self.scope.unlabeled_to.is_some() {
            (
                Status::Warn,
                format!(
                    "series without {k}: {names}; they count for the default cluster \
                     {default:?}, which is also a labelled cluster; label every series"
                ),
            )
        } else {
            let labeled: Vec<String> = self.scope.clusters.iter().cloned().collect();
            (
                Status::Fail,
                format!(
                    "series without {k}: {names}; other series carry it (clusters {}), so \
                     these are attributed to the default cluster {default:?} and not joined \
                     with their own cluster's series; add {k} to them (Prometheus \
                     external_labels, the scrape job's relabelling, or the remote_write \
                     configuration) or set --cluster-id to their cluster",
                    list(&labeled, 5)
                ),
            )
        };
        self.push(c, None, status, detail);
    }

    pub(super) fn pod_uid(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for s in r.series.iter().filter(|s| value(s) > 0.0) {
            let name = s.label("__name__").unwrap_or("?");
            found
                .entry(self.scope.cluster_of(s))
                .or_default()
                .push(format!("{name} ({} series)", count(value(s))));
        }
        for cl in self.report_keys(&found) {
            let Some(names) = found.get(&cl) else {
                self.clean(c, cl.as_deref(), Status::Warn, |_, lookback| {
                    format!(
                        "{} carry the pod uid (last {lookback})",
                        UID_FAMILIES.join(", ")
                    )
                });
                continue;
            };
            let detail = format!(
                "series without the pod uid: {}; kube-state-metrics v1 (or a mix of versions) \
                 is scraped. costetl joins them by (cluster, namespace, pod) as OpenCost does \
                 and warns; a pod name re-created within a window cannot be told apart: \
                 upgrade to kube-state-metrics v2",
                list(names, 5)
            );
            self.push(c, cl.as_deref(), Status::Warn, detail);
        }
    }
}
