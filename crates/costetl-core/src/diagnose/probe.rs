//! When no check finds any series at the evaluation time, the data may be
//! elsewhere in time (a capture loaded into a test Prometheus, a backend
//! that stopped receiving): a follow-up query looks for the latest sample
//! before it, and the diagnosis carries one hint line naming it, for
//! `--at`.
//!
//! The probe is a range query of `max(timestamp(…))` over two node-level
//! families, one from kube-state-metrics and one from the cost exporter,
//! every hour over the 30 days before the evaluation time. `timestamp()`
//! of a plain selector is the time of a real sample (within Prometheus'
//! 5-minute staleness window before each step), so the value of the last
//! point is a time at which data exists: at most an hour before the very
//! last sample, which a subquery (`max_over_time(timestamp(x)[30d:])`)
//! would find exactly at far greater cost. Node-level families have one
//! series per node, so the probe reads a month of a few hundred series
//! where the same over containers would read millions; 30 days stays
//! within the query range limits of managed backends (AMP allows 32) and
//! covers Prometheus' default 15-day retention. It runs only when
//! everything came back empty.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use super::answers::Answers;
use super::connectivity;
use super::plan::{Check, DiagnoseOptions, Kind, checks};
use crate::plan::EngineConfig;
use crate::plan::promql::{Selectors, dur};
use crate::promjson::QueryResult;
use crate::source::{QueryKind, QuerySpec};

/// The id of the probe query.
pub(super) const ID: &str = "data_probe";

/// How far back the probe looks, and how finely.
const SPAN: TimeDelta = TimeDelta::days(30);
const STEP: TimeDelta = TimeDelta::hours(1);

/// One series per node, in every cluster the engine can price.
const FAMILIES: [(&str, &[&str]); 2] = [
    ("kube_node_status_capacity", &["resource=\"cpu\""]),
    ("node_total_hourly_cost", &[]),
];

/// The follow-up query [`run`](super::run) asks after the others when
/// every presence check came back empty: where is the data? `None`
/// otherwise (and when the backend was not reached). Its answer goes into
/// the answers as any other, and [`evaluate`](super::evaluate) names what
/// it found in [`Diagnosis::hint`](super::Diagnosis::hint).
pub fn probe_query(
    cfg: &EngineConfig,
    opts: &DiagnoseOptions,
    answers: &Answers,
) -> Option<QuerySpec> {
    let reached = answers.get(connectivity::ID).is_ok();
    (reached && found_nothing(&checks(cfg, opts), answers)).then(|| query(cfg, opts.at))
}

/// Whether every presence query was answered, and with nothing.
pub(super) fn found_nothing(checks: &[Check], answers: &Answers) -> bool {
    checks
        .iter()
        .filter(|c| matches!(c.kind, Kind::Presence(_) | Kind::KsmVersion))
        .all(|c| answers.get(&c.query.id).is_ok_and(|r| r.series.is_empty()))
}

/// The probe query: the latest sample time per family, every hour over
/// the 30 days before `at`.
fn query(cfg: &EngineConfig, at: DateTime<Utc>) -> QuerySpec {
    let s = Selectors::new(cfg);
    let tagged: Vec<String> = FAMILIES
        .iter()
        .map(|(metric, matchers)| {
            format!(
                "label_replace(timestamp({metric}{}), \"family\", \"{metric}\", \"\", \"\")",
                s.sel(matchers)
            )
        })
        .collect();
    QuerySpec {
        id: ID.to_owned(),
        promql: format!("max by (family) ({})", tagged.join(" or ")),
        kind: QueryKind::Range {
            start: at - SPAN,
            end: at,
            step: STEP,
        },
    }
}

/// The hint line: nothing in the lookback before `at`, and where the
/// probe (if it was asked) found the latest sample.
pub(super) fn hint(at: DateTime<Utc>, lookback: &str, answers: &Answers) -> String {
    let found = match answers.get(ID) {
        Ok(r) => match latest(r) {
            Some((family, t)) => format!(" (the latest sample of {family} is at {})", time(t)),
            None => format!(
                " (no sample of {} in the {} before either)",
                FAMILIES.map(|(m, _)| m).join(" or "),
                dur(SPAN)
            ),
        },
        Err(_) if answers.error(ID).is_none() => String::new(),
        Err(e) => format!(" (looking for the latest sample failed: {e})"),
    };
    format!(
        "no series in the {lookback} before {}: is the data older? pass --at TIME{found}",
        time(at)
    )
}

/// The family with the latest sample time, and that time.
fn latest(r: &QueryResult) -> Option<(String, DateTime<Utc>)> {
    r.series
        .iter()
        .filter_map(|s| {
            let t = s
                .samples
                .iter()
                .map(|&(_, v)| v)
                .filter(|v| v.is_finite())
                .reduce(f64::max)?;
            // Up to the next whole second: `--at` that time includes it.
            let t = DateTime::from_timestamp(t.ceil() as i64, 0)?;
            Some((s.label("family").unwrap_or("?").to_owned(), t))
        })
        // The latest; of equals, the first name, so the answer is stable.
        .min_by_key(|(family, t)| (std::cmp::Reverse(*t), family.clone()))
}

/// `2023-11-14T02:00:00Z`, as `--at` takes it.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
