//! Range queries split into pieces and merged back, against a loopback
//! server that computes its answers from the request (so any range it is
//! asked for has a known right answer) and rejects requests above a size.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::promjson::{self, QueryResult};
use costetl_core::source::{MetricsSource, QueryKind, QuerySpec, SourceErrorKind};
use costetl_prom::{PromConfig, PromSource};

use crate::support::{FaultServer, Recorded, Reply, assert_same, bounded, quick_retries};

const T0: i64 = 1_700_000_000;

/// The answer over `[start, end]` every `step`: two series, one of which
/// only exists from T0 + 1 h on; each piece warns once about itself and
/// once generically.
fn synthesize(start: i64, end: i64, step: i64) -> String {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut t = start;
    while t <= end {
        a.push(format!("[{t},\"{}\"]", (t % 7919) as f64 / 8.0));
        if t >= T0 + 3600 {
            b.push(format!(
                "[{t},\"{}\"]",
                if t % 3 == 0 {
                    "NaN".into()
                } else {
                    format!("{}e-3", t % 101)
                }
            ));
        }
        t += step;
    }
    let mut result = vec![format!(
        r#"{{"metric":{{"__name__":"up","pod":"a"}},"values":[{}]}}"#,
        a.join(",")
    )];
    if !b.is_empty() {
        result.push(format!(
            r#"{{"metric":{{"__name__":"up","pod":"b"}},"values":[{}]}}"#,
            b.join(",")
        ));
    }
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}},"warnings":["partial response: store b down"],"infos":["piece {start}"]}}"#,
        result.join(",")
    )
}

fn bounds(req: &Recorded) -> (i64, i64, i64) {
    let n = |k| req.param(k).unwrap().parse::<f64>().unwrap() as i64;
    (n("start"), n("end"), n("step"))
}

fn points(req: &Recorded) -> i64 {
    let (s, e, step) = bounds(req);
    (e - s) / step + 1
}

/// Answers a range request, or refuses it when it has more than
/// `max_points` points, with `refusal`.
fn server_reply(req: &Recorded, max_points: i64, refusal: &Reply) -> Reply {
    if points(req) > max_points {
        return refusal.clone();
    }
    let (s, e, step) = bounds(req);
    Reply::json(200, &synthesize(s, e, step))
}

fn query(minutes: i64, step_s: i64) -> QuerySpec {
    let start = Utc.timestamp_opt(T0, 0).unwrap();
    QuerySpec {
        id: "r".into(),
        promql: "up".into(),
        kind: QueryKind::Range {
            start,
            end: start + TimeDelta::minutes(minutes),
            step: TimeDelta::seconds(step_s),
        },
    }
}

fn unsplit(minutes: i64, step_s: i64) -> QueryResult {
    let body = synthesize(T0, T0 + minutes * 60, step_s);
    promjson::decode("r", body.as_bytes()).unwrap()
}

#[tokio::test]
async fn split_by_max_points_merges_to_the_unsplit_answer() {
    let server = FaultServer::start(|req, _| {
        server_reply(req, 11_000, &Reply::with(500, "text/plain", "unreachable"))
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.limits.max_points = 50;
    let source = PromSource::from_config(&cfg).unwrap();
    // 3 h at 60 s: 181 points → 4 pieces of ≤ 50.
    let body = bounded(source.query(&query(180, 60))).await.unwrap().body;
    let got = promjson::decode("r", &body).unwrap();
    assert_same(&got, &unsplit(180, 60));
    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|r| points(r) <= 50));
    // Each piece's distinct info, in time order.
    assert_eq!(got.infos.len(), 4, "{:?}", got.infos);
    assert_eq!(got.infos[0], format!("piece {T0}"));
}

#[tokio::test]
async fn split_by_max_range() {
    let server = FaultServer::start(|req, _| {
        server_reply(req, 11_000, &Reply::with(500, "text/plain", "unreachable"))
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.limits.max_range = Duration::from_secs(3600);
    let source = PromSource::from_config(&cfg).unwrap();
    let body = bounded(source.query(&query(300, 30))).await.unwrap().body;
    assert_same(&promjson::decode("r", &body).unwrap(), &unsplit(300, 30));
    for r in server.requests() {
        let (s, e, _) = bounds(&r);
        assert!(e - s <= 3600, "{r:?}");
    }
}

/// AMP's 413 (text), Prometheus' sample limit (422 envelope) and the
/// 11,000-point rule (400 envelope): the piece is halved until it fits.
#[tokio::test]
async fn too_large_answers_split_the_window() {
    for refusal in [
        Reply::with(
            413,
            "text/plain",
            "response larger than the max (181673024 vs 52428800)",
        ),
        Reply::json(
            422,
            r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#,
        ),
        Reply::json(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#,
        ),
    ] {
        let server = FaultServer::start(move |req, _| server_reply(req, 40, &refusal)).await;
        let mut cfg = PromConfig::new(&server.url);
        cfg.limits.min_split_range = Duration::ZERO;
        let source = PromSource::from_config(&cfg).unwrap();
        // 181 points → 91 + 90 → 46 + 45 + 45 + 45 → eight pieces of ≤ 23.
        let body = bounded(source.query(&query(180, 60))).await.unwrap().body;
        assert_same(&promjson::decode("r", &body).unwrap(), &unsplit(180, 60));
        assert_eq!(source.stats().splits, 7);
        let ok: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| points(r) <= 40)
            .collect();
        assert_eq!(ok.len(), 8);
    }
}

#[tokio::test]
async fn too_large_at_the_floor_is_an_error() {
    let server = FaultServer::start(|req, _| {
        server_reply(
            req,
            10,
            &Reply::with(413, "text/plain", "response larger than the max"),
        )
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.limits.min_split_range = Duration::from_secs(3600);
    quick_retries(&mut cfg);
    let source = PromSource::from_config(&cfg).unwrap();
    // 3 h at 60 s: halves of 90 min, then 45 min, which may not split.
    let err = bounded(source.query(&query(180, 60))).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::TooLarge);
    assert!(err.message.contains("HTTP 413"), "{}", err.message);
}

#[tokio::test]
async fn an_error_in_one_piece_is_the_answer() {
    let bad =
        r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#;
    let server = FaultServer::start(move |req, _| {
        let (s, e, step) = bounds(req);
        if s > T0 {
            Reply::json(422, bad)
        } else {
            Reply::json(200, &synthesize(s, e, step))
        }
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.limits.max_points = 100;
    let source = PromSource::from_config(&cfg).unwrap();
    let body = bounded(source.query(&query(180, 60))).await.unwrap().body;
    assert_eq!(body, bad.as_bytes());
}

/// Retries inside a split query: a piece that first gets a 503 is
/// retried, and the merge still equals the unsplit answer.
#[tokio::test]
async fn retried_pieces_merge_correctly() {
    // The first attempt of every piece fails.
    let tried = std::sync::Mutex::new(std::collections::HashSet::new());
    let server = FaultServer::start(move |req, _| {
        if tried.lock().unwrap().insert(bounds(req)) {
            Reply::with(503, "text/plain", "busy")
        } else {
            server_reply(req, 11_000, &Reply::with(500, "text/plain", "unreachable"))
        }
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.concurrency = 1;
    cfg.limits.max_points = 61;
    quick_retries(&mut cfg);
    let source = PromSource::from_config(&cfg).unwrap();
    let body = bounded(source.query(&query(180, 60))).await.unwrap().body;
    assert_same(&promjson::decode("r", &body).unwrap(), &unsplit(180, 60));
    assert_eq!(source.stats().retries, 3);
}
