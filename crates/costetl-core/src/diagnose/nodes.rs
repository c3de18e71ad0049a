//! Node checks: every node is priced.

use std::collections::{BTreeMap, BTreeSet};

use super::eval::Eval;
use super::outcome::Status;
use super::plan::Check;
use super::text::list;
use crate::promjson::QueryResult;

impl Eval<'_> {
    pub(super) fn node_prices(&mut self, c: &Check, r: &QueryResult) {
        let mut found: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for s in &r.series {
            let node = s.label("node").unwrap_or_default().to_owned();
            found
                .entry(self.scope.cluster_of(s))
                .or_default()
                .insert(node);
        }
        let p = self.cfg.default_pricing;
        for cl in self.report_keys(&found) {
            let Some(nodes) = found.get(&cl) else {
                self.clean(c, cl.as_deref(), Status::Fail, |n, lookback| {
                    format!(
                        "all {n} node(s) in kube_node_info or kube_node_status_capacity have \
                         node_cpu_hourly_cost (last {lookback})"
                    )
                });
                continue;
            };
            let nodes: Vec<String> = nodes.iter().cloned().collect();
            let detail = format!(
                "{} node(s) in kube_node_info or kube_node_status_capacity have no \
                 node_cpu_hourly_cost series in the last \
                 {}: {}; their allocations and idle are priced at the default prices (CPU \
                 ${}/core-h, RAM ${}/GiB-h, GPU ${}/GPU-h); check that the cost exporter \
                 prices every node (and carries the same {} and node labels)",
                nodes.len(),
                self.lookback,
                list(&nodes, 10),
                p.cpu,
                p.ram_gib,
                p.gpu,
                self.scope.label
            );
            self.push(c, cl.as_deref(), Status::Fail, detail);
        }
    }
}
