//! What an aggregation does besides grouping: [`AggregationOptions`] and
//! [`ShareSplit`], and the questions the steps ask of them (is this
//! allocation shared, does it pass the filter).

use std::collections::BTreeMap;

use crate::allocation::Allocation;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::properties::{
    AllocationProperties, LabelConfig, MetadataMerge, SHARED, sanitize_label_name,
};

/// How shared cost is split among the aggregated allocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ShareSplit {
    /// In proportion to each key's own cost (OpenCost's default).
    #[default]
    Weighted,
    /// The same amount to every key.
    Even,
}

/// What [`AllocationSet::aggregate_by`](crate::AllocationSet::aggregate_by)
/// does besides grouping (OpenCost's `AllocationAggregationOptions`).
#[derive(Clone, Debug, Default)]
pub struct AggregationOptions {
    /// Only allocations matching this filter are kept; the rest is reported
    /// in [`Aggregated::filtered_out`](super::Aggregated::filtered_out).
    pub filter: Option<Filter>,
    /// Idle is per node (`cluster/node`) rather than per cluster.
    pub idle_by_node: bool,
    /// Distribute idle onto allocations, weighted by cost per resource.
    pub share_idle: bool,
    /// Keep idle per cluster (or node) instead of one `__idle__`.
    pub split_idle: bool,
    /// Namespaces whose cost is shared out instead of shown.
    pub share_namespaces: Vec<String>,
    /// `(label, value)` pairs whose allocations are shared out.
    pub share_labels: Vec<(String, String)>,
    /// How shared cost is split.
    pub share_split: ShareSplit,
    /// Extra costs in $/hour, by name, shared like a shared namespace
    /// (e.g. a support contract). Each becomes `<name>/__shared__`.
    pub shared_hourly_costs: BTreeMap<String, f64>,
    /// Record where each allocation's shared cost came from.
    pub include_shared_cost_breakdown: bool,
    /// Which labels the department/environment/owner/product/team aliases
    /// read.
    pub label_config: LabelConfig,
    /// Collapse every key containing `__unallocated__` into exactly
    /// `__unallocated__`.
    pub merge_unallocated: bool,
    /// How labels, annotations and services survive merging.
    pub metadata: MetadataMerge,
}

impl AggregationOptions {
    /// Whether `a` is shared out (shared namespace or label) rather than
    /// shown. Idle and external allocations never are.
    pub(super) fn is_shared(&self, a: &Allocation) -> bool {
        if a.is_idle() || a.is_external() {
            return false;
        }
        let p = &a.properties;
        self.share_namespaces.iter().any(|ns| *ns == p.namespace)
            || self.share_labels.iter().any(|(k, v)| {
                p.labels
                    .get(&sanitize_label_name(k))
                    .is_some_and(|x| x == v)
            })
    }

    /// Whether properties `p` pass the filter (all do without one).
    pub(super) fn passes(&self, p: &AllocationProperties) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.matches(p, &self.label_config))
    }

    /// Name of the shared-cost source of a shared allocation, for the
    /// breakdown.
    pub(super) fn breakdown_name(&self, a: &Allocation) -> String {
        let p = &a.properties;
        if self.share_namespaces.iter().any(|ns| *ns == p.namespace) {
            return p.namespace.to_string();
        }
        for (k, v) in &self.share_labels {
            if p.labels.get(&sanitize_label_name(k)) == Some(v) {
                return v.clone();
            }
        }
        a.name
            .strip_suffix(&format!("/{SHARED}"))
            .map_or_else(|| "unknown".to_owned(), str::to_owned)
    }

    /// Refuse shared hourly costs that are negative or not finite.
    pub(super) fn validate(&self) -> Result<()> {
        for (name, rate) in &self.shared_hourly_costs {
            if !rate.is_finite() || *rate < 0.0 {
                return Err(Error::InvalidAggregation {
                    input: format!("shared hourly cost {name}={rate}"),
                    reason: "shared hourly costs must be finite and non-negative".into(),
                });
            }
        }
        Ok(())
    }
}
