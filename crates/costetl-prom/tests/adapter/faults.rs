//! Failures, retries, timeouts and the concurrency limit, against a
//! loopback server scripted to misbehave.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use costetl_core::source::{MetricsSource, SourceErrorKind};
use costetl_prom::{PromConfig, PromSource};
use tokio::net::TcpSocket;

use crate::support::{FaultServer, Reply, VECTOR, bounded, instant_query, quick_retries};

fn config(url: &str) -> PromConfig {
    let mut cfg = PromConfig::new(url);
    quick_retries(&mut cfg);
    cfg
}

#[tokio::test]
async fn prometheus_error_envelopes_are_bodies_and_only_overload_is_retried() {
    for (status, body, attempts) in [
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#,
            1,
        ),
        (
            422,
            r#"{"status":"error","errorType":"422","error":"cannot execute"}"#,
            1,
        ),
        (
            503,
            r#"{"status":"error","errorType":"timeout","error":"query timed out in query queue"}"#,
            3,
        ),
        // The query itself took too long: not retried (it would time out
        // again); the engine halves the window instead.
        (
            503,
            r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
            1,
        ),
    ] {
        let server = FaultServer::always(Reply::json(status, body)).await;
        let mut cfg = config(&server.url);
        cfg.retry.max_retries = 2;
        let source = PromSource::from_config(&cfg).unwrap();
        let response = bounded(source.query(&instant_query())).await.unwrap();
        assert_eq!(response.body, body.as_bytes(), "{status}");
        assert_eq!(server.requests().len(), attempts, "{status}");
        // …which the core turns into a backend error.
        let err = costetl_core::promjson::decode("cpu", &response.body).unwrap_err();
        assert!(
            matches!(err, costetl_core::Error::Backend { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.is_too_large(),
            body.contains("expression evaluation"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn answers_over_the_size_limit_are_refused_as_too_large() {
    let big = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[]}},"pad":"{}"}}"#,
        "x".repeat(4096)
    );
    let server = FaultServer::always(Reply::json(200, &big)).await;
    let mut cfg = config(&server.url);
    cfg.limits.max_response_bytes = 1024;
    let source = PromSource::from_config(&cfg).unwrap();
    let err = bounded(source.query(&instant_query())).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::TooLarge, "{err:?}");
    assert!(
        err.message.contains("larger than the limit of 1024 bytes"),
        "{}",
        err.message
    );
    assert_eq!(server.requests().len(), 1, "not retried");
    // Within the limit, the same answer passes.
    cfg.limits.max_response_bytes = 1 << 20;
    let source = PromSource::from_config(&cfg).unwrap();
    let ok = bounded(source.query(&instant_query())).await.unwrap();
    assert_eq!(ok.body, big.as_bytes());
}

#[tokio::test]
async fn non_json_error_bodies_become_classified_errors() {
    let html = format!(
        "<html><body><h1>502 Bad Gateway</h1>{}</body></html>",
        "x".repeat(500)
    );
    // The excerpt is quoted with escapes, so each case names an
    // escape-free part of its body to look for.
    for (status, content_type, body, marker, kind) in [
        (
            502,
            "text/html",
            html.clone(),
            "<h1>502 Bad Gateway</h1>xxx",
            SourceErrorKind::Transient,
        ),
        (
            413,
            "text/plain",
            "response larger than the max (181673024 vs 52428800)".to_owned(),
            "response larger than the max (181673024",
            SourceErrorKind::TooLarge,
        ),
        (
            401,
            "application/json",
            r#"{"message":"no org id"}"#.to_owned(),
            "no org id",
            SourceErrorKind::Permanent,
        ),
        (
            403,
            "application/json",
            r#"{"message":"User is not authorized to perform: aps:QueryMetrics"}"#.to_owned(),
            "aps:QueryMetrics",
            SourceErrorKind::Permanent,
        ),
        (
            404,
            "text/plain",
            "404 page not found".to_owned(),
            "404 page not found",
            SourceErrorKind::Permanent,
        ),
        (
            200,
            "text/html",
            "<html>login</html>".to_owned(),
            "<html>login",
            SourceErrorKind::Permanent,
        ),
    ] {
        let server = FaultServer::always(Reply::with(status, content_type, &body)).await;
        let mut cfg = config(&server.url);
        cfg.retry.enabled = false;
        let source = PromSource::from_config(&cfg).unwrap();
        let err = source.query(&instant_query()).await.unwrap_err();
        assert!(
            err.message.contains(&format!("HTTP {status}")),
            "{}",
            err.message
        );
        assert!(err.message.contains(content_type), "{}", err.message);
        assert!(err.message.contains(marker), "{}", err.message);
        assert!(
            err.message.len() < 400,
            "excerpt is bounded: {}",
            err.message
        );
        assert_eq!(err.kind, kind, "{status}");
    }
}

/// 400, 401, 403, 404, 413 and 422 are never retried, whatever the body.
#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 413, 422] {
        for body in [
            "plain text",
            r#"{"status":"error","errorType":"x","error":"y"}"#,
        ] {
            let server = FaultServer::always(Reply::with(status, "text/plain", body)).await;
            let source = PromSource::from_config(&config(&server.url)).unwrap();
            let _ = source.query(&instant_query()).await;
            assert_eq!(server.requests().len(), 1, "{status} {body}");
            assert_eq!(source.stats().retries, 0);
        }
    }
}

/// Overload and gateway statuses, AMP throttling (even as a 400), resets
/// and truncated bodies are retried until an answer comes.
#[tokio::test]
async fn transient_failures_are_retried_until_an_answer() {
    let throttled =
        r#"{"__type":"com.amazonaws.aps#ThrottlingException","message":"Rate exceeded"}"#;
    let server = FaultServer::script(vec![
        Reply::with(429, "text/plain", "too many outstanding requests"),
        Reply::with(502, "text/html", "<html>bad gateway</html>"),
        Reply::with(503, "text/plain", "unavailable"),
        Reply::with(504, "text/plain", "gateway timeout"),
        Reply::json(400, throttled),
        Reply::json(429, throttled).header("x-amzn-ErrorType", "ThrottlingException"),
        Reply::Reset,
        Reply::Truncate(VECTOR.as_bytes().to_vec()),
        Reply::json(200, VECTOR),
    ])
    .await;
    let mut cfg = config(&server.url);
    cfg.retry.max_retries = 8;
    let source = PromSource::from_config(&cfg).unwrap();
    let body = bounded(source.query(&instant_query())).await.unwrap().body;
    assert_eq!(body, VECTOR.as_bytes());
    assert_eq!(server.requests().len(), 9);
    assert_eq!(source.stats().retries, 8);
}

#[tokio::test]
async fn attempts_are_capped_and_the_last_failure_reported() {
    let server = FaultServer::always(Reply::with(503, "text/plain", "down for maintenance")).await;
    let mut cfg = config(&server.url);
    cfg.retry.max_retries = 3;
    let source = PromSource::from_config(&cfg).unwrap();
    let err = bounded(source.query(&instant_query())).await.unwrap_err();
    assert_eq!(server.requests().len(), 4);
    assert_eq!(err.kind, SourceErrorKind::Transient);
    assert!(
        err.message.contains("down for maintenance"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("gave up after 4 attempts"),
        "{}",
        err.message
    );

    // Exponential backoff with equal jitter: waits in [2.5, 5) + [5, 10) +
    // [10, 20) ms (planned waits, not measured time).
    let waited = source.stats().retry_wait;
    assert!(
        waited >= Duration::from_micros(17_500) && waited < Duration::from_millis(35),
        "{waited:?}"
    );

    // Retries off: one attempt.
    let server = FaultServer::always(Reply::with(503, "text/plain", "down")).await;
    let mut cfg = config(&server.url);
    cfg.retry.enabled = false;
    let err = PromSource::from_config(&cfg)
        .unwrap()
        .query(&instant_query())
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert!(!err.message.contains("gave up"), "{}", err.message);
}

/// `Retry-After` in seconds and as an HTTP date (measured against the
/// response's `Date`), capped by `max_backoff`.
#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    for (reply, max_backoff, want) in [
        (
            Reply::with(429, "text/plain", "slow down").header("retry-after", "1"),
            Duration::from_secs(10),
            Duration::from_secs(1),
        ),
        (
            Reply::with(503, "text/plain", "busy")
                .header("date", "Tue, 14 Nov 2023 22:13:20 GMT")
                .header("retry-after", "Tue, 14 Nov 2023 22:13:22 GMT"),
            Duration::from_secs(10),
            Duration::from_secs(2),
        ),
        (
            Reply::with(429, "text/plain", "come back in an hour").header("retry-after", "3600"),
            Duration::from_millis(50),
            Duration::from_millis(50),
        ),
    ] {
        let server = FaultServer::script(vec![reply, Reply::json(200, VECTOR)]).await;
        let mut cfg = config(&server.url);
        cfg.retry.max_backoff = max_backoff;
        let source = PromSource::from_config(&cfg).unwrap();
        bounded(source.query(&instant_query())).await.unwrap();
        assert_eq!(server.requests().len(), 2);
        assert_eq!(source.stats().retry_wait, want);
    }
}

#[tokio::test]
async fn a_stalled_answer_hits_the_request_deadline() {
    for reply in [Reply::Hang, Reply::StallBody(VECTOR.as_bytes().to_vec())] {
        let server = FaultServer::always(reply).await;
        let mut cfg = config(&server.url);
        cfg.retry.enabled = false;
        cfg.request_timeout = Duration::from_millis(300);
        let source = PromSource::from_config(&cfg).unwrap();
        let err = bounded(source.query(&instant_query())).await.unwrap_err();
        assert_eq!(err.kind, SourceErrorKind::Transient);
        assert!(err.message.contains("timed out"), "{}", err.message);
    }
}

/// A listener whose accept queue is full drops new connection attempts,
/// so the connect timeout (not the request deadline) ends the attempt.
#[tokio::test]
async fn connect_timeout_is_separate_from_the_deadline() {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (never accepted).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let mut cfg = config(&format!("http://{addr}"));
    cfg.retry.enabled = false;
    cfg.connect_timeout = Duration::from_millis(300);
    cfg.request_timeout = Duration::from_secs(30);
    let source = PromSource::from_config(&cfg).unwrap();
    let err = bounded(source.query(&instant_query())).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Transient);
    assert!(err.message.contains("connect timeout"), "{}", err.message);
    drop(fillers);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind then drop to get a port nobody listens on.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"));
    cfg.retry.max_retries = 1;
    let source = PromSource::from_config(&cfg).unwrap();
    let err = bounded(source.query(&instant_query())).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Transient, "{}", err.message);
    assert!(
        err.message
            .contains(&format!("127.0.0.1:{port}/api/v1/query")),
        "{}",
        err.message
    );
    assert_eq!(source.stats().requests, 2);
}

#[derive(Default)]
struct Flight {
    now: usize,
    max: usize,
}

/// 50 queries at once through a source limited to 3: the server holds
/// every request until released; once 3 are waiting, a pause gives any
/// excess request time to arrive; then all are released. The server never
/// sees more than 3, and does see 3.
#[tokio::test]
async fn concurrency_is_bounded_by_the_source() {
    const LIMIT: usize = 3;
    let flight = Arc::new(Mutex::new(Flight::default()));
    let (open, gate) = tokio::sync::watch::channel(false);
    let f = flight.clone();
    let server = FaultServer::start_async(Arc::new(move |_, _| {
        let f = f.clone();
        let mut gate = gate.clone();
        Box::pin(async move {
            {
                let mut s = f.lock().unwrap();
                s.now += 1;
                s.max = s.max.max(s.now);
            }
            let _ = gate.wait_for(|open| *open).await;
            f.lock().unwrap().now -= 1;
            Reply::json(200, VECTOR)
        })
    }))
    .await;
    let mut cfg = config(&server.url);
    cfg.concurrency = LIMIT;
    let source = PromSource::from_config(&cfg).unwrap();
    let q = instant_query();
    let all = futures::future::join_all((0..50).map(|_| source.query(&q)));
    let release = async {
        for _ in 0..600 {
            if flight.lock().unwrap().now >= LIMIT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let waiting = flight.lock().unwrap().now;
        open.send(true).unwrap();
        waiting
    };
    let (results, waiting) = bounded(async { tokio::join!(all, release) }).await;
    assert_eq!(waiting, LIMIT);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.requests().len(), 50);
    assert_eq!(flight.lock().unwrap().max, LIMIT);
}

/// A partial answer (Thanos: 200 with `warnings`) that arrives after a
/// retry reaches the core whole: nothing on the retry path drops it.
#[tokio::test]
async fn warnings_survive_retries() {
    let partial = r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["No StoreAPIs matched for this query"],"infos":["PromQL info: metric might not be a counter"]}"#;
    let server = FaultServer::script(vec![
        Reply::with(503, "text/plain", "busy"),
        Reply::json(200, partial),
    ])
    .await;
    let source = PromSource::from_config(&config(&server.url)).unwrap();
    let body = bounded(source.query(&instant_query())).await.unwrap().body;
    let r = costetl_core::promjson::decode("cpu", &body).unwrap();
    assert_eq!(r.warnings, ["No StoreAPIs matched for this query"]);
    assert_eq!(r.infos, ["PromQL info: metric might not be a counter"]);
}
