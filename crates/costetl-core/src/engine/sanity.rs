//! Values the engine does not use, said out loud: a query answering NaN or
//! ±Inf (an exporter's broken gauge or counter inside a raw-sample
//! function) or a negative request. Price, capacity and running samples
//! are already filtered in the queries (`plan::promql::price_samples`), so
//! a bad sample there costs only its own step; what reaches this module
//! would otherwise vanish without a word.

use crate::plan::QueryId;
use crate::promjson::Series;
use crate::warning::{Warning, WarningKind};

use super::results::Results;

/// One warning per query with unusable values, naming the first series.
pub(crate) fn warnings(results: &Results, warnings: &mut Vec<Warning>) {
    for (id, r) in results.sorted() {
        let requests = id == QueryId::RequestMax.as_str();
        let bad: Vec<&Series> = r
            .series
            .iter()
            .filter(|s| {
                s.last_value()
                    .is_some_and(|v| !v.is_finite() || (requests && v < 0.0))
            })
            .collect();
        if let Some(first) = bad.first() {
            let what = if requests {
                "NaN, ±Inf or a negative request"
            } else {
                "NaN or ±Inf"
            };
            warnings.push(Warning::new(
                WarningKind::BadSamples,
                format!(
                    "query {id}: {} series answered {what}, not used (first: {})",
                    bad.len(),
                    labels(first)
                ),
            ));
        }
    }
}

/// `{name="value", …}`.
fn labels(s: &Series) -> String {
    let pairs: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promjson::{QueryResult, ResultType};

    fn result(values: &[f64]) -> QueryResult {
        QueryResult {
            result_type: ResultType::Vector,
            series: values
                .iter()
                .enumerate()
                .map(|(i, &v)| Series {
                    labels: [("node", format!("n{i}"))].into_iter().collect(),
                    samples: smallvec::smallvec![(0.0, v)],
                })
                .collect(),
            warnings: vec![],
            infos: vec![],
        }
    }

    #[test]
    fn bad_values_are_named_per_query() {
        let mut r = Results::default();
        r.insert("ram_usage", result(&[1.0, f64::NAN, f64::INFINITY]));
        r.insert("request_max", result(&[-2.0, 3.0]));
        r.insert("cpu_usage", result(&[1.0, -1.0]));
        let mut w = Vec::new();
        warnings(&r, &mut w);
        assert!(w.iter().all(|w| w.kind == WarningKind::BadSamples));
        assert_eq!(
            w.iter().map(|w| w.message.as_str()).collect::<Vec<_>>(),
            [
                "query ram_usage: 2 series answered NaN or ±Inf, not used (first: {node=\"n1\"})",
                "query request_max: 1 series answered NaN, ±Inf or a negative request, \
                 not used (first: {node=\"n0\"})",
            ]
        );
    }
}
