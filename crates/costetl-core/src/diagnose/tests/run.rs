//! The runner over a `MetricsSource`: failed queries, the connectivity
//! check first, the probe for the data's time.

use super::*;

/// A source that answers every query with an empty vector, except one
/// that fails.
struct Flaky;
impl MetricsSource for Flaky {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        let r = if q.id == "cost_node_ram" {
            Err(SourceError::new(
                SourceErrorKind::Transient,
                "POST http://prom/api/v1/query: connection refused",
            ))
        } else {
            Ok(RawResponse {
                body: body(&[(&[("cluster_id", "a")], 1.0)]),
            })
        };
        std::future::ready(r)
    }
}

#[test]
fn run_turns_a_failing_query_into_a_failed_check() {
    let cfg = EngineConfig::default();
    let out = futures::executor::block_on(run(&Flaky, &cfg, &opts()))
        .unwrap()
        .outcomes;
    let f = find(&out, "cost_node_ram", None);
    assert_eq!(f.status, Status::Fail);
    assert_eq!(
        f.detail,
        "query failed: query cost_node_ram failed: POST http://prom/api/v1/query: connection refused"
    );
    assert_eq!(find(&out, "cost_node_cpu", Some("a")).status, Status::Pass);
    // Every check has at least one outcome.
    let checks: BTreeSet<&str> = out.iter().map(|o| o.check.as_str()).collect();
    assert_eq!(checks.len(), PRESENCE.len() + 8);
}

/// A source whose every query fails as an unreachable backend does,
/// counting the queries it was asked.
struct Unreachable {
    asked: std::sync::atomic::AtomicUsize,
    message: &'static str,
}
impl MetricsSource for Unreachable {
    fn query(
        &self,
        _: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::future::ready(Err(SourceError::new(
            SourceErrorKind::Transient,
            self.message,
        )))
    }
}

/// The user's report: one connection error printed once per check. The
/// connectivity query goes first and alone; when it fails, one outcome
/// names the error and what to look at, and nothing else is asked.
#[test]
fn an_unreachable_backend_is_one_failure_and_one_query() {
    let src = Unreachable {
        asked: Default::default(),
        message: "POST http://prom:9090/api/v1/query: connection refused",
    };
    let cfg = EngineConfig::default();
    let d = futures::executor::block_on(run(&src, &cfg, &opts())).unwrap();
    assert_eq!(src.asked.into_inner(), 1);
    assert!(d.clusters.is_empty());
    let [o] = d.outcomes.as_slice() else {
        panic!("{d:#?}")
    };
    assert_eq!((o.check.as_str(), o.status), ("connectivity", Status::Fail));
    assert_eq!(o.name, "backend connection");
    assert_eq!(o.query, "vector(1)");
    assert_eq!(
        o.detail,
        "query connectivity failed: POST http://prom:9090/api/v1/query: connection refused; \
         the other checks were skipped. Check the URL (scheme, host, port and path prefix), \
         the authentication (basic auth, bearer token, SigV4 region and role) and TLS (http \
         or https, the CA, a client certificate)"
    );

    // What the error points at leads the hint.
    let cfg = EngineConfig::default();
    let o = opts();
    let mut a = answers(&cfg, &o, &[]);
    a.insert_body("connectivity", b"<html>Grafana</html>");
    let d = evaluate(&cfg, &o, &a);
    assert_eq!(d.outcomes.len(), 1);
    assert!(
        d.outcomes[0].detail.contains(
            "skipped. The URL answers, but not with the Prometheus HTTP API: a wrong path prefix"
        ),
        "{}",
        d.outcomes[0].detail
    );
    a.insert(
        "connectivity",
        Err(Error::Source {
            query: "connectivity".into(),
            message: "POST https://prom/api/v1/query: HTTP 401 Unauthorized".into(),
            kind: SourceErrorKind::Permanent,
        }),
    );
    let d = evaluate(&cfg, &o, &a);
    assert!(
        d.outcomes[0]
            .detail
            .contains("skipped. The backend refuses the credentials. Check the URL"),
        "{}",
        d.outcomes[0].detail
    );
}

/// A range answer: one series per family, `(time, sample time)` points.
fn probe_body(series: &[(&str, &[(f64, f64)])]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = series
        .iter()
        .map(|(family, points)| {
            let values: Vec<serde_json::Value> = points
                .iter()
                .map(|(t, v)| serde_json::json!([t, v.to_string()]))
                .collect();
            serde_json::json!({"metric": {"family": family}, "values": values})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": result}
    }))
    .unwrap()
}

/// A source where nothing is at the evaluation time, and the probe finds
/// node capacity a week earlier.
struct Elsewhere;
impl MetricsSource for Elsewhere {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl std::future::Future<Output = std::result::Result<RawResponse, SourceError>> + Send
    {
        let body = match q.kind {
            QueryKind::Instant { .. } => body(&[]),
            QueryKind::Range { .. } => probe_body(&[
                ("kube_node_status_capacity", &[(1.0, 1_699_300_000.0)]),
                ("node_total_hourly_cost", &[(1.0, 1_699_200_000.5)]),
            ]),
        };
        std::future::ready(Ok(RawResponse { body }))
    }
}

/// The user's report: nothing found, and no hint that the data may be
/// elsewhere in time. When every presence check is empty, `run` asks the
/// probe for the latest sample and the diagnosis names it for `--at`.
#[test]
fn nothing_found_hints_at_the_evaluation_time() {
    let cfg = EngineConfig::default();
    let o = opts();
    let d = futures::executor::block_on(run(&Elsewhere, &cfg, &o)).unwrap();
    assert_eq!(
        d.hint.as_deref(),
        Some(
            "no series in the 1h before 2023-11-14T02:00:00Z: is the data older? pass --at \
             TIME (the latest sample of kube_node_status_capacity is at 2023-11-06T19:46:40Z)"
        )
    );
    assert!(d.clusters.is_empty());
}

/// The probe: a range over the 30 days before, hourly, node-level
/// families only, with the cluster filter; asked only when nothing was
/// found and the backend answered.
#[test]
fn the_probe_looks_back_30_days_at_node_level_families() {
    let o = opts();
    let filtered = EngineConfig {
        cluster_filter: Some("prod".into()),
        ..EngineConfig::default()
    };
    let empty = answers(&filtered, &o, &[]);
    let q = probe_query(&filtered, &o, &empty).expect("a probe when nothing is found");
    assert_eq!(
        q.kind,
        QueryKind::Range {
            start: at() - TimeDelta::days(30),
            end: at(),
            step: TimeDelta::hours(1),
        }
    );
    assert_eq!(
        q.promql,
        "max by (family) (label_replace(timestamp(kube_node_status_capacity{resource=\"cpu\", \
         cluster_id=\"prod\"}), \"family\", \"kube_node_status_capacity\", \"\", \"\") or \
         label_replace(timestamp(node_total_hourly_cost{cluster_id=\"prod\"}), \"family\", \
         \"node_total_hourly_cost\", \"\", \"\"))"
    );

    // Anything found: no probe, no hint.
    let cfg = EngineConfig::default();
    let a = answers(&cfg, &o, &healthy(&["a"]));
    assert_eq!(probe_query(&cfg, &o, &a), None);
    assert_eq!(evaluate(&cfg, &o, &a).hint, None);
    // Nor when the backend was not reached.
    let mut a = answers(&cfg, &o, &[]);
    a.insert_body("connectivity", b"not json");
    assert_eq!(probe_query(&cfg, &o, &a), None);
    assert_eq!(evaluate(&cfg, &o, &a).hint, None);
}

/// Without the probe's answer, the hint alone; with an empty one or an
/// error, what the probe saw.
#[test]
fn the_hint_says_what_the_probe_saw() {
    let cfg = EngineConfig::default();
    let o = opts();
    let mut a = answers(&cfg, &o, &[]);
    let hint = |a: &Answers| evaluate(&cfg, &o, a).hint.unwrap();
    assert_eq!(
        hint(&a),
        "no series in the 1h before 2023-11-14T02:00:00Z: is the data older? pass --at TIME"
    );
    a.insert_body("data_probe", &probe_body(&[]));
    assert!(
        hint(&a).ends_with(
            "pass --at TIME (no sample of kube_node_status_capacity or node_total_hourly_cost \
             in the 30d before either)"
        ),
        "{}",
        hint(&a)
    );
    a.insert(
        "data_probe",
        Err(Error::Backend {
            query: "data_probe".into(),
            error_type: "bad_data".into(),
            message: "exceeded maximum resolution".into(),
        }),
    );
    assert!(
        hint(&a).ends_with(
            "(looking for the latest sample failed: query data_probe: backend error bad_data: \
             exceeded maximum resolution)"
        ),
        "{}",
        hint(&a)
    );
}
