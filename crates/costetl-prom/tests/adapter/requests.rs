//! What `PromSource` sends, as a recording loopback server sees it.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::source::{MetricsSource, QueryKind, QuerySpec, SourceErrorKind};
use costetl_prom::sign::{RequestSigner, SignFuture};
use costetl_prom::{AuthConfig, Method, ParamValues, PromConfig, PromSource, Secret};
use prometheus_http_query::reqwest;

use crate::support::{FaultServer, Recorded, Reply, VECTOR, bounded, instant_query, quick_retries};

fn range_query(hours: i64, step_s: i64) -> QuerySpec {
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    QuerySpec {
        id: "ram".into(),
        promql: "up".into(),
        kind: QueryKind::Range {
            start,
            end: start + TimeDelta::hours(hours),
            step: TimeDelta::seconds(step_s),
        },
    }
}

#[tokio::test]
async fn every_path_prefix_gets_the_api_path_once() {
    for prefix in [
        "",
        "/",
        "/prometheus",
        "/prometheus/",
        "/api/prom",
        "/select/0/prometheus/",
        "/workspaces/ws-1234abcd",
        "/workspaces/ws-1234abcd//",
    ] {
        let server = FaultServer::always(Reply::json(200, VECTOR)).await;
        let source = PromSource::new(&format!("{}{prefix}", server.url)).unwrap();
        let body = source.query(&instant_query()).await.unwrap().body;
        assert_eq!(body, VECTOR.as_bytes(), "body returned verbatim");
        let want = format!("{}/api/v1/query", prefix.trim_end_matches('/'));
        assert_eq!(server.requests()[0].path(), want, "{prefix:?}");
    }
}

#[tokio::test]
async fn instant_query_is_a_post_form() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let source = PromSource::new(&server.url).unwrap();
    source.query(&instant_query()).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.param("time").as_deref(), Some("1700000000"));
    assert_eq!(req.param("query"), Some(instant_query().promql));
    // Prometheus' own timeout, 90% of the default 120 s deadline.
    assert_eq!(req.param("timeout").as_deref(), Some("108000ms"));
    assert!(
        !req.target.contains('?'),
        "nothing in the URL: {}",
        req.target
    );
}

#[tokio::test]
async fn long_promql_travels_in_the_body() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let source = PromSource::new(&server.url).unwrap();
    let mut q = instant_query();
    q.promql = format!("sum({})", "up + ".repeat(4096)) + "1";
    assert!(q.promql.len() > 20 * 1024);
    source.query(&q).await.unwrap();
    let req = &server.requests()[0];
    assert!(req.target.len() < 512, "{}", req.target.len());
    assert_eq!(req.param("query"), Some(q.promql));
}

#[tokio::test]
async fn get_on_request_puts_everything_in_the_url() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.method = Method::Get;
    cfg.params.insert("dedup".into(), ParamValues::from("true"));
    let source = PromSource::from_config(&cfg).unwrap();
    source.query(&instant_query()).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert!(req.body.is_empty());
    assert!(
        req.target.starts_with("/api/v1/query?query="),
        "{}",
        req.target
    );
    assert_eq!(req.param("dedup").as_deref(), Some("true"));
    assert_eq!(req.param("query"), Some(instant_query().promql));
}

#[tokio::test]
async fn sub_second_instant_time_is_sent_exactly() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let source = PromSource::new(&server.url).unwrap();
    let mut q = instant_query();
    q.kind = QueryKind::Instant {
        time: Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap(),
    };
    source.query(&q).await.unwrap();
    assert_eq!(
        server.requests()[0].param("time").as_deref(),
        Some("2023-11-14T22:13:20.250Z")
    );
}

#[tokio::test]
async fn range_query_sends_start_end_step() {
    let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]},"stats":{"seriesFetched":"0","executionTimeMsec":1}}"#;
    let server = FaultServer::always(Reply::json(200, matrix)).await;
    let source = PromSource::new(&format!("{}/select/0/prometheus", server.url)).unwrap();
    let body = source.query(&range_query(1, 300)).await.unwrap().body;
    assert_eq!(body, matrix.as_bytes(), "one piece: verbatim");
    let req = &server.requests()[0];
    assert_eq!(req.path(), "/select/0/prometheus/api/v1/query_range");
    assert_eq!(req.param("query").as_deref(), Some("up"));
    assert_eq!(req.param("start").as_deref(), Some("1700000000"));
    assert_eq!(req.param("end").as_deref(), Some("1700003600"));
    assert_eq!(req.param("step").as_deref(), Some("300"));
}

#[tokio::test]
async fn sub_second_range_bounds_are_refused() {
    let source = PromSource::new("http://127.0.0.1:9").unwrap();
    let mut q = range_query(1, 300);
    if let QueryKind::Range { start, .. } = &mut q.kind {
        *start += TimeDelta::nanoseconds(5);
    }
    let err = source.query(&q).await.unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    assert!(err.message.contains("whole seconds"), "{}", err.message);
}

/// Thanos, VictoriaMetrics and AMP parameters, a tenant header and basic
/// auth reach the server on the first attempt, on each retry, and on every
/// piece of a split range query.
#[tokio::test]
async fn params_headers_and_auth_on_every_request_including_retries() {
    let server = FaultServer::start(|req, i| {
        // Fail the first two attempts of each query.
        let attempt = i % 3;
        match (req.path(), attempt) {
            (_, 0) => Reply::with(503, "text/plain", "overloaded"),
            (_, 1) => Reply::json(
                429,
                r#"{"status":"error","errorType":"unavailable","error":"busy"}"#,
            ),
            ("/api/v1/query", _) => Reply::json(200, VECTOR),
            _ => Reply::json(
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            ),
        }
    })
    .await;
    let mut cfg = PromConfig::new(&server.url);
    quick_retries(&mut cfg);
    cfg.concurrency = 1; // attempts of one query arrive in order
    cfg.limits.max_points = 31; // a 1 h range at 1 m: two pieces
    cfg.headers.insert("X-Scope-OrgID", "tenant-7");
    cfg.auth = AuthConfig::Basic {
        username: "grafana".into(),
        password: Secret::new("s3cret"),
    };
    let params: BTreeMap<&str, ParamValues> = [
        ("dedup", "false".into()),
        ("partial_response", "true".into()),
        ("max_source_resolution", "5m".into()),
        ("nocache", "1".into()),
        (
            "extra_label",
            ParamValues(vec!["team=a".into(), "env=prod".into()]),
        ),
        ("max_samples_processed_warning_threshold", "50000000".into()),
        ("max_samples_processed_error_threshold", "100000000".into()),
        ("costetl_custom", "x y".into()),
    ]
    .into_iter()
    .collect();
    cfg.params = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let source = PromSource::from_config(&cfg).unwrap();

    source.query(&instant_query()).await.unwrap();
    source.query(&range_query(1, 60)).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 9, "3 attempts × (1 instant + 2 range pieces)");
    assert_eq!(source.stats().retries, 6);
    for req in &seen {
        for (name, values) in &params {
            assert_eq!(req.params(name), values.0, "{name} on {}", req.target);
        }
        assert_eq!(req.header("x-scope-orgid"), Some("tenant-7"));
        // base64("grafana:s3cret")
        assert_eq!(
            req.header("authorization"),
            Some("Basic Z3JhZmFuYTpzM2NyZXQ=")
        );
    }
    let pieces: Vec<_> = seen
        .iter()
        .filter(|r| r.path() == "/api/v1/query_range")
        .map(|r| (r.param("start").unwrap(), r.param("end").unwrap()))
        .collect();
    assert_eq!(
        pieces
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        2,
        "{pieces:?}"
    );
}

#[tokio::test]
async fn server_timeout_parameter_can_be_turned_off() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.server_timeout = false;
    PromSource::from_config(&cfg)
        .unwrap()
        .query(&instant_query())
        .await
        .unwrap();
    assert_eq!(server.requests()[0].param("timeout"), None);
}

#[tokio::test]
async fn static_bearer_token() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.auth = AuthConfig::Bearer {
        token: Some(Secret::new("tok-123")),
        token_file: None,
    };
    let source = PromSource::from_config(&cfg).unwrap();
    source.query(&instant_query()).await.unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer tok-123")
    );
    assert!(!format!("{source:?}{cfg:?}").contains("tok-123"));
}

/// A service-account token rotated on disk is used from the next request
/// on, without rebuilding the source.
#[tokio::test]
async fn bearer_token_file_is_read_before_every_request() {
    let server = FaultServer::always(Reply::json(200, VECTOR)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "tok-1\n").unwrap();
    let mut cfg = PromConfig::new(&server.url);
    cfg.auth = AuthConfig::Bearer {
        token: None,
        token_file: Some(file.clone()),
    };
    let source = PromSource::from_config(&cfg).unwrap();
    source.query(&instant_query()).await.unwrap();
    std::fs::write(&file, "tok-2").unwrap();
    source.query(&instant_query()).await.unwrap();
    let auth: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-2"]);

    // A missing or empty file is an error naming the file, not the token,
    // and worth a retry (the file may be mid-rotation).
    std::fs::write(&file, "  \n").unwrap();
    let mut no_retry = cfg.clone();
    no_retry.retry.enabled = false;
    let err = PromSource::from_config(&no_retry)
        .unwrap()
        .query(&instant_query())
        .await
        .unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Transient);
    assert!(
        err.message.contains("token") && err.message.contains("empty"),
        "{}",
        err.message
    );
    assert_eq!(server.requests().len(), 2, "nothing sent without a token");
}

#[test]
fn invalid_auth_and_settings_are_refused_at_build_time() {
    let base = PromConfig::new("http://127.0.0.1:9");
    let mut both = base.clone();
    both.auth = AuthConfig::Bearer {
        token: Some("a".into()),
        token_file: Some("/x".into()),
    };
    let mut header = base.clone();
    header.headers.insert("bad header", "v");
    let mut reserved = base.clone();
    reserved.params.insert("query".into(), "x".into());
    let mut zero = base.clone();
    zero.concurrency = 0;
    let mut tls_on_http = base.clone();
    tls_on_http.tls.insecure_skip_verify = true;
    let mut missing_ca = PromConfig::new("https://127.0.0.1:9");
    missing_ca.tls.ca_file = Some("/nonexistent/ca.pem".into());
    for (cfg, want) in [
        (both, "exactly one"),
        (header, "bad header"),
        (reserved, "params.query"),
        (zero, "concurrency"),
        (tls_on_http, "plain http"),
        (missing_ca, "/nonexistent/ca.pem"),
    ] {
        let err = PromSource::from_config(&cfg).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
}

/// A test signer: adds a digest of exactly what it signed, remembers
/// whether the static headers were already on the request, counts calls.
#[derive(Debug, Default)]
struct DigestSigner {
    calls: AtomicUsize,
}

fn digest(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    (method, path_and_query, body).hash(&mut h);
    format!("{:016x}", h.finish())
}

impl RequestSigner for DigestSigner {
    fn sign<'a>(&'a self, request: &'a mut reqwest::Request) -> SignFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let body = request
                .body()
                .and_then(|b| b.as_bytes())
                .unwrap_or_default()
                .to_vec();
            let url = request.url();
            let target = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let d = digest(request.method().as_str(), &target, &body);
            let tenant = request.headers().contains_key("x-scope-orgid");
            let h = request.headers_mut();
            h.insert("x-test-signature", d.parse().unwrap());
            h.insert(
                "x-test-saw-tenant",
                if tenant { "yes" } else { "no" }.parse().unwrap(),
            );
            Ok(())
        })
    }
}

fn check_signed(req: &Recorded) {
    let want = digest(&req.method, &req.target, req.body.as_bytes());
    assert_eq!(
        req.header("x-test-signature"),
        Some(want.as_str()),
        "{req:?}"
    );
    assert_eq!(req.header("x-test-saw-tenant"), Some("yes"));
}

/// With a signer (the SigV4 hook), the request that arrives is exactly the
/// one signed, with the same parameters as the unsigned path, and every
/// retry is signed afresh.
#[tokio::test]
async fn signer_signs_every_attempt_and_what_is_signed_is_sent() {
    for method in [Method::Post, Method::Get] {
        let server = FaultServer::script(vec![
            Reply::with(503, "text/plain", "busy"),
            Reply::json(200, VECTOR),
        ])
        .await;
        let signer = Arc::new(DigestSigner::default());
        let mut cfg = PromConfig::new(format!("{}/workspaces/ws-1/", server.url));
        quick_retries(&mut cfg);
        cfg.method = method;
        cfg.headers.insert("X-Scope-OrgID", "t");
        cfg.params
            .insert("max_samples_processed_error_threshold".into(), "7".into());
        let source = costetl_prom::PromSourceBuilder::from_config(&cfg)
            .signer(signer.clone())
            .build()
            .unwrap();
        let body = bounded(source.query(&instant_query())).await.unwrap().body;
        assert_eq!(body, VECTOR.as_bytes());
        assert_eq!(signer.calls.load(Ordering::SeqCst), 2, "{method:?}");
        let seen = server.requests();
        assert_eq!(seen.len(), 2);
        for req in &seen {
            check_signed(req);
            assert_eq!(req.path(), "/workspaces/ws-1/api/v1/query");
            assert_eq!(req.param("query"), Some(instant_query().promql));
            assert_eq!(req.param("time").as_deref(), Some("1700000000"));
            assert_eq!(
                req.param("max_samples_processed_error_threshold")
                    .as_deref(),
                Some("7")
            );
            assert_eq!(req.param("timeout").as_deref(), Some("108000ms"));
            assert_eq!(req.method, format!("{method:?}").to_uppercase());
        }
    }
}

/// The signed path and the crate's path send the same parameters in the
/// same order and encoding, for range queries too.
#[tokio::test]
async fn signed_and_unsigned_requests_are_identical() {
    let server = FaultServer::always(Reply::json(
        200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
    ))
    .await;
    let mut cfg = PromConfig::new(&server.url);
    cfg.headers.insert("X-Scope-OrgID", "t");
    cfg.params.insert(
        "extra_label".into(),
        ParamValues(vec!["a=b".into(), "c=d".into()]),
    );
    let plain = PromSource::from_config(&cfg).unwrap();
    let signed = costetl_prom::PromSourceBuilder::from_config(&cfg)
        .signer(Arc::new(DigestSigner::default()))
        .build()
        .unwrap();
    let mut q = range_query(2, 30);
    q.promql = "sum by (pod) (rate(x{a=\"b c\"}[5m])) + 1".into();
    plain.query(&q).await.unwrap();
    signed.query(&q).await.unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].target, seen[1].target);
    assert_eq!(seen[0].body, seen[1].body);
    check_signed(&seen[1]);
}

#[test]
fn sigv4_auth_builds_a_signer_from_the_config() {
    let cfg: PromConfig = toml::from_str(
        r#"
        url = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1"
        [auth]
        type = "sigv4"
        "#,
    )
    .unwrap();
    // Building must not contact AWS; signing happens per request.
    let built = PromSource::from_config(&cfg);
    match built {
        Ok(source) => assert!(source.base_url().ends_with("/workspaces/ws-1")),
        // A build without the `sigv4` feature says so.
        Err(e) => assert!(e.to_string().contains("sigv4"), "{e}"),
    }
}

#[test]
fn secrets_stay_out_of_debug() {
    let mut cfg = PromConfig::new("https://u:urlpass@gw/prometheus");
    cfg.auth = AuthConfig::Basic {
        username: "u".into(),
        password: Secret::new("pw-basic"),
    };
    cfg.headers.insert("X-Api-Key", "key-header");
    let source = PromSource::from_config(&cfg).unwrap();
    let text = format!("{cfg:?} {source:?}");
    for secret in ["pw-basic", "key-header", "urlpass"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
