//! Diagnostics: is the data the engine needs in the backend, per cluster?
//!
//! The checks of the seed documents' troubleshooting sections (Kubecost's
//! "the below queries must return data", OpenCost's `RunDiagnostic`), as
//! a pure plan and a pure evaluation:
//!
//! - [`queries`] builds the PromQL from an
//!   [`EngineConfig`](crate::plan::EngineConfig) (cluster label, cluster
//!   filter, resolution) and [`DiagnoseOptions`] (evaluation time,
//!   lookback, recording rules): one instant query per check, all at
//!   [`DiagnoseOptions::at`], looking back [`DiagnoseOptions::lookback`];
//! - [`evaluate`] turns the decoded answers (or the errors) into a
//!   [`Diagnosis`]: the clusters found and one [`CheckOutcome`] per check
//!   and cluster (pass, fail or warn, a detail naming the culprits, and
//!   the PromQL it ran);
//! - [`run`] fetches the queries from any
//!   [`MetricsSource`](crate::source::MetricsSource): the connectivity
//!   query alone first, then the others with bounded concurrency, and
//!   evaluates them into a [`Diagnosis`]. A query that fails is a failed
//!   check naming the error, never an abort; an unreachable backend is one
//!   failed check, not one per check.
//! - [`probe_query`]: when every presence check came back empty, one more
//!   query looks for the latest sample before the evaluation time, and
//!   [`Diagnosis::hint`] names it (`pass --at TIME`).
//!
//! The checks, in the order they are reported (see `docs/diagnose.md` for
//! what to do when one fails):
//!
//! | check id | what | not met | nothing to look at |
//! |---|---|---|---|
//! | `connectivity` | the backend answers `vector(1)`; asked first and alone, and when it fails the only outcome | fail | — |
//! | `cadvisor_memory`, `cadvisor_cpu` | cAdvisor working set and CPU counter with `container!=""` | fail | (presence) |
//! | `ksm_running`, `ksm_requests`, `ksm_pod_info`, `ksm_node_capacity` | kube-state-metrics v2 series | fail | (presence) |
//! | `ksm_pod_owner`, `ksm_replicaset_owner` | `kube_pod_owner` (controllers) and `kube_replicaset_owner` (Deployments behind ReplicaSets) | warn | (presence) |
//! | `ksm_version` | v2 names, not v1's `kube_pod_container_resource_requests_cpu_cores` | fail (v1 only), warn (both) | fail |
//! | `cost_node_total`, `cost_node_cpu`, `cost_node_ram` | cost exporter node prices | fail | (presence) |
//! | `cost_pv`, `cost_load_balancer`, `cost_network_*`, `network_pod_egress` | optional cost series | warn | (presence) |
//! | `cluster_label` | every series the engine reads carries the cluster label | fail (mixed), warn (none at all) | fail: no series at all |
//! | `duplicate_ksm` | one running series per container at any instant | fail | fail: no running series |
//! | `duplicate_cadvisor` | one working-set series per container at any instant | warn | warn: no working-set series |
//! | `node_prices` | every node in `kube_node_info` or `kube_node_status_capacity` has `node_cpu_hourly_cost` | fail | fail: no node |
//! | `gpu_capacity` | every node with a GPU price above 0 or GPU requests has GPU capacity (`node_gpu_count`, else `kube_node_status_capacity{resource="nvidia_com_gpu"}`, as the engine reads it) | fail (requests), warn (price only) | warn: no requests and no prices; pass `no GPU in use` when they show none |
//! | `pod_uid` | pod info, requests and volume mounts carry the pod `uid` (kube-state-metrics v2) | warn | warn: no pod info or requests |
//! | `recording_rule` | each configured recording rule has series | fail | (presence) |
//!
//! A check that looks for culprits (duplicates, unpriced nodes, nodes
//! without GPU capacity, series without a label or uid) and finds none
//! has passed only if it had something to look at: its subject (running
//! containers, cAdvisor series, nodes, pods, any series at all) is counted
//! per cluster, and where it is missing the outcome is the check's own
//! "not met" status (last column), with a detail starting `not checked: no
//! <subject>`. A pass says how much it looked at. The GPU check is the one
//! exception: no GPU priced or requested, with requests and prices there,
//! is a finding (`no GPU in use`), not a missing subject.
//!
//! Clusters are the values of the cluster label found by the presence
//! queries (`count by (<cluster label>)` over the lookback), or only the
//! filtered cluster with a cluster filter. Series without the label count
//! for the configured default cluster where the engine would join them
//! correctly (no series carries the label at all, or the default cluster is
//! one of the labelled ones); otherwise they are named as unattributed.
//!
//! The files, one idea each:
//!
//! - `outcome`: [`Status`], [`CheckOutcome`] and [`Diagnosis`], what a
//!   diagnosis says;
//! - `connectivity`: the first check, and the one outcome of an unreachable
//!   backend;
//! - `catalog`: the families, presence and duplicate checks (data only);
//! - `plan`: [`DiagnoseOptions`] and the PromQL of every check ([`queries`]);
//! - `answers`: [`Answers`], the decoded answers by query id;
//! - `scope`: which clusters are reported on;
//! - `eval`: [`evaluate`], dispatching to `presence`, `labels`,
//!   `duplicates` and `nodes` (prices, GPU capacity), one family of checks
//!   each;
//! - `probe`: where the data is when nothing is at the evaluation time
//!   ([`probe_query`], the hint);
//! - `run`: [`run`], fetching through a
//!   [`MetricsSource`](crate::source::MetricsSource);
//! - `text`: number and list formatting for details;
//! - `tests/`: unit tests on hand-made answers, by topic.

mod answers;
mod catalog;
mod connectivity;
mod duplicates;
mod eval;
mod labels;
mod nodes;
mod outcome;
mod plan;
mod presence;
mod probe;
mod run;
mod scope;
mod text;

pub use answers::Answers;
pub use catalog::{FAMILIES, SEED_RECORDING_RULES};
pub use eval::evaluate;
pub use outcome::{CheckOutcome, Diagnosis, Status};
pub use plan::{DiagnoseOptions, queries};
pub use probe::probe_query;
pub use run::run;

#[cfg(test)]
mod tests;
