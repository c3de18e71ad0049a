//! Unit tests of the plan and the evaluation on hand-made answers: the
//! helpers here, the tests by topic.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::catalog::{self, KSM_V2, PRESENCE};
use super::text::{count, list};
use super::*;
use crate::error::Error;
use crate::plan::EngineConfig;
use crate::plan::promql::dur;
use crate::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};

mod culprits;
mod plan;
mod presence;
mod run;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 14, 2, 0, 0).unwrap()
}

fn opts() -> DiagnoseOptions {
    DiagnoseOptions::new(at())
}

/// A vector body with one sample per series.
fn body(series: &[(&[(&str, &str)], f64)]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|(labels, v)| {
            let metric: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            serde_json::json!({"metric": metric, "value": [1_699_927_200, v.to_string()]})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "vector", "result": result}
    }))
    .unwrap()
}

/// Answers where every query returns nothing, then `set` overrides.
fn answers(cfg: &EngineConfig, o: &DiagnoseOptions, set: &[(&str, Vec<u8>)]) -> Answers {
    let mut a = Answers::default();
    for q in queries(cfg, o).unwrap() {
        a.insert_body(&q.id, &body(&[]));
    }
    for (id, b) in set {
        a.insert_body(id, b);
    }
    a
}

fn body_v(series: &[(Vec<(&str, &str)>, f64)]) -> Vec<u8> {
    let v: Vec<(&[(&str, &str)], f64)> = series.iter().map(|(l, v)| (l.as_slice(), *v)).collect();
    body(&v)
}

/// Every required metric present in `clusters`, v2 names, optional
/// series too.
fn healthy(clusters: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let per: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .map(|c| (vec![("cluster_id", *c)], 10.0))
        .collect();
    let mut out: Vec<(&'static str, Vec<u8>)> =
        PRESENCE.iter().map(|m| (m.id, body_v(&per))).collect();
    let versions: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .flat_map(|c| {
            KSM_V2
                .iter()
                .map(move |n| (vec![("__name__", *n), ("cluster_id", *c)], 5.0))
        })
        .collect();
    out.push(("ksm_version", body_v(&versions)));
    let nodes: Vec<(Vec<(&str, &str)>, f64)> = clusters
        .iter()
        .map(|c| (vec![("cluster_id", *c)], 2.0))
        .collect();
    out.push(("node_prices:nodes", body_v(&nodes)));
    out
}

fn find<'a>(out: &'a [CheckOutcome], check: &str, cluster: Option<&str>) -> &'a CheckOutcome {
    out.iter()
        .find(|o| o.check == check && o.cluster.as_deref() == cluster)
        .unwrap_or_else(|| panic!("no outcome {check} {cluster:?} in {out:#?}"))
}

fn failed(out: &[CheckOutcome]) -> Vec<(String, Option<String>)> {
    out.iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| (o.check.clone(), o.cluster.clone()))
        .collect()
}
