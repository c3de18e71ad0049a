//! What an allocation says besides its numbers: pod and namespace labels
//! and annotations, the controller, node labels and provider ids.

use super::keys::JoinMap;

use crate::error::Result;
use crate::plan::{EngineConfig, QueryId};
use crate::promjson::{QueryResult, Series};
use crate::properties::{AllocationProperties, Labels, sanitize_label_name};

use super::keys::{Keys, NodeKey, PodKey};
use super::results::Results;

/// The metadata of one window, looked up per pod, namespace and node.
pub(crate) struct Metadata {
    pod_labels: JoinMap<PodKey, Labels>,
    pod_annotations: JoinMap<PodKey, Labels>,
    ns_labels: JoinMap<PodKey, Labels>,
    ns_annotations: JoinMap<PodKey, Labels>,
    owners: JoinMap<PodKey, (String, String)>,
    node_labels: JoinMap<NodeKey, Labels>,
    pub(crate) provider_ids: JoinMap<NodeKey, String>,
}

impl Metadata {
    pub(crate) fn read(results: &Results, keys: &Keys<'_>, cfg: &EngineConfig) -> Result<Self> {
        let pod_key = |s: &Series| Some(keys.pod(s));
        let ns_key = |s: &Series| {
            Some(PodKey {
                pod: String::new(),
                ..keys.pod(s)
            })
        };
        let mut provider_ids = JoinMap::default();
        for s in &results.get(QueryId::NodeInfo)?.series {
            if let Some(p) = s.label("provider_id").filter(|p| !p.is_empty()) {
                provider_ids.insert(keys.node(s), p.to_owned());
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
    pub(crate) fn pod_labels(&self, pod: &PodKey) -> Labels {
        self.pod_labels.get(pod).cloned().unwrap_or_default()
    }

    /// The pod's labels over the node's allow-listed ones (the pod wins a
    /// clash): the pod's or the node's shared map when the other has none.
    fn labels(&self, pod: &PodKey, node: &NodeKey) -> Labels {
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

    /// Properties of a container of `pod` on `node`: node labels on the
    /// allow-list merged under the pod's (the pod wins a clash).
    pub(crate) fn properties(
        &self,
        pod: &PodKey,
        node: &NodeKey,
        container: &str,
    ) -> AllocationProperties {
        let ns = PodKey {
            pod: String::new(),
            ..pod.clone()
        };
        let (controller_kind, controller) = self.owners.get(pod).cloned().unwrap_or_default();
        AllocationProperties {
            cluster: pod.cluster.clone(),
            node: node.node.clone(),
            namespace: pod.namespace.clone(),
            pod: pod.pod.clone(),
            container: container.to_owned(),
            controller,
            controller_kind,
            provider_id: self.provider_ids.get(node).cloned().unwrap_or_default(),
            labels: self.labels(pod, node),
            annotations: self.pod_annotations.get(pod).cloned().unwrap_or_default(),
            namespace_labels: self.ns_labels.get(&ns).cloned().unwrap_or_default(),
            namespace_annotations: self.ns_annotations.get(&ns).cloned().unwrap_or_default(),
            ..AllocationProperties::default()
        }
    }
}

/// Labels with a prefix (`label_`, `annotation_`) stripped, merged over all
/// series of a key.
fn prefixed(
    r: &QueryResult,
    prefix: &str,
    key: impl Fn(&Series) -> Option<PodKey>,
) -> JoinMap<PodKey, Labels> {
    let mut out: JoinMap<PodKey, Labels> = JoinMap::default();
    for s in &r.series {
        let Some(k) = key(s) else { continue };
        let entry = out.entry(k).or_default();
        for (name, value) in &s.labels {
            if let Some(stripped) = name.strip_prefix(prefix) {
                entry.insert(stripped.to_owned(), value.clone());
            }
        }
    }
    out
}

/// Node labels on the allow-list, under their sanitized names as
/// kube-state-metrics writes them.
fn node_labels(r: &QueryResult, keys: &Keys<'_>, cfg: &EngineConfig) -> JoinMap<NodeKey, Labels> {
    let allowed: Vec<String> = cfg
        .node_labels
        .iter()
        .map(|l| sanitize_label_name(l))
        .collect();
    let mut out: JoinMap<NodeKey, Labels> = JoinMap::default();
    for s in &r.series {
        let entry = out.entry(keys.node(s)).or_default();
        for (name, value) in &s.labels {
            if let Some(l) = name.strip_prefix("label_")
                && allowed.iter().any(|a| a == l)
            {
                entry.insert(l.to_owned(), value.clone());
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

/// Controllers per pod from `kube_pod_owner` and `kube_replicaset_owner`.
fn controllers(
    keys: &Keys<'_>,
    pod_owners: &QueryResult,
    rs_owners: &QueryResult,
) -> JoinMap<PodKey, (String, String)> {
    let mut rs: JoinMap<(String, String, String), (String, String)> = JoinMap::default();
    for s in &rs_owners.series {
        rs.insert(
            (
                keys.cluster(s),
                Keys::label(s, "namespace"),
                Keys::label(s, "replicaset"),
            ),
            (Keys::label(s, "owner_kind"), Keys::label(s, "owner_name")),
        );
    }
    let mut out = JoinMap::default();
    for s in &pod_owners.series {
        let pod = keys.pod(s);
        let kind = Keys::label(s, "owner_kind");
        let name = Keys::label(s, "owner_name");
        let controller = match kind.as_str() {
            "ReplicaSet" => {
                match rs.get(&(pod.cluster.clone(), pod.namespace.clone(), name.clone())) {
                    Some((k, n)) if k == "Deployment" => ("deployment".to_owned(), n.clone()),
                    Some((k, n)) if k == "Rollout" => ("rollout".to_owned(), n.clone()),
                    _ => ("replicaset".to_owned(), name),
                }
            }
            "Job" => ("job".to_owned(), job_controller(&name).to_owned()),
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
