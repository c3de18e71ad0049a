//! Duplicate checks: one series per object at any instant, or sums over
//! the family double.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::Dup;
use super::eval::Eval;
use super::plan::Check;
use crate::plan::promql::quote;
use crate::promjson::{QueryResult, Series};

impl Eval<'_> {
    pub(super) fn duplicates(&mut self, c: &Check, d: &Dup, r: &QueryResult) {
        let k = self.scope.label;
        type Key = (Option<String>, Vec<String>);
        let mut groups: BTreeMap<Key, Vec<&Series>> = BTreeMap::new();
        for s in &r.series {
            let key: Vec<String> = std::iter::once(k)
                .chain(d.key.iter().copied())
                .map(|l| s.label(l).unwrap_or_default().to_owned())
                .collect();
            groups
                .entry((self.scope.cluster_of(s), key))
                .or_default()
                .push(s);
        }
        groups.retain(|_, v| v.len() > 1);
        // Per cluster: each duplicated object's key values and series.
        type Group<'s> = (&'s [String], &'s [&'s Series]);
        let mut found: BTreeMap<Option<String>, Vec<Group<'_>>> = BTreeMap::new();
        for ((cl, key), series) in &groups {
            found.entry(cl.clone()).or_default().push((key, series));
        }
        for cl in self.report_keys(&found) {
            let Some(dups) = found.get(&cl) else {
                self.clean(c, cl.as_deref(), d.status, |n, lookback| {
                    format!(
                        "no object has more than one {} series at once ({n} series, last \
                         {lookback})",
                        d.metric
                    )
                });
                continue;
            };
            let (key, series) = dups[0];
            let labels: Vec<String> = std::iter::once(k)
                .chain(d.key.iter().copied())
                .zip(key)
                .filter(|(_, v)| !v.is_empty())
                .map(|(l, v)| format!("{l}={}", quote(v)))
                .collect();
            let mut skip: Vec<&str> = vec![k, "__name__"];
            skip.extend(d.key);
            let differing = differing(series, &skip);
            let differ = if differing.is_empty() {
                "no other label differs".to_owned()
            } else {
                format!("differing in {}", differing.join("; "))
            };
            let detail = format!(
                "{} object(s) have more than one {} series at once, e.g. {{{}}} ({} series, \
                 {differ}): {}",
                dups.len(),
                d.metric,
                labels.join(", "),
                series.len(),
                d.cause
            );
            self.push(c, cl.as_deref(), d.status, detail);
        }
    }
}

/// Labels (except `skip`) whose values differ between `series`, as
/// `label: "a", "b"`.
pub(super) fn differing(series: &[&Series], skip: &[&str]) -> Vec<String> {
    let names: BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.labels.iter().map(|(n, _)| n))
        .filter(|n| !skip.contains(n))
        .collect();
    names
        .into_iter()
        .filter_map(|n| {
            let values: BTreeSet<&str> = series
                .iter()
                .map(|s| s.label(n).unwrap_or_default())
                .collect();
            (values.len() > 1).then(|| {
                let v: Vec<String> = values.into_iter().map(quote).collect();
                format!("{n}: {}", v.join(", "))
            })
        })
        .collect()
}
