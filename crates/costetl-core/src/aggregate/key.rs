//! Naming aggregated allocations: the key an allocation is aggregated
//! under, step 5 (drop what the filter rejects, rename the rest to its key
//! and merge), and the properties an aggregated allocation keeps whatever
//! the merge does.

use std::collections::HashMap;

use super::AggregationOptions;
use crate::allocation::Allocation;
use crate::properties::{
    AggregationProperty, AllocationProperties, LabelConfig, UNALLOCATED, sanitize_label_name,
    write_key,
};
use crate::set::AllocationSet;

/// The aggregation key of an allocation: `by` applied to its properties
/// (with `merge_unallocated`), or its own name when `by` is `None`.
#[derive(Clone, Copy)]
pub(super) struct Keys<'a> {
    by: Option<&'a [AggregationProperty]>,
    opts: &'a AggregationOptions,
}

impl<'a> Keys<'a> {
    pub(super) fn new(by: Option<&'a [AggregationProperty]>, opts: &'a AggregationOptions) -> Self {
        Self { by, opts }
    }

    /// The key `a` is aggregated under.
    pub(super) fn of(&self, a: &Allocation) -> String {
        let mut key = String::new();
        self.write(a, &mut key);
        key
    }

    /// [`Self::of`] into `key`, reusing its buffer.
    pub(super) fn write(&self, a: &Allocation, key: &mut String) {
        let Some(by) = self.by else {
            key.clone_from(&a.name);
            return;
        };
        write_key(
            &a.properties,
            a.is_unmounted(),
            by,
            &self.opts.label_config,
            key,
        );
        if self.opts.merge_unallocated && key.contains(UNALLOCATED) {
            key.clear();
            key.push_str(UNALLOCATED);
        }
    }
}

/// Step 5: what the filter rejects goes to `filtered`; the rest is renamed
/// to its key and merged into `out`, keeping the properties it was
/// aggregated by.
pub(super) fn filter_and_key(
    regular: impl Iterator<Item = Allocation>,
    external: Vec<Allocation>,
    keys: Keys<'_>,
    out: &mut AllocationSet,
    filtered: &mut Allocation,
) {
    let opts = keys.opts;
    let mut first_member: HashMap<String, AllocationProperties> = HashMap::new();
    let metadata = out.metadata;
    // One key buffer: most allocations merge into a key already there, and
    // need no key of their own.
    let mut key = String::new();
    for mut a in regular {
        if !opts.passes(&a.properties) {
            filtered.add_scaled(&a, 1.0);
            continue;
        }
        keys.write(&a, &mut key);
        if keys.by.is_some() && !first_member.contains_key(&key) {
            first_member.insert(key.clone(), a.properties.clone());
        }
        match out.get_mut(&key) {
            Some(existing) => existing.add(&a, metadata),
            None => {
                a.name.clone_from(&key);
                out.insert(a);
            }
        }
    }
    for mut a in external {
        if opts.passes(&a.properties) {
            a.name = keys.of(&a);
            out.insert(a);
        } else {
            filtered.add_scaled(&a, 1.0);
        }
    }
    if let Some(by) = keys.by {
        for (key, from) in &first_member {
            if let Some(a) = out.get_mut(key) {
                restore_key_properties(&mut a.properties, from, by, &opts.label_config);
            }
        }
    }
}

/// The properties an aggregated allocation keeps whatever the merge does:
/// the ones it was aggregated by (all members share them by construction).
fn restore_key_properties(
    to: &mut AllocationProperties,
    from: &AllocationProperties,
    by: &[AggregationProperty],
    lc: &LabelConfig,
) {
    use AggregationProperty as P;
    let copy_label = |to: &mut AllocationProperties, name: &str| {
        let k = sanitize_label_name(name);
        if let Some(v) = from.labels.get(&k) {
            to.labels.insert(k.clone(), v.clone());
        }
        if let Some(v) = from.annotations.get(&k) {
            to.annotations.insert(k, v.clone());
        }
    };
    for p in by {
        match p {
            P::Cluster => to.cluster.clone_from(&from.cluster),
            P::Node => to.node.clone_from(&from.node),
            P::Namespace => to.namespace.clone_from(&from.namespace),
            P::Pod => to.pod.clone_from(&from.pod),
            P::Container => to.container.clone_from(&from.container),
            P::ProviderId => to.provider_id.clone_from(&from.provider_id),
            P::ControllerKind => to.controller_kind.clone_from(&from.controller_kind),
            P::Controller | P::Deployment | P::StatefulSet | P::DaemonSet | P::Job => {
                to.controller.clone_from(&from.controller);
                to.controller_kind.clone_from(&from.controller_kind);
            }
            P::Service => {
                if let Some(first) = from.services.first()
                    && to.services.first() != Some(first)
                {
                    to.services.retain(|s| s != first);
                    to.services.insert(0, first.clone());
                }
            }
            P::Label(name) => {
                let k = sanitize_label_name(name);
                if let Some(v) = from.labels.get(&k) {
                    to.labels.insert(k, v.clone());
                }
            }
            P::Annotation(name) => {
                let k = sanitize_label_name(name);
                if let Some(v) = from.annotations.get(&k) {
                    to.annotations.insert(k, v.clone());
                }
            }
            P::Alias(alias) => {
                for name in lc.labels_for(*alias) {
                    copy_label(to, name);
                }
            }
        }
    }
}
