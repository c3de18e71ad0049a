//! The scenario as scraped metrics: OpenMetrics text with timestamps, for
//! `promtool tsdb create-blocks-from openmetrics`.
//!
//! Exactly the series of `docs/metrics.md`, at every scrape
//! `start + k × scrape_interval` up to and including `end`, with the state
//! at that instant (lifetimes are half-open, so a pod ending at `t` is not
//! running in the scrape at `t`).
//!
//! Layout, as OpenMetrics and promtool want it: one `# TYPE` per metric
//! family with all its samples contiguous, each series' samples contiguous
//! and in increasing time order, `# EOF` at the end. promtool silently
//! drops out-of-order samples rather than failing, so the order is also
//! checked by this crate's tests, not only by promtool.
//!
//! Besides the contract labels and the cluster label, every series carries
//! an `instance` label as a scrape would add: `ksm-0` (and `ksm-1` with
//! [`Options::duplicate_ksm`](crate::Options::duplicate_ksm)) for
//! kube-state-metrics, the node name for cAdvisor (the contract's
//! `instance`) and for the network-costs daemonset, `opencost` for the cost
//! exporter.
//!
//! Things a real cluster does that the output reproduces on purpose:
//! - a pod object outlives its containers by
//!   [`Options::terminated_running_zero_minutes`](crate::Options::terminated_running_zero_minutes):
//!   `kube_pod_container_status_running` is then 0 while the pod's info,
//!   labels, owner and requests series go on;
//! - cAdvisor series exist only while the container runs, and the CPU
//!   counter restarts from 0 when a container restarts (a new cgroup), so
//!   `rate()` sees a counter reset; pod-level network counters
//!   (`container=""`) run over the pod's whole lifetime, restart gaps
//!   included, and count from the pod's start;
//! - `kube_pod_container_state_started` gives each run's own start (a
//!   restart starts a new run) and `kube_pod_completion_time` the pod's
//!   end while the object lingers, at millisecond precision, so an engine
//!   can place starts and ends between scrapes;
//! - KSM emits no request series for a resource without a request
//!   (BestEffort containers have none), and `<none>` owners for ownerless
//!   pods and ReplicaSets.
//!
//! One thing it cannot reproduce: backfilled blocks carry no staleness
//! markers, so an instant query keeps returning a series' last sample for
//! the lookback delta (5 minutes) after the series ends.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufWriter, Write};

use costetl_core::properties::sanitize_label_name;

use crate::error::Result;
use crate::scenario::{
    Cluster, Container, Ms, Network, NetworkPrices, Node, OPEN_END, OwnerKind, Pod, Scenario, Span,
    ms, secs,
};

/// What [`Scenario::write_openmetrics`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Metric families (`# TYPE` lines).
    pub families: usize,
    /// Distinct series with at least one sample.
    pub series: usize,
    /// Samples (lines with a value).
    pub samples: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Counts the bytes going through to the caller's writer.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An OpenMetrics timestamp: seconds, with milliseconds when needed.
struct Ts(Ms);

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, m) = (self.0.div_euclid(1000), self.0.rem_euclid(1000));
        if m == 0 {
            write!(f, "{s}")
        } else {
            write!(f, "{s}.{m:03}")
        }
    }
}

/// Appends `v` to `out` escaped as an OpenMetrics label value.
fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `prefix_<sanitised key>` labels of a Kubernetes label map, as
/// kube-state-metrics exports them (sorted; a later raw key wins when two
/// sanitise to the same name).
fn prefixed(prefix: &str, m: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let by_name: BTreeMap<String, &String> = m
        .iter()
        .map(|(k, v)| (format!("{prefix}{}", sanitize_label_name(k)), v))
        .collect();
    by_name.into_iter().map(|(k, v)| (k, v.clone())).collect()
}

type LabelSet = Vec<(String, String)>;

fn l(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

/// The writer with the scrape grid.
struct Out<'s, W: Write> {
    s: &'s Scenario,
    w: BufWriter<Counting<W>>,
    stats: WriteStats,
    first: Ms,
    interval: Ms,
    last: Ms,
    ksm_instances: &'static [&'static str],
}

impl<W: Write> Out<'_, W> {
    fn family(&mut self, name: &str, kind: &str) -> io::Result<()> {
        self.stats.families += 1;
        writeln!(self.w, "# TYPE {name} {kind}")
    }

    /// Scrape instants inside `span`.
    fn grid(&self, span: Span) -> impl Iterator<Item = Ms> + use<W> {
        let (first, iv, last) = (self.first, self.interval, self.last);
        let lo = span.start.max(first);
        let k0 = (lo - first + iv - 1) / iv;
        (k0..)
            .map(move |k| first + k * iv)
            .take_while(move |&t| t < span.end && t <= last)
    }

    /// One series: `name{cluster, labels…}` sampled at every scrape in
    /// `spans` (disjoint, in time order); `value` gets the span and the
    /// instant.
    fn series(
        &mut self,
        name: &str,
        cluster: &str,
        labels: &[(String, String)],
        spans: &[Span],
        mut value: impl FnMut(Span, Ms) -> f64,
    ) -> io::Result<()> {
        let mut prefix = String::with_capacity(256);
        prefix.push_str(name);
        prefix.push('{');
        let drop = self
            .s
            .options
            .drop_cluster_label_for
            .iter()
            .any(|d| d == name || name.strip_suffix("_total") == Some(d));
        let cluster_label = (!drop).then_some((self.s.cluster_label.as_str(), cluster));
        for (i, (k, v)) in cluster_label
            .into_iter()
            .chain(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .enumerate()
        {
            if i > 0 {
                prefix.push(',');
            }
            prefix.push_str(k);
            prefix.push_str("=\"");
            escape_into(&mut prefix, v);
            prefix.push('"');
        }
        prefix.push('}');
        let mut any = false;
        for &span in spans {
            for t in self.grid(span) {
                writeln!(self.w, "{prefix} {} {}", value(span, t), Ts(t))?;
                self.stats.samples += 1;
                any = true;
            }
        }
        if any {
            self.stats.series += 1;
        }
        Ok(())
    }

    /// A kube-state-metrics series, once per simulated KSM replica.
    fn ksm(
        &mut self,
        name: &str,
        cluster: &str,
        labels: &[(String, String)],
        span: Span,
        mut value: impl FnMut(Ms) -> f64,
    ) -> io::Result<()> {
        self.ksm_spans(name, cluster, labels, &[span], |_, t| value(t))
    }

    /// A kube-state-metrics series over several spans (disjoint, in time
    /// order), once per simulated KSM replica.
    fn ksm_spans(
        &mut self,
        name: &str,
        cluster: &str,
        labels: &[(String, String)],
        spans: &[Span],
        mut value: impl FnMut(Span, Ms) -> f64,
    ) -> io::Result<()> {
        for inst in self.ksm_instances {
            let mut ls = labels.to_vec();
            ls.push(l("instance", *inst));
            self.series(name, cluster, &ls, spans, &mut value)?;
        }
        Ok(())
    }

    /// The first scrape at or after `t`.
    fn next_scrape(&self, t: Ms) -> Ms {
        let (first, iv) = (self.first, self.interval);
        if t <= first {
            first
        } else {
            first + (t - first + iv - 1) / iv * iv
        }
    }
}

/// An instant as unix seconds with milliseconds, the unit of
/// kube-state-metrics' timestamps.
fn unix_seconds(t: Ms) -> f64 {
    t as f64 / 1000.0
}

/// A pod-level network counter: what the pod sent or received since its
/// start (restart gaps included: the network namespace is the pod's).
struct NetSeries<'a> {
    node: &'a str,
    /// The pod's lifetimes with this series' labels and their rates, in
    /// time order (a pod re-created under the same name on the same node
    /// continues the series, and the counter restarts).
    runs: Vec<(Span, &'a Network)>,
}

impl NetSeries<'_> {
    /// The counter at `t` in lifetime `span`, for the rate `rate` picks.
    fn value(&self, span: Span, t: Ms, rate: impl Fn(&Network) -> f64) -> f64 {
        let net = self
            .runs
            .iter()
            .find(|(s, _)| *s == span)
            .expect("span from runs")
            .1;
        rate(net) * secs(t - span.start)
    }

    fn spans(&self) -> Vec<Span> {
        self.runs.iter().map(|(s, _)| *s).collect()
    }
}

/// Labels identifying a pod in KSM series.
fn pod_labels(c: &Cluster, p: &Pod, s: &Scenario) -> LabelSet {
    vec![
        l("namespace", &p.namespace),
        l("pod", &p.name),
        l("uid", p.uid(&c.name, s.start)),
    ]
}

fn node_prices_labels(n: &Node) -> LabelSet {
    vec![
        l("node", &n.name),
        l("instance_type", &n.instance_type),
        l("provider_id", &n.provider_id),
        l("instance", "opencost"),
    ]
}

impl Scenario {
    /// Write the scenario's metrics as OpenMetrics text to `out`,
    /// streaming (buffered internally; pass the file or socket as is).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] if writing fails.
    pub fn write_openmetrics<W: Write>(&self, out: W) -> Result<WriteStats> {
        let mut o = Out {
            s: self,
            w: BufWriter::with_capacity(
                1 << 16,
                Counting {
                    inner: out,
                    bytes: 0,
                },
            ),
            stats: WriteStats::default(),
            first: ms(self.start),
            interval: self.interval_ms(),
            last: ms(self.end),
            ksm_instances: if self.options.duplicate_ksm {
                &["ksm-0", "ksm-1"]
            } else {
                &["ksm-0"]
            },
        };
        self.write_ksm(&mut o)?;
        self.write_cadvisor(&mut o)?;
        self.write_exporter(&mut o)?;
        self.write_network_costs(&mut o)?;
        o.w.write_all(b"# EOF\n")?;
        let mut counting = o.w.into_inner().map_err(io::IntoInnerError::into_error)?;
        counting.flush()?;
        o.stats.bytes = counting.bytes;
        Ok(o.stats)
    }

    /// An info-style kube-state-metrics family (value 1 while the object
    /// exists): one series per item of every cluster, with the labels and
    /// span `each` gives.
    fn info_family<'a, T: 'a, W: Write>(
        &'a self,
        o: &mut Out<'_, W>,
        name: &str,
        items: impl Fn(&'a Cluster) -> &'a [T],
        each: impl Fn(&'a Cluster, &'a T) -> (LabelSet, Span),
    ) -> io::Result<()> {
        o.family(name, "gauge")?;
        for c in &self.clusters {
            for item in items(c) {
                let (ls, span) = each(c, item);
                o.ksm(name, &c.name, &ls, span, |_| 1.0)?;
            }
        }
        Ok(())
    }

    /// kube-state-metrics' families, object by object.
    fn write_ksm<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        self.write_ksm_namespaces(o)?;
        self.write_ksm_nodes(o)?;
        self.write_ksm_pods(o)?;
        self.write_replicaset_owners(o)?;
        self.write_ksm_containers(o)?;
        self.write_completion_times(o)?;
        self.write_ksm_volumes(o)?;
        self.write_requests(o)
    }

    /// Namespace labels and annotations.
    fn write_ksm_namespaces<'a, W: Write>(&'a self, o: &mut Out<'_, W>) -> io::Result<()> {
        let always = Span::new(ms(self.start), OPEN_END);
        let namespaces = |c: &'a Cluster| c.namespaces.as_slice();
        self.info_family(o, "kube_namespace_labels", namespaces, |_, ns| {
            let mut ls = vec![l("namespace", &ns.name)];
            ls.extend(prefixed("label_", &ns.labels));
            (ls, always)
        })?;
        self.info_family(o, "kube_namespace_annotations", namespaces, |_, ns| {
            let mut ls = vec![l("namespace", &ns.name)];
            ls.extend(prefixed("annotation_", &ns.annotations));
            (ls, always)
        })?;
        Ok(())
    }

    /// Node info, labels and capacity.
    fn write_ksm_nodes<'a, W: Write>(&'a self, o: &mut Out<'_, W>) -> io::Result<()> {
        let nodes = |c: &'a Cluster| c.nodes.as_slice();
        self.info_family(o, "kube_node_info", nodes, |_, n| {
            let ls = vec![l("node", &n.name), l("provider_id", &n.provider_id)];
            (ls, n.active())
        })?;
        self.info_family(o, "kube_node_labels", nodes, |_, n| {
            let mut ls = vec![l("node", &n.name)];
            ls.extend(prefixed("label_", &n.labels));
            (ls, n.active())
        })?;
        o.family("kube_node_status_capacity", "gauge")?;
        for c in &self.clusters {
            for n in &c.nodes {
                let resources = [
                    ("cpu", "core", n.cpu_cores),
                    ("memory", "byte", n.ram_bytes),
                    ("nvidia_com_gpu", "integer", n.gpus),
                ];
                for (resource, unit, v) in resources {
                    // KSM lists only resources the node has.
                    if v > 0.0 {
                        let ls = [l("node", &n.name), l("resource", resource), l("unit", unit)];
                        o.ksm("kube_node_status_capacity", &c.name, &ls, n.active(), |_| v)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Pod info, labels, annotations and owners.
    fn write_ksm_pods<'a, W: Write>(&'a self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        let pods = |c: &'a Cluster| c.pods.as_slice();
        self.info_family(o, "kube_pod_info", pods, |c, p| {
            let mut ls = pod_labels(c, p, self);
            ls.push(l("node", &p.node));
            (ls, p.exists(start, linger))
        })?;
        self.info_family(o, "kube_pod_labels", pods, |c, p| {
            let mut ls = pod_labels(c, p, self);
            ls.extend(prefixed("label_", &p.labels));
            (ls, p.exists(start, linger))
        })?;
        self.info_family(o, "kube_pod_annotations", pods, |c, p| {
            let mut ls = pod_labels(c, p, self);
            ls.extend(prefixed("annotation_", &p.annotations));
            (ls, p.exists(start, linger))
        })?;
        self.info_family(o, "kube_pod_owner", pods, |c, p| {
            let mut ls = pod_labels(c, p, self);
            match &p.owner {
                Some(owner) => {
                    let (kind, name) = owner.pod_owner(&c.name, &p.namespace);
                    ls.extend([
                        l("owner_kind", kind),
                        l("owner_name", name),
                        l("owner_is_controller", "true"),
                    ]);
                }
                None => ls.extend([
                    l("owner_kind", "<none>"),
                    l("owner_name", "<none>"),
                    l("owner_is_controller", "<none>"),
                ]),
            }
            (ls, p.exists(start, linger))
        })?;
        Ok(())
    }

    /// Each ReplicaSet the pods name, with its Deployment (or `<none>`).
    fn write_replicaset_owners<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        o.family("kube_replicaset_owner", "gauge")?;
        for c in &self.clusters {
            // A ReplicaSet exists from its first pod's creation to its
            // last pod's deletion.
            let mut sets: BTreeMap<(&str, String), (Option<&str>, Span)> = BTreeMap::new();
            for p in &c.pods {
                let Some(owner) = &p.owner else { continue };
                let (rs, deployment) = match owner.kind {
                    OwnerKind::Deployment => (
                        owner
                            .replicaset_name(&c.name, &p.namespace)
                            .expect("deployment"),
                        Some(owner.name.as_str()),
                    ),
                    OwnerKind::ReplicaSet => (owner.name.clone(), None),
                    _ => continue,
                };
                let e = p.exists(start, linger);
                sets.entry((p.namespace.as_str(), rs))
                    .and_modify(|(_, s)| *s = Span::new(s.start.min(e.start), s.end.max(e.end)))
                    .or_insert((deployment, e));
            }
            for ((ns, rs), (deployment, span)) in sets {
                let (kind, name) = deployment.map_or(("<none>", "<none>"), |d| ("Deployment", d));
                let ls = [
                    l("namespace", ns),
                    l("replicaset", rs),
                    l("owner_kind", kind),
                    l("owner_name", name),
                ];
                o.ksm("kube_replicaset_owner", &c.name, &ls, span, |_| 1.0)?;
            }
        }
        Ok(())
    }

    /// Whether each container runs, and when each of its runs started.
    fn write_ksm_containers<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        o.family("kube_pod_container_status_running", "gauge")?;
        for c in &self.clusters {
            for p in &c.pods {
                for k in &p.containers {
                    let mut ls = pod_labels(c, p, self);
                    ls.push(l("container", &k.name));
                    let running = k.running(p, start);
                    o.ksm(
                        "kube_pod_container_status_running",
                        &c.name,
                        &ls,
                        p.exists(start, linger),
                        |t| f64::from(u8::from(running.iter().any(|r| r.contains(t)))),
                    )?;
                }
            }
        }
        o.family("kube_pod_container_state_started", "gauge")?;
        for c in &self.clusters {
            for p in &c.pods {
                for k in &p.containers {
                    let mut ls = pod_labels(c, p, self);
                    ls.push(l("container", &k.name));
                    // Each run's own start: a restart starts a new run.
                    o.ksm_spans(
                        "kube_pod_container_state_started",
                        &c.name,
                        &ls,
                        &k.running(p, start),
                        |run, _| unix_seconds(run.start),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Ended pods' completion times, while their objects linger.
    fn write_completion_times<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        o.family("kube_pod_completion_time", "gauge")?;
        for c in &self.clusters {
            for p in &c.pods {
                let end = p.running(start).end;
                if end == OPEN_END || linger == 0 {
                    continue;
                }
                // While the pod object lingers, and at least at the first
                // scrape after the end even if it lingers less than a
                // scrape interval.
                let mut until = end.saturating_add(linger);
                if end >= o.first {
                    until = until.max(o.next_scrape(end) + 1);
                }
                o.ksm(
                    "kube_pod_completion_time",
                    &c.name,
                    &pod_labels(c, p, self),
                    Span::new(end, until),
                    |_| unix_seconds(end),
                )?;
            }
        }
        Ok(())
    }

    /// Claims pods mount, volumes, and claims with their requests.
    fn write_ksm_volumes<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        o.family("kube_pod_spec_volumes_persistentvolumeclaims_info", "gauge")?;
        for c in &self.clusters {
            for p in &c.pods {
                for claim in &p.volumes {
                    let mut ls = pod_labels(c, p, self);
                    ls.extend([
                        l("volume", format!("data-{claim}")),
                        l("persistentvolumeclaim", claim),
                    ]);
                    o.ksm(
                        "kube_pod_spec_volumes_persistentvolumeclaims_info",
                        &c.name,
                        &ls,
                        p.exists(start, linger),
                        |_| 1.0,
                    )?;
                }
            }
        }
        o.family("kube_persistentvolume_capacity_bytes", "gauge")?;
        for c in &self.clusters {
            for pv in &c.persistent_volumes {
                o.ksm(
                    "kube_persistentvolume_capacity_bytes",
                    &c.name,
                    &[l("persistentvolume", &pv.name)],
                    pv.active(),
                    |_| pv.capacity_bytes,
                )?;
            }
        }
        o.family("kube_persistentvolumeclaim_info", "gauge")?;
        for c in &self.clusters {
            for pv in &c.persistent_volumes {
                let Some(claim) = &pv.claim else { continue };
                let ls = [
                    l("namespace", &claim.namespace),
                    l("persistentvolumeclaim", &claim.name),
                    l("storageclass", &pv.storage_class),
                    l("volumename", &pv.name),
                ];
                o.ksm(
                    "kube_persistentvolumeclaim_info",
                    &c.name,
                    &ls,
                    pv.active(),
                    |_| 1.0,
                )?;
            }
        }
        o.family(
            "kube_persistentvolumeclaim_resource_requests_storage_bytes",
            "gauge",
        )?;
        for c in &self.clusters {
            for pv in &c.persistent_volumes {
                let Some(claim) = &pv.claim else { continue };
                let ls = [
                    l("namespace", &claim.namespace),
                    l("persistentvolumeclaim", &claim.name),
                ];
                o.ksm(
                    "kube_persistentvolumeclaim_resource_requests_storage_bytes",
                    &c.name,
                    &ls,
                    pv.active(),
                    |_| claim.requested_bytes,
                )?;
            }
        }
        Ok(())
    }

    /// Containers' resource requests.
    fn write_requests<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let (start, linger) = (ms(self.start), self.linger_ms());
        o.family("kube_pod_container_resource_requests", "gauge")?;
        for c in &self.clusters {
            for p in &c.pods {
                for k in &p.containers {
                    let resources = [
                        ("cpu", "core", k.cpu_request),
                        ("memory", "byte", k.ram_request),
                        ("nvidia_com_gpu", "integer", k.gpu_request),
                    ];
                    for (resource, unit, v) in resources {
                        if v > 0.0 {
                            let mut ls = pod_labels(c, p, self);
                            ls.extend([
                                l("container", &k.name),
                                l("node", &p.node),
                                l("resource", resource),
                                l("unit", unit),
                            ]);
                            o.ksm(
                                "kube_pod_container_resource_requests",
                                &c.name,
                                &ls,
                                p.exists(start, linger),
                                |_| v,
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn write_cadvisor<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let start = ms(self.start);
        // cAdvisor series carry no uid: a pod re-created under the same
        // name on the same node continues the same series, so group by
        // label set to keep each series contiguous.
        type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);
        let mut groups: BTreeMap<Key<'_>, Vec<(&Container, Span)>> = BTreeMap::new();
        for c in &self.clusters {
            for p in &c.pods {
                for k in &p.containers {
                    let g = groups
                        .entry((&c.name, &p.namespace, &p.name, &k.name, &p.node))
                        .or_default();
                    g.extend(k.running(p, start).into_iter().map(|r| (k, r)));
                }
            }
        }
        for g in groups.values_mut() {
            g.sort_by_key(|(_, r)| r.start);
        }
        let labels = |(_, ns, pod, container, node): &Key<'_>| {
            vec![
                l("namespace", *ns),
                l("pod", *pod),
                l("container", *container),
                l("node", *node),
                l("instance", *node),
            ]
        };

        o.family("container_cpu_usage_seconds", "counter")?;
        for (key, runs) in &groups {
            let spans: Vec<Span> = runs.iter().map(|(_, r)| *r).collect();
            let usage = |span: Span| {
                &runs
                    .iter()
                    .find(|(_, r)| *r == span)
                    .expect("span from runs")
                    .0
                    .usage
            };
            o.series(
                "container_cpu_usage_seconds_total",
                key.0,
                &labels(key),
                &spans,
                // The counter restarts with each run (a new container).
                |span, t| usage(span).cpu_seconds(span.start, t),
            )?;
        }
        o.family("container_memory_working_set_bytes", "gauge")?;
        for (key, runs) in &groups {
            let spans: Vec<Span> = runs.iter().map(|(_, r)| *r).collect();
            o.series(
                "container_memory_working_set_bytes",
                key.0,
                &labels(key),
                &spans,
                |span, t| {
                    let (k, _) = runs
                        .iter()
                        .find(|(_, r)| *r == span)
                        .expect("span from runs");
                    k.usage.at(t).ram
                },
            )?;
        }

        let net = self.network_series();
        type Rate = fn(&Network) -> f64;
        let counters: [(&str, &str, Rate); 2] = [
            (
                "container_network_receive_bytes",
                "container_network_receive_bytes_total",
                |n| n.receive_bytes_per_second,
            ),
            (
                "container_network_transmit_bytes",
                "container_network_transmit_bytes_total",
                |n| n.transmit_bytes_per_second,
            ),
        ];
        for (family, name, rate) in counters {
            o.family(family, "counter")?;
            for ((cluster, ns, pod, _), g) in &net {
                // Pod level: cAdvisor's pod cgroup, `container=""`.
                let ls = [
                    l("namespace", *ns),
                    l("pod", *pod),
                    l("container", ""),
                    l("interface", "eth0"),
                    l("node", g.node),
                    l("instance", g.node),
                ];
                o.series(name, cluster, &ls, &g.spans(), |span, t| {
                    g.value(span, t, rate)
                })?;
            }
        }
        Ok(())
    }

    /// Pod-level network series, keyed as cAdvisor's are (no uid).
    fn network_series(&self) -> BTreeMap<(&str, &str, &str, &str), NetSeries<'_>> {
        let start = ms(self.start);
        let mut out: BTreeMap<_, NetSeries<'_>> = BTreeMap::new();
        for c in &self.clusters {
            for p in &c.pods {
                let Some(net) = &p.network else { continue };
                out.entry((
                    c.name.as_str(),
                    p.namespace.as_str(),
                    p.name.as_str(),
                    p.node.as_str(),
                ))
                .or_insert_with(|| NetSeries {
                    node: &p.node,
                    runs: Vec::new(),
                })
                .runs
                .push((p.running(start), net));
            }
        }
        for g in out.values_mut() {
            g.runs.sort_by_key(|(s, _)| s.start);
        }
        out
    }

    /// The network-costs daemonset's per-pod egress counters.
    fn write_network_costs<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        const NAME: &str = "kubecost_pod_network_egress_bytes_total";
        type Rate = fn(&Network) -> f64;
        // (internet, same_zone, same_region) of each kind of egress.
        let kinds: [(&str, &str, &str, Rate); 3] = [
            ("false", "false", "true", |n| n.egress_zone_bytes_per_second),
            ("false", "false", "false", |n| {
                n.egress_region_bytes_per_second
            }),
            ("true", "false", "false", |n| {
                n.egress_internet_bytes_per_second
            }),
        ];
        o.family("kubecost_pod_network_egress_bytes", "counter")?;
        for ((cluster, ns, pod, _), g) in &self.network_series() {
            for (internet, same_zone, same_region, rate) in kinds {
                let ls = [
                    l("pod_name", *pod),
                    l("namespace", *ns),
                    l("internet", internet),
                    l("same_zone", same_zone),
                    l("same_region", same_region),
                    l("instance", g.node),
                ];
                o.series(NAME, cluster, &ls, &g.spans(), |span, t| {
                    g.value(span, t, rate)
                })?;
            }
        }
        Ok(())
    }

    /// The cost exporter's families: prices of nodes, volumes, load
    /// balancers and egress, and service selectors.
    fn write_exporter<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        self.write_node_prices(o)?;
        self.write_pv_prices(o)?;
        self.write_services(o)?;
        self.write_network_prices(o)
    }

    /// Node prices, GPU counts and spot flags, for priced nodes.
    fn write_node_prices<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        fn priced<'a>(s: &'a Scenario, c: &'a Cluster) -> impl Iterator<Item = &'a Node> {
            c.nodes.iter().filter(|n| s.is_priced(&c.name, &n.name))
        }
        type Price = fn(&Node, Ms) -> f64;
        let prices: [(&str, Price); 4] = [
            ("node_cpu_hourly_cost", |n, t| n.prices_at(t).cpu),
            ("node_ram_hourly_cost", |n, t| n.prices_at(t).ram),
            ("node_gpu_hourly_cost", |n, t| n.prices_at(t).gpu),
            ("node_total_hourly_cost", |n, t| {
                n.total_hourly_cost(n.prices_at(t))
            }),
        ];
        for (name, price) in prices {
            o.family(name, "gauge")?;
            for c in &self.clusters {
                for n in priced(self, c) {
                    o.series(
                        name,
                        &c.name,
                        &node_prices_labels(n),
                        &[n.active()],
                        |_, t| price(n, t),
                    )?;
                }
            }
        }
        o.family("node_gpu_count", "gauge")?;
        for c in &self.clusters {
            for n in priced(self, c) {
                let ls = [
                    l("node", &n.name),
                    l("provider_id", &n.provider_id),
                    l("instance", "opencost"),
                ];
                o.series("node_gpu_count", &c.name, &ls, &[n.active()], |_, _| n.gpus)?;
            }
        }
        o.family("kubecost_node_is_spot", "gauge")?;
        for c in &self.clusters {
            for n in priced(self, c) {
                let ls = [l("node", &n.name), l("instance", "opencost")];
                let v = f64::from(u8::from(n.spot));
                o.series(
                    "kubecost_node_is_spot",
                    &c.name,
                    &ls,
                    &[n.active()],
                    |_, _| v,
                )?;
            }
        }
        Ok(())
    }

    /// Volume prices per GiB-hour.
    fn write_pv_prices<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        o.family("pv_hourly_cost", "gauge")?;
        for c in &self.clusters {
            for pv in &c.persistent_volumes {
                let ls = [
                    l("persistentvolume", &pv.name),
                    l("volumename", &pv.name),
                    l("provider_id", &pv.provider_id),
                    l("instance", "opencost"),
                ];
                o.series("pv_hourly_cost", &c.name, &ls, &[pv.active()], |_, _| {
                    pv.hourly_cost_per_gib
                })?;
            }
        }
        Ok(())
    }

    /// Service selectors and load balancer prices.
    fn write_services<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let always = Span::new(ms(self.start), OPEN_END);
        o.family("service_selector_labels", "gauge")?;
        for c in &self.clusters {
            for svc in &c.services {
                let mut ls = vec![l("namespace", &svc.namespace), l("service", &svc.name)];
                ls.extend(prefixed("label_", &svc.selector));
                ls.push(l("instance", "opencost"));
                o.series(
                    "service_selector_labels",
                    &c.name,
                    &ls,
                    &[always],
                    |_, _| 1.0,
                )?;
            }
        }
        o.family("kubecost_load_balancer_cost", "gauge")?;
        for c in &self.clusters {
            for svc in &c.services {
                let Some(lb) = &svc.load_balancer else {
                    continue;
                };
                let ls = [
                    l("namespace", &svc.namespace),
                    l("service_name", &svc.name),
                    l("ingress_ip", &lb.ingress_ip),
                    l("instance", "opencost"),
                ];
                o.series(
                    "kubecost_load_balancer_cost",
                    &c.name,
                    &ls,
                    &[lb.active()],
                    |_, _| lb.hourly_cost,
                )?;
            }
        }
        Ok(())
    }

    /// Egress prices per GiB, per cluster.
    fn write_network_prices<W: Write>(&self, o: &mut Out<'_, W>) -> io::Result<()> {
        let always = Span::new(ms(self.start), OPEN_END);
        type NetPrice = fn(&NetworkPrices) -> f64;
        let net_prices: [(&str, NetPrice); 3] = [
            ("kubecost_network_zone_egress_cost", |p| p.zone_per_gib),
            ("kubecost_network_region_egress_cost", |p| p.region_per_gib),
            ("kubecost_network_internet_egress_cost", |p| {
                p.internet_per_gib
            }),
        ];
        for (name, price) in net_prices {
            o.family(name, "gauge")?;
            for c in &self.clusters {
                let Some(p) = &c.network_prices else { continue };
                let v = price(p);
                o.series(
                    name,
                    &c.name,
                    &[l("instance", "opencost")],
                    &[always],
                    |_, _| v,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_with_optional_millis() {
        assert_eq!(Ts(1_700_000_000_000).to_string(), "1700000000");
        assert_eq!(Ts(1_700_000_000_050).to_string(), "1700000000.050");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\"b\\c\nd");
        assert_eq!(s, r#"a\"b\\c\nd"#);
    }
}
