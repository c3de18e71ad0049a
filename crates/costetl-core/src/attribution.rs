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

use std::collections::{BTreeMap, HashMap};

use crate::allocation::{Allocation, LbAllocation, PvAllocation, PvKey};
use crate::engine::{Keys, Results};
use crate::error::Result;
use crate::plan::ids;
use crate::promjson::Series;
use crate::properties::{Labels, UNMOUNTED};
use crate::window::Window;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The container allocations of one window, by name, plus the run hours
/// of each (restart gaps excluded) for proportional splits.
pub(crate) struct Containers {
    pub(crate) allocs: BTreeMap<String, Allocation>,
    pub(crate) run_hours: HashMap<String, f64>,
    /// The pod uid of each container allocation (names do not carry it).
    pub(crate) uids: HashMap<String, String>,
    /// Pod labels as kube-state-metrics reported them (before node labels
    /// were merged in), by (cluster, namespace, pod).
    pub(crate) pod_labels: HashMap<(String, String, String), Labels>,
}

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
                a.properties.cluster = cluster.to_owned();
                a.properties.namespace = ns.to_owned();
                a.properties.pod = UNMOUNTED.to_owned();
                a.properties.container = UNMOUNTED.to_owned();
                a
            })
    }
}

fn label(s: &Series, name: &str) -> String {
    s.label(name).unwrap_or_default().to_owned()
}

fn value(s: &Series) -> Option<f64> {
    s.last_value().filter(|v| v.is_finite())
}

/// Index of container names by a pod-level key.
fn index<K: std::hash::Hash + Eq>(
    allocs: &BTreeMap<String, Allocation>,
    key: impl Fn(&str, &Allocation) -> K,
) -> HashMap<K, Vec<String>> {
    let mut out: HashMap<K, Vec<String>> = HashMap::new();
    for (name, a) in allocs {
        out.entry(key(name, a)).or_default().push(name.clone());
    }
    out
}

/// Add PV, LB and network costs to `c`; returns the `__unmounted__`
/// allocations and appends warnings.
pub(crate) fn attribute(
    window: Window,
    results: &Results,
    keys: &Keys<'_>,
    r_hours: f64,
    c: &mut Containers,
    warnings: &mut Vec<String>,
) -> Result<Vec<Allocation>> {
    let mut unmounted = Unmounted::default();
    volumes(window, results, keys, r_hours, c, &mut unmounted, warnings)?;
    load_balancers(window, results, keys, r_hours, c, &mut unmounted)?;
    network(window, results, keys, r_hours, c, &mut unmounted, warnings)?;
    Ok(unmounted.by_ns.into_values().collect())
}

/// PV consumers as the plan reports them: a mounting pod (pod labels
/// present), an unmounted claim (claim, no pod) or an unclaimed volume.
fn volumes(
    window: Window,
    results: &Results,
    keys: &Keys<'_>,
    r_hours: f64,
    c: &mut Containers,
    unmounted: &mut Unmounted,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut provider: HashMap<(String, String), String> = HashMap::new();
    for s in &results.get(ids::PV_INFO)?.series {
        if let Some(p) = s.label("provider_id").filter(|p| !p.is_empty()) {
            provider.insert((keys.cluster(s), label(s, "volumename")), p.to_owned());
        }
    }
    // Cost and bytes come from two queries with identical label sets.
    let consumer = |s: &Series| {
        [
            keys.cluster(s),
            label(s, "namespace"),
            label(s, "pod"),
            label(s, "uid"),
            label(s, "persistentvolumeclaim"),
            label(s, "persistentvolume"),
        ]
    };
    let mut bytes: HashMap<[String; 6], f64> = HashMap::new();
    for s in &results.get(ids::PV_BYTES)?.series {
        if let Some(v) = value(s) {
            *bytes.entry(consumer(s)).or_default() += v * r_hours;
        }
    }
    let by_pod = index(&c.allocs, |name, a| {
        (
            a.properties.cluster.clone(),
            a.properties.namespace.clone(),
            a.properties.pod.clone(),
            c.uids.get(name).cloned().unwrap_or_default(),
        )
    });
    let mut lost: BTreeMap<String, f64> = BTreeMap::new();
    for s in &results.get(ids::PV_COST)?.series {
        let Some(v) = value(s) else { continue };
        let key = consumer(s);
        let cost = v * r_hours;
        let byte_hours = bytes.get(&key).copied().unwrap_or(0.0);
        let [cluster, namespace, pod, uid, claim, pv] = key;
        let pv_key = PvKey {
            cluster: cluster.clone(),
            name: pv.clone(),
        };
        let part = |share: f64| PvAllocation {
            byte_hours: byte_hours * share,
            cost: cost * share,
            provider_id: provider
                .get(&(cluster.clone(), pv.clone()))
                .cloned()
                .unwrap_or_default(),
        };
        let targets = (!pod.is_empty())
            .then(|| by_pod.get(&(cluster.clone(), namespace.clone(), pod.clone(), uid.clone())))
            .flatten();
        match targets {
            Some(names) => {
                let share = 1.0 / names.len() as f64;
                for name in names {
                    if let Some(a) = c.allocs.get_mut(name) {
                        add_pv(a, &pv_key, part(share));
                    }
                }
            }
            None => {
                if !pod.is_empty() {
                    *lost
                        .entry(format!("{cluster}/{namespace}/{pod}"))
                        .or_default() += cost;
                }
                let ns = (!claim.is_empty()).then_some(namespace.as_str());
                let a = unmounted.get(window, &cluster, ns);
                add_pv(a, &pv_key, part(1.0));
                a.unmounted_pv_cost += cost;
            }
        }
    }
    for (pod, cost) in lost {
        warnings.push(format!(
            "pod {pod} mounts volumes but has no container allocation: its PV cost {cost:.6} \
             is reported as unmounted"
        ));
    }
    Ok(())
}

fn add_pv(a: &mut Allocation, key: &PvKey, part: PvAllocation) {
    let e = a.pvs.entry(key.clone()).or_default();
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
fn load_balancers(
    window: Window,
    results: &Results,
    keys: &Keys<'_>,
    r_hours: f64,
    c: &mut Containers,
    unmounted: &mut Unmounted,
) -> Result<()> {
    // (cluster, namespace) → [(service, selector)]
    let mut services: BTreeMap<(String, String), Vec<(String, Labels)>> = BTreeMap::new();
    for s in &results.get(ids::SERVICE_SELECTORS)?.series {
        let selector: Labels = s
            .labels
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("label_").map(|k| (k.to_owned(), v.clone())))
            .collect();
        services
            .entry((keys.cluster(s), label(s, "namespace")))
            .or_default()
            .push((label(s, "service"), selector));
    }
    // Which containers each service selects.
    let mut selected: HashMap<(String, String, String), Vec<String>> = HashMap::new();
    for (name, a) in c.allocs.iter_mut() {
        let p = &a.properties;
        let ns_key = (p.cluster.clone(), p.namespace.clone());
        let Some(list) = services.get(&ns_key) else {
            continue;
        };
        let empty = Labels::new();
        let pod_labels = c
            .pod_labels
            .get(&(p.cluster.clone(), p.namespace.clone(), p.pod.clone()))
            .unwrap_or(&empty);
        let mut mine: Vec<String> = list
            .iter()
            .filter(|(_, sel)| selects(sel, pod_labels))
            .map(|(svc, _)| svc.clone())
            .collect();
        mine.sort();
        mine.dedup();
        for svc in &mine {
            selected
                .entry((ns_key.0.clone(), ns_key.1.clone(), svc.clone()))
                .or_default()
                .push(name.clone());
        }
        a.properties.services = mine;
    }

    let lb_key = |s: &Series| {
        (
            keys.cluster(s),
            label(s, "namespace"),
            label(s, "service_name"),
            label(s, "ingress_ip"),
        )
    };
    let mut steps: HashMap<(String, String, String, String), f64> = HashMap::new();
    for s in &results.get(ids::LB_STEPS)?.series {
        if let Some(v) = value(s) {
            steps.insert(lb_key(s), v);
        }
    }
    for s in &results.get(ids::LB_COST)?.series {
        let Some(v) = value(s) else { continue };
        let key = lb_key(s);
        let cost = v * r_hours;
        let hours = steps.get(&key).copied().unwrap_or(0.0) * r_hours;
        let (cluster, namespace, service, ip) = key;
        let entry = |share: f64| LbAllocation {
            service: format!("{namespace}/{service}"),
            cost: cost * share,
            private: is_private(&ip),
            ip: ip.clone(),
            hours,
        };
        let lb_name = format!("{cluster}/{namespace}/{service}");
        let names = selected
            .get(&(cluster.clone(), namespace.clone(), service.clone()))
            .cloned()
            .unwrap_or_default();
        let total: f64 = names
            .iter()
            .map(|n| c.run_hours.get(n).copied().unwrap_or(0.0))
            .sum();
        if total > 0.0 {
            for n in &names {
                let share = c.run_hours.get(n).copied().unwrap_or(0.0) / total;
                if let Some(a) = c.allocs.get_mut(n) {
                    a.load_balancer_cost += cost * share;
                    add_lb(a, &lb_name, entry(share));
                }
            }
        } else {
            let a = unmounted.get(window, &cluster, Some(&namespace));
            a.load_balancer_cost += cost;
            add_lb(a, &lb_name, entry(1.0));
            if !a.properties.services.contains(&service) {
                a.properties.services.push(service.clone());
                a.properties.services.sort();
            }
        }
    }
    Ok(())
}

fn add_lb(a: &mut Allocation, name: &str, part: LbAllocation) {
    match a.load_balancers.get_mut(name) {
        Some(e) => {
            e.cost += part.cost;
            e.hours = e.hours.max(part.hours);
        }
        None => {
            a.load_balancers.insert(name.to_owned(), part);
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
fn network(
    window: Window,
    results: &Results,
    keys: &Keys<'_>,
    r_hours: f64,
    c: &mut Containers,
    unmounted: &mut Unmounted,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let r_secs = r_hours * 3600.0;
    let by_pod_node = index(&c.allocs, |_, a| {
        (
            a.properties.cluster.clone(),
            a.properties.namespace.clone(),
            a.properties.pod.clone(),
            a.properties.node.clone(),
        )
    });
    for (id, transmit) in [(ids::NET_TRANSFER, true), (ids::NET_RECEIVE, false)] {
        for s in &results.get(id)?.series {
            let Some(v) = value(s) else { continue };
            let key = (
                keys.cluster(s),
                label(s, "namespace"),
                label(s, "pod"),
                label(s, "node"),
            );
            let Some(names) = by_pod_node.get(&key) else {
                continue;
            };
            let share = v * r_secs / names.len() as f64;
            for n in names {
                if let Some(a) = c.allocs.get_mut(n) {
                    if transmit {
                        a.network_transfer_bytes += share;
                    } else {
                        a.network_receive_bytes += share;
                    }
                }
            }
        }
    }

    let mut prices: HashMap<(String, Egress), f64> = HashMap::new();
    for s in &results.get(ids::NET_PRICES)?.series {
        if let (Some(class), Some(v)) = (s.label("class").and_then(Egress::named), value(s)) {
            prices.insert((keys.cluster(s), class), v);
        }
    }
    let by_pod = index(&c.allocs, |_, a| {
        (
            a.properties.cluster.clone(),
            a.properties.namespace.clone(),
            a.properties.pod.clone(),
        )
    });
    let mut unpriced: BTreeMap<String, f64> = BTreeMap::new();
    for s in &results.get(ids::NET_EGRESS)?.series {
        let (Some(v), Some(class)) = (value(s), Egress::of(s)) else {
            continue;
        };
        let cluster = keys.cluster(s);
        let namespace = label(s, "namespace");
        let pod = label(s, "pod_name");
        let gib = v * r_secs / GIB;
        let Some(price) = prices.get(&(cluster.clone(), class)) else {
            *unpriced.entry(cluster.clone()).or_default() += gib;
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
        match by_pod.get(&(cluster.clone(), namespace.clone(), pod.clone())) {
            Some(names) => {
                let share = 1.0 / names.len() as f64;
                for n in names {
                    if let Some(a) = c.allocs.get_mut(n) {
                        add(a, share);
                    }
                }
            }
            None => add(unmounted.get(window, &cluster, Some(&namespace)), 1.0),
        }
    }
    for (cluster, gib) in unpriced {
        warnings.push(format!(
            "cluster {cluster}: {gib:.3} GiB of pod egress has no kubecost_network_*_egress_cost \
             price series; not charged"
        ));
    }
    Ok(())
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
