//! What the checks look for: the series families costetl reads, the
//! presence checks and what goes wrong without each, the duplicate checks
//! and the kube-state-metrics version names. Data only; the plan turns it
//! into PromQL.

use super::outcome::Status;

/// The kube-state-metrics families the engine joins by pod uid.
pub(super) const UID_FAMILIES: &[&str] = &[
    "kube_pod_info",
    "kube_pod_container_resource_requests",
    "kube_pod_spec_volumes_persistentvolumeclaims_info",
];

/// The recording rules the seed documents (Kubecost's AMP guide) suggest.
pub const SEED_RECORDING_RULES: &[&str] = &[
    "cluster:cpu_usage:rate5m",
    "cluster:cpu_usage_nosum:rate5m",
    "kubecost_container_cpu_usage_irate",
    "kubecost_container_memory_working_set_bytes",
    "kubecost_cluster_memory_working_set_bytes",
    "kubecost_savings_cpu_allocation",
    "kubecost_savings_memory_allocation_bytes",
];

/// Every series family the engine reads (`docs/metrics.md`), for the
/// cluster-label check (and for tests that need the whole list).
pub const FAMILIES: &[&str] = &[
    "kube_pod_info",
    "kube_pod_container_status_running",
    "kube_pod_container_state_started",
    "kube_pod_completion_time",
    "kube_pod_container_resource_requests",
    "kube_pod_labels",
    "kube_pod_annotations",
    "kube_namespace_labels",
    "kube_namespace_annotations",
    "kube_pod_owner",
    "kube_replicaset_owner",
    "kube_node_status_capacity",
    "kube_node_info",
    "kube_node_labels",
    "kube_persistentvolume_capacity_bytes",
    "kube_persistentvolumeclaim_info",
    "kube_persistentvolumeclaim_resource_requests_storage_bytes",
    "kube_pod_spec_volumes_persistentvolumeclaims_info",
    "service_selector_labels",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "node_cpu_hourly_cost",
    "node_ram_hourly_cost",
    "node_gpu_hourly_cost",
    "node_total_hourly_cost",
    "node_gpu_count",
    "kubecost_node_is_spot",
    "pv_hourly_cost",
    "kubecost_load_balancer_cost",
    "kubecost_network_zone_egress_cost",
    "kubecost_network_region_egress_cost",
    "kubecost_network_internet_egress_cost",
    "kubecost_pod_network_egress_bytes_total",
];

/// kube-state-metrics v2 names the engine reads, for the version check.
pub(super) const KSM_V2: &[&str] = &[
    "kube_pod_container_resource_requests",
    "kube_node_status_capacity",
];

/// kube-state-metrics v1 names (removed in v2).
pub(super) const KSM_V1: &[&str] = &[
    "kube_pod_container_resource_requests_cpu_cores",
    "kube_pod_container_resource_requests_memory_bytes",
    "kube_node_status_capacity_cpu_cores",
    "kube_node_status_capacity_memory_bytes",
];

/// A series family that must (or should) be present in every cluster.
#[derive(Debug)]
pub(super) struct Metric {
    pub(super) id: &'static str,
    pub(super) metric: &'static str,
    pub(super) matchers: &'static [&'static str],
    pub(super) required: bool,
    /// What goes wrong without it, and where it comes from.
    pub(super) missing: &'static str,
}

pub(super) const NOT_CONTAINER_OR_POD: &[&str] = &["container!=\"\"", "container!=\"POD\""];

pub(super) const PRESENCE: &[Metric] = &[
    Metric {
        id: "cadvisor_memory",
        metric: "container_memory_working_set_bytes",
        matchers: NOT_CONTAINER_OR_POD,
        required: true,
        missing: "RAM usage is unknown (cAdvisor via the kubelet's /metrics/cadvisor is not \
                  scraped, or its series lack the container label)",
    },
    Metric {
        id: "cadvisor_cpu",
        metric: "container_cpu_usage_seconds_total",
        matchers: NOT_CONTAINER_OR_POD,
        required: true,
        missing: "CPU usage is unknown (cAdvisor via the kubelet's /metrics/cadvisor is not \
                  scraped, or its series lack the container label)",
    },
    Metric {
        id: "ksm_running",
        metric: "kube_pod_container_status_running",
        matchers: &[],
        required: true,
        missing: "no container is known to run, so nothing is allocated (kube-state-metrics \
                  is not scraped)",
    },
    Metric {
        id: "ksm_requests",
        metric: "kube_pod_container_resource_requests",
        matchers: &[],
        required: true,
        missing: "requests are unknown, only usage is charged (kube-state-metrics v2 is not \
                  scraped; see the kube-state-metrics version check)",
    },
    Metric {
        id: "ksm_pod_info",
        metric: "kube_pod_info",
        matchers: &["node!=\"\""],
        required: true,
        missing: "pods cannot be placed on nodes, so nothing is allocated \
                  (kube-state-metrics is not scraped)",
    },
    Metric {
        id: "ksm_node_capacity",
        metric: "kube_node_status_capacity",
        matchers: &[],
        required: true,
        missing: "node capacity is unknown, so no idle cost is computed (kube-state-metrics \
                  v2 is not scraped)",
    },
    Metric {
        id: "ksm_pod_owner",
        metric: "kube_pod_owner",
        matchers: &[],
        required: false,
        missing: "pods have no controller: allocations aggregated by controller or \
                  controllerKind (and by deployment, statefulset, …) land under \
                  __unallocated__ (kube-state-metrics' pods collector is not scraped, or a \
                  metric allowlist or relabelling drops kube_pod_owner)",
    },
    Metric {
        id: "ksm_replicaset_owner",
        metric: "kube_replicaset_owner",
        matchers: &[],
        required: false,
        missing: "Deployments show as ReplicaSets: the controller of every Deployment (or \
                  Argo Rollout) pod is its ReplicaSet (controllerKind replicaset, named \
                  <deployment>-<hash>), so aggregations by controller or deployment split \
                  at every rollout (kube-state-metrics' replicasets collector is not \
                  scraped, or a metric allowlist or relabelling drops \
                  kube_replicaset_owner)",
    },
    Metric {
        id: "cost_node_total",
        metric: "node_total_hourly_cost",
        matchers: &[],
        required: true,
        missing: "the cost exporter (OpenCost/Kubecost) is not scraped for this cluster",
    },
    Metric {
        id: "cost_node_cpu",
        metric: "node_cpu_hourly_cost",
        matchers: &[],
        required: true,
        missing: "nodes are priced at the default prices (the cost exporter is not scraped \
                  for this cluster)",
    },
    Metric {
        id: "cost_node_ram",
        metric: "node_ram_hourly_cost",
        matchers: &[],
        required: true,
        missing: "nodes are priced at the default prices (the cost exporter is not scraped \
                  for this cluster)",
    },
    Metric {
        id: "cost_pv",
        metric: "pv_hourly_cost",
        matchers: &[],
        required: false,
        missing: "optional: persistent volumes cost nothing",
    },
    Metric {
        id: "cost_load_balancer",
        metric: "kubecost_load_balancer_cost",
        matchers: &[],
        required: false,
        missing: "optional: load balancers cost nothing",
    },
    Metric {
        id: "cost_network_zone",
        metric: "kubecost_network_zone_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: cross-zone egress costs nothing",
    },
    Metric {
        id: "cost_network_region",
        metric: "kubecost_network_region_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: cross-region egress costs nothing",
    },
    Metric {
        id: "cost_network_internet",
        metric: "kubecost_network_internet_egress_cost",
        matchers: &[],
        required: false,
        missing: "optional: internet egress costs nothing",
    },
    Metric {
        id: "network_pod_egress",
        metric: "kubecost_pod_network_egress_bytes_total",
        matchers: &[],
        required: false,
        missing: "optional: no network traffic per pod (the network-costs daemonset is not \
                  scraped), so network cost is not allocated",
    },
];

/// A family that must have one series per object at any instant.
#[derive(Debug)]
pub(super) struct Dup {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) metric: &'static str,
    pub(super) matchers: &'static [&'static str],
    /// The presence check of the same series: what this check looks at
    /// (without them it has checked nothing).
    pub(super) subject: &'static str,
    /// The subject for people.
    pub(super) subject_what: &'static str,
    /// Labels identifying the object, besides the cluster label.
    pub(super) key: &'static [&'static str],
    pub(super) status: Status,
    pub(super) cause: &'static str,
}

pub(super) const DUP_KSM: Dup = Dup {
    id: "duplicate_ksm",
    title: "duplicate kube-state-metrics series",
    metric: "kube_pod_container_status_running",
    matchers: &[],
    subject: "ksm_running",
    subject_what: "kube_pod_container_status_running series",
    key: &["namespace", "pod", "uid", "container"],
    status: Status::Fail,
    cause: "two kube-state-metrics (replicas or releases) are scraped, or an HA Prometheus \
            pair is queried without deduplication; costetl counts each container once, \
            but sums over these series (dashboards, OpenCost's sum-based queries) double",
};

pub(super) const DUP_CADVISOR: Dup = Dup {
    id: "duplicate_cadvisor",
    title: "duplicate cAdvisor series",
    metric: "container_memory_working_set_bytes",
    matchers: NOT_CONTAINER_OR_POD,
    subject: "cadvisor_memory",
    subject_what: "cAdvisor working-set series",
    key: &["namespace", "pod", "container", "node"],
    status: Status::Warn,
    cause: "the kubelet's cAdvisor endpoint is scraped by two jobs (e.g. \
            kubernetes-nodes-cadvisor and kubelet); costetl takes the maximum, sums double",
};
