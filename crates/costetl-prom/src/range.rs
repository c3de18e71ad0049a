//! Range queries too big for one request: splitting them into pieces, and
//! merging the pieces' answers back into one Prometheus JSON body.
//!
//! A range query evaluates at `start + k·step` for every `k` with
//! `start + k·step ≤ end`. Pieces are runs of consecutive `k`, so together
//! they evaluate at exactly the original timestamps, each once: the merged
//! answer is the unsplit one (series matched by label set, samples
//! concatenated in time order, a sample at a timestamp already seen is
//! dropped). Pieces respect [`LimitsConfig::max_points`] (Prometheus
//! refuses more than 11,000 points per series) and
//! [`LimitsConfig::max_range`]; a piece the backend calls too large is
//! halved ([`halve`]) until [`LimitsConfig::min_split_range`].
//!
//! Merging decodes the pieces with the core's decoder and writes a new
//! body: `resultType` `matrix`, series sorted by label set (Prometheus'
//! order), the union of all pieces' `warnings` and `infos` (first-seen
//! order, no duplicates) and `"isPartial": true` if any piece said so
//! (VictoriaMetrics). A single piece is returned verbatim, and a piece
//! that is an error (or undecodable) is returned verbatim in place of the
//! merge, so the core reports it as it would the unsplit error.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use costetl_core::promjson::{self, ResultType, SeriesLabels};

use crate::config::LimitsConfig;
use crate::error::PromError;

/// Merged series: samples by label set (sorted, as Prometheus sorts).
type SeriesMap = BTreeMap<SeriesLabels, Vec<(f64, f64)>>;

/// A run of evaluation indices `first..=last` of a range query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    first: i64,
    last: i64,
    /// Whether the piece ends the query: its end is the query's `end`.
    is_last: bool,
}

/// A range query's grid: `start`, `step` (nanoseconds) and `end`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub step: TimeDelta,
}

impl Grid {
    /// `start` and `end` of `piece`.
    pub(crate) fn bounds(&self, piece: Piece) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |k: i64| self.start + self.step * i32::try_from(k).unwrap_or(i32::MAX);
        let end = if piece.is_last {
            self.end
        } else {
            at(piece.last)
        };
        (at(piece.first), end)
    }

    /// The pieces a query must be sent as. One piece (the query as it is)
    /// when it fits, and for anything the server should judge itself (end
    /// before start, a step that is not positive).
    pub(crate) fn plan(&self, limits: &LimitsConfig) -> Vec<Piece> {
        let whole = |last| {
            vec![Piece {
                first: 0,
                last,
                is_last: true,
            }]
        };
        let (Some(step_ns), Some(span_ns)) = (
            self.step.num_nanoseconds(),
            (self.end - self.start).num_nanoseconds(),
        ) else {
            return whole(0);
        };
        if step_ns <= 0 || span_ns < 0 {
            return whole(0);
        }
        let points = span_ns / step_ns + 1;
        let max_range_ns = i64::try_from(limits.max_range.as_nanos()).unwrap_or(i64::MAX);
        let per_piece = i64::from(limits.max_points.max(1)).min(max_range_ns / step_ns + 1);
        let mut pieces = Vec::new();
        let mut first = 0;
        while first < points {
            let last = (first + per_piece - 1).min(points - 1);
            pieces.push(Piece {
                first,
                last,
                is_last: last == points - 1,
            });
            first = last + 1;
        }
        pieces
    }

    /// `piece` in two halves, or `None` when it has a single point or spans
    /// no more than `limits.min_split_range`.
    pub(crate) fn halve(&self, piece: Piece, limits: &LimitsConfig) -> Option<(Piece, Piece)> {
        let points = piece.last - piece.first + 1;
        if points < 2 {
            return None;
        }
        let span = self.step * i32::try_from(piece.last - piece.first).ok()?;
        let min = TimeDelta::from_std(limits.min_split_range).ok()?;
        if span <= min {
            return None;
        }
        let mid = piece.first + points / 2;
        Some((
            Piece {
                first: piece.first,
                last: mid - 1,
                is_last: false,
            },
            Piece {
                first: mid,
                last: piece.last,
                is_last: piece.is_last,
            },
        ))
    }
}

/// One body for the pieces' bodies, in time order (see the module docs).
///
/// # Errors
///
/// [`PromError::Merge`] when a piece is a success but not a matrix.
pub(crate) fn merge(mut bodies: Vec<Vec<u8>>) -> Result<Vec<u8>, PromError> {
    if bodies.len() == 1 {
        return Ok(bodies.swap_remove(0));
    }
    let mut series = SeriesMap::new();
    let mut warnings = Ordered::default();
    let mut infos = Ordered::default();
    let mut partial = false;
    let mut decoded = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        match promjson::decode("", body) {
            Ok(r) => decoded.push(r),
            // An error answer stands for the whole query.
            Err(_) => return Ok(bodies.swap_remove(i)),
        }
    }
    for (body, r) in bodies.iter().zip(decoded) {
        if r.result_type != ResultType::Matrix {
            return Err(PromError::Merge {
                reason: format!(
                    "a piece answered with resultType {:?}, expected a matrix",
                    r.result_type
                ),
            });
        }
        for s in r.series {
            let samples = series.entry(s.labels).or_default();
            for (t, v) in s.samples {
                if samples.last().is_none_or(|&(last, _)| t > last) {
                    samples.push((t, v));
                }
            }
        }
        warnings.extend(r.warnings);
        infos.extend(r.infos);
        partial |= is_partial(body);
    }
    Ok(encode(&series, &warnings.0, &infos.0, partial))
}

/// Strings in first-seen order without duplicates.
#[derive(Default)]
struct Ordered(Vec<String>, HashSet<String>);

impl Ordered {
    fn extend(&mut self, items: Vec<String>) {
        for s in items {
            if self.1.insert(s.clone()) {
                self.0.push(s);
            }
        }
    }
}

/// VictoriaMetrics' `isPartial` flag of a body.
fn is_partial(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Flag {
        #[serde(rename = "isPartial", default)]
        is_partial: bool,
    }
    serde_json::from_slice::<Flag>(body).is_ok_and(|f| f.is_partial)
}

fn encode(series: &SeriesMap, warnings: &[String], infos: &[String], partial: bool) -> Vec<u8> {
    let mut out = String::with_capacity(64 + series.len() * 256);
    out.push_str(r#"{"status":"success","#);
    if partial {
        out.push_str(r#""isPartial":true,"#);
    }
    out.push_str(r#""data":{"resultType":"matrix","result":["#);
    for (i, (labels, samples)) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":{"#);
        for (j, (k, v)) in labels.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_json_str(&mut out, k);
            out.push(':');
            push_json_str(&mut out, v);
        }
        out.push_str(r#"},"values":["#);
        for (j, &(t, v)) in samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{t},\"");
            push_value(&mut out, v);
            out.push_str("\"]");
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let _ = write!(out, ",\"{key}\":[");
            for (i, w) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(&mut out, w);
            }
            out.push(']');
        }
    }
    out.push('}');
    out.into_bytes()
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// A sample value as Prometheus writes it (`NaN`, `+Inf`, `-Inf`, else a
/// number that parses back to the same `f64`).
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v != 0.0 && (v.abs() < 1e-5 || v.abs() >= 1e21) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn grid(hours: i64, step_s: i64) -> Grid {
        let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        Grid {
            start,
            end: start + TimeDelta::hours(hours),
            step: TimeDelta::seconds(step_s),
        }
    }

    fn limits(max_points: u32, max_range_h: u64) -> LimitsConfig {
        LimitsConfig {
            max_points,
            max_range: Duration::from_secs(max_range_h * 3600),
            min_split_range: Duration::from_secs(3600),
            ..LimitsConfig::default()
        }
    }

    /// Every evaluation time of the grid, once, in order.
    fn times(g: &Grid, pieces: &[Piece]) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        for &p in pieces {
            let (s, e) = g.bounds(p);
            let mut t = s;
            while t <= e {
                out.push(t);
                t += g.step;
            }
        }
        out
    }

    #[test]
    fn pieces_cover_every_point_once_within_limits() {
        // 120 days at 5 minutes: 34,561 points.
        let g = grid(120 * 24, 300);
        let l = limits(11_000, 24);
        let pieces = g.plan(&l);
        // 289 points (a day) per piece: ⌈34,561 / 289⌉.
        assert_eq!(pieces.len(), 120);
        for &p in &pieces {
            let (s, e) = g.bounds(p);
            let points = (e - s).num_seconds() / 300 + 1;
            assert!(points <= 11_000 && e - s <= TimeDelta::hours(24), "{p:?}");
        }
        assert_eq!(
            times(&g, &pieces),
            times(&g, &g.plan(&limits(u32::MAX, 1_000_000)))
        );
        assert_eq!(times(&g, &pieces).len(), 34_561);
        // The 11,000-point rule binds at a 1 s step.
        let fine = grid(10, 1);
        for &p in &fine.plan(&l) {
            let (s, e) = fine.bounds(p);
            assert!((e - s).num_seconds() < 11_000, "{p:?}");
        }
        assert_eq!(times(&fine, &fine.plan(&l)).len(), 36_001);
    }

    #[test]
    fn a_query_that_fits_is_one_piece_with_its_own_bounds() {
        let mut g = grid(2, 60);
        g.end += TimeDelta::seconds(30); // not on the grid
        let pieces = g.plan(&limits(11_000, 24));
        assert_eq!(pieces.len(), 1);
        assert_eq!(g.bounds(pieces[0]), (g.start, g.end));
        let backwards = Grid {
            end: g.start - TimeDelta::hours(1),
            ..g
        };
        assert_eq!(backwards.plan(&limits(11_000, 24)).len(), 1);
    }

    #[test]
    fn halving_stops_at_the_floor() {
        let g = grid(4, 60);
        let l = limits(11_000, 24);
        let whole = g.plan(&l)[0];
        let (a, b) = g.halve(whole, &l).unwrap();
        assert_eq!(times(&g, &[a, b]), times(&g, &[whole]));
        assert!(b.is_last && !a.is_last);
        let (c, d) = g.halve(a, &l).unwrap();
        assert_eq!(times(&g, &[c, d, b]), times(&g, &[whole]));
        // c spans under an hour: no further split.
        assert!(g.halve(c, &l).is_none(), "{:?}", g.bounds(c));
        let one = Piece {
            first: 3,
            last: 3,
            is_last: false,
        };
        assert!(g.halve(one, &LimitsConfig::default()).is_none());
    }

    fn matrix(series: &[(&str, &[(f64, &str)])], extra: &str) -> Vec<u8> {
        let result: Vec<String> = series
            .iter()
            .map(|(pod, samples)| {
                let values: Vec<String> = samples
                    .iter()
                    .map(|(t, v)| format!("[{t},\"{v}\"]"))
                    .collect();
                format!(
                    r#"{{"metric":{{"__name__":"x","pod":"{pod}"}},"values":[{}]}}"#,
                    values.join(",")
                )
            })
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}{extra}}}"#,
            result.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn merge_joins_series_and_keeps_warnings() {
        let a = matrix(
            &[("b", &[(1.0, "1"), (2.0, "NaN")]), ("a", &[(2.0, "+Inf")])],
            r#","warnings":["w1"],"infos":["i1"]"#,
        );
        let b = matrix(
            &[("a", &[(2.0, "9"), (3.0, "-Inf")]), ("c", &[(3.0, "1e-9")])],
            r#","warnings":["w1","w2"],"isPartial":true,"stats":{"seriesFetched":"2"}"#,
        );
        let merged = merge(vec![a, b]).unwrap();
        let r = promjson::decode("m", &merged).unwrap();
        let pods: Vec<_> = r.series.iter().map(|s| s.label("pod").unwrap()).collect();
        assert_eq!(pods, ["a", "b", "c"], "sorted by label set");
        let a = &r.series[0].samples;
        assert_eq!(a.len(), 2, "boundary sample once: {a:?}");
        assert_eq!(a[0], (2.0, f64::INFINITY), "first piece's sample kept");
        assert_eq!(a[1], (3.0, f64::NEG_INFINITY));
        assert!(r.series[1].samples[1].1.is_nan());
        assert_eq!(r.series[2].samples[0].1.to_bits(), 1e-9_f64.to_bits());
        assert_eq!(r.warnings, ["w1", "w2"]);
        assert_eq!(r.infos, ["i1"]);
        assert!(is_partial(&merged));
    }

    #[test]
    fn merge_passes_errors_and_single_bodies_through() {
        let ok = matrix(&[("a", &[(1.0, "1")])], "");
        let err = br#"{"status":"error","errorType":"execution","error":"boom"}"#.to_vec();
        assert_eq!(merge(vec![ok.clone(), err.clone()]).unwrap(), err);
        assert_eq!(merge(vec![ok.clone()]).unwrap(), ok);
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(
            merge(vec![ok, vector.to_vec()]),
            Err(PromError::Merge { .. })
        ));
    }

    #[test]
    fn values_round_trip_exactly() {
        for v in [
            0.0,
            1.0,
            -2.5,
            0.1 + 0.2,
            1e-300,
            6.02e23,
            f64::MAX,
            f64::MIN_POSITIVE,
            123_456.789,
        ] {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
    }
}
