//! Which clusters a diagnosis reports on, and where series without the
//! cluster label go.

use std::collections::{BTreeMap, BTreeSet};

use super::answers::Answers;
use super::plan::{Check, Kind};
use crate::plan::EngineConfig;
use crate::promjson::Series;

/// The clusters the diagnosis reports on, and where unlabelled series go.
pub(super) struct Scope<'a> {
    pub(super) label: &'a str,
    pub(super) clusters: BTreeSet<String>,
    /// The cluster unlabelled series count for, if the engine would join
    /// them correctly.
    pub(super) unlabeled_to: Option<String>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(cfg: &'a EngineConfig, checks: &[Check], answers: &Answers) -> Self {
        let label = cfg.cluster_label.as_str();
        if let Some(c) = &cfg.cluster_filter {
            return Self {
                label,
                clusters: BTreeSet::from([c.clone()]),
                unlabeled_to: None,
            };
        }
        let mut clusters = BTreeSet::new();
        let mut unlabeled = false;
        for c in checks {
            if !matches!(c.kind, Kind::Presence(_) | Kind::KsmVersion) {
                continue;
            }
            for s in answers
                .get(&c.query.id)
                .map_or(&[][..], |r| r.series.as_slice())
            {
                match s.label(label) {
                    Some(v) if !v.is_empty() => {
                        clusters.insert(v.to_owned());
                    }
                    _ => unlabeled = true,
                }
            }
        }
        let default = &cfg.default_cluster;
        let unlabeled_to = if clusters.is_empty() && unlabeled {
            clusters.insert(default.clone());
            Some(default.clone())
        } else {
            clusters.contains(default).then(|| default.clone())
        };
        Self {
            label,
            clusters,
            unlabeled_to,
        }
    }

    pub(super) fn cluster_of(&self, s: &Series) -> Option<String> {
        match s.label(self.label) {
            Some(c) if !c.is_empty() => Some(c.to_owned()),
            _ => self.unlabeled_to.clone(),
        }
    }

    /// Every cluster to report on: the scope's and any other found.
    pub(super) fn keys<T>(&self, found: &BTreeMap<Option<String>, T>) -> Vec<Option<String>> {
        let mut keys: BTreeSet<Option<String>> = self.clusters.iter().cloned().map(Some).collect();
        keys.extend(found.keys().cloned());
        keys.into_iter().collect()
    }
}
