//! The first round's queries, by what they measure: containers, network,
//! metadata, nodes, volumes, load balancers and the cluster label check.
//! [`super::plan`] puts the groups in fetch order.

use crate::error::Result;
use crate::source::{QueryKind, QuerySpec};
use crate::window::Window;

use super::CLUSTER_LABELLED;
use super::config::{EngineConfig, RangeSemantics};
use super::ids::QueryId::{self, *};
use super::promql::{Grid, Selectors};
use super::rules::{CPU_IRATE_RULE, RulesMode};

/// What every first-round query is built from: the window's grid, the
/// selectors with the cluster filter, and the configuration.
pub(super) struct FirstRound<'a> {
    cfg: &'a EngineConfig,
    g: Grid,
    s: Selectors,
}

impl<'a> FirstRound<'a> {
    /// The first round of `window`, checked as [`Grid::new`] checks it.
    pub(super) fn new(window: Window, cfg: &'a EngineConfig, sem: RangeSemantics) -> Result<Self> {
        Ok(Self {
            cfg,
            g: Grid::new(window, cfg, sem)?,
            s: Selectors::new(cfg),
        })
    }

    /// The cluster label.
    fn k(&self) -> &str {
        &self.s.k
    }

    /// A query evaluated at the last step (a subquery over the steps).
    fn step(&self, id: QueryId, promql: String) -> QuerySpec {
        QuerySpec {
            id: id.as_str().into(),
            promql,
            kind: QueryKind::Instant { time: self.g.at },
        }
    }

    /// A query evaluated at the window's end (over the whole window or its
    /// raw samples).
    fn at_end(&self, id: QueryId, promql: String) -> QuerySpec {
        QuerySpec {
            id: id.as_str().into(),
            promql,
            kind: QueryKind::Instant { time: self.g.end },
        }
    }

    /// The last sample of `metric` in the window.
    fn last(&self, metric: &str, extra: &[&str]) -> String {
        format!(
            "last_over_time({metric}{}{})",
            self.s.sel(extra),
            self.g.whole
        )
    }

    /// A cAdvisor series of real containers (not the pause container).
    fn cadvisor(&self, metric: &str) -> String {
        format!(
            "{metric}{}",
            self.s.sel(&["container!=\"\"", "container!=\"POD\""])
        )
    }

    /// Requests, usage and running steps per container, and each pod's
    /// node and completion.
    pub(super) fn containers(&self) -> Vec<QuerySpec> {
        let (k, sub, whole, samples) = (self.k(), &self.g.sub, &self.g.whole, &self.g.samples);
        let running = format!("kube_pod_container_status_running{}", self.s.sel(&[]));
        let by_container = format!("{k}, namespace, pod, uid, container");
        // cAdvisor: no uid, but the node; `id` (the cgroup) tells a restarted
        // container's new series from an HA pair's duplicate of the same one.
        let by_cadvisor = format!("{k}, namespace, pod, container, node, id");
        let by_node = format!("{k}, namespace, pod, container, node");
        let wss = self.cadvisor("container_memory_working_set_bytes");
        let requests = format!(
            "kube_pod_container_resource_requests{}",
            self.s.sel(&["resource=~\"cpu|memory|nvidia_com_gpu\""])
        );
        vec![
            self.at_end(
                RequestMax,
                format!("max by ({by_container}, resource) (max_over_time({requests}{whole}))"),
            ),
            // Core-seconds: the counter's increase over the window's samples.
            self.at_end(
                CpuUsage,
                format!(
                    "max by ({by_cadvisor}) (increase({}{samples}))",
                    self.cadvisor("container_cpu_usage_seconds_total")
                ),
            ),
            self.cpu_max(&by_cadvisor),
            // The average and the largest of the samples taken while the
            // container ran (a step grid would also see a stopped container's
            // last sample for the lookback after it stopped, and miss samples
            // between steps coarser than the scrapes).
            self.at_end(
                RamUsage,
                format!("max by ({by_node}) (avg_over_time({wss}{samples}))"),
            ),
            self.at_end(
                RamMax,
                format!("max by ({by_cadvisor}) (max_over_time({wss}{samples}))"),
            ),
            self.step(
                RunSteps,
                format!("max by ({by_container}) (sum_over_time({running}{sub}))"),
            ),
            // At the last step (the lookback finds every series running
            // then): a second kube-state-metrics is scraped all day, not for
            // a moment.
            self.step(
                Duplicates,
                format!("count(count by ({by_container}) ({running}) > 1)"),
            ),
            self.at_end(
                PodNode,
                format!(
                    "max by ({k}, namespace, pod, uid, node) ({})",
                    self.last("kube_pod_info", &["node!=\"\""])
                ),
            ),
            self.at_end(
                PodCompleted,
                format!(
                    "max by ({k}, namespace, pod, uid) (max_over_time(kube_pod_completion_time{}{whole}))",
                    self.s.sel(&[])
                ),
            ),
        ]
    }

    /// The largest CPU usage of a step per container.
    fn cpu_max(&self, by_cadvisor: &str) -> QuerySpec {
        match self.cfg.rules {
            // The recorded rate of each scrape interval: one raw pass,
            // whatever the resolution. With the rule evaluated at least once
            // per scrape it bounds the per-step rate from above, which is
            // all the follow-ups need to know.
            RulesMode::Use => self.at_end(
                CpuMax,
                format!(
                    "max by ({by_cadvisor}) (max_over_time({CPU_IRATE_RULE}{}{}))",
                    self.s.sel(&[]),
                    self.g.samples
                ),
            ),
            RulesMode::Auto | RulesMode::Ignore => {
                let cpu_rate = self
                    .g
                    .forward_rate(&self.cadvisor("container_cpu_usage_seconds_total"));
                self.step(
                    CpuMax,
                    format!(
                        "max by ({by_cadvisor}) (max_over_time({cpu_rate}{}))",
                        self.g.sub
                    ),
                )
            }
        }
    }

    /// Bytes each pod sent and received, priced egress and its prices.
    pub(super) fn network(&self) -> Vec<QuerySpec> {
        let pod_node = "namespace, pod, node";
        vec![
            self.at_end(
                NetTransfer,
                self.increase(
                    "container_network_transmit_bytes_total",
                    &["pod!=\"\""],
                    pod_node,
                ),
            ),
            self.at_end(
                NetReceive,
                self.increase(
                    "container_network_receive_bytes_total",
                    &["pod!=\"\""],
                    pod_node,
                ),
            ),
            self.at_end(
                NetEgress,
                self.increase(
                    "kubecost_pod_network_egress_bytes_total",
                    &[],
                    "namespace, pod_name, internet, same_zone, same_region",
                ),
            ),
            self.at_end(
                NetPrices,
                format!(
                    "{} or {} or {}",
                    self.egress_price("zone"),
                    self.egress_price("region"),
                    self.egress_price("internet")
                ),
            ),
        ]
    }

    /// A counter's increase over the window, summed by the cluster and
    /// `by`. Counters and gauges whose raw samples say it all read each
    /// sample once: `increase` over the window (a subquery of `rate`
    /// re-reads each sample at every step its rate window covers: 11 times
    /// at 1m).
    fn increase(&self, metric: &str, extra: &[&str], by: &str) -> String {
        format!(
            "sum by ({}, {by}) (increase({metric}{}{}))",
            self.k(),
            self.s.sel(extra),
            self.g.samples
        )
    }

    /// One egress class's price per GiB, tagged with its `class`.
    fn egress_price(&self, class: &str) -> String {
        format!(
            "label_replace(max by ({}) ({}), \"class\", \"{class}\", \"\", \"\")",
            self.k(),
            self.last(&format!("kubecost_network_{class}_egress_cost"), &[])
        )
    }

    /// Labels, annotations and owners of pods and namespaces.
    pub(super) fn metadata(&self) -> Vec<QuerySpec> {
        vec![
            self.at_end(PodLabels, self.last("kube_pod_labels", &[])),
            self.at_end(PodAnnotations, self.last("kube_pod_annotations", &[])),
            self.at_end(NamespaceLabels, self.last("kube_namespace_labels", &[])),
            self.at_end(
                NamespaceAnnotations,
                self.last("kube_namespace_annotations", &[]),
            ),
            self.at_end(
                PodOwners,
                self.last("kube_pod_owner", &["owner_is_controller=\"true\""]),
            ),
            self.at_end(ReplicasetOwners, self.last("kube_replicaset_owner", &[])),
        ]
    }

    /// Node capacity and prices.
    pub(super) fn nodes(&self) -> Vec<QuerySpec> {
        let (k, sub) = (self.k(), &self.g.sub);
        vec![
            self.step(
                NodeSteps,
                format!(
                    "max by ({k}, node) (count_over_time({}{sub}))",
                    self.capacity("cpu")
                ),
            ),
            self.step(
                NodeCapacity,
                format!(
                    "max by ({k}, node, resource) (sum_over_time({}{sub}))",
                    self.capacity("cpu|memory|nvidia_com_gpu")
                ),
            ),
            self.step(
                NodeGpus,
                format!(
                    "max by ({k}, node) (sum_over_time(node_gpu_count{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            // Two cost exporters average, as OpenCost's `avg by` does
            // (per step for the sum; for steps and changes, an upper bound).
            self.step(PriceSum, self.prices("sum_over_time")),
            self.step(PriceSteps, self.prices("count_over_time")),
            self.step(PriceChanges, self.prices("changes")),
            self.at_end(
                NodeInfo,
                format!(
                    "max by ({k}, node, provider_id, instance_type) ({})",
                    self.last("node_total_hourly_cost", &[])
                ),
            ),
            self.at_end(NodeLabels, self.last("kube_node_labels", &[])),
        ]
    }

    /// `kube_node_status_capacity` of the `resources` (a regex).
    fn capacity(&self, resources: &str) -> String {
        format!(
            "kube_node_status_capacity{}",
            self.s.sel(&[&format!("resource=~\"{resources}\"")])
        )
    }

    /// `f` over the steps of each node price (CPU, RAM, GPU), tagged with
    /// its `price`. Per price metric a subquery of the bare selector
    /// (Prometheus' cheapest path), tagged once outside: `label_replace`
    /// inside the subquery would run at every step.
    fn prices(&self, f: &str) -> String {
        let (k, sub) = (self.k(), &self.g.sub);
        ["cpu", "ram", "gpu"]
            .map(|p| {
                format!(
                    "label_replace(avg by ({k}, node) ({f}(node_{p}_hourly_cost{}{sub})), \"price\", \"{p}\", \"\", \"\")",
                    self.s.sel(&[])
                )
            })
            .join(" or ")
    }

    /// Persistent volumes: capacity, prices, claims and the pods mounting
    /// them.
    pub(super) fn volumes(&self) -> Vec<QuerySpec> {
        let (k, sub) = (self.k(), &self.g.sub);
        vec![
            self.step(
                PvBytes,
                format!(
                    "max by ({k}, persistentvolume) (sum_over_time(kube_persistentvolume_capacity_bytes{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            self.step(
                PvSteps,
                format!(
                    "max by ({k}, persistentvolume) (count_over_time(kube_persistentvolume_capacity_bytes{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            self.step(
                PvPrice,
                format!(
                    "avg by ({k}, volumename) (sum_over_time(pv_hourly_cost{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            self.at_end(
                PvInfo,
                format!(
                    "max by ({k}, volumename, provider_id) ({})",
                    self.last("pv_hourly_cost", &[])
                ),
            ),
            self.step(
                Claims,
                format!(
                    "max by ({k}, namespace, persistentvolumeclaim, volumename) \
                     (count_over_time(kube_persistentvolumeclaim_info{}{sub}))",
                    self.s.sel(&["volumename!=\"\""])
                ),
            ),
            self.at_end(
                Mounts,
                format!(
                    "max by ({k}, namespace, pod, uid, persistentvolumeclaim) ({})",
                    self.last("kube_pod_spec_volumes_persistentvolumeclaims_info", &[])
                ),
            ),
        ]
    }

    /// Load balancers and the selectors of their services.
    pub(super) fn balancers(&self) -> Vec<QuerySpec> {
        let (k, sub) = (self.k(), &self.g.sub);
        vec![
            self.step(
                LbCost,
                format!(
                    "avg by ({k}, namespace, service_name, ingress_ip) \
                     (sum_over_time(kubecost_load_balancer_cost{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            self.step(
                LbSteps,
                format!(
                    "max by ({k}, namespace, service_name, ingress_ip) \
                     (count_over_time(kubecost_load_balancer_cost{}{sub}))",
                    self.s.sel(&[])
                ),
            ),
            self.at_end(ServiceSelectors, self.last("service_selector_labels", &[])),
        ]
    }

    /// Series of [`CLUSTER_LABELLED`] without the cluster label, by name.
    pub(super) fn missing_cluster(&self) -> QuerySpec {
        self.at_end(
            MissingCluster,
            format!(
                "count by (__name__) (last_over_time({{__name__=~\"{}\", {}=\"\"}}{}))",
                CLUSTER_LABELLED.join("|"),
                self.k(),
                self.g.whole
            ),
        )
    }
}
