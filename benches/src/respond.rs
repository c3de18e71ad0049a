//! The first round: the body Prometheus sends back for each query of
//! [`plan::plan`](costetl_core::plan::plan), label sets as each query's
//! `by (…)` leaves them, values as the engine reads them.

use std::fmt::Write as _;

use costetl_core::plan::QueryId;
use costetl_core::source::{QueryKind, QuerySpec};

use crate::cluster::{
    CLUSTER, CPU, Cluster, EGRESS_BPS, EXPORTER_INSTANCE, EXPORTER_JOB, GPU, KSM_INSTANCE, KSM_JOB,
    LB_HOURLY, NET_BPS, Node, PV_BYTES, PV_EVERY, PV_PRICE_GIB_HOUR, Pod, RAM, SHARED_PV_BYTES,
    STEP_SECS, STEPS, Steps, Tariff,
};
use crate::reference;
use crate::rng::Rng;

/// What `resource` KSM and the plan call each resource slot.
const RESOURCE: [&str; 3] = ["cpu", "memory", "nvidia_com_gpu"];
/// What the plan's `label_replace` calls each price slot.
const PRICE: [&str; 3] = ["cpu", "ram", "gpu"];

pub(crate) const EMPTY: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

/// The instant a query is evaluated at, in unix seconds.
pub(crate) fn instant(q: &QuerySpec) -> Option<i64> {
    match q.kind {
        QueryKind::Instant { time } => Some(time.timestamp()),
        QueryKind::Range { .. } => None,
    }
}

impl Cluster {
    /// The body Prometheus returns for `q` of the first round, or `None`
    /// for a query this generator does not know (follow-ups are answered
    /// by [`Cluster::followup_body`]).
    pub(crate) fn body(&self, q: &QuerySpec, rng: &mut Rng) -> Option<Vec<u8>> {
        let mut out = Body::new(instant(q)?);
        let id: QueryId = q.id.parse().ok()?;
        use QueryId::*;
        match id {
            // Prometheus 3: left-open subquery ranges, 2 steps in `[2m:1m]`.
            RangeProbe => out.series::<&str, &str>(&[], 2.0),
            RunSteps | RunFirst | RunLast | ContainerStarted | RequestMax => {
                self.ksm_containers(id, &mut out, rng)
            }
            CpuUsage | CpuMax | RamUsage | RamMax => self.cadvisor(q, &mut out, rng)?,
            PodNode | PodCompleted => self.pods_body(id, &mut out),
            NodeSteps | NodeCapacity | NodeGpus | PriceSum | PriceSteps | PriceChanges
            | NodeInfo | NodeLabels => self.nodes_body(id, &mut out, rng),
            PvBytes | PvSteps | PvPrice | PvInfo | Claims | Mounts => self.volumes(id, &mut out),
            LbCost | LbSteps | ServiceSelectors => self.load_balancers(id, &mut out),
            NetTransfer | NetReceive | NetEgress | NetPrices => self.network(id, &mut out),
            PodLabels | PodAnnotations | PodOwners | NamespaceLabels | NamespaceAnnotations
            | ReplicasetOwners => self.metadata(id, &mut out, rng),
            // No duplicate kube-state-metrics, every series labelled:
            // Prometheus answers both with an empty vector.
            Duplicates | MissingCluster => {}
            // The follow-ups, and any query this generator does not know.
            _ => return None,
        }
        Some(out.finish())
    }

    /// When the containers of `p` started (unix seconds): 20 s before the
    /// first step that saw them run, or an hour before the day. A restart's
    /// new start is later, so the earliest start is this one.
    pub(crate) fn started(&self, p: &Pod) -> f64 {
        let start = self.start.timestamp() as f64;
        if p.first > 0 {
            start + 60.0 * f64::from(p.first) - 20.0
        } else {
            start - 3600.0
        }
    }

    fn k(&self) -> &str {
        self.cluster_label.as_str()
    }

    /// kube-state-metrics per container (`by (cluster, namespace, pod,
    /// uid, container[, resource])`).
    fn ksm_containers(&self, id: QueryId, out: &mut Body, rng: &mut Rng) {
        let start = self.start.timestamp() as f64;
        let mut series: Vec<(&Pod, usize, Option<usize>, f64)> = Vec::new();
        for p in &self.pods {
            for (i, c) in p.containers.iter().enumerate() {
                match id {
                    QueryId::RunSteps => series.push((p, i, None, f64::from(c.steps()))),
                    // 1 / the first running step (see the follow-up's text).
                    QueryId::RunFirst => {
                        series.push((p, i, None, 1.0 / (start + 60.0 * f64::from(p.first))));
                    }
                    QueryId::RunLast => {
                        series.push((p, i, None, start + 60.0 * f64::from(p.last)));
                    }
                    QueryId::ContainerStarted => series.push((p, i, None, self.started(p))),
                    // Requests never change during the day: min = max.
                    _ => {
                        for (r, q) in c.request.iter().enumerate() {
                            if let Some(q) = q {
                                series.push((p, i, Some(r), *q));
                            }
                        }
                    }
                }
            }
        }
        rng.shuffle(&mut series);
        out.reserve(series.len() * 200);
        let k = self.k();
        for (p, i, r, v) in series {
            let ns = self.namespaces[p.ns].name.as_str();
            let c = p.containers[i].name.as_str();
            match r {
                Some(r) => {
                    let mut l = [
                        (k, CLUSTER),
                        ("container", c),
                        ("namespace", ns),
                        ("pod", &p.name),
                        ("resource", RESOURCE[r]),
                        ("uid", &p.uid),
                    ];
                    l.sort_unstable();
                    out.series(&l, v);
                }
                None => {
                    let mut l = [
                        (k, CLUSTER),
                        ("container", c),
                        ("namespace", ns),
                        ("pod", &p.name),
                        ("uid", &p.uid),
                    ];
                    l.sort_unstable();
                    out.series(&l, v);
                }
            }
        }
    }

    /// cAdvisor per container (`cpu_usage`, `cpu_max`, `ram_usage`,
    /// `ram_max`), as the query says: `<f>_over_time` of the CPU rate or
    /// the working set per series (one per container run: a restarted
    /// container has two cgroups), then `max by`/`sum by` the labels the
    /// query keeps, one series per run when they include `id`.
    fn cadvisor(&self, q: &QuerySpec, out: &mut Body, rng: &mut Rng) -> Option<()> {
        let text = q.promql.as_str();
        let r = if text.contains("container_cpu_usage_seconds_total{") {
            CPU
        } else if text.contains("container_memory_working_set_bytes{") {
            RAM
        } else {
            return None;
        };
        let over = [
            "sum_over_time(",
            "avg_over_time(",
            "max_over_time(",
            "increase(",
        ]
        .into_iter()
        .position(|f| text.contains(f))?;
        let by = by_labels(text)?;
        let per_run = by.contains(&"id");
        let combine: fn(f64, f64) -> f64 = match &text[..text.find(" by (")?] {
            "max" => f64::max,
            "sum" => |a, b| a + b,
            _ => return None,
        };
        let mut series: Vec<(&Pod, usize, Option<usize>, f64)> = Vec::new();
        for p in &self.pods {
            for (i, c) in p.containers.iter().enumerate() {
                let u = &c.usage[r];
                let runs = c.runs.iter().enumerate().filter_map(|(j, (steps, _))| {
                    let v = match over {
                        0 => u.sum(*steps, |x| x, Tariff::ONE),
                        1 => u.sum(*steps, |x| x, Tariff::ONE) / f64::from(steps.len()),
                        2 => u.max(*steps)?,
                        // A counter's increase: the per-step rates times the
                        // step's seconds.
                        _ => u.sum(*steps, |x| x, Tariff::ONE) * STEP_SECS,
                    };
                    Some((j, v))
                });
                if per_run {
                    series.extend(runs.map(|(j, v)| (p, i, Some(j), v)));
                } else if let Some(v) = runs.map(|(_, v)| v).reduce(combine) {
                    series.push((p, i, None, v));
                }
            }
        }
        rng.shuffle(&mut series);
        out.reserve(series.len() * 330);
        for (p, i, j, v) in series {
            let c = &p.containers[i];
            match j {
                Some(j) => out.series(&self.cadvisor_labels(p, &c.name, &c.runs[j].1), v),
                None => {
                    let mut l = [
                        (self.k(), CLUSTER),
                        ("container", c.name.as_str()),
                        ("namespace", self.namespaces[p.ns].name.as_str()),
                        ("node", self.nodes[p.node].name.as_str()),
                        ("pod", p.name.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, v);
                }
            }
        }
        Some(())
    }

    /// cAdvisor's labels of one container run, sorted.
    pub(crate) fn cadvisor_labels<'a>(
        &'a self,
        p: &'a Pod,
        container: &'a str,
        cgroup: &'a str,
    ) -> [(&'a str, &'a str); 6] {
        let mut l = [
            (self.k(), CLUSTER),
            ("container", container),
            ("id", cgroup),
            ("namespace", self.namespaces[p.ns].name.as_str()),
            ("node", self.nodes[p.node].name.as_str()),
            ("pod", p.name.as_str()),
        ];
        l.sort_unstable();
        l
    }

    /// Per pod: its node (`kube_pod_info`), its completion time.
    fn pods_body(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        let start = self.start.timestamp() as f64;
        out.reserve(self.pods.len() * 180);
        for p in &self.pods {
            let ns = self.namespaces[p.ns].name.as_str();
            if id == QueryId::PodNode {
                let mut l = [
                    (k, CLUSTER),
                    ("namespace", ns),
                    ("node", self.nodes[p.node].name.as_str()),
                    ("pod", &p.name),
                    ("uid", &p.uid),
                ];
                l.sort_unstable();
                out.series(&l, 1.0);
            } else if p.last + 1 < STEPS {
                let mut l = [
                    (k, CLUSTER),
                    ("namespace", ns),
                    ("pod", &p.name),
                    ("uid", &p.uid),
                ];
                l.sort_unstable();
                // Completed 10 s before the end of its last running step.
                out.series(&l, start + 60.0 * f64::from(p.last + 1) - 10.0);
            }
        }
    }

    /// Per node (every node reports all day): capacity, prices, info,
    /// labels.
    fn nodes_body(&self, id: QueryId, out: &mut Body, rng: &mut Rng) {
        let k = self.k();
        let steps = f64::from(STEPS);
        let mut order: Vec<&Node> = self.nodes.iter().collect();
        rng.shuffle(&mut order);
        for n in order {
            let name = n.name.as_str();
            match id {
                QueryId::NodeSteps | QueryId::NodeGpus => {
                    let mut l = [(k, CLUSTER), ("node", name)];
                    l.sort_unstable();
                    let per_step = if id == QueryId::NodeSteps {
                        1.0
                    } else {
                        n.capacity[GPU]
                    };
                    out.series(&l, steps * per_step);
                }
                QueryId::NodeCapacity => {
                    for r in [CPU, RAM, GPU] {
                        // KSM reports no GPU capacity on nodes without.
                        if n.capacity[r] > 0.0 {
                            let mut l = [(k, CLUSTER), ("node", name), ("resource", RESOURCE[r])];
                            l.sort_unstable();
                            out.series(&l, steps * n.capacity[r]);
                        }
                    }
                }
                QueryId::PriceSum | QueryId::PriceSteps | QueryId::PriceChanges => {
                    // The cost exporter prices GPUs on every node (0
                    // without GPUs).
                    for r in [CPU, RAM, GPU] {
                        let mut l = [(k, CLUSTER), ("node", name), ("price", PRICE[r])];
                        l.sort_unstable();
                        let t = n.tariff(r);
                        let v = match id {
                            QueryId::PriceSum => t.sum(Steps::DAY),
                            QueryId::PriceSteps => steps,
                            _ => t.changes() as f64,
                        };
                        out.series(&l, v);
                    }
                }
                QueryId::NodeInfo => {
                    let mut l = [
                        (k, CLUSTER),
                        ("instance_type", n.instance_type),
                        ("node", name),
                        ("provider_id", n.provider_id.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, n.hourly_at_end());
                }
                _ => {
                    let mut l = [
                        (k, CLUSTER),
                        ("__name__", "kube_node_labels"),
                        ("instance", KSM_INSTANCE),
                        ("job", KSM_JOB),
                        (
                            "label_karpenter_sh_capacity_type",
                            if n.spot { "spot" } else { "on-demand" },
                        ),
                        ("label_node_kubernetes_io_instance_type", n.instance_type),
                        ("label_topology_kubernetes_io_region", "us-east-1"),
                        ("label_topology_kubernetes_io_zone", n.zone),
                        ("node", name),
                    ];
                    l.sort_unstable();
                    out.series(&l, 1.0);
                }
            }
        }
    }

    /// Volumes: every [`PV_EVERY`]th pod's own volume, claimed and
    /// mounted while the pod runs, shared volumes claimed all day and
    /// mounted by every pod of a Deployment, and one volume nobody claims.
    fn volumes(&self, id: QueryId, out: &mut Body) {
        self.own_volumes(id, out);
        self.shared_volumes(id, out);
        self.unclaimed_volume(id, out);
    }

    /// One series of `pv_bytes`, `pv_steps` (by `persistentvolume`) or
    /// `pv_price` (by `volumename`) for volume `pv` of `bytes` present
    /// `steps` steps.
    fn pv_series(
        &self,
        out: &mut Body,
        id: QueryId,
        label: &str,
        pv: &str,
        steps: f64,
        bytes: f64,
    ) {
        let v = match id {
            QueryId::PvBytes => steps * bytes,
            QueryId::PvSteps => steps,
            _ => steps * PV_PRICE_GIB_HOUR,
        };
        let mut l = [(self.k(), CLUSTER), (label, pv)];
        l.sort_unstable();
        out.series(&l, v);
    }

    /// Every [`PV_EVERY`]th pod's own volume, claimed and mounted while
    /// the pod runs.
    fn own_volumes(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        let with_volume = self
            .pods
            .iter()
            .enumerate()
            .filter(|(i, _)| i % PV_EVERY == 0);
        for (i, p) in with_volume {
            let ns = self.namespaces[p.ns].name.as_str();
            let (claim, pv) = (format!("data-{i}"), format!("pvc-{}", p.uid));
            let steps = f64::from(p.span().len());
            match id {
                QueryId::PvBytes | QueryId::PvSteps => {
                    self.pv_series(out, id, "persistentvolume", &pv, steps, PV_BYTES);
                }
                QueryId::PvPrice => self.pv_series(out, id, "volumename", &pv, steps, PV_BYTES),
                QueryId::PvInfo => {
                    let provider = format!("vol-{i:08x}");
                    let mut l = [
                        (k, CLUSTER),
                        ("provider_id", provider.as_str()),
                        ("volumename", pv.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, PV_PRICE_GIB_HOUR);
                }
                QueryId::Claims => {
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", ns),
                        ("persistentvolumeclaim", claim.as_str()),
                        ("volumename", pv.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, steps);
                }
                _ => {
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", ns),
                        ("persistentvolumeclaim", claim.as_str()),
                        ("pod", &p.name),
                        ("uid", &p.uid),
                    ];
                    l.sort_unstable();
                    out.series(&l, 1.0);
                }
            }
        }
    }

    /// Volumes claimed all day and mounted by every pod of a Deployment.
    fn shared_volumes(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        let steps = f64::from(STEPS);
        for (i, v) in self.shared.iter().enumerate() {
            let ns = self.namespaces[v.ns].name.as_str();
            match id {
                QueryId::PvBytes | QueryId::PvSteps => {
                    self.pv_series(out, id, "persistentvolume", &v.pv, steps, SHARED_PV_BYTES);
                }
                QueryId::PvPrice => {
                    self.pv_series(out, id, "volumename", &v.pv, steps, SHARED_PV_BYTES)
                }
                QueryId::PvInfo => {
                    let provider = format!("fs-{i:08x}");
                    let mut l = [
                        (k, CLUSTER),
                        ("provider_id", provider.as_str()),
                        ("volumename", v.pv.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, PV_PRICE_GIB_HOUR);
                }
                QueryId::Claims => {
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", ns),
                        ("persistentvolumeclaim", v.claim.as_str()),
                        ("volumename", v.pv.as_str()),
                    ];
                    l.sort_unstable();
                    out.series(&l, steps);
                }
                _ => {
                    for p in v.pods.iter().map(|&p| &self.pods[p]) {
                        let mut l = [
                            (k, CLUSTER),
                            ("namespace", ns),
                            ("persistentvolumeclaim", v.claim.as_str()),
                            ("pod", &p.name),
                            ("uid", &p.uid),
                        ];
                        l.sort_unstable();
                        out.series(&l, 1.0);
                    }
                }
            }
        }
    }

    /// One volume nobody claims.
    fn unclaimed_volume(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        let steps = f64::from(STEPS);
        match id {
            QueryId::PvBytes | QueryId::PvSteps => {
                self.pv_series(
                    out,
                    id,
                    "persistentvolume",
                    "pvc-unclaimed",
                    steps,
                    PV_BYTES,
                );
            }
            QueryId::PvPrice => {
                self.pv_series(out, id, "volumename", "pvc-unclaimed", steps, PV_BYTES)
            }
            QueryId::PvInfo => {
                let mut l = [
                    (k, CLUSTER),
                    ("provider_id", "vol-unclaimed"),
                    ("volumename", "pvc-unclaimed"),
                ];
                l.sort_unstable();
                out.series(&l, PV_PRICE_GIB_HOUR);
            }
            _ => {}
        }
    }

    /// One load balancer per namespace, its service selecting the team's
    /// pods.
    fn load_balancers(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        for (i, ns) in self.namespaces.iter().enumerate() {
            let svc = format!("{}-ingress", ns.team);
            let ip = format!("34.1.{}.{}", i / 250, i % 250);
            if id == QueryId::ServiceSelectors {
                let mut l = [
                    (k, CLUSTER),
                    ("__name__", "service_selector_labels"),
                    ("instance", EXPORTER_INSTANCE),
                    ("job", EXPORTER_JOB),
                    ("label_team", ns.team),
                    ("namespace", ns.name.as_str()),
                    ("service", svc.as_str()),
                ];
                l.sort_unstable();
                out.series(&l, 1.0);
            } else {
                let mut l = [
                    (k, CLUSTER),
                    ("ingress_ip", ip.as_str()),
                    ("namespace", ns.name.as_str()),
                    ("service_name", svc.as_str()),
                ];
                l.sort_unstable();
                let v = if id == QueryId::LbCost {
                    LB_HOURLY
                } else {
                    1.0
                };
                out.series(&l, f64::from(STEPS) * v);
            }
        }
    }

    /// Bytes per second summed over the pod's steps, and egress prices.
    fn network(&self, id: QueryId, out: &mut Body) {
        let k = self.k();
        match id {
            QueryId::NetTransfer | QueryId::NetReceive => {
                for p in &self.pods {
                    let mut l = [
                        (k, CLUSTER),
                        ("namespace", self.namespaces[p.ns].name.as_str()),
                        ("node", self.nodes[p.node].name.as_str()),
                        ("pod", &p.name),
                    ];
                    l.sort_unstable();
                    out.series(&l, f64::from(p.span().len()) * STEP_SECS * NET_BPS);
                }
            }
            QueryId::NetEgress => {
                for p in &self.pods {
                    let steps = f64::from(p.span().len());
                    for (internet, zone, region, bps, _) in EGRESS_BPS {
                        let mut l = [
                            (k, CLUSTER),
                            ("internet", internet),
                            ("namespace", self.namespaces[p.ns].name.as_str()),
                            ("pod_name", &p.name),
                            ("same_region", region),
                            ("same_zone", zone),
                        ];
                        l.sort_unstable();
                        out.series(&l, steps * STEP_SECS * bps);
                    }
                }
            }
            _ => {
                for ((_, _, _, _, price), class) in
                    EGRESS_BPS.iter().zip(["zone", "region", "internet"])
                {
                    let mut l = [("class", class), (k, CLUSTER)];
                    l.sort_unstable();
                    out.series(&l, *price);
                }
            }
        }
    }

    /// `last_over_time` of kube-state-metrics info series: every label
    /// kept, `__name__` included.
    fn metadata(&self, id: QueryId, out: &mut Body, rng: &mut Rng) {
        match id {
            QueryId::PodLabels | QueryId::PodAnnotations | QueryId::PodOwners => {
                let mut order: Vec<&Pod> = self.pods.iter().collect();
                rng.shuffle(&mut order);
                out.reserve(order.len() * 400);
                for p in order {
                    let mut labels: Vec<(&str, &str)> = self.ksm_labels(p.ns);
                    labels.extend([("pod", p.name.as_str()), ("uid", p.uid.as_str())]);
                    match id {
                        QueryId::PodLabels => {
                            labels.push(("__name__", "kube_pod_labels"));
                            labels.extend(p.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        }
                        QueryId::PodAnnotations => {
                            labels.push(("__name__", "kube_pod_annotations"));
                            labels.extend(
                                p.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                            );
                        }
                        _ => {
                            labels.extend([
                                ("__name__", "kube_pod_owner"),
                                ("owner_is_controller", "true"),
                                ("owner_kind", p.owner_kind),
                                ("owner_name", p.owner_name.as_str()),
                            ]);
                        }
                    }
                    labels.sort_unstable();
                    out.series(&labels, 1.0);
                }
            }
            QueryId::NamespaceLabels | QueryId::NamespaceAnnotations => {
                for (i, ns) in self.namespaces.iter().enumerate() {
                    let mut labels = self.ksm_labels(i);
                    if id == QueryId::NamespaceLabels {
                        labels.extend([
                            ("__name__", "kube_namespace_labels"),
                            ("label_env", ns.env),
                            ("label_kubernetes_io_metadata_name", ns.name.as_str()),
                            ("label_team", ns.team),
                        ]);
                    } else {
                        labels.extend([
                            ("__name__", "kube_namespace_annotations"),
                            ("annotation_owner", ns.team),
                        ]);
                    }
                    labels.sort_unstable();
                    out.series(&labels, 1.0);
                }
            }
            _ => {
                for rs in &self.replicasets {
                    let mut labels = self.ksm_labels(rs.ns);
                    labels.extend([
                        ("__name__", "kube_replicaset_owner"),
                        ("owner_is_controller", "true"),
                        ("owner_kind", "Deployment"),
                        ("owner_name", rs.deployment.as_str()),
                        ("replicaset", rs.name.as_str()),
                    ]);
                    labels.sort_unstable();
                    out.series(&labels, 1.0);
                }
            }
        }
    }

    /// Labels every kube-state-metrics series of namespace `ns` carries.
    fn ksm_labels(&self, ns: usize) -> Vec<(&str, &str)> {
        let mut v = Vec::with_capacity(16);
        v.extend([
            (self.k(), CLUSTER),
            ("instance", KSM_INSTANCE),
            ("job", KSM_JOB),
            ("namespace", self.namespaces[ns].name.as_str()),
        ]);
        v
    }
}

/// The labels of a query's first `by (…)`.
pub(crate) fn by_labels(text: &str) -> Option<Vec<&str>> {
    let rest = &text[text.find(" by (")? + " by (".len()..];
    Some(rest[..rest.find(')')?].split(',').map(str::trim).collect())
}

/// A vector response body being written.
pub(crate) struct Body {
    buf: String,
    time: i64,
    first: bool,
}

impl Body {
    pub(crate) fn new(time: i64) -> Self {
        Self {
            buf: String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#),
            time,
            first: true,
        }
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    /// One series; `labels` sorted by name, as Prometheus sends them.
    pub(crate) fn series<K: AsRef<str>, V: AsRef<str>>(&mut self, labels: &[(K, V)], value: f64) {
        // Prometheus formats values with Go's FormatFloat(v, 'f', -1, 64):
        // the shortest decimal that round-trips, never an exponent, as
        // Rust's `Display` does.
        self.series_text(labels, value);
    }

    /// One series whose value `Display`s as Prometheus formats it.
    fn series_text<K, V>(&mut self, labels: &[(K, V)], value: impl std::fmt::Display)
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push_str(r#"{"metric":{"#);
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            json_str(&mut self.buf, k.as_ref());
            self.buf.push(':');
            json_str(&mut self.buf, v.as_ref());
        }
        let _ = write!(self.buf, r#"}},"value":[{},"{}"]}}"#, self.time, value);
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push_str("]}}");
        self.buf.into_bytes()
    }
}

/// `body` (an instant vector's, as [`Body`] writes them) with its series
/// in the order of their label sets: near enough one Prometheus' answer
/// over stored blocks, whose storage hands the series over sorted by label
/// set and whose functions keep that order (an aggregation's groups come
/// in the order the sorted input first shows them). `None` for a body
/// that is not an instant vector.
pub(crate) fn in_label_order(body: &[u8]) -> Option<Vec<u8>> {
    let r: reference::Response<'_> = serde_json::from_slice(body).ok()?;
    let mut series: Vec<&reference::Series<'_>> = r.data.result.iter().collect();
    // Label sets compare pair by pair, name then value (Prometheus'
    // `labels.Compare`); a body's label sets are distinct.
    series.sort_unstable_by(|a, b| a.metric.0.cmp(&b.metric.0));
    let time = series
        .first()
        .and_then(|s| s.value.as_ref())
        .map_or(0, |v| v.0 as i64);
    let mut out = Body::new(time);
    out.reserve(body.len());
    for s in series {
        out.series_text(&s.metric.0, s.value.as_ref()?.1.as_ref());
    }
    Some(out.finish())
}

/// Append `s` as a JSON string.
fn json_str(buf: &mut String, s: &str) {
    buf.push('"');
    for ch in s.chars() {
        match ch {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}
