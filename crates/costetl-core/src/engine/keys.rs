//! Join keys read off series labels, with the configured cluster label and
//! default cluster.

use crate::warning::{Warning, WarningKind};
use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::plan::EngineConfig;
use crate::promjson::{QueryResult, Series};

/// The join maps hash with foldhash: keys come from the cluster, not from
/// an attacker on the request path, and foldhash hashes them several times
/// faster than std's SipHash. Its fixed seed keeps a map's iteration order
/// the same from run to run, so sums taken in that order (and the ETL
/// files written from them) are the same to the last bit.
pub(crate) type JoinMap<K, V> = HashMap<K, V, JoinHasher>;

/// The hasher of the join maps and of every table keyed like them.
pub(crate) type JoinHasher = foldhash::fast::FixedState;

/// An empty [`JoinMap`] with room for `n` keys: a fleet's maps hold tens
/// of thousands, and growing one rehashes every key it holds (reading each
/// key's strings again, at random, past what the caches hold).
pub(crate) fn join_map<K, V>(n: usize) -> JoinMap<K, V> {
    JoinMap::with_capacity_and_hasher(n, Default::default())
}

/// A set hashed as [`JoinMap`]s are.
pub(crate) type JoinSet<K> = HashSet<K, JoinHasher>;

/// One container of one pod incarnation, borrowed from the series' labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ContainerKey<'s> {
    pub(crate) cluster: &'s str,
    pub(crate) namespace: &'s str,
    pub(crate) pod: &'s str,
    pub(crate) uid: &'s str,
    pub(crate) container: &'s str,
}

/// One container as cAdvisor names it: no uid, but the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CadvisorKey<'s> {
    pub(crate) cluster: &'s str,
    pub(crate) namespace: &'s str,
    pub(crate) pod: &'s str,
    pub(crate) container: &'s str,
    pub(crate) node: &'s str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeKey {
    pub(crate) cluster: String,
    pub(crate) node: String,
}

impl NodeKey {
    /// A warning about this node.
    pub(crate) fn warn(&self, kind: WarningKind, message: String) -> Warning {
        Warning::new(kind, message).node(&self.cluster, &self.node)
    }
}

/// A pod by name, borrowed from labels: (cluster, namespace, pod). A
/// namespace is `(cluster, namespace, "")`.
pub(crate) type PodName<'s> = (&'s str, &'s str, &'s str);

/// A node, borrowed from labels: (cluster, node).
pub(crate) type NodeName<'s> = (&'s str, &'s str);

impl<'s> ContainerKey<'s> {
    /// The pod (by name) the container belongs to.
    pub(crate) fn pod_name(&self) -> PodName<'s> {
        (self.cluster, self.namespace, self.pod)
    }
}

/// Reads series labels with the configured cluster label and default.
pub(crate) struct Keys<'a> {
    pub(crate) cfg: &'a EngineConfig,
}

impl<'a> Keys<'a> {
    pub(crate) fn cluster(&self, s: &Series) -> String {
        self.cluster_str(s).to_owned()
    }

    pub(crate) fn cluster_str<'s>(&self, s: &'s Series) -> &'s str
    where
        'a: 's,
    {
        match s.label(&self.cfg.cluster_label) {
            Some(c) if !c.is_empty() => c,
            _ => &self.cfg.default_cluster,
        }
    }

    pub(crate) fn label(s: &Series, name: &str) -> String {
        s.label(name).unwrap_or_default().to_owned()
    }

    pub(crate) fn container<'s>(&self, s: &'s Series) -> ContainerKey<'s>
    where
        'a: 's,
    {
        let label = |name| s.label(name).unwrap_or_default();
        ContainerKey {
            cluster: self.cluster_str(s),
            namespace: label("namespace"),
            pod: label("pod"),
            uid: label("uid"),
            container: label("container"),
        }
    }

    pub(crate) fn cadvisor<'s>(&self, s: &'s Series) -> CadvisorKey<'s>
    where
        'a: 's,
    {
        let label = |name| s.label(name).unwrap_or_default();
        CadvisorKey {
            cluster: self.cluster_str(s),
            namespace: label("namespace"),
            pod: label("pod"),
            container: label("container"),
            node: label("node"),
        }
    }

    pub(crate) fn node(&self, s: &Series) -> NodeKey {
        NodeKey {
            cluster: self.cluster(s),
            node: Self::label(s, "node"),
        }
    }

    pub(crate) fn pod_name<'s>(&self, s: &'s Series) -> PodName<'s>
    where
        'a: 's,
    {
        (
            self.cluster_str(s),
            s.label("namespace").unwrap_or_default(),
            s.label("pod").unwrap_or_default(),
        )
    }

    pub(crate) fn node_name<'s>(&self, s: &'s Series) -> NodeName<'s>
    where
        'a: 's,
    {
        (self.cluster_str(s), s.label("node").unwrap_or_default())
    }
}

/// Bytes in a GiB: RAM and volume prices are per GiB-hour.
pub(crate) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The length of one step of `cfg`'s resolution, in hours.
pub(crate) fn step_hours(cfg: &EngineConfig) -> f64 {
    cfg.resolution.num_milliseconds() as f64 / 3_600_000.0
}

/// The finite value of a series' last sample.
pub(crate) fn value(s: &Series) -> Option<f64> {
    s.last_value().filter(|v| v.is_finite())
}

/// What `find` makes of each series of `r` with a finite value, in series
/// order. The finds (label reads and join-map lookups: the join's cost)
/// run in parallel; what the caller then does with them is cheap and stays
/// serial, in series order, so sums do not depend on the thread count.
pub(crate) fn resolve<'r, T: Send>(
    r: &'r QueryResult,
    find: impl Fn(&'r Series, f64) -> Option<T> + Sync,
) -> Vec<T> {
    r.series
        .par_iter()
        .filter_map(|s| find(s, value(s)?))
        .collect()
}

/// The largest finite value per key.
pub(crate) fn maxima<'r, K: std::hash::Hash + Eq>(
    r: &'r QueryResult,
    key: impl Fn(&'r Series) -> K,
) -> JoinMap<K, f64> {
    let mut out = join_map(r.series.len());
    for s in &r.series {
        if let Some(v) = value(s) {
            let e = out.entry(key(s)).or_insert(v);
            *e = e.max(v);
        }
    }
    out
}
