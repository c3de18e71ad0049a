//! Pod uids made consistent before the join. kube-state-metrics v1 put the
//! uid on fewer series than v2, and a fleet mid-upgrade mixes both, so a
//! request, a mount or a completion time may come without the uid of the
//! running series it belongs to (or with a uid the pod never ran with).
//! Such a series takes the only uid its pod name ran with in the window —
//! the join by (cluster, namespace, pod) OpenCost does — and the set says
//! how many; a pod name that ran with several uids cannot be told apart and
//! is reported instead of guessed.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::plan::QueryId;
use crate::promjson::Series;
use crate::warning::{Warning, WarningKind};

use super::keys::{JoinMap, Keys, PodName, join_map};
use super::results::Results;

/// The kube-state-metrics results joined per pod uid (the running series
/// themselves define the uids).
const JOINED_BY_UID: &[QueryId] = &[
    QueryId::RequestMax,
    QueryId::PodNode,
    QueryId::PodCompleted,
    QueryId::Mounts,
    QueryId::ContainerStarted,
];

/// `results` with the uids of [`JOINED_BY_UID`] series made those of the
/// running series, and the warnings saying so; `None` when every uid
/// already matches (the common case: nothing is copied).
pub(crate) fn normalise(results: &Results, keys: &Keys<'_>) -> Option<(Results, Vec<Warning>)> {
    let running = results.get(QueryId::RunSteps).ok()?;
    // A pod name runs with one uid, rarely a few: a `Vec` beats a set.
    let mut uids: JoinMap<PodName<'_>, Vec<&str>> = join_map(running.series.len());
    for s in &running.series {
        let ran = uids.entry(keys.pod_name(s)).or_default();
        let uid = s.label("uid").unwrap_or_default();
        if !ran.contains(&uid) {
            ran.push(uid);
        }
    }
    // Every series of five results is looked up: in parallel.
    let needed = JOINED_BY_UID.iter().any(|&id| {
        results.get(id).is_ok_and(|r| {
            r.series.par_iter().any(|s| {
                uids.get(&keys.pod_name(s))
                    .is_some_and(|u| !u.contains(&s.label("uid").unwrap_or_default()))
            })
        })
    });
    if !needed {
        return None;
    }
    // Only the results with a series to fix are copied (`Results` shares
    // the others with the input).
    let mut out = results.clone();
    let mut joined: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ambiguous: BTreeMap<&str, usize> = BTreeMap::new();
    for &id in JOINED_BY_UID {
        let Ok(r) = results.get(id) else { continue };
        let mut fixes: Vec<(usize, &str)> = Vec::new();
        for (i, s) in r.series.iter().enumerate() {
            let Some(ran) = uids.get(&keys.pod_name(s)) else {
                continue;
            };
            if ran.contains(&s.label("uid").unwrap_or_default()) {
                continue;
            }
            match ran.as_slice() {
                [only] => fixes.push((i, only)),
                _ => *ambiguous.entry(id.as_str()).or_default() += 1,
            }
        }
        if fixes.is_empty() {
            continue;
        }
        *joined.entry(id.as_str()).or_default() += fixes.len();
        if let Some(r) = out.get_mut(id) {
            for (i, uid) in fixes {
                set_label(&mut r.series[i], "uid", uid);
            }
        }
    }
    let mut warnings = Vec::new();
    for (id, n) in joined {
        warnings.push(Warning::new(
            WarningKind::PodUid,
            format!(
                "query {id}: {n} series had no pod uid, or one the pod did not run with \
                 (kube-state-metrics v1, or mixed versions); joined by (cluster, namespace, pod)"
            ),
        ));
    }
    for (id, n) in ambiguous {
        warnings.push(Warning::new(
            WarningKind::PodUid,
            format!(
                "query {id}: {n} series had no pod uid, or one the pod did not run with, for pod \
                 names that ran with several uids in the window; not used"
            ),
        ));
    }
    Some((out, warnings))
}

/// Sets `name` to `value`, keeping the labels sorted by name.
fn set_label(s: &mut Series, name: &str, value: &str) {
    s.labels = s.labels.with(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::EngineConfig;
    use crate::promjson::{QueryResult, ResultType};

    fn result(series: &[&[(&str, &str)]]) -> QueryResult {
        QueryResult {
            result_type: ResultType::Vector,
            series: (series.iter())
                .map(|labels| Series {
                    labels: labels.iter().copied().collect(),
                    samples: smallvec::smallvec![(0.0, 1.0)],
                })
                .collect(),
            warnings: vec![],
            infos: vec![],
        }
    }

    /// A kube-state-metrics v1 request (no uid) takes the uid its pod ran
    /// with, and the fixed results share every result they did not change
    /// with the input: a mixed-version fleet's day is not copied whole.
    #[test]
    fn only_the_changed_results_are_copied() {
        let pod = [("namespace", "ns"), ("pod", "p")];
        let mut r = Results::default();
        r.insert(
            QueryId::RunSteps.as_str(),
            result(&[&[pod[0], pod[1], ("uid", "u1")]]),
        );
        r.insert(QueryId::RequestMax.as_str(), result(&[&pod]));
        r.insert(QueryId::CpuUsage.as_str(), result(&[&pod]));
        r.insert(
            QueryId::PodNode.as_str(),
            result(&[&[pod[0], pod[1], ("uid", "u1")]]),
        );
        let cfg = EngineConfig::default();
        let (fixed, warnings) = normalise(&r, &Keys { cfg: &cfg }).expect("a uid to fix");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let request = &fixed.get(QueryId::RequestMax).unwrap().series[0];
        assert_eq!(request.label("uid"), Some("u1"));
        assert!(!Results::shares(&r, &fixed, QueryId::RequestMax));
        assert!(Results::shares(&r, &fixed, QueryId::RunSteps));
        assert!(Results::shares(&r, &fixed, QueryId::CpuUsage));
        assert!(
            Results::shares(&r, &fixed, QueryId::PodNode),
            "joined by uid, nothing to fix"
        );
    }
}
