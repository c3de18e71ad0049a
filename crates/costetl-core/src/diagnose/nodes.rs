//! Node checks: every node is priced; every node that needs GPU capacity
//! (a GPU price, GPU requests) has it.

use std::collections::{BTreeMap, BTreeSet};

use super::eval::Eval;
use super::outcome::Status;
use super::plan::Check;
use super::text::{count, list};
use crate::promjson::QueryResult;
use crate::source::QuerySpec;

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

    pub(super) fn gpu_capacity(&mut self, c: &Check, nodes: &QuerySpec, r: &QueryResult) {
        // Per cluster: the nodes lacking capacity, by what needs it.
        let mut found: BTreeMap<Option<String>, GpuNeeds> = BTreeMap::new();
        for s in &r.series {
            let node = s.label("node").unwrap_or_default().to_owned();
            let needs = found.entry(self.scope.cluster_of(s)).or_default();
            match s.label("need") {
                Some("requests") => needs.requests.insert(node),
                _ => needs.price.insert(node),
            };
        }
        for cl in self.report_keys(&found) {
            let Some(needs) = found.get(&cl) else {
                let gpu_nodes = self.sum(&[nodes.id.as_str()], cl.as_deref());
                self.clean(
                    c,
                    cl.as_deref(),
                    Status::Warn,
                    |_, lookback| match gpu_nodes {
                        Ok(n) if n > 0.0 => format!(
                            "all {} node(s) with a GPU price above 0 or GPU requests have GPU \
                             capacity (last {lookback})",
                            count(n)
                        ),
                        Ok(_) => format!(
                            "no GPU in use: no node has a GPU price above 0 or GPU requests \
                             (last {lookback})"
                        ),
                        Err(e) => format!(
                            "every node with a GPU price above 0 or GPU requests has GPU \
                             capacity (last {lookback}; counting them failed: {e})"
                        ),
                    },
                );
                continue;
            };
            let (status, detail) = needs.outcome();
            self.push(c, cl.as_deref(), status, detail);
        }
    }
}

/// Nodes without GPU capacity in one cluster, by what needs it.
#[derive(Default)]
struct GpuNeeds {
    requests: BTreeSet<String>,
    /// A GPU price above 0, without GPU requests.
    price: BTreeSet<String>,
}

impl GpuNeeds {
    fn outcome(&self) -> (Status, String) {
        let price: Vec<String> = self.price.difference(&self.requests).cloned().collect();
        let requests: Vec<String> = self.requests.iter().cloned().collect();
        let mut parts = Vec::new();
        if !requests.is_empty() {
            parts.push(format!(
                "{} node(s) have GPU requests but no GPU capacity: {}; their GPU requests are \
                 charged while the node's GPU cost (capacity × price) is 0, so GPU idle goes \
                 negative (costetl allocation warns: over-allocated)",
                requests.len(),
                list(&requests, 10)
            ));
        }
        if !price.is_empty() {
            parts.push(format!(
                "{} node(s) have a GPU price above 0 but no GPU capacity: {}; if they have \
                 GPUs, those cost nothing (a node without GPUs priced for them is harmless)",
                price.len(),
                list(&price, 10)
            ));
        }
        parts.push(
            "kube_node_status_capacity{resource=\"nvidia_com_gpu\"} comes from the NVIDIA \
             device plugin advertising nvidia.com/gpu; the cost exporter's node_gpu_count, \
             where exported, wins over it (a 0 there hides the capacity)"
                .to_owned(),
        );
        let status = if requests.is_empty() {
            Status::Warn
        } else {
            Status::Fail
        };
        (status, parts.join("; "))
    }
}
