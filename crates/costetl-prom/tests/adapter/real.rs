//! Against the real thing: Debian's Prometheus 2.42, VictoriaMetrics 1.79
//! and vmauth on 127.0.0.1 (costetl-testkit), for what a user meets in
//! practice: path prefixes, TLS, mTLS, basic and bearer auth, backend
//! parameters, range-query limits and splitting.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use costetl_core::promjson::{self, QueryResult};
use costetl_core::source::{MetricsSource, QueryKind, QuerySpec, SourceErrorKind};
use costetl_prom::{AuthConfig, ParamValues, PromConfig, PromSource, Secret};
use costetl_testkit::{PromServer, TestPki, VmAuthServer, VmAuthUser, VmServer, WebConfig};

use crate::support::assert_same;

/// 2023-11-14T00:00:00Z.
const T0: i64 = 1_699_920_000;
/// Three hours of data every 15 s.
const HOURS: i64 = 3;

/// Five CPU-request series in two namespaces, every 15 s for 3 h; values
/// change over time so that every evaluation step matters.
fn data() -> String {
    let mut text = String::from("# TYPE kube_pod_container_resource_requests gauge\n");
    let series = [
        ("a", "p1"),
        ("a", "p2"),
        ("b", "p3"),
        ("b", "p4"),
        ("b", "p5"),
    ];
    for i in 0..=(HOURS * 240) {
        let t = T0 + 15 * i;
        for (k, (ns, pod)) in series.iter().enumerate() {
            let v = 0.125 * (k as f64 + 1.0) + (i % 17) as f64 / 64.0;
            text.push_str(&format!(
                "kube_pod_container_resource_requests{{namespace=\"{ns}\",pod=\"{pod}\",resource=\"cpu\",unit=\"core\"}} {v} {t}\n"
            ));
        }
    }
    text.push_str("# EOF\n");
    text
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn instant(promql: &str) -> QuerySpec {
    QuerySpec {
        id: "q".into(),
        promql: promql.into(),
        kind: QueryKind::Instant {
            time: Utc.timestamp_opt(T0 + 3600, 0).unwrap(),
        },
    }
}

fn range(promql: &str, step_s: i64) -> QuerySpec {
    let start = Utc.timestamp_opt(T0, 0).unwrap();
    QuerySpec {
        id: "r".into(),
        promql: promql.into(),
        kind: QueryKind::Range {
            start,
            end: start + TimeDelta::hours(HOURS),
            step: TimeDelta::seconds(step_s),
        },
    }
}

fn run(source: &PromSource, q: &QuerySpec) -> Result<QueryResult, String> {
    let body = rt().block_on(source.query(q)).map_err(|e| e.message)?;
    promjson::decode(&q.id, &body.body).map_err(|e| e.to_string())
}

/// The value of `sum(...)` at T0 + 1 h, from the data's formula.
fn sum_at_one_hour(namespace: Option<&str>) -> f64 {
    let i = 240_i64;
    let ks: &[usize] = match namespace {
        None => &[0, 1, 2, 3, 4],
        Some("a") => &[0, 1],
        Some(_) => &[2, 3, 4],
    };
    ks.iter()
        .map(|&k| 0.125 * (k as f64 + 1.0) + (i % 17) as f64 / 64.0)
        .sum()
}

const SUM: &str = "sum(kube_pod_container_resource_requests)";

fn assert_sum(r: &QueryResult, want: f64) {
    let got = r.series[0].last_value().unwrap();
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

/// Every path-prefix shape of the issue, each on a real server: Prometheus
/// under `--web.route-prefix=/prometheus` (Mimir's and Thanos' shape), and
/// VictoriaMetrics under `/select/0/prometheus` (vmselect), `/api/prom`
/// (Cortex, Grafana Cloud) and `/workspaces/<id>` (AMP). With and without
/// a trailing slash.
#[test]
fn path_prefixes_on_real_servers() {
    let text = data();
    let prom = PromServer::start_with_openmetrics_args(&text, &["--web.route-prefix=/prometheus"])
        .unwrap();
    assert!(prom.url().ends_with("/prometheus"), "{}", prom.url());
    let mut urls = vec![prom.url()];
    let mut vms = Vec::new();
    for prefix in [
        "/select/0/prometheus",
        "/api/prom",
        "/workspaces/ws-6b1c0d3e",
    ] {
        let vm =
            VmServer::start_with_openmetrics_args(&text, &[&format!("-http.pathPrefix={prefix}")])
                .unwrap();
        assert!(vm.url().ends_with(prefix));
        urls.push(vm.url());
        vms.push(vm);
    }
    for url in urls {
        for u in [url.clone(), format!("{url}/")] {
            let source = PromSource::new(&u).unwrap();
            let r = run(&source, &instant(SUM)).unwrap_or_else(|e| panic!("{u}: {e}"));
            assert_sum(&r, sum_at_one_hour(None));
        }
        // Without the prefix the servers answer 404: the prefix matters.
        let bare = url.split("/").take(3).collect::<Vec<_>>().join("/");
        let mut cfg = PromConfig::new(&bare);
        cfg.retry.enabled = false;
        let err = run(&PromSource::from_config(&cfg).unwrap(), &instant(SUM)).unwrap_err();
        assert!(
            err.contains("HTTP 404") || err.contains("HTTP 400"),
            "{bare}: {err}"
        );
    }
}

/// Prometheus' own TLS, client-certificate and basic-auth support
/// (`--web.config.file`), with certificates made for the test.
#[test]
fn tls_mtls_and_basic_auth_against_prometheus() {
    let pki = TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path()).unwrap();
    let web = WebConfig {
        tls: Some(pki.clone()),
        require_client_cert: true,
        basic_auth: Some(("costetl".into(), "pa55word".into())),
    };
    let prom = PromServer::start_with_web_config(&data(), &web, &[]).unwrap();
    assert!(
        prom.url().starts_with("https://127.0.0.1:"),
        "{}",
        prom.url()
    );

    let good = || {
        let mut cfg = PromConfig::new(prom.url());
        cfg.retry.enabled = false;
        cfg.tls.ca_file = Some(files.ca.clone());
        cfg.tls.cert_file = Some(files.client_cert.clone());
        cfg.tls.key_file = Some(files.client_key.clone());
        cfg.auth = AuthConfig::Basic {
            username: "costetl".into(),
            password: Secret::new("pa55word"),
        };
        cfg
    };
    let ok = run(&PromSource::from_config(&good()).unwrap(), &instant(SUM)).unwrap();
    assert_sum(&ok, sum_at_one_hour(None));

    // The same through OpenCost's environment variables.
    let env = [
        ("PROMETHEUS_SERVER_ENDPOINT", prom.url()),
        ("PROM_MTLS_AUTH_CA_FILE", files.ca.display().to_string()),
        (
            "PROM_MTLS_AUTH_CRT_FILE",
            files.client_cert.display().to_string(),
        ),
        (
            "PROM_MTLS_AUTH_KEY_FILE",
            files.client_key.display().to_string(),
        ),
        ("DB_BASIC_AUTH_USERNAME", "costetl".into()),
        ("DB_BASIC_AUTH_PW", "pa55word".into()),
    ];
    let cfg = PromConfig::from_env(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .unwrap();
    run(&PromSource::from_config(&cfg).unwrap(), &instant(SUM)).unwrap();

    // insecure_skip_verify: no CA needed.
    let mut insecure = good();
    insecure.tls.ca_file = None;
    insecure.tls.insecure_skip_verify = true;
    run(&PromSource::from_config(&insecure).unwrap(), &instant(SUM)).unwrap();

    let err_of = |cfg: &PromConfig| {
        rt().block_on(PromSource::from_config(cfg).unwrap().query(&instant(SUM)))
            .unwrap_err()
    };
    // An untrusted server certificate: refused, not retried.
    let mut wrong_ca = good();
    wrong_ca.tls.ca_file = Some(files.other_ca.clone());
    let e = err_of(&wrong_ca);
    assert_eq!(e.kind, SourceErrorKind::Permanent, "{}", e.message);
    assert!(
        e.message.contains("TLS failure") && e.message.contains("certificate"),
        "{}",
        e.message
    );
    // The system roots do not know the test CA either.
    let mut system_roots = good();
    system_roots.tls.ca_file = None;
    let e = err_of(&system_roots);
    assert!(e.message.contains("TLS failure"), "{}", e.message);
    // No client certificate: the server refuses the handshake.
    let mut no_cert = good();
    no_cert.tls.cert_file = None;
    no_cert.tls.key_file = None;
    let e = err_of(&no_cert);
    assert_eq!(e.kind, SourceErrorKind::Permanent, "{}", e.message);
    assert!(e.message.contains("TLS failure"), "{}", e.message);
    // Wrong password: 401, permanent, the password nowhere in the error.
    let mut wrong_pw = good();
    wrong_pw.auth = AuthConfig::Basic {
        username: "costetl".into(),
        password: Secret::new("guess"),
    };
    let e = err_of(&wrong_pw);
    assert_eq!(e.kind, SourceErrorKind::Permanent);
    assert!(e.message.contains("HTTP 401"), "{}", e.message);
    assert!(!e.message.contains("guess") && !e.message.contains("pa55word"));
    // Plain http to a TLS port fails too.
    let mut plain = PromConfig::new(prom.url().replace("https://", "http://"));
    plain.retry.enabled = false;
    assert!(run(&PromSource::from_config(&plain).unwrap(), &instant(SUM)).is_err());
}

/// Bearer tokens and basic auth through vmauth, VictoriaMetrics'
/// authenticating proxy; a token file rotated on disk is picked up by the
/// running source.
#[test]
fn bearer_and_basic_auth_through_vmauth() {
    let vm = VmServer::start_with_openmetrics(&data()).unwrap();
    let auth = VmAuthServer::start(
        &vm.url(),
        &[
            VmAuthUser::Bearer("tok-new".into()),
            VmAuthUser::Basic("grafana".into(), "glc_abc".into()),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-old\n").unwrap();
    let mut cfg = PromConfig::new(auth.url());
    cfg.retry.enabled = false;
    cfg.auth = AuthConfig::Bearer {
        token: None,
        token_file: Some(token.clone()),
    };
    let source = PromSource::from_config(&cfg).unwrap();
    let err = rt().block_on(source.query(&instant(SUM))).unwrap_err();
    assert_eq!(err.kind, SourceErrorKind::Permanent);
    // vmauth 1.79 answers 400 and quotes the token it got; the error
    // keeps the quote but not the token.
    assert!(err.message.contains("HTTP 400"), "{}", err.message);
    assert!(err.message.contains("auth token"), "{}", err.message);
    assert!(!err.message.contains("tok-old"), "{}", err.message);
    std::fs::write(&token, "tok-new\n").unwrap();
    assert_sum(&run(&source, &instant(SUM)).unwrap(), sum_at_one_hour(None));

    for auth_cfg in [
        AuthConfig::Bearer {
            token: Some(Secret::new("tok-new")),
            token_file: None,
        },
        AuthConfig::Basic {
            username: "grafana".into(),
            password: Secret::new("glc_abc"),
        },
    ] {
        let mut c = cfg.clone();
        c.auth = auth_cfg;
        assert_sum(
            &run(&PromSource::from_config(&c).unwrap(), &instant(SUM)).unwrap(),
            sum_at_one_hour(None),
        );
    }
}

/// A backend parameter with a visible effect: VictoriaMetrics'
/// `extra_label` restricts every selector, also of range queries; `nocache`
/// is accepted alongside.
#[test]
fn victoria_metrics_extra_label_applies() {
    let vm = VmServer::start_with_openmetrics(&data()).unwrap();
    let mut cfg = PromConfig::new(vm.url());
    cfg.params
        .insert("extra_label".into(), ParamValues::from("namespace=a"));
    cfg.params.insert("nocache".into(), ParamValues::from("1"));
    let source = PromSource::from_config(&cfg).unwrap();
    assert_sum(
        &run(&source, &instant(SUM)).unwrap(),
        sum_at_one_hour(Some("a")),
    );
    cfg.limits.max_points = 100;
    let r = run(
        &PromSource::from_config(&cfg).unwrap(),
        &range("kube_pod_container_resource_requests", 60),
    )
    .unwrap();
    assert_eq!(r.series.len(), 2, "only namespace a");
    assert!(r.series.iter().all(|s| s.label("namespace") == Some("a")));
    assert_eq!(r.series[0].samples.len(), 181);
}

/// Split range queries equal the unsplit answer on both real backends.
#[test]
fn split_range_queries_equal_unsplit_on_real_backends() {
    let text = data();
    let prom = PromServer::start_with_openmetrics(&text).unwrap();
    let vm = VmServer::start_with_openmetrics(&text).unwrap();
    let promql = "rate(kube_pod_container_resource_requests[2m]) * 60 + kube_pod_container_resource_requests";
    for url in [prom.url(), vm.url()] {
        let whole = PromSource::new(&url).unwrap();
        let mut cfg = PromConfig::new(&url);
        cfg.limits.max_points = 37;
        let split = PromSource::from_config(&cfg).unwrap();
        let want = run(&whole, &range(promql, 60)).unwrap();
        let got = run(&split, &range(promql, 60)).unwrap();
        assert_eq!(want.series.len(), 5, "{url}");
        // No rate at the very first step: nothing before it.
        assert_eq!(want.series[0].samples.len(), 180, "{url}");
        assert_same(&got, &want);
        assert_eq!(whole.stats().requests, 1);
        assert_eq!(split.stats().requests, 5, "⌈181 / 37⌉ pieces");
    }
}

/// Prometheus refuses more than 11,000 points per series (400): the
/// default limit never asks for more, and a request that does (limit
/// raised) is halved on the refusal; both equal a finely split answer.
#[test]
fn the_11000_point_rule_on_prometheus() {
    let prom = PromServer::start_with_openmetrics(&data()).unwrap();
    let q = range("kube_pod_container_resource_requests", 1); // 10,801 points
    let mut q4 = q.clone();
    if let QueryKind::Range { end, .. } = &mut q4.kind {
        // 4 h at 1 s: 14,401 points.
        *end += TimeDelta::hours(1);
    }
    let default = PromSource::new(&prom.url()).unwrap();
    let reference = {
        let mut cfg = PromConfig::new(prom.url());
        cfg.limits.max_points = 3000;
        PromSource::from_config(&cfg).unwrap()
    };
    let want = run(&reference, &q4).unwrap();
    assert_same(&run(&default, &q4).unwrap(), &want);
    assert_eq!(default.stats().requests, 2);
    assert_eq!(default.stats().splits, 0);

    let mut cfg = PromConfig::new(prom.url());
    cfg.limits.max_points = 20_000;
    let raised = PromSource::from_config(&cfg).unwrap();
    assert_same(&run(&raised, &q4).unwrap(), &want);
    assert_eq!(
        raised.stats().splits,
        1,
        "the server refused 14,401 points once"
    );
    // Under the limit it is one request.
    run(&raised, &q).unwrap();
}

/// `--query.max-samples` makes Prometheus refuse a query that loads too
/// many samples (422 "too many samples"): the range is halved until the
/// pieces pass, and the result equals that of a server without the limit.
#[test]
fn sample_limit_splits_on_prometheus() {
    let text = data();
    let limited =
        PromServer::start_with_openmetrics_args(&text, &["--query.max-samples=1000"]).unwrap();
    let unlimited = PromServer::start_with_openmetrics(&text).unwrap();
    // 361 steps × 5 series = 1,805 samples; halves of 905 and 900 pass.
    let q = range("kube_pod_container_resource_requests", 30);
    let want = run(&PromSource::new(&unlimited.url()).unwrap(), &q).unwrap();

    let mut cfg = PromConfig::new(limited.url());
    cfg.retry.enabled = false;
    cfg.limits.min_split_range = Duration::ZERO;
    let source = PromSource::from_config(&cfg).unwrap();
    let got = run(&source, &q).unwrap();
    assert_same(&got, &want);
    assert_eq!(source.stats().splits, 1, "{:?}", source.stats());

    // Instant queries are not split here: the core sees the backend error.
    // A range vector of 241 samples × 5 series, all held at once.
    let big = instant("kube_pod_container_resource_requests[1h]");
    let body = rt().block_on(source.query(&big)).unwrap().body;
    let err = promjson::decode("q", &body).unwrap_err();
    assert!(err.is_too_large(), "{err}");
}
