//! Costs that belong to pods rather than containers, spread over the
//! containers of each pod: persistent volumes, load balancers (through the
//! services selecting the pod) and network traffic.
//!
//! The engine first builds one allocation per container; this module then
//! adds what the plan's PV, LB and network queries measured. What has no
//! consumer is never dropped: it lands in an `__unmounted__` allocation, in
//! the namespace that owns it (an unmounted claim, a load balancer whose
//! service selects no running pod) or at cluster level (a volume nobody
//! claims), so Σ allocations = Σ PV + LB + network cost, like OpenCost's
//! `__unmounted__` but without losing the namespace.

use std::collections::{BTreeMap, BTreeSet};

use smallvec::SmallVec;

use crate::allocation::{Allocation, LbAllocation, PvAllocation, PvKey};
use crate::error::Result;
use crate::plan::{QueryId, TERM_LABEL, TermPods};
use crate::promjson::Series;
use crate::properties::{ArcStr, Labels, UNMOUNTED};
use crate::warning::{Warning, WarningKind};
use crate::window::Window;

use super::containers::Containers;
use super::inputs::Inputs;
use super::keys::{GIB, JoinMap, JoinSet, Keys, PodName, join_map, value};
use super::results::Results;

/// Allocations for costs without a consumer, by (cluster, namespace);
/// namespace `__unmounted__` for cluster-level ones.
#[derive(Default)]
struct Unmounted {
    by_ns: BTreeMap<(String, String), Allocation>,
}

impl Unmounted {
    fn get(&mut self, window: Window, cluster: &str, namespace: Option<&str>) -> &mut Allocation {
        let ns = namespace.filter(|n| !n.is_empty()).unwrap_or(UNMOUNTED);
        self.by_ns
            .entry((cluster.to_owned(), ns.to_owned()))
            .or_insert_with(|| {
                let mut a =
                    Allocation::new(format!("{cluster}//{ns}/{UNMOUNTED}/{UNMOUNTED}"), window);
                a.properties.cluster = cluster.into();
                a.properties.namespace = ns.into();
                a.properties.pod = UNMOUNTED.into();
                a.properties.container = UNMOUNTED.into();
                a
            })
    }
}

fn label(s: &Series, name: &str) -> String {
    s.label(name).unwrap_or_default().to_owned()
}

/// The containers of each pod name, every incarnation, as indices into
/// [`Inputs::containers`] (and [`Containers`]). Held inline: a pod has a
/// few containers, and a heap vector per pod was a fleet's 30,000
/// allocations, each a cache miss away from its map entry.
struct Pods<'a> {
    by_name: JoinMap<PodName<'a>, SmallVec<[usize; 3]>>,
}

impl<'a> Pods<'a> {
    fn new(inputs: &Inputs<'a>) -> Self {
        let mut by_name: JoinMap<PodName<'a>, SmallVec<[usize; 3]>> =
            join_map(inputs.containers.len());
        for (i, c) in inputs.containers.iter().enumerate() {
            by_name.entry(c.key.pod_name()).or_default().push(i);
        }
        Self { by_name }
    }

    /// The containers of `pod`, in every incarnation and on every node.
    fn of(&self, pod: &PodName<'a>) -> &[usize] {
        self.by_name.get(pod).map_or(&[], SmallVec::as_slice)
    }
}

/// Add PV, LB and network costs to `c`; returns the `__unmounted__`
/// allocations and appends warnings.
pub(crate) fn attribute(
    cx: &Ctx<'_>,
    shared: &[ClaimKey],
    c: &mut Containers<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Allocation>> {
    let mut unmounted = Unmounted::default();
    let pods = Pods::new(cx.inputs);
    let shares = claim_shares(cx.results, cx.keys, shared)?;
    volumes(cx, &pods, &shares, c, &mut unmounted)?;
    load_balancers(cx, c, &mut unmounted)?;
    network(cx, &pods, c, &mut unmounted, warnings)?;
    Ok(unmounted.by_ns.into_values().collect())
}

/// What every pod-level cost is read with: the window, the results, the
/// keys, the joined containers and the step in hours.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) window: Window,
    pub(crate) results: &'a Results,
    pub(crate) keys: &'a Keys<'a>,
    pub(crate) inputs: &'a Inputs<'a>,
    pub(crate) r_hours: f64,
}

/// A claim: (cluster, namespace, name).
pub(crate) type ClaimKey = (String, String, String);

/// A volume: (cluster, name).
type PvName = (String, String);

/// A service: (cluster, namespace, name).
type Service<'a> = (&'a str, &'a str, &'a str);

/// A pod incarnation: (pod, uid).
type PodUid<'a> = (&'a str, &'a str);

/// Claims that more than one running pod mounts during the window, with a
/// selector for those pods: how a step is split among them depends on
/// which run at once, which a follow-up (`pv_shares`) measures.
pub(crate) fn shared_claims(
    results: &Results,
    keys: &Keys<'_>,
    inputs: &Inputs<'_>,
) -> Result<Vec<(ClaimKey, TermPods)>> {
    let running: JoinSet<(&str, &str, &str, &str)> = inputs
        .containers
        .iter()
        .map(|c| (c.key.cluster, c.key.namespace, c.key.pod, c.key.uid))
        .collect();
    let mut by_claim: BTreeMap<ClaimKey, BTreeSet<PodUid<'_>>> = BTreeMap::new();
    for s in &results.get(QueryId::Mounts)?.series {
        let (cluster, ns, pod) = keys.pod_name(s);
        let uid = s.label("uid").unwrap_or_default();
        if running.contains(&(cluster, ns, pod, uid)) {
            by_claim
                .entry((
                    cluster.to_owned(),
                    ns.to_owned(),
                    label(s, "persistentvolumeclaim"),
                ))
                .or_default()
                .insert((pod, uid));
        }
    }
    Ok(by_claim
        .into_iter()
        .filter(|(_, pods)| pods.len() > 1)
        .map(|(claim, pods)| {
            let t = TermPods {
                cluster: claim.0.clone(),
                namespaces: [claim.1.clone()].into(),
                pods: pods.into_iter().map(|(p, _)| p.to_owned()).collect(),
                ..TermPods::default()
            };
            (claim, t)
        })
        .collect())
}

/// Per shared claim and mounting pod: its steps, each counted as
/// 1 / (mounters running then).
fn claim_shares<'a>(
    results: &'a Results,
    keys: &Keys<'a>,
    shared: &[ClaimKey],
) -> Result<JoinMap<ClaimKey, JoinMap<PodUid<'a>, f64>>> {
    let mut out: JoinMap<ClaimKey, JoinMap<PodUid<'a>, f64>> = JoinMap::default();
    if shared.is_empty() {
        return Ok(out);
    }
    for s in &results.get(QueryId::PvShares)?.series {
        let term: Option<usize> = s.label(TERM_LABEL).and_then(|t| t.parse().ok());
        let (Some(claim), Some(v)) = (term.and_then(|t| shared.get(t)), value(s)) else {
            continue;
        };
        if keys.cluster_str(s) == claim.0 && s.label("namespace") == Some(claim.1.as_str()) {
            let pod = s.label("pod").unwrap_or_default();
            let uid = s.label("uid").unwrap_or_default();
            *out.entry(claim.clone())
                .or_default()
                .entry((pod, uid))
                .or_default() += v;
        }
    }
    Ok(out)
}

/// Persistent volumes. A PV's cost over the window is its average capacity
/// in GiB × Σ its $/GiB-h over steps (exact while the capacity is
/// constant). Per step it belongs in equal shares to the running pods that
/// mount its claim; steps with no running mounter stay with the claim's
/// namespace, steps without a claim with the cluster (`__unmounted__`).
///
/// A claim one running pod mounts is its for the pod's running steps; one
/// several pods mount is split by the `pv_shares` follow-up.
fn volumes<'a>(
    cx: &Ctx<'a>,
    pods: &Pods<'a>,
    shares: &JoinMap<ClaimKey, JoinMap<PodUid<'a>, f64>>,
    c: &mut Containers<'_>,
    unmounted: &mut Unmounted,
) -> Result<()> {
    let pvs = PvReadings::read(cx)?;
    let users = ClaimUsers {
        mounters: mounters(cx, pods)?,
        shares,
        inputs: cx.inputs,
    };
    for (pv, &pv_bytes) in &pvs.bytes {
        let Some(cost) = pvs.cost(pv, pv_bytes, cx.r_hours) else {
            continue;
        };
        let cluster = &pv.0;
        let mut claimed = 0.0;
        for (namespace, claim, claim_steps) in pvs.claims.get(pv).into_iter().flatten() {
            let claim_steps = claim_steps.min(cost.steps - claimed);
            claimed += claim_steps;
            let claim_key = (cluster.clone(), namespace.clone(), claim.clone());
            let covered = users.charge(&cost, &claim_key, claim_steps, c);
            let idle_fraction = (claim_steps - covered) / cost.steps;
            if idle_fraction > 0.0 {
                let a = unmounted.get(cx.window, cluster, Some(namespace));
                cost.charge_unmounted(a, idle_fraction);
            }
        }
        let unclaimed = (cost.steps - claimed) / cost.steps;
        if unclaimed > 0.0 {
            cost.charge_unmounted(unmounted.get(cx.window, cluster, None), unclaimed);
        }
    }
    Ok(())
}

/// What the plan's PV queries measured, by volume.
struct PvReadings {
    /// Σ capacity bytes over steps.
    bytes: JoinMap<PvName, f64>,
    /// Steps with a capacity.
    steps: JoinMap<PvName, f64>,
    /// Σ $/GiB-h over steps.
    prices: JoinMap<PvName, f64>,
    provider: JoinMap<PvName, String>,
    /// Claims bound to each volume (namespace, claim), with the steps they
    /// were bound.
    claims: JoinMap<PvName, Vec<(String, String, f64)>>,
}

impl PvReadings {
    fn read(cx: &Ctx<'_>) -> Result<Self> {
        let Ctx { results, keys, .. } = *cx;
        let pv_label = |s: &Series, name: &str| (keys.cluster(s), label(s, name));
        let read = |id: QueryId, name: &str| -> Result<JoinMap<PvName, f64>> {
            let mut m = JoinMap::default();
            for s in &results.get(id)?.series {
                if let Some(v) = value(s) {
                    m.insert(pv_label(s, name), v);
                }
            }
            Ok(m)
        };
        let bytes = read(QueryId::PvBytes, "persistentvolume")?;
        let steps = read(QueryId::PvSteps, "persistentvolume")?;
        let prices = read(QueryId::PvPrice, "volumename")?;
        let mut provider = JoinMap::default();
        for s in &results.get(QueryId::PvInfo)?.series {
            if let Some(p) = s.label("provider_id").filter(|p| !p.is_empty()) {
                provider.insert(pv_label(s, "volumename"), p.to_owned());
            }
        }
        let mut claims: JoinMap<PvName, Vec<(String, String, f64)>> = JoinMap::default();
        for s in &results.get(QueryId::Claims)?.series {
            if let Some(v) = value(s) {
                claims.entry(pv_label(s, "volumename")).or_default().push((
                    label(s, "namespace"),
                    label(s, "persistentvolumeclaim"),
                    v,
                ));
            }
        }
        Ok(Self {
            bytes,
            steps,
            prices,
            provider,
            claims,
        })
    }

    /// The cost of `pv` over the window, `None` for a volume without steps.
    fn cost(&self, pv: &PvName, pv_bytes: f64, r_hours: f64) -> Option<PvCost> {
        let n = self.steps.get(pv).copied().unwrap_or(0.0);
        if n <= 0.0 {
            return None;
        }
        let (cluster, name) = pv;
        Some(PvCost {
            key: PvKey {
                cluster: cluster.clone(),
                name: name.clone(),
            },
            steps: n,
            byte_hours: pv_bytes * r_hours,
            cost: pv_bytes / n / GIB * self.prices.get(pv).copied().unwrap_or(0.0) * r_hours,
            provider_id: self.provider.get(pv).cloned().unwrap_or_default(),
        })
    }
}

/// One volume over the window, charged by fractions of its steps.
struct PvCost {
    key: PvKey,
    /// Steps with a capacity.
    steps: f64,
    byte_hours: f64,
    cost: f64,
    provider_id: String,
}

impl PvCost {
    /// `fraction` of the volume to `a`.
    fn charge(&self, a: &mut Allocation, fraction: f64) {
        add_pv(
            a,
            &self.key,
            PvAllocation {
                byte_hours: self.byte_hours * fraction,
                cost: self.cost * fraction,
                provider_id: self.provider_id.clone(),
            },
        );
    }

    /// `fraction` of the volume to an `__unmounted__` allocation, which also
    /// counts it as unmounted cost.
    fn charge_unmounted(&self, a: &mut Allocation, fraction: f64) {
        self.charge(a, fraction);
        a.unmounted_pv_cost += self.cost * fraction;
    }
}

/// A mounting pod and its containers.
type Mounter<'a> = (PodUid<'a>, Vec<usize>);

/// The running containers of the pods mounting each claim, by pod.
fn mounters<'a>(cx: &Ctx<'a>, pods: &Pods<'a>) -> Result<JoinMap<ClaimKey, Vec<Mounter<'a>>>> {
    let mut mounters: JoinMap<ClaimKey, Vec<Mounter<'a>>> = JoinMap::default();
    for s in &cx.results.get(QueryId::Mounts)?.series {
        let pod = cx.keys.pod_name(s);
        let uid = s.label("uid").unwrap_or_default();
        let mine: Vec<usize> = (pods.of(&pod).iter().copied())
            .filter(|&i| cx.inputs.containers[i].key.uid == uid)
            .collect();
        if !mine.is_empty() {
            mounters
                .entry((
                    pod.0.to_owned(),
                    pod.1.to_owned(),
                    label(s, "persistentvolumeclaim"),
                ))
                .or_default()
                .push(((pod.2, uid), mine));
        }
    }
    Ok(mounters)
}

/// Who uses each claim: the pods mounting it and, for a claim several
/// running pods mount, each one's steps measured by `pv_shares`.
struct ClaimUsers<'a, 'm> {
    mounters: JoinMap<ClaimKey, Vec<Mounter<'a>>>,
    shares: &'m JoinMap<ClaimKey, JoinMap<PodUid<'a>, f64>>,
    inputs: &'m Inputs<'a>,
}

impl ClaimUsers<'_, '_> {
    /// Charges the pods mounting `claim` for their steps of its
    /// `claim_steps`, split evenly over each pod's containers; returns the
    /// steps they cover.
    fn charge(
        &self,
        pv: &PvCost,
        claim: &ClaimKey,
        claim_steps: f64,
        c: &mut Containers<'_>,
    ) -> f64 {
        let pods = self
            .mounters
            .get(claim)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let steps = self.pod_steps(claim, pods, claim_steps);
        for ((_, mine), steps) in pods.iter().zip(&steps) {
            let share = steps / pv.steps / mine.len() as f64;
            for &i in mine {
                pv.charge(&mut c.allocs[i], share);
            }
        }
        steps.iter().sum()
    }

    /// The steps of `claim` each of its `pods` accounts for.
    fn pod_steps(&self, claim: &ClaimKey, pods: &[Mounter<'_>], claim_steps: f64) -> Vec<f64> {
        match self.shares.get(claim) {
            Some(measured) => pods
                .iter()
                .map(|(p, _)| measured.get(p).copied().unwrap_or(0.0))
                .collect(),
            // One running mounter (see `shared_claims`): its steps, as a
            // pod runs while any of its containers does.
            None => pods
                .iter()
                .map(|(_, mine)| {
                    mine.iter()
                        .map(|&i| self.inputs.containers[i].steps)
                        .fold(0.0, f64::max)
                        .min(claim_steps)
                })
                .collect(),
        }
    }
}

fn add_pv(a: &mut Allocation, key: &PvKey, part: PvAllocation) {
    let e = a.pvs.get_or_insert_with(key, PvAllocation::default);
    e.byte_hours += part.byte_hours;
    e.cost += part.cost;
    if e.provider_id.is_empty() {
        e.provider_id = part.provider_id;
    }
}

/// A service's selector matches a pod when it is non-empty and every one
/// of its labels is on the pod (Kubernetes' equality-based selector).
fn selects(selector: &Labels, pod: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

/// Whether `ip` is an RFC 1918 (private) IPv4 address.
fn is_private(ip: &str) -> bool {
    ip.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| a.is_private())
}

/// Services per container, and LB cost split over the containers of the
/// pods a service selects by their run hours.
fn load_balancers(cx: &Ctx<'_>, c: &mut Containers<'_>, unmounted: &mut Unmounted) -> Result<()> {
    let selected = select_services(cx, c)?;
    let Ctx {
        window,
        results,
        keys,
        r_hours,
        ..
    } = *cx;
    let lb_key = |s| {
        let (cluster, namespace, _) = keys.pod_name(s);
        let service = s.label("service_name").unwrap_or_default();
        let ip = s.label("ingress_ip").unwrap_or_default();
        (cluster, namespace, service, ip)
    };
    let mut steps: JoinMap<(&str, &str, &str, &str), f64> = JoinMap::default();
    for s in &results.get(QueryId::LbSteps)?.series {
        if let Some(v) = value(s) {
            steps.insert(lb_key(s), v);
        }
    }
    for s in &results.get(QueryId::LbCost)?.series {
        let Some(v) = value(s) else { continue };
        let key = lb_key(s);
        let cost = v * r_hours;
        let hours = steps.get(&key).copied().unwrap_or(0.0) * r_hours;
        let (cluster, namespace, service, ip) = key;
        // One copy of the LB's strings, shared by every container it is
        // split over.
        let (service_name, private, ip) = (
            ArcStr::from(format!("{namespace}/{service}")),
            is_private(ip),
            ArcStr::from(ip),
        );
        let entry = |share: f64| LbAllocation {
            service: service_name.clone(),
            cost: cost * share,
            private,
            ip: ip.clone(),
            hours,
        };
        let lb_name = ArcStr::from(format!("{cluster}/{namespace}/{service}"));
        let mine = selected
            .get(&(cluster, namespace, service))
            .map_or(&[][..], Vec::as_slice);
        let total: f64 = mine.iter().map(|&i| c.run_hours[i]).sum();
        if total > 0.0 {
            for &i in mine {
                let share = c.run_hours[i] / total;
                let a = &mut c.allocs[i];
                a.load_balancer_cost += cost * share;
                add_lb(a, &lb_name, entry(share));
            }
        } else {
            let a = unmounted.get(window, cluster, Some(namespace));
            a.load_balancer_cost += cost;
            add_lb(a, &lb_name, entry(1.0));
            if !a.properties.services.iter().any(|x| x == service) {
                a.properties.services.push(service.into());
                a.properties.services.sort();
            }
        }
    }
    Ok(())
}

/// The services whose selector matches each container's pod: set on the
/// container's properties, and returned as the containers of each
/// (cluster, namespace, service).
fn select_services<'a>(
    cx: &Ctx<'a>,
    c: &mut Containers<'_>,
) -> Result<JoinMap<Service<'a>, Vec<usize>>> {
    let mut services: JoinMap<(&str, &str), Vec<Selector<'_>>> = JoinMap::default();
    for s in &cx.results.get(QueryId::ServiceSelectors)?.series {
        let selector: Labels = s
            .labels
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("label_")
                    .map(|k| (k.to_owned(), v.to_string()))
            })
            .collect();
        let (cluster, namespace, _) = cx.keys.pod_name(s);
        services.entry((cluster, namespace)).or_default().push({
            let name = s.label("service").unwrap_or_default();
            (name, ArcStr::from(name), selector)
        });
    }
    let mut selected: JoinMap<Service<'_>, Vec<usize>> = JoinMap::default();
    if services.is_empty() {
        return Ok(selected);
    }
    let empty = Labels::new();
    let of_pod = |pod: &PodName<'_>| -> Vec<(&str, ArcStr)> {
        let Some(list) = services.get(&(pod.0, pod.1)) else {
            return Vec::new();
        };
        let pod_labels = c.pod_labels.get(pod).unwrap_or(&empty);
        let mut mine: Vec<(&str, ArcStr)> = list
            .iter()
            .filter(|(_, _, sel)| selects(sel, pod_labels))
            .map(|(svc, shared, _)| (*svc, shared.clone()))
            .collect();
        mine.sort_unstable_by_key(|&(svc, _)| svc);
        mine.dedup_by_key(|&mut (svc, _)| svc);
        mine
    };
    // A pod's containers are adjacent: its services are found once.
    let mut last: Option<(PodName<'_>, Vec<(&str, ArcStr)>)> = None;
    for (i, a) in c.allocs.iter_mut().enumerate() {
        let k = &cx.inputs.containers[i].key;
        let pod = k.pod_name();
        if last.as_ref().is_none_or(|(p, _)| *p != pod) {
            last = Some((pod, of_pod(&pod)));
        }
        let Some((_, mine)) = &last else { continue };
        for &(svc, _) in mine {
            selected
                .entry((k.cluster, k.namespace, svc))
                .or_default()
                .push(i);
        }
        a.properties.services = mine.iter().map(|(_, s)| s.clone()).collect();
    }
    Ok(selected)
}

/// A service of a namespace: its name (borrowed, and one shared copy
/// however many pods it selects) and its selector.
type Selector<'a> = (&'a str, ArcStr, Labels);

fn add_lb(a: &mut Allocation, name: &ArcStr, part: LbAllocation) {
    match a.load_balancers.get_mut(name.as_str()) {
        Some(e) => {
            e.cost += part.cost;
            e.hours = e.hours.max(part.hours);
        }
        None => {
            a.load_balancers.insert(name.clone(), part);
        }
    }
}

/// Egress classes as the network-costs daemonset labels them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Egress {
    Zone,
    Region,
    Internet,
}

impl Egress {
    fn of(s: &Series) -> Option<Self> {
        let yes = |n: &str| s.label(n) == Some("true");
        if yes("internet") {
            Some(Self::Internet)
        } else if yes("same_zone") {
            // Traffic within a zone is free.
            None
        } else if yes("same_region") {
            Some(Self::Zone)
        } else {
            Some(Self::Region)
        }
    }

    fn named(class: &str) -> Option<Self> {
        match class {
            "zone" => Some(Self::Zone),
            "region" => Some(Self::Region),
            "internet" => Some(Self::Internet),
            _ => None,
        }
    }
}

/// Bytes sent and received per pod (cAdvisor, by node) and priced egress
/// (network-costs daemonset, by pod name), split evenly over the pod's
/// containers.
fn network<'a>(
    cx: &Ctx<'a>,
    pods: &Pods<'a>,
    c: &mut Containers<'_>,
    unmounted: &mut Unmounted,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let Ctx {
        window,
        results,
        keys,
        inputs,
        ..
    } = *cx;
    for (id, transmit) in [(QueryId::NetTransfer, true), (QueryId::NetReceive, false)] {
        for s in &results.get(id)?.series {
            let Some(v) = value(s) else { continue };
            let node = s.label("node").unwrap_or_default();
            let on_node = |i: &&usize| inputs.containers[**i].node == node;
            let all = pods.of(&keys.pod_name(s));
            let n = all.iter().filter(on_node).count();
            if n == 0 {
                continue;
            }
            // Bytes over the window (`increase`).
            let share = v / n as f64;
            for &i in all.iter().filter(on_node) {
                let a = &mut c.allocs[i];
                if transmit {
                    a.network_transfer_bytes += share;
                } else {
                    a.network_receive_bytes += share;
                }
            }
        }
    }

    let mut prices: JoinMap<(&str, Egress), f64> = JoinMap::default();
    for s in &results.get(QueryId::NetPrices)?.series {
        if let (Some(class), Some(v)) = (s.label("class").and_then(Egress::named), value(s)) {
            prices.insert((keys.cluster_str(s), class), v);
        }
    }
    let mut unpriced: BTreeMap<String, f64> = BTreeMap::new();
    for s in &results.get(QueryId::NetEgress)?.series {
        let (Some(v), Some(class)) = (value(s), Egress::of(s)) else {
            continue;
        };
        let cluster = keys.cluster_str(s);
        let namespace = s.label("namespace").unwrap_or_default();
        let pod = s.label("pod_name").unwrap_or_default();
        let gib = v / GIB;
        let Some(price) = prices.get(&(cluster, class)) else {
            *unpriced.entry(cluster.to_owned()).or_default() += gib;
            continue;
        };
        let cost = gib * price;
        let add = |a: &mut Allocation, share: f64| {
            let part = cost * share;
            match class {
                Egress::Zone => a.network_cross_zone_cost += part,
                Egress::Region => a.network_cross_region_cost += part,
                Egress::Internet => a.network_internet_cost += part,
            }
            a.network_cost += part;
        };
        match pods.of(&(cluster, namespace, pod)) {
            [] => add(unmounted.get(window, cluster, Some(namespace)), 1.0),
            mine => {
                let share = 1.0 / mine.len() as f64;
                for &i in mine {
                    add(&mut c.allocs[i], share);
                }
            }
        }
    }
    unpriced_warnings(unpriced, warnings);
    Ok(())
}

/// Egress without a price, per cluster.
fn unpriced_warnings(unpriced: BTreeMap<String, f64>, warnings: &mut Vec<Warning>) {
    for (cluster, gib) in unpriced {
        warnings.push(
            Warning::new(
                WarningKind::UnpricedNetwork,
                format!(
                    "cluster {cluster}: {gib:.3} GiB of pod egress has no \
                     kubecost_network_*_egress_cost price series; not charged"
                ),
            )
            .cluster(cluster.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_need_every_label_and_are_never_empty() {
        let pod: Labels = [
            ("app".to_owned(), "web".to_owned()),
            ("tier".to_owned(), "fe".to_owned()),
        ]
        .into_iter()
        .collect();
        let sel = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(selects(&sel(&[("app", "web")]), &pod));
        assert!(!selects(&sel(&[("app", "web"), ("x", "y")]), &pod));
        assert!(!selects(&sel(&[("app", "db")]), &pod));
        assert!(!selects(&Labels::new(), &pod));
    }

    #[test]
    fn private_addresses() {
        assert!(is_private("10.1.2.3"));
        assert!(is_private("192.168.0.1"));
        assert!(!is_private("34.1.2.3"));
        assert!(!is_private("not-an-ip"));
    }
}
