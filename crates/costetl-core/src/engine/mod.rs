//! The engine: from query results to a priced [`AllocationSet`] with idle,
//! and the runtime-agnostic driver that fetches a plan from any
//! [`MetricsSource`](crate::source::MetricsSource).
//!
//! [`compute`] is pure: it takes the decoded results of one window's
//! queries ([`plan::plan`](crate::plan::plan), then the follow-ups
//! [`followups`] names) and joins them per container. Conservation holds by
//! construction: per node and resource, Σ allocations + idle = node cost;
//! idle below zero is kept and reported as over-allocation, never clamped.
//!
//! Map: `results` (results by id, fetch statistics), `keys` (join keys off
//! labels), `inputs` (the first round joined per container and node, and
//! the follow-ups it needs), `index` (containers' positions by key),
//! `names` (a container allocation's name and the order of names),
//! `containers` (one allocation per container), `nodes` (node cost and
//! idle), `metadata` (labels, owners, node labels), `strings` (the
//! properties' text of a task, each distinct string once), `attribution`
//! (volumes, load balancers, network), `sanity` (values not used,
//! reported), `uids` (pod uids made consistent across kube-state-metrics
//! versions), `driver` (fetch, probe, split, halve).

mod attribution;
mod containers;
mod driver;
mod index;
mod inputs;
mod keys;
mod metadata;
mod names;
mod nodes;
mod results;
mod sanity;
mod strings;
mod uids;

pub use driver::{
    Computation, allocations, fetch, fetch_window, probe_range_semantics, probe_rules,
    probe_scrape_interval, query_windows,
};
pub use results::{FetchStats, Results};

use crate::error::Result;
use crate::plan::{self, EngineConfig, Followups, QueryId, RangeSemantics};
use crate::promjson::Series;
use crate::set::AllocationSet;
use crate::source::QuerySpec;
use crate::warning::{Warning, WarningKind};
use crate::window::Window;

use containers::{Edges, FollowupSums};
use inputs::{Inputs, Selectors};
use keys::Keys;
use metadata::Metadata;

/// The queries of [`plan::plan`] that [`followups`] reads. The driver
/// fetches them first and the rest of the plan beside the follow-ups, so
/// that no query waits for a round it does not depend on.
pub const FOLLOWUP_INPUTS: &[QueryId] = &[
    QueryId::RequestMax,
    QueryId::CpuUsage,
    QueryId::CpuMax,
    QueryId::RamUsage,
    QueryId::RamMax,
    QueryId::RunSteps,
    QueryId::PodNode,
    QueryId::NodeSteps,
    QueryId::NodeCapacity,
    QueryId::NodeGpus,
    QueryId::PriceSum,
    QueryId::PriceSteps,
    QueryId::PriceChanges,
    QueryId::Mounts,
];

/// The second-round queries the first round's `results` call for (usage
/// crossing requests, node prices that change); empty when none. Reads
/// only the [`FOLLOWUP_INPUTS`].
pub fn followups(
    window: Window,
    results: &Results,
    cfg: &EngineConfig,
    sem: RangeSemantics,
) -> Result<Vec<QuerySpec>> {
    let keys = Keys { cfg };
    let fixed = uids::normalise(results, &keys);
    let results = fixed.as_ref().map_or(results, |(r, _)| r);
    let inputs = Inputs::read(results, &keys, window, cfg.resolution)?;
    let (f, _, _) = second_round(results, &keys, &inputs, Selectors::Built)?;
    plan::followups(window, cfg, sem, &f)
}

/// The follow-up terms, the containers of each per-container term, and the
/// claims of the `pv_shares` terms in term order.
fn second_round(
    results: &Results,
    keys: &Keys<'_>,
    inputs: &Inputs<'_>,
    selectors: Selectors,
) -> Result<(Followups, Covers, Vec<attribution::ClaimKey>)> {
    let (mut f, covers) = inputs.followups(selectors);
    let claims = attribution::shared_claims(results, keys, inputs)?;
    let mut keys_in_order = Vec::with_capacity(claims.len());
    for (claim, pods) in claims {
        f.push(
            QueryId::PvShares,
            plan::Term {
                pods,
                request: None,
            },
        );
        keys_in_order.push(claim);
    }
    Ok((f, covers, keys_in_order))
}

type Covers = std::collections::BTreeMap<(QueryId, usize), Vec<usize>>;

/// Compute the allocation set of one window from the results of
/// [`plan::plan`] and [`followups`] for that window.
pub fn compute(window: Window, results: &Results, cfg: &EngineConfig) -> Result<AllocationSet> {
    let keys = Keys { cfg };
    let mut set = AllocationSet::new(window);
    let fixed = uids::normalise(results, &keys);
    if let Some((_, w)) = &fixed {
        set.warnings.extend(w.iter().cloned());
    }
    let results = fixed.as_ref().map_or(results, |(r, _)| r);
    backend_warnings(results, &mut set.warnings);
    input_warnings(results, cfg, &mut set.warnings)?;
    sanity::warnings(results, &mut set.warnings);

    // Labels and owners do not depend on the join: read them beside it.
    let (inputs, meta) = rayon::join(
        || Inputs::read(results, &keys, window, cfg.resolution),
        || Metadata::read(results, &keys, cfg),
    );
    let (mut inputs, meta) = (inputs?, meta?);
    for (id, n) in &inputs.unjoined {
        set.warnings.push(Warning::new(
            WarningKind::Unjoined,
            format!(
                "query {id}: none of its {n} series joins a running container (labels that do \
                 not match kube-state-metrics': another cluster label, relabelled namespace, \
                 pod or container names?); not counted"
            ),
        ));
    }
    // The answers are in: the terms' order and members matter, not the
    // selectors they were asked with.
    let (f, covers, shared) = second_round(results, &keys, &inputs, Selectors::Skipped)?;
    inputs.read_edges(results, &keys, &f)?;
    inputs.read_node_prices(results, &keys, &f)?;
    let extra = FollowupSums::read(&inputs, &covers, results, &keys)?;
    let edges = Edges::read(results, &keys, &f)?;
    let (mut c, built) = containers::build(window, cfg, &inputs, &extra, &edges, &meta);
    let cx = attribution::Ctx {
        window,
        results,
        keys: &keys,
        inputs: &inputs,
        r_hours: keys::step_hours(cfg),
    };
    let unmounted = attribution::attribute(&cx, &shared, &mut c, &mut set.warnings)?;
    let pricing = cfg.default_pricing;
    for (node, count) in &built.default_priced {
        set.warnings.push(node.warn(
            WarningKind::DefaultPrices,
            format!(
                "node {}/{} has no price series: {count} allocation(s) priced with default \
                 prices (CPU ${}/core-h, RAM ${}/GiB-h, GPU ${}/GPU-h)",
                node.cluster, node.node, pricing.cpu, pricing.ram_gib, pricing.gpu
            ),
        ));
    }
    let idle = nodes::idle(
        window,
        cfg,
        &inputs.nodes,
        built.allocated,
        &meta.provider_ids,
        &mut set.warnings,
    );
    // Into the containers' own vector: `insert_all` sorts it in place.
    c.allocs.extend(unmounted.into_iter().chain(idle));
    set.insert_all(c.allocs);
    Ok(set)
}

/// The backend's own warnings (Thanos partial responses, Mimir truncation,
/// Prometheus' PromQL infos) travel with the set.
fn backend_warnings(results: &Results, warnings: &mut Vec<Warning>) {
    for (id, r) in results.sorted() {
        let texts =
            (r.warnings.iter().map(|w| ("warning", w))).chain(r.infos.iter().map(|i| ("info", i)));
        for (what, text) in texts {
            warnings.push(Warning::new(
                WarningKind::Backend,
                format!("query {id}: backend {what}: {text}"),
            ));
        }
    }
}

/// Warnings about the inputs themselves: series without the cluster label,
/// duplicate kube-state-metrics.
fn input_warnings(
    results: &Results,
    cfg: &EngineConfig,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    for s in &results.get(QueryId::MissingCluster)?.series {
        warnings.push(
            Warning::new(
                WarningKind::MissingClusterLabel,
                format!(
                    "{} series of {} have no {} label; attributed to cluster {:?}",
                    s.last_value().unwrap_or(0.0),
                    s.label("__name__").unwrap_or("?"),
                    cfg.cluster_label,
                    cfg.default_cluster
                ),
            )
            .cluster(&cfg.default_cluster),
        );
    }
    if let Some(n) = results
        .get(QueryId::Duplicates)?
        .series
        .first()
        .and_then(Series::last_value)
        && n > 0.0
    {
        warnings.push(Warning::new(
            WarningKind::DuplicateSeries,
            format!(
                "{n} containers have duplicate kube_pod_container_status_running series \
                 (two kube-state-metrics or an HA pair scraped); counted once"
            ),
        ));
    }
    Ok(())
}
