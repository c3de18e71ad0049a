//! What an allocation says besides its numbers: pod and namespace labels
//! and annotations, the controller, node labels and provider ids.

use super::keys::{JoinMap, join_map};

use crate::error::Result;
use crate::plan::{EngineConfig, QueryId};
use crate::promjson::{QueryResult, Series};
use crate::properties::{AllocationProperties, Labels, sanitize_label_name};

use super::keys::{Keys, NodeName, PodName};
use super::results::Results;
use super::strings::Strings;

/// The metadata of one window, looked up per pod, namespace and node by
/// names borrowed from the results.
pub(crate) struct Metadata<'s> {
    pod_labels: JoinMap<PodName<'s>, Labels>,
    pod_annotations: JoinMap<PodName<'s>, Labels>,
    /// By `(cluster, namespace, "")`, as are the namespace annotations.
    ns_labels: JoinMap<PodName<'s>, Labels>,
    ns_annotations: JoinMap<PodName<'s>, Labels>,
    owners: JoinMap<PodName<'s>, (String, &'s str)>,
    node_labels: JoinMap<NodeName<'s>, Labels>,
    pub(crate) provider_ids: JoinMap<NodeName<'s>, &'s str>,
}

impl<'s> Metadata<'s> {
    pub(crate) fn read(results: &'s Results, keys: &Keys<'s>, cfg: &EngineConfig) -> Result<Self> {
        let pod_key = |s: &'s Series| keys.pod_name(s);
        let ns_key = |s: &'s Series| {
            let (cluster, namespace, _) = keys.pod_name(s);
            (cluster, namespace, "")
        };
        let mut provider_ids = JoinMap::default();
        for s in &results.get(QueryId::NodeInfo)?.series {
            if let Some(p) = s.label("provider_id").filter(|p| !p.is_empty()) {
                provider_ids.insert(keys.node_name(s), p);
            }
        }
        Ok(Self {
            pod_labels: prefixed(results.get(QueryId::PodLabels)?, "label_", pod_key),
            pod_annotations: prefixed(
                results.get(QueryId::PodAnnotations)?,
                "annotation_",
                pod_key,
            ),
            ns_labels: prefixed(results.get(QueryId::NamespaceLabels)?, "label_", ns_key),
            ns_annotations: prefixed(
                results.get(QueryId::NamespaceAnnotations)?,
                "annotation_",
                ns_key,
            ),
            owners: controllers(
                keys,
                results.get(QueryId::PodOwners)?,
                results.get(QueryId::ReplicasetOwners)?,
            ),
            node_labels: node_labels(results.get(QueryId::NodeLabels)?, keys, cfg),
            provider_ids,
        })
    }

    /// The pod's own labels, as kube-state-metrics reported them.
    pub(crate) fn pod_labels(&self, pod: &PodName<'_>) -> Labels {
        self.pod_labels.get(pod).cloned().unwrap_or_default()
    }

    /// The pod's labels over the node's allow-listed ones (the pod wins a
    /// clash): the pod's or the node's shared map when the other has none.
    fn labels(&self, pod: &PodName<'_>, node: &NodeName<'_>) -> Labels {
        let nonempty = |l: Option<&Labels>| l.filter(|l| !l.is_empty()).cloned();
        match (
            nonempty(self.node_labels.get(node)),
            nonempty(self.pod_labels.get(pod)),
        ) {
            (Some(mut merged), Some(own)) => {
                merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
                merged
            }
            (one, other) => one.or(other).unwrap_or_default(),
        }
    }

    /// Properties of `pod` on `node` (of the pod's cluster), every field
    /// but the container: node labels on the allow-list merged under the
    /// pod's (the pod wins a clash).
    /// Its text comes from `strings`, shared with the other pods'.
    pub(super) fn properties<'a>(
        &'a self,
        pod: &PodName<'a>,
        node: &'a str,
        strings: &mut Strings<'a>,
    ) -> AllocationProperties {
        let &(cluster, namespace, name) = pod;
        let ns = (cluster, namespace, "");
        let node_name = (cluster, node);
        let (controller_kind, controller) = self
            .owners
            .get(pod)
            .map(|(kind, name)| (strings.get(kind), (*name).into()))
            .unwrap_or_default();
        let provider_id = self
            .provider_ids
            .get(&node_name)
            .map(|p| strings.get(p))
            .unwrap_or_default();
        AllocationProperties {
            cluster: strings.get(cluster),
            node: strings.get(node),
            namespace: strings.get(namespace),
            pod: name.into(),
            controller,
            controller_kind,
            provider_id,
            labels: self.labels(pod, &node_name),
            annotations: self.pod_annotations.get(pod).cloned().unwrap_or_default(),
            namespace_labels: self.ns_labels.get(&ns).cloned().unwrap_or_default(),
            namespace_annotations: self.ns_annotations.get(&ns).cloned().unwrap_or_default(),
            ..AllocationProperties::default()
        }
    }
}

/// Labels with a prefix (`label_`, `annotation_`) stripped, merged over all
/// series of a key.
fn prefixed<'s>(
    r: &'s QueryResult,
    prefix: &str,
    key: impl Fn(&'s Series) -> PodName<'s>,
) -> JoinMap<PodName<'s>, Labels> {
    let mut out: JoinMap<PodName<'s>, Labels> = join_map(r.series.len());
    for s in &r.series {
        let entry = out.entry(key(s)).or_default();
        for (name, value) in &s.labels {
            if let Some(stripped) = name.strip_prefix(prefix) {
                entry.insert(stripped.to_owned(), value.to_string());
            }
        }
    }
    out
}

/// Node labels on the allow-list, under their sanitized names as
/// kube-state-metrics writes them.
fn node_labels<'s>(
    r: &'s QueryResult,
    keys: &Keys<'s>,
    cfg: &EngineConfig,
) -> JoinMap<NodeName<'s>, Labels> {
    let allowed: Vec<String> = cfg
        .node_labels
        .iter()
        .map(|l| sanitize_label_name(l))
        .collect();
    let mut out: JoinMap<NodeName<'s>, Labels> = JoinMap::default();
    for s in &r.series {
        let entry = out.entry(keys.node_name(s)).or_default();
        for (name, value) in &s.labels {
            if let Some(l) = name.strip_prefix("label_")
                && allowed.iter().any(|a| a == l)
            {
                entry.insert(l.to_owned(), value.to_string());
            }
        }
    }
    out
}

/// `<cronjob>-<10 or 8 digits>` is a Job a CronJob created: report the
/// CronJob, as OpenCost does.
fn job_controller(name: &str) -> &str {
    if let Some((base, suffix)) = name.rsplit_once('-')
        && (suffix.len() == 10 || suffix.len() == 8)
        && suffix.bytes().all(|b| b.is_ascii_digit())
    {
        return base;
    }
    name
}

/// Controllers per pod from `kube_pod_owner` and `kube_replicaset_owner`:
/// (kind, name).
fn controllers<'s>(
    keys: &Keys<'s>,
    pod_owners: &'s QueryResult,
    rs_owners: &'s QueryResult,
) -> JoinMap<PodName<'s>, (String, &'s str)> {
    let label = |s: &'s Series, name| s.label(name).unwrap_or_default();
    let mut rs: JoinMap<PodName<'s>, (&'s str, &'s str)> = JoinMap::default();
    for s in &rs_owners.series {
        let (cluster, namespace, _) = keys.pod_name(s);
        rs.insert(
            (cluster, namespace, label(s, "replicaset")),
            (label(s, "owner_kind"), label(s, "owner_name")),
        );
    }
    let mut out = JoinMap::default();
    for s in &pod_owners.series {
        let pod = keys.pod_name(s);
        let name = label(s, "owner_name");
        let controller = match label(s, "owner_kind") {
            "ReplicaSet" => match rs.get(&(pod.0, pod.1, name)) {
                Some(&("Deployment", n)) => ("deployment".to_owned(), n),
                Some(&("Rollout", n)) => ("rollout".to_owned(), n),
                _ => ("replicaset".to_owned(), name),
            },
            "Job" => ("job".to_owned(), job_controller(name)),
            "" | "<none>" => continue,
            other => (other.to_ascii_lowercase(), name),
        };
        out.insert(pod, controller);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::job_controller;

    #[test]
    fn cronjob_jobs_report_the_cronjob() {
        assert_eq!(job_controller("report-28312345"), "report");
        assert_eq!(job_controller("report-2831234567"), "report");
        assert_eq!(job_controller("migrate"), "migrate");
        assert_eq!(job_controller("migrate-abc"), "migrate-abc");
    }
}
