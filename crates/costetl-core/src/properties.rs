//! What an allocation belongs to: [`AllocationProperties`], the label alias
//! map ([`LabelConfig`]), and the aggregation keys ([`AggregationProperty`])
//! that turn properties into the names of aggregated allocations.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// Key segment for an allocation that lacks the aggregated property.
pub const UNALLOCATED: &str = "__unallocated__";
/// Name segment of idle allocations (node cost nobody was allocated).
pub const IDLE: &str = "__idle__";
/// Name segment of PV and load-balancer cost without a consumer.
pub const UNMOUNTED: &str = "__unmounted__";
/// Name segment of shared-cost allocations (shared hourly costs, or shared
/// cost that found no recipient).
pub const SHARED: &str = "__shared__";
/// Name segment of external (out-of-cluster) allocations.
pub const EXTERNAL: &str = "__external__";

pub use crate::labels::Labels;
/// A property's text: shared, cheap to clone (the containers of a pod, the
/// allocations of a node hold one copy of its name).
pub use arcstr::ArcStr;

/// Kubernetes identity of an allocation, field for field with OpenCost's
/// `AllocationProperties`. Empty strings mean "not known".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocationProperties {
    /// Cluster id (the value of the configured cluster label).
    pub cluster: ArcStr,
    /// Node the allocation ran on.
    pub node: ArcStr,
    /// Container name.
    pub container: ArcStr,
    /// Controller name (deployment, statefulset, … name).
    pub controller: ArcStr,
    /// Controller kind in lower case (`deployment`, `statefulset`,
    /// `daemonset`, `job`, `replicaset`, `rollout`).
    pub controller_kind: ArcStr,
    /// Namespace.
    pub namespace: ArcStr,
    /// Pod name.
    pub pod: ArcStr,
    /// Services selecting the pod, sorted.
    pub services: Vec<ArcStr>,
    /// Cloud provider id of the node.
    pub provider_id: ArcStr,
    /// Pod labels (keys sanitised as Prometheus exports them).
    pub labels: Labels,
    /// Pod annotations (keys sanitised).
    pub annotations: Labels,
    /// Labels of the pod's namespace.
    pub namespace_labels: Labels,
    /// Annotations of the pod's namespace.
    pub namespace_annotations: Labels,
}

/// How label-like metadata (labels, annotations, services) survives a merge
/// of two allocations with different properties.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetadataMerge {
    /// OpenCost's default: metadata maps are dropped unless both sides are
    /// identical.
    #[default]
    Drop,
    /// OpenCost's `includeAggregatedMetadata`: keep entries present with the
    /// same value on both sides.
    Intersect,
    /// Keep every entry of either side; where both have a key with different
    /// values, the greater value wins so the result does not depend on merge
    /// order. This is what accumulation over time wants: a label seen in any
    /// window still describes the allocation.
    Union,
}

impl AllocationProperties {
    /// The properties two merged allocations still share (OpenCost's
    /// `Intersection`): scalar fields survive when equal, maps and services
    /// as `metadata` says.
    ///
    /// OpenCost also keeps the known controller when one side of the same
    /// container lacks it. We do not: that rule makes the result depend on
    /// merge order (it is not associative), so a container's controller is
    /// resolved over the whole window before allocations are built instead.
    pub fn intersect(&self, other: &Self, metadata: MetadataMerge) -> Self {
        let mut out = self.clone();
        out.intersect_with(other, metadata);
        out
    }

    /// [`Self::intersect`] in place. Aggregation merges every member into
    /// its key's allocation: what both sides share is kept as it is, so a
    /// merge allocates only where a map loses some of its entries.
    pub fn intersect_with(&mut self, other: &Self, metadata: MetadataMerge) {
        fn keep_same(a: &mut ArcStr, b: &str) {
            if a != b {
                *a = ArcStr::new();
            }
        }
        keep_same(&mut self.cluster, &other.cluster);
        keep_same(&mut self.node, &other.node);
        keep_same(&mut self.container, &other.container);
        keep_same(&mut self.controller, &other.controller);
        keep_same(&mut self.controller_kind, &other.controller_kind);
        keep_same(&mut self.namespace, &other.namespace);
        keep_same(&mut self.pod, &other.pod);
        keep_same(&mut self.provider_id, &other.provider_id);
        // Namespace metadata only describes a single namespace.
        if self.namespace.is_empty() {
            self.namespace_labels = Labels::new();
            self.namespace_annotations = Labels::new();
        } else {
            merge_maps(
                &mut self.namespace_labels,
                &other.namespace_labels,
                metadata,
            );
            merge_maps(
                &mut self.namespace_annotations,
                &other.namespace_annotations,
                metadata,
            );
        }
        merge_maps(&mut self.labels, &other.labels, metadata);
        merge_maps(&mut self.annotations, &other.annotations, metadata);
        match metadata {
            MetadataMerge::Drop if self.services == other.services => {}
            MetadataMerge::Drop => self.services.clear(),
            MetadataMerge::Intersect => self.services.retain(|s| other.services.contains(s)),
            MetadataMerge::Union => {
                self.services.extend(other.services.iter().cloned());
                self.services.sort();
                self.services.dedup();
            }
        }
    }

    /// The value of an aggregation alias (department, team, …): the first
    /// configured label present, else the same-named annotation.
    fn alias_value(&self, label: &str) -> Option<&str> {
        let key = sanitize_label_name(label);
        self.labels
            .get(&key)
            .or_else(|| self.annotations.get(&key))
            .map(String::as_str)
    }
}

/// `a` merged with `b` as `metadata` says, changed (and so copied, if
/// shared) only where the merge changes it.
fn merge_maps(a: &mut Labels, b: &Labels, metadata: MetadataMerge) {
    if Labels::same(a, b) {
        // One shared map: every merge of it with itself is itself.
        return;
    }
    match metadata {
        MetadataMerge::Drop if *a == *b => {}
        MetadataMerge::Drop => *a = Labels::new(),
        MetadataMerge::Intersect => {
            if a.iter().any(|(k, v)| b.get(k) != Some(v)) {
                a.retain(|k, v| b.get(k) == Some(v));
            }
        }
        MetadataMerge::Union => {
            let changes = |(k, v): (&String, &String)| a.get(k).is_none_or(|cur| v > cur);
            if b.iter().any(changes) {
                let map: &mut BTreeMap<String, String> = a;
                for (k, v) in b {
                    map.entry(k.clone())
                        .and_modify(|cur| {
                            if v > cur {
                                cur.clone_from(v);
                            }
                        })
                        .or_insert_with(|| v.clone());
                }
            }
        }
    }
}

/// Prometheus' label-name sanitisation, as kube-state-metrics applies it:
/// trim, then every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Which labels stand for the department/environment/owner/product/team
/// aggregation aliases. Each entry is a comma-separated list of label names;
/// every name in the list becomes one key segment (OpenCost's `LabelConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelConfig {
    /// Labels meaning "department" (default `department`).
    pub department_label: String,
    /// Labels meaning "environment" (default `env`).
    pub environment_label: String,
    /// Labels meaning "owner" (default `owner`).
    pub owner_label: String,
    /// Labels meaning "product" (default `app`).
    pub product_label: String,
    /// Labels meaning "team" (default `team`).
    pub team_label: String,
}

impl Default for LabelConfig {
    fn default() -> Self {
        Self {
            department_label: "department".into(),
            environment_label: "env".into(),
            owner_label: "owner".into(),
            product_label: "app".into(),
            team_label: "team".into(),
        }
    }
}

impl LabelConfig {
    /// The configured label names of an alias, in order.
    pub fn labels_for(&self, alias: Alias) -> impl Iterator<Item = &str> {
        let list = match alias {
            Alias::Department => &self.department_label,
            Alias::Environment => &self.environment_label,
            Alias::Owner => &self.owner_label,
            Alias::Product => &self.product_label,
            Alias::Team => &self.team_label,
        };
        list.split(',').map(str::trim).filter(|s| !s.is_empty())
    }

    /// The values an allocation has for an alias, one per configured label
    /// (`None` where neither label nor annotation is present).
    pub fn alias_values<'a>(
        &'a self,
        props: &'a AllocationProperties,
        alias: Alias,
    ) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.labels_for(alias).map(move |l| props.alias_value(l))
    }
}

/// The label aliases OpenCost offers as aggregation keys and filter fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alias {
    /// `department`
    Department,
    /// `environment`
    Environment,
    /// `owner`
    Owner,
    /// `product`
    Product,
    /// `team`
    Team,
}

impl Alias {
    /// The alias' name as used in `aggregate=` and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Alias::Department => "department",
            Alias::Environment => "environment",
            Alias::Owner => "owner",
            Alias::Product => "product",
            Alias::Team => "team",
        }
    }

    /// All aliases.
    pub const ALL: [Alias; 5] = [
        Alias::Department,
        Alias::Environment,
        Alias::Owner,
        Alias::Product,
        Alias::Team,
    ];
}

/// One aggregation key (one `aggregate=` token).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggregationProperty {
    /// `cluster`
    Cluster,
    /// `node`
    Node,
    /// `namespace`
    Namespace,
    /// `controllerKind`
    ControllerKind,
    /// `controller` (`kind:name`)
    Controller,
    /// `pod`
    Pod,
    /// `container`
    Container,
    /// `service` (the first service)
    Service,
    /// `providerID`
    ProviderId,
    /// `deployment`: the controller name when the kind is deployment.
    Deployment,
    /// `statefulset`
    StatefulSet,
    /// `daemonset`
    DaemonSet,
    /// `job`
    Job,
    /// `label:<name>`
    Label(String),
    /// `annotation:<name>`
    Annotation(String),
    /// `department`, `environment`, `owner`, `product`, `team`
    Alias(Alias),
}

impl AggregationProperty {
    /// Parse one `aggregate=` token, e.g. `namespace`, `label:app`.
    pub fn parse(token: &str) -> Result<Self> {
        let t = token.trim();
        let err = |reason: &str| Error::InvalidAggregation {
            input: token.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(name) = t.strip_prefix("label:") {
            return if name.trim().is_empty() {
                Err(err("label: needs a label name, e.g. label:app"))
            } else {
                Ok(Self::Label(name.trim().to_owned()))
            };
        }
        if let Some(name) = t.strip_prefix("annotation:") {
            return if name.trim().is_empty() {
                Err(err("annotation: needs a name, e.g. annotation:team"))
            } else {
                Ok(Self::Annotation(name.trim().to_owned()))
            };
        }
        Ok(match t {
            "cluster" => Self::Cluster,
            "node" => Self::Node,
            "namespace" => Self::Namespace,
            "controllerKind" => Self::ControllerKind,
            "controller" => Self::Controller,
            "pod" => Self::Pod,
            "container" => Self::Container,
            "service" => Self::Service,
            "providerID" => Self::ProviderId,
            "deployment" => Self::Deployment,
            "statefulset" => Self::StatefulSet,
            "daemonset" => Self::DaemonSet,
            "job" => Self::Job,
            "department" => Self::Alias(Alias::Department),
            "environment" => Self::Alias(Alias::Environment),
            "owner" => Self::Alias(Alias::Owner),
            "product" => Self::Alias(Alias::Product),
            "team" => Self::Alias(Alias::Team),
            _ => {
                return Err(err(
                    "expected cluster, node, namespace, controllerKind, controller, pod, \
                     container, service, providerID, deployment, statefulset, daemonset, job, \
                     department, environment, owner, product, team, label:<name> or \
                     annotation:<name>",
                ));
            }
        })
    }

    /// Parse a comma-separated `aggregate=` list. `all` (or an empty string)
    /// means "everything into one bucket" and yields an empty list.
    pub fn parse_list(list: &str) -> Result<Vec<Self>> {
        let t = list.trim();
        if t.is_empty() || t == "all" {
            return Ok(Vec::new());
        }
        t.split(',').map(Self::parse).collect()
    }

    /// Append this key's segment(s) for an allocation to `out`. Aliases
    /// yield one segment per configured label; `unmounted` allocations key
    /// as `__unmounted__` by service.
    pub fn key_segments<'p>(
        &self,
        props: &'p AllocationProperties,
        unmounted: bool,
        labels: &'p LabelConfig,
        out: &mut impl Extend<Cow<'p, str>>,
    ) {
        let or_unallocated = |v: &'p str| Cow::Borrowed(if v.is_empty() { UNALLOCATED } else { v });
        let controller_named = |kind: &str| {
            Cow::Borrowed(
                if props.controller_kind == kind && !props.controller.is_empty() {
                    props.controller.as_str()
                } else {
                    UNALLOCATED
                },
            )
        };
        let field = |v: &'p ArcStr| Cow::Borrowed(v.as_str());
        match self {
            Self::Cluster => out.extend([field(&props.cluster)]),
            Self::Node => out.extend([field(&props.node)]),
            Self::Namespace => out.extend([field(&props.namespace)]),
            Self::Pod => out.extend([field(&props.pod)]),
            Self::Container => out.extend([field(&props.container)]),
            Self::ProviderId => out.extend([field(&props.provider_id)]),
            Self::ControllerKind => out.extend([or_unallocated(&props.controller_kind)]),
            Self::Controller => out.extend([if props.controller.is_empty() {
                Cow::Borrowed(UNALLOCATED)
            } else if props.controller_kind.is_empty() {
                field(&props.controller)
            } else {
                Cow::Owned(format!("{}:{}", props.controller_kind, props.controller))
            }]),
            Self::Deployment => out.extend([controller_named("deployment")]),
            Self::StatefulSet => out.extend([controller_named("statefulset")]),
            Self::DaemonSet => out.extend([controller_named("daemonset")]),
            Self::Job => out.extend([controller_named("job")]),
            Self::Service => out.extend([Cow::Borrowed(if unmounted {
                UNMOUNTED
            } else {
                props.services.first().map_or(UNALLOCATED, ArcStr::as_str)
            })]),
            Self::Label(name) => out.extend([or_unallocated(
                props
                    .labels
                    .get(&sanitize_label_name(name))
                    .map_or("", String::as_str),
            )]),
            Self::Annotation(name) => out.extend([or_unallocated(
                props
                    .annotations
                    .get(&sanitize_label_name(name))
                    .map_or("", String::as_str),
            )]),
            Self::Alias(alias) => out.extend(
                labels
                    .alias_values(props, *alias)
                    .map(|v| or_unallocated(v.unwrap_or(""))),
            ),
        }
    }
}

impl fmt::Display for AggregationProperty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Cluster => "cluster",
            Self::Node => "node",
            Self::Namespace => "namespace",
            Self::ControllerKind => "controllerKind",
            Self::Controller => "controller",
            Self::Pod => "pod",
            Self::Container => "container",
            Self::Service => "service",
            Self::ProviderId => "providerID",
            Self::Deployment => "deployment",
            Self::StatefulSet => "statefulset",
            Self::DaemonSet => "daemonset",
            Self::Job => "job",
            Self::Label(l) => return write!(f, "label:{l}"),
            Self::Annotation(a) => return write!(f, "annotation:{a}"),
            Self::Alias(a) => a.as_str(),
        };
        f.write_str(s)
    }
}

/// The aggregated name of an allocation with these properties: the key
/// segments joined by `/` (OpenCost's `GenerateKey`).
pub fn generate_key(
    props: &AllocationProperties,
    unmounted: bool,
    by: &[AggregationProperty],
    labels: &LabelConfig,
) -> String {
    let mut key = String::new();
    write_key(props, unmounted, by, labels, &mut key);
    key
}

/// [`generate_key`] into `key` (cleared first), so that aggregating a set
/// can look each allocation's key up without allocating one.
pub fn write_key(
    props: &AllocationProperties,
    unmounted: bool,
    by: &[AggregationProperty],
    labels: &LabelConfig,
    key: &mut String,
) {
    key.clear();
    let mut joined = Joined { key, first: true };
    for p in by {
        p.key_segments(props, unmounted, labels, &mut joined);
    }
}

/// Segments appended to a key, `/` between them.
struct Joined<'k> {
    key: &'k mut String,
    first: bool,
}

impl<'p> Extend<Cow<'p, str>> for Joined<'_> {
    fn extend<I: IntoIterator<Item = Cow<'p, str>>>(&mut self, segments: I) {
        for segment in segments {
            if !std::mem::take(&mut self.first) {
                self.key.push('/');
            }
            self.key.push_str(&segment);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn key(p: &AllocationProperties, by: &str, lc: &LabelConfig) -> String {
        generate_key(p, false, &AggregationProperty::parse_list(by).unwrap(), lc)
    }

    #[test]
    fn generate_key_matches_opencost_vectors() {
        let lc = LabelConfig::default();
        let mut p = AllocationProperties {
            cluster: "cluster1".into(),
            labels: labels(&[("app", "app1"), ("env", "env1")]),
            ..Default::default()
        };
        assert_eq!(key(&p, "cluster", &lc), "cluster1");
        assert_eq!(
            key(&p, "cluster,namespace,label:app", &lc),
            "cluster1//app1"
        );
        p.namespace = "namespace1".into();
        assert_eq!(
            key(&p, "cluster,namespace,label:app", &lc),
            "cluster1/namespace1/app1"
        );

        p.labels = labels(&[
            ("department", "dept1"),
            ("env", "envt1"),
            ("owner", "ownr1"),
            ("app", "prod1"),
            ("team", "team1"),
        ]);
        assert_eq!(
            key(&p, "department,environment,owner,product,team", &lc),
            "dept1/envt1/ownr1/prod1/team1"
        );
    }

    #[test]
    fn generate_key_with_custom_label_config() {
        let lc = LabelConfig {
            department_label: "prom/illegal-department".into(),
            environment_label: " env ".into(),
            owner_label: "$owner%".into(),
            product_label: "app.kubernetes.io/app".into(),
            team_label: "team,app.kubernetes.io/team,k8s-team".into(),
        };
        let p = AllocationProperties {
            labels: labels(&[
                ("prom_illegal_department", "dept1"),
                ("env", "envt1"),
                ("_owner_", "ownr1"),
                ("team", "team1"),
                ("app_kubernetes_io_app", "prod1"),
                ("app_kubernetes_io_team", "team2"),
            ]),
            ..Default::default()
        };
        assert_eq!(
            key(&p, "department,environment,owner,product,team", &lc),
            "dept1/envt1/ownr1/prod1/team1/team2/__unallocated__"
        );
    }

    #[test]
    fn alias_falls_back_to_annotation() {
        let p = AllocationProperties {
            annotations: labels(&[("team", "from-annotation")]),
            ..Default::default()
        };
        assert_eq!(key(&p, "team", &LabelConfig::default()), "from-annotation");
    }

    #[test]
    fn controller_keys() {
        let lc = LabelConfig::default();
        let p = AllocationProperties {
            controller: "web".into(),
            controller_kind: "deployment".into(),
            ..Default::default()
        };
        assert_eq!(key(&p, "controller", &lc), "deployment:web");
        assert_eq!(key(&p, "controllerKind", &lc), "deployment");
        assert_eq!(key(&p, "deployment", &lc), "web");
        assert_eq!(key(&p, "statefulset", &lc), UNALLOCATED);
        let none = AllocationProperties::default();
        assert_eq!(key(&none, "controller", &lc), UNALLOCATED);
        assert_eq!(key(&none, "service", &lc), UNALLOCATED);
        assert_eq!(
            generate_key(&none, true, &[AggregationProperty::Service], &lc),
            UNMOUNTED
        );
    }

    #[test]
    fn parse_rejects_unknown_tokens() {
        let e = AggregationProperty::parse_list("namespace,bogus").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        assert!(AggregationProperty::parse("label:").is_err());
        assert_eq!(AggregationProperty::parse_list("all").unwrap(), vec![]);
        for t in [
            "cluster",
            "controllerKind",
            "providerID",
            "label:app",
            "annotation:team",
            "team",
        ] {
            assert_eq!(AggregationProperty::parse(t).unwrap().to_string(), t);
        }
    }

    #[test]
    fn intersect_keeps_common_scalars_and_merges_metadata() {
        let a = AllocationProperties {
            cluster: "c".into(),
            namespace: "ns".into(),
            pod: "p1".into(),
            labels: labels(&[("app", "a"), ("tier", "web")]),
            services: vec!["s1".into()],
            ..Default::default()
        };
        let b = AllocationProperties {
            cluster: "c".into(),
            namespace: "ns".into(),
            pod: "p2".into(),
            labels: labels(&[("app", "a"), ("tier", "db"), ("x", "1")]),
            services: vec!["s2".into()],
            ..Default::default()
        };
        let d = a.intersect(&b, MetadataMerge::Drop);
        assert_eq!(
            (d.cluster.as_str(), d.namespace.as_str(), d.pod.as_str()),
            ("c", "ns", "")
        );
        assert!(d.labels.is_empty() && d.services.is_empty());
        let i = a.intersect(&b, MetadataMerge::Intersect);
        assert_eq!(i.labels, labels(&[("app", "a")]));
        let u = a.intersect(&b, MetadataMerge::Union);
        assert_eq!(
            u.labels,
            labels(&[("app", "a"), ("tier", "web"), ("x", "1")])
        );
        assert_eq!(u.services, vec!["s1".to_owned(), "s2".to_owned()]);
        assert_eq!(u, b.intersect(&a, MetadataMerge::Union));
    }

    #[test]
    fn intersect_drops_a_controller_known_on_one_side_only() {
        let a = AllocationProperties {
            cluster: "c".into(),
            pod: "p".into(),
            container: "k".into(),
            ..Default::default()
        };
        let b = AllocationProperties {
            controller: "web".into(),
            controller_kind: "deployment".into(),
            ..a.clone()
        };
        let m = a.intersect(&b, MetadataMerge::Drop);
        assert_eq!((m.controller.as_str(), m.pod.as_str()), ("", "p"));
    }
}
