//! `PromSource` against a canned HTTP responder on 127.0.0.1: what it
//! sends (method, path, form body) and how it treats each kind of answer.
//! Not a Prometheus test; that lives in the end-to-end harness.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::source::{MetricsSource, QueryKind, QuerySpec, SourceErrorKind};
use costetl_prom::PromSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the responder saw.
#[derive(Debug)]
struct Request {
    /// e.g. `POST /prometheus/api/v1/query HTTP/1.1`
    line: String,
    /// Lower-cased header block.
    headers: String,
    body: String,
}

/// How the responder answers the one request it accepts.
enum Reply {
    Send {
        status: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Read the request and never answer.
    Hang,
}

/// Start a responder for one request; returns its base URL and a handle
/// yielding the request it saw.
async fn responder(reply: Reply) -> (String, tokio::task::JoinHandle<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed before sending headers");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let (line, headers) = head.split_once("\r\n").unwrap();
        let headers = headers.to_ascii_lowercase();
        let len: usize = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + len {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed mid-body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let request = Request {
            line: line.to_owned(),
            headers,
            body: String::from_utf8(buf[head_end..head_end + len].to_vec()).unwrap(),
        };
        match reply {
            Reply::Send {
                status,
                content_type,
                body,
            } => {
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await.unwrap();
                stream.write_all(&body).await.unwrap();
                stream.shutdown().await.unwrap();
            }
            Reply::Hang => std::future::pending::<()>().await,
        }
        request
    });
    (base, handle)
}

fn ok_json(body: &str) -> Reply {
    Reply::Send {
        status: "200 OK",
        content_type: "application/json",
        body: body.as_bytes().to_vec(),
    }
}

fn instant_query() -> QuerySpec {
    QuerySpec {
        id: "cpu".into(),
        promql: "sum by (namespace) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m]))"
            .into(),
        kind: QueryKind::Instant {
            time: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        },
    }
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"namespace":"a"},"value":[1700000000,"0.25"]}]}}"#;

#[tokio::test]
async fn instant_query_is_a_post_form_under_the_prefix() {
    let (base, seen) = responder(ok_json(VECTOR)).await;
    // Path prefix with trailing slash: must not produce `//api/v1`.
    let source = PromSource::new(&format!("{base}/prometheus/")).unwrap();
    let response = source.query(&instant_query()).await.unwrap();
    assert_eq!(response.body, VECTOR.as_bytes(), "body returned verbatim");

    let req = seen.await.unwrap();
    assert_eq!(req.line, "POST /prometheus/api/v1/query HTTP/1.1");
    assert!(
        req.headers
            .contains("content-type: application/x-www-form-urlencoded"),
        "{}",
        req.headers
    );
    assert_eq!(form_value(&req.body, "time"), Some("1700000000"));
    let query = form_value(&req.body, "query").unwrap();
    assert!(
        query.starts_with("sum+by+%28namespace%29"),
        "PromQL is in the form body: {query}"
    );
}

#[tokio::test]
async fn sub_second_instant_time_is_sent_exactly() {
    let (base, seen) = responder(ok_json(VECTOR)).await;
    let source = PromSource::new(&base).unwrap();
    let mut q = instant_query();
    q.kind = QueryKind::Instant {
        time: Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap(),
    };
    source.query(&q).await.unwrap();
    let req = seen.await.unwrap();
    assert_eq!(req.line, "POST /api/v1/query HTTP/1.1");
    assert_eq!(
        form_value(&req.body, "time"),
        Some("2023-11-14T22%3A13%3A20.250Z")
    );
}

#[tokio::test]
async fn range_query_sends_start_end_step() {
    let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]},"stats":{"seriesFetched":"0","executionTimeMsec":1}}"#;
    let (base, seen) = responder(ok_json(matrix)).await;
    let source = PromSource::new(&format!("{base}/select/0/prometheus")).unwrap();
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let q = QuerySpec {
        id: "ram".into(),
        promql: "up".into(),
        kind: QueryKind::Range {
            start,
            end: start + TimeDelta::hours(1),
            step: TimeDelta::seconds(300),
        },
    };
    assert_eq!(source.query(&q).await.unwrap().body, matrix.as_bytes());
    let req = seen.await.unwrap();
    assert_eq!(
        req.line,
        "POST /select/0/prometheus/api/v1/query_range HTTP/1.1"
    );
    assert_eq!(form_value(&req.body, "query"), Some("up"));
    assert_eq!(form_value(&req.body, "start"), Some("1700000000"));
    assert_eq!(form_value(&req.body, "end"), Some("1700003600"));
    assert_eq!(form_value(&req.body, "step"), Some("300"));
}

#[tokio::test]
async fn sub_second_range_bounds_are_refused() {
    let source = PromSource::new("http://127.0.0.1:9").unwrap();
    let start = Utc.timestamp_opt(1_700_000_000, 5).unwrap();
    let q = QuerySpec {
        id: "ram".into(),
        promql: "up".into(),
        kind: QueryKind::Range {
            start,
            end: start + TimeDelta::hours(1),
            step: TimeDelta::seconds(300),
        },
    };
    let err = source.query(&q).await.unwrap_err();
    assert!(!err.retryable());
    assert!(err.message.contains("whole seconds"), "{}", err.message);
}

#[tokio::test]
async fn prometheus_error_envelopes_are_returned_as_bodies() {
    for (status, body) in [
        (
            "400 Bad Request",
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#,
        ),
        (
            "422 Unprocessable Entity",
            r#"{"status":"error","errorType":"422","error":"cannot execute"}"#,
        ),
        (
            "503 Service Unavailable",
            r#"{"status":"error","errorType":"timeout","error":"query timed out in query queue"}"#,
        ),
    ] {
        let (base, _seen) = responder(Reply::Send {
            status,
            content_type: "application/json",
            body: body.as_bytes().to_vec(),
        })
        .await;
        let source = PromSource::new(&base).unwrap();
        let response = source.query(&instant_query()).await.unwrap();
        assert_eq!(response.body, body.as_bytes(), "{status}");
        // …which the core turns into a backend error.
        let err = costetl_core::promjson::decode("cpu", &response.body).unwrap_err();
        assert!(
            matches!(err, costetl_core::Error::Backend { .. }),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn non_json_error_bodies_become_source_errors() {
    let html = format!(
        "<html><body><h1>502 Bad Gateway</h1>{}</body></html>",
        "x".repeat(500)
    );
    // The excerpt is quoted with escapes, so each case names an
    // escape-free part of its body to look for.
    for (status, content_type, body, marker, kind) in [
        (
            "502 Bad Gateway",
            "text/html",
            html.clone(),
            "<h1>502 Bad Gateway</h1>xxx",
            SourceErrorKind::Transient,
        ),
        (
            "413 Payload Too Large",
            "text/plain",
            "response larger than the max (181673024 vs 52428800)".to_owned(),
            "response larger than the max (181673024",
            SourceErrorKind::TooLarge,
        ),
        (
            "401 Unauthorized",
            "application/json",
            r#"{"message":"no org id"}"#.to_owned(),
            "no org id",
            SourceErrorKind::Permanent,
        ),
        (
            "200 OK",
            "text/html",
            "<html>login</html>".to_owned(),
            "<html>login",
            SourceErrorKind::Permanent,
        ),
    ] {
        let (base, _seen) = responder(Reply::Send {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        })
        .await;
        let source = PromSource::new(&base).unwrap();
        let err = source.query(&instant_query()).await.unwrap_err();
        let code = status.split(' ').next().unwrap();
        assert!(
            err.message.contains(&format!("HTTP {code}")),
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

#[tokio::test]
async fn request_timeout_is_enforced() {
    let (base, _seen) = responder(Reply::Hang).await;
    let source = PromSource::builder(&base)
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = source.query(&instant_query()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.retryable());
    assert!(err.message.contains("timed out"), "{}", err.message);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind then drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = PromSource::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = source.query(&instant_query()).await.unwrap_err();
    assert!(err.retryable(), "{}", err.message);
    assert!(
        err.message
            .contains(&format!("127.0.0.1:{port}/api/v1/query")),
        "{}",
        err.message
    );
}

#[test]
fn query_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let source = PromSource::new("http://127.0.0.1:9").unwrap();
    let q = instant_query();
    assert_send(source.query(&q));
}
