//! Starts the real servers: needs Debian's `prometheus` and
//! `victoria-metrics` packages, which `.ci/run` installs.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use costetl_testkit::{Backend, PromServer, TestkitError, VmServer, require_binary};

/// 2023-11-14T00:00:00Z: fixed and years in the past, so the servers must
/// load old data rather than only what is near "now".
const T0: i64 = 1_699_920_000;

/// Two series, three samples each, one minute apart.
fn two_series() -> String {
    let mut text = String::from(
        "# HELP kube_pod_container_resource_requests Requested resources.\n\
         # TYPE kube_pod_container_resource_requests gauge\n",
    );
    for i in 0..3 {
        let t = T0 + 60 * i;
        text.push_str(&format!(
            "kube_pod_container_resource_requests{{namespace=\"a\",pod=\"p1\",resource=\"cpu\",unit=\"core\"}} 0.25 {t}\n\
             kube_pod_container_resource_requests{{namespace=\"b\",pod=\"p2\",resource=\"cpu\",unit=\"core\"}} 0.5 {t}\n"
        ));
    }
    text.push_str("# EOF\n");
    text
}

/// The checks both backends must pass with [`two_series`].
fn assert_serves_two_series(server: &dyn Backend, started: Instant) {
    let kind = server.kind();
    eprintln!(
        "{kind} ready at {} after {:?}",
        server.url(),
        started.elapsed()
    );
    let mid = (T0 + 90) as f64;

    let body = server
        .instant_query("kube_pod_container_resource_requests", mid)
        .unwrap();
    assert!(body.contains(r#""status":"success""#), "{kind}: {body}");
    assert!(
        body.contains(r#""pod":"p1""#) && body.contains(r#""pod":"p2""#),
        "{kind}: {body}"
    );
    assert!(
        body.contains(r#""0.25""#) && body.contains(r#""0.5""#),
        "{kind}: {body}"
    );

    let body = server
        .instant_query("sum(kube_pod_container_resource_requests)", mid)
        .unwrap();
    assert!(body.contains(r#""0.75""#), "{kind}: {body}");

    // Both backends stop seeing a series a few minutes after its last
    // sample (Prometheus: the 5 m lookback delta).
    let body = server
        .instant_query("kube_pod_container_resource_requests", (T0 + 3600) as f64)
        .unwrap();
    assert!(body.contains(r#""result":[]"#), "{kind}: {body}");

    // query_raw passes errors through rather than failing. The status for
    // a bad expression differs: Prometheus says 400, VictoriaMetrics 422.
    let (status, body) = server.query_raw("/api/v1/query?query=sum(").unwrap();
    assert!(matches!(status, 400 | 422), "{kind}: {status} {body}");
    assert!(body.contains(r#""status":"error""#), "{kind}: {body}");
    assert!(matches!(
        server.instant_query("sum(", mid),
        Err(TestkitError::HttpStatus {
            status: 400 | 422,
            ..
        })
    ));
}

fn assert_gone(port: u16) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let result = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(result.is_err(), "something still listens on {addr}");
}

#[test]
fn prometheus_serves_backfilled_openmetrics() {
    let started = Instant::now();
    let prom = PromServer::start_with_openmetrics(&two_series()).unwrap();
    assert_serves_two_series(&prom, started);
    assert!(prom.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn victoria_metrics_serves_imported_openmetrics() {
    let started = Instant::now();
    let vm = VmServer::start_with_openmetrics(&two_series()).unwrap();
    assert_serves_two_series(&vm, started);
}

#[test]
fn dropping_stops_the_servers() {
    let prom = PromServer::start_with_openmetrics(&two_series()).unwrap();
    let vm = VmServer::start_with_openmetrics(&two_series()).unwrap();
    let (prom_port, vm_port) = (prom.port(), vm.port());
    let started = Instant::now();
    drop(prom);
    drop(vm);
    eprintln!("both stopped after {:?}", started.elapsed());
    assert_gone(prom_port);
    assert_gone(vm_port);
}

#[test]
fn promtool_rejection_is_reported_with_its_stderr() {
    // An invalid label name: our scan passes it, promtool does not.
    let err = PromServer::start_with_openmetrics("m{0bad=\"x\"} 1 1699920000\n").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TestkitError::CommandFailed { .. }), "{msg}");
    assert!(
        msg.contains("promtool tsdb create-blocks-from openmetrics"),
        "{msg}"
    );
}

#[test]
fn samples_promtool_drops_are_reported() {
    // The second sample is older than the first: promtool skips it silently.
    let text = format!("m 1 {}\nm 2 {T0}\n", T0 + 60);
    let err = PromServer::start_with_openmetrics(&text).unwrap_err();
    assert!(
        matches!(
            err,
            TestkitError::DataMismatch {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn nan_samples_are_stored_by_prometheus_only() {
    let text = format!("m NaN {T0}\nm 1 {}\n", T0 + 60);
    // Prometheus counts 2 samples, VictoriaMetrics 1; both start fine.
    PromServer::start_with_openmetrics(&text).unwrap();
    VmServer::start_with_openmetrics(&text).unwrap();
}

#[test]
fn unusable_input_fails_before_any_server_starts() {
    for text in ["m 1\n", "m 1 1699920000000\n", "# nothing\n"] {
        for result in [
            PromServer::start_with_openmetrics(text).map(drop),
            VmServer::start_with_openmetrics(text).map(drop),
        ] {
            assert!(
                matches!(result, Err(TestkitError::InvalidInput { .. })),
                "{text:?}: {result:?}"
            );
        }
    }
}

#[test]
fn missing_binaries_name_their_package() {
    let msg = require_binary("costetl-no-such-binary")
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "`costetl-no-such-binary` not found on PATH");
    assert!(require_binary("promtool").is_ok());
    assert!(require_binary("victoria-metrics").is_ok());
}

#[test]
fn single_sample_input_is_found() {
    // One sample: the count query must not be evaluated at exactly its
    // timestamp, where VictoriaMetrics 1.79 does not see it.
    let text = format!("m 1 {T0}\n");
    PromServer::start_with_openmetrics(&text).unwrap();
    VmServer::start_with_openmetrics(&text).unwrap();
}

#[test]
fn victoria_metrics_misses_a_series_at_its_first_timestamp() {
    // Pins a behaviour difference adapter tests must avoid: at exactly the
    // first sample's timestamp Prometheus returns the sample,
    // VictoriaMetrics 1.79 returns nothing (1 ms later it does).
    let text = format!("m 1 {T0}\nm 2 {}\n", T0 + 60);
    let prom = PromServer::start_with_openmetrics(&text).unwrap();
    let vm = VmServer::start_with_openmetrics(&text).unwrap();
    let at = |server: &dyn Backend, t: f64| server.instant_query("m", t).unwrap();
    assert!(at(&prom, T0 as f64).contains(r#""1""#));
    assert!(at(&vm, T0 as f64).contains(r#""result":[]"#));
    assert!(at(&vm, T0 as f64 + 0.001).contains(r#""1""#));
    // Later samples are seen at their exact timestamp by both.
    assert!(at(&prom, (T0 + 60) as f64).contains(r#""2""#));
    assert!(at(&vm, (T0 + 60) as f64).contains(r#""2""#));
}

/// TLS with a required client certificate and basic auth: the testkit's
/// own readiness and sample checks get through with the PKI's CA, client
/// certificate and the password; a request without them does not.
#[test]
fn prometheus_behind_tls_client_certs_and_basic_auth() {
    let web = costetl_testkit::WebConfig {
        tls: Some(costetl_testkit::TestPki::generate().unwrap()),
        require_client_cert: true,
        basic_auth: Some(("alice".into(), "s3cret".into())),
    };
    let server = PromServer::start_with_web_config(&two_series(), &web, &[]).unwrap();
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    assert_serves_two_series(&*server, Instant::now());
    // Plain HTTP to the same port gets no answer but TLS' own error.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
    let mut plain = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    use std::io::{Read, Write};
    plain.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = plain.read_to_string(&mut reply);
    assert!(!reply.contains(" 200 "), "{reply}");
}

/// `--web.route-prefix` and VictoriaMetrics' `-http.pathPrefix`: the
/// servers start (their readiness paths move under the prefix) and their
/// URLs end with it.
#[test]
fn servers_under_a_path_prefix() {
    let prom =
        PromServer::start_with_openmetrics_args(&two_series(), &["--web.route-prefix=/prometheus"])
            .unwrap();
    assert!(prom.url().ends_with("/prometheus"), "{}", prom.url());
    assert_serves_two_series(&*prom, Instant::now());
    let vm = VmServer::start_with_openmetrics_args(
        &two_series(),
        &["-http.pathPrefix=/select/0/prometheus"],
    )
    .unwrap();
    assert!(vm.url().ends_with("/select/0/prometheus"), "{}", vm.url());
    assert_serves_two_series(&*vm, Instant::now());
}

/// vmauth proxies only known users: the testkit's anonymous request is
/// refused, the backend behind it answers the same request.
#[test]
fn vmauth_refuses_unknown_users() {
    let vm = VmServer::start_with_openmetrics(&two_series()).unwrap();
    let auth = costetl_testkit::VmAuthServer::start(
        &vm.url(),
        &[costetl_testkit::VmAuthUser::Bearer("t0ken".into())],
    )
    .unwrap();
    let path = "/api/v1/query?query=up";
    let (status, body) = auth.query_raw(path).unwrap();
    assert!(matches!(status, 400 | 401), "{status} {body}");
    assert_eq!(vm.query_raw(path).unwrap().0, 200);
}
