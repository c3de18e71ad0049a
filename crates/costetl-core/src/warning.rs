//! What a computation warns about, as data: a [`Warning`] has a kind (for
//! summaries and routing), the cluster and node it concerns when it
//! concerns one, and the text a person reads. Sets, ETL files and JSON
//! carry them; a CLI summarises them by kind.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The backend's own warning or info (Thanos partial responses, Mimir
    /// truncation, PromQL infos).
    Backend,
    /// The backend refused a query as too large; the window was computed
    /// in parts.
    Split,
    /// Series without the cluster label, attributed to the default cluster.
    MissingClusterLabel,
    /// Duplicate kube-state-metrics series, counted once.
    DuplicateSeries,
    /// Series without the pod uid (or a stale one), joined by pod name or
    /// dropped.
    PodUid,
    /// Samples that are not numbers, negative or implausible.
    BadSamples,
    /// A query whose series joined no running container.
    Unjoined,
    /// A node with no price series, priced with the default prices.
    DefaultPrices,
    /// A node priced at only some of its steps.
    PartialPrice,
    /// A node price with NaN or ±Inf samples.
    NonFinitePrice,
    /// More requested or used on a node than its capacity (negative idle).
    OverAllocated,
    /// Allocations on a node whose capacity is unknown (no idle for it).
    UnknownCapacity,
    /// Network egress without a price series, not charged.
    UnpricedNetwork,
    /// Aggregation could not do what was asked (idle without a node,
    /// shared cost without a recipient, a share rule matching nothing).
    Aggregation,
    /// A stored file the read expected is missing.
    MissingFile,
    /// A stored file that does not decode (damaged), left out of a read.
    DamagedFile,
    /// A warning stored as bare text by an older costetl.
    Other,
}

impl WarningKind {
    /// The kind's name, as serialised (`over_allocated`, …).
    pub fn as_str(self) -> &'static str {
        use WarningKind::*;
        match self {
            Backend => "backend",
            Split => "split",
            MissingClusterLabel => "missing_cluster_label",
            DuplicateSeries => "duplicate_series",
            PodUid => "pod_uid",
            BadSamples => "bad_samples",
            Unjoined => "unjoined",
            DefaultPrices => "default_prices",
            PartialPrice => "partial_price",
            NonFinitePrice => "non_finite_price",
            OverAllocated => "over_allocated",
            UnknownCapacity => "unknown_capacity",
            UnpricedNetwork => "unpriced_network",
            Aggregation => "aggregation",
            MissingFile => "missing_file",
            DamagedFile => "damaged_file",
            Other => "other",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One warning. Empty `cluster` and `node` mean "not about one in
/// particular" (a fleet-wide query, an aggregation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The cluster it concerns, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// The node it concerns (with `cluster`), or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// The text a person reads; it names the cluster and node itself.
    pub message: String,
}

impl Warning {
    /// A warning about nothing in particular.
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            cluster: String::new(),
            node: String::new(),
            message: message.into(),
        }
    }

    /// The same warning, about `cluster`.
    #[must_use]
    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = cluster.into();
        self
    }

    /// The same warning, about `node` of `cluster`.
    #[must_use]
    pub fn node(mut self, cluster: impl Into<String>, node: impl Into<String>) -> Self {
        self.cluster = cluster.into();
        self.node = node.into();
        self
    }

    /// Whether the warning belongs with `cluster`'s part of a fleet's set:
    /// it names that cluster, or none.
    pub fn concerns(&self, cluster: &str) -> bool {
        self.cluster.is_empty() || self.cluster == cluster
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_kind_by_name_and_skips_empty_places() {
        let w =
            Warning::new(WarningKind::OverAllocated, "node a/n1 is over-allocated").node("a", "n1");
        let text = serde_json::to_string(&w).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"over_allocated","cluster":"a","node":"n1","message":"node a/n1 is over-allocated"}"#
        );
        assert_eq!(serde_json::from_str::<Warning>(&text).unwrap(), w);
        let fleet = Warning::new(WarningKind::Backend, "partial");
        assert_eq!(
            serde_json::to_string(&fleet).unwrap(),
            r#"{"kind":"backend","message":"partial"}"#
        );
        for k in [WarningKind::MissingClusterLabel, WarningKind::Other] {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(k.as_str())
            );
        }
    }

    #[test]
    fn a_warning_concerns_its_cluster_or_all() {
        let fleet = Warning::new(WarningKind::PodUid, "x");
        assert!(fleet.concerns("a") && fleet.concerns("b"));
        let a = fleet.clone().cluster("a");
        assert!(a.concerns("a") && !a.concerns("ab"));
    }
}
