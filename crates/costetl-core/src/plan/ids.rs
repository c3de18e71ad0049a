//! The plan's query ids: one enum shared by the plan, the join, the
//! benchmark generator and (as text) the fixture manifest.

use std::fmt;
use std::str::FromStr;

macro_rules! query_ids {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// A query of the plan. Its text form (`as_str`) is the id in
        /// [`QuerySpec::id`](crate::source::QuerySpec::id) and in fixture
        /// manifests.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum QueryId {
            $($(#[doc = $doc])* $variant,)*
        }

        impl QueryId {
            /// Every id, in plan order.
            pub const ALL: &'static [QueryId] = &[$(QueryId::$variant,)*];

            /// The id's text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(QueryId::$variant => $text,)*
                }
            }
        }
    };
}

query_ids! {
    /// Subquery semantics probe.
    RangeProbe = "range_probe",
    /// Scrape interval probe.
    ScrapeProbe = "scrape_probe",
    /// Whether costetl's recording rules cover the window.
    RulesProbe = "rules_probe",
    /// Per container: running steps.
    RunSteps = "run_steps",
    /// Containers with more than one running series at the last step (two
    /// kube-state-metrics).
    Duplicates = "duplicates",
    /// Per pod uid: its node.
    PodNode = "pod_node",
    /// Per container and resource: largest request in the window.
    RequestMax = "request_max",
    /// Per container: CPU core-seconds in the window (`increase`).
    CpuUsage = "cpu_usage",
    /// Per container: max CPU usage of a step (or of a scrape interval,
    /// from the recording rule).
    CpuMax = "cpu_max",
    /// Per container: average working-set sample in the window.
    RamUsage = "ram_usage",
    /// Per container: largest working-set sample in the window.
    RamMax = "ram_max",
    /// Pod completion time (unix seconds).
    PodCompleted = "pod_completed",
    /// Per node: steps with capacity.
    NodeSteps = "node_steps",
    /// Per node and resource: Σ capacity over steps.
    NodeCapacity = "node_capacity",
    /// Per node: Σ `node_gpu_count` over steps.
    NodeGpus = "node_gpus",
    /// Per node and price: Σ $/h over steps.
    PriceSum = "price_sum",
    /// Per node and price: steps with a price.
    PriceSteps = "price_steps",
    /// Per node and price: how often it changed.
    PriceChanges = "price_changes",
    /// Per node: provider id and instance type.
    NodeInfo = "node_info",
    /// Node labels.
    NodeLabels = "node_labels",
    /// Per PV: Σ capacity bytes over steps.
    PvBytes = "pv_bytes",
    /// Per PV: steps with a capacity.
    PvSteps = "pv_steps",
    /// Per PV: Σ $/GiB-h over steps.
    PvPrice = "pv_price",
    /// Per PV: provider id.
    PvInfo = "pv_info",
    /// Per claim: bound volume and steps bound.
    Claims = "claims",
    /// Per pod uid: claims it mounts.
    Mounts = "mounts",
    /// Per load balancer: Σ $/h over steps.
    LbCost = "lb_cost",
    /// Per load balancer: steps active.
    LbSteps = "lb_steps",
    /// Service selectors.
    ServiceSelectors = "service_selectors",
    /// Per pod and node: Σ per-step bytes sent.
    NetTransfer = "net_transfer",
    /// Per pod and node: Σ per-step bytes received.
    NetReceive = "net_receive",
    /// Per pod and egress class: Σ per-step bytes.
    NetEgress = "net_egress",
    /// Per cluster and egress class: $ per GiB.
    NetPrices = "net_prices",
    /// Pod labels.
    PodLabels = "pod_labels",
    /// Pod annotations.
    PodAnnotations = "pod_annotations",
    /// Namespace labels.
    NamespaceLabels = "namespace_labels",
    /// Namespace annotations.
    NamespaceAnnotations = "namespace_annotations",
    /// Pod owners.
    PodOwners = "pod_owners",
    /// ReplicaSet owners.
    ReplicasetOwners = "replicaset_owners",
    /// Series without the cluster label, by name.
    MissingCluster = "missing_cluster",
    /// Follow-up, for containers that did not run all window: 1 / first
    /// running step (unix seconds).
    RunFirst = "run_first",
    /// Follow-up: last running step (unix seconds).
    RunLast = "run_last",
    /// Follow-up: earliest container start seen (unix seconds), from
    /// kube-state-metrics.
    ContainerStarted = "container_started",
    /// Follow-up: Σ max(0, CPU usage − request) per step, for containers
    /// whose usage crosses their request.
    CpuExcess = "cpu_excess",
    /// Follow-up: the same for RAM.
    RamExcess = "ram_excess",
    /// Follow-up: Σ running × CPU price, for containers on nodes whose
    /// price changes.
    CpuRunPrice = "cpu_run_price",
    /// Follow-up: Σ running × RAM price.
    RamRunPrice = "ram_run_price",
    /// Follow-up: Σ running × GPU price.
    GpuRunPrice = "gpu_run_price",
    /// Follow-up: Σ CPU usage × price (no request, price changes).
    CpuUsagePrice = "cpu_usage_price",
    /// Follow-up: Σ working set × price.
    RamUsagePrice = "ram_usage_price",
    /// Follow-up: Σ max(0, CPU usage − request) × price.
    CpuExcessPrice = "cpu_excess_price",
    /// Follow-up: Σ max(0, working set − request) × price.
    RamExcessPrice = "ram_excess_price",
    /// Follow-up: per pod mounting a claim several pods mount, Σ over its
    /// running steps of 1 / (mounters running at that step).
    PvShares = "pv_shares",
    /// Follow-up, for a node whose price has NaN or ±Inf samples: per
    /// price, Σ $/h over the steps with a usable price.
    NodePriceSum = "node_price_sum",
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueryId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| format!("unknown query id {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let texts: std::collections::HashSet<_> = QueryId::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(texts.len(), QueryId::ALL.len());
        for id in QueryId::ALL {
            assert_eq!(id.as_str().parse::<QueryId>(), Ok(*id));
        }
        assert!("nope".parse::<QueryId>().is_err());
    }
}
