//! Record through a fake source, replay byte for byte, and the failure
//! modes of a fixture directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use costetl_core::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};
use costetl_fixtures::{Capture, FixtureError, FixtureSource, MANIFEST_FILE, RecordingSource};
use futures::executor::block_on;

/// A temporary directory removed on drop (no tempfile dependency for this).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "costetl-fixtures-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Answers every query with a body derived from it (including bytes that
/// are not UTF-8, to prove bodies are stored verbatim); PromQL `fail` fails.
struct Fake {
    calls: AtomicUsize,
}

impl Fake {
    fn new() -> Self {
        Fake {
            calls: AtomicUsize::new(0),
        }
    }
    fn body_for(q: &QuerySpec) -> Vec<u8> {
        let mut body = format!("{{\"promql\":{:?},\"kind\":{:?}}}", q.promql, q.kind).into_bytes();
        body.extend_from_slice(&[0xff, 0x00, b'\n']);
        body
    }
}

impl MetricsSource for Fake {
    async fn query(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if q.promql == "fail" {
            return Err(SourceError {
                message: "backend down".into(),
                kind: SourceErrorKind::Transient,
            });
        }
        Ok(RawResponse {
            body: Fake::body_for(q),
        })
    }
}

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, h, 0, 0).unwrap()
}

fn instant(id: &str, promql: &str, h: u32) -> QuerySpec {
    QuerySpec {
        id: id.into(),
        promql: promql.into(),
        kind: QueryKind::Instant { time: t(h) },
    }
}

fn range(id: &str, promql: &str, step: TimeDelta) -> QuerySpec {
    QuerySpec {
        id: id.into(),
        promql: promql.into(),
        kind: QueryKind::Range {
            start: t(0),
            end: t(23) + TimeDelta::milliseconds(500),
            step,
        },
    }
}

fn sample_queries() -> Vec<QuerySpec> {
    vec![
        instant(
            "cpu_request",
            "sum(kube_pod_container_resource_requests{resource=\"cpu\"})",
            1,
        ),
        instant(
            "cpu_request",
            "sum(kube_pod_container_resource_requests{resource=\"cpu\"})",
            2,
        ),
        instant("odd/id with spaces", "up", 1),
        range(
            "ram_usage",
            "avg_over_time(container_memory_working_set_bytes[5m])",
            TimeDelta::seconds(300),
        ),
        range(
            "ram_usage_fine",
            "avg_over_time(container_memory_working_set_bytes[5m])",
            TimeDelta::milliseconds(100),
        ),
    ]
}

#[test]
fn record_then_replay_byte_for_byte() {
    let dir = TempDir::new("roundtrip");
    let queries = sample_queries();
    let rec = RecordingSource::new(Fake::new(), dir.path().join("nested/fixture")).unwrap();
    for q in &queries {
        let got = block_on(rec.query(q)).unwrap();
        assert_eq!(
            got.body,
            Fake::body_for(q),
            "recorder passes bodies through"
        );
    }
    // Failures pass through and are not recorded.
    let err = block_on(rec.query(&instant("broken", "fail", 1))).unwrap_err();
    assert_eq!(
        err,
        SourceError {
            message: "backend down".into(),
            kind: SourceErrorKind::Transient
        }
    );
    assert_eq!(rec.recorded(), queries.len());
    assert_eq!(rec.inner().calls.load(Ordering::Relaxed), queries.len() + 1);

    let fixture_dir = rec.dir().to_path_buf();
    let names: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(&fixture_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names,
        [
            "0001-cpu_request.json",
            "0002-cpu_request.json",
            "0003-odd_id_with_spaces.json",
            "0004-ram_usage.json",
            "0005-ram_usage_fine.json",
            MANIFEST_FILE,
        ]
    );

    // The manifest is the documented shape.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture_dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["schema_version"], 1);
    let e0 = &manifest["queries"][0];
    assert_eq!(e0["id"], "cpu_request");
    assert_eq!(e0["kind"], "instant");
    assert_eq!(e0["time"], "2026-01-02T01:00:00Z");
    assert_eq!(e0["file"], "0001-cpu_request.json");
    assert_eq!(e0["bytes"], Fake::body_for(&queries[0]).len());
    let e3 = &manifest["queries"][3];
    assert_eq!(e3["kind"], "range");
    assert_eq!(e3["start"], "2026-01-02T00:00:00Z");
    assert_eq!(e3["end"], "2026-01-02T23:00:00.500Z");
    assert_eq!(e3["step"], 300.0);

    let replay = FixtureSource::open(&fixture_dir).unwrap();
    assert_eq!(replay.queries().cloned().collect::<Vec<_>>(), queries);
    for q in &queries {
        let got = block_on(replay.query(q)).unwrap();
        assert_eq!(
            got.body,
            std::fs::read(fixture_dir.join(body_file(&fixture_dir, q))).unwrap()
        );
        assert_eq!(got.body, Fake::body_for(q));
    }
    // The id does not take part in matching.
    let mut renamed = queries[2].clone();
    renamed.id = "other".into();
    assert_eq!(
        block_on(replay.query(&renamed)).unwrap().body,
        Fake::body_for(&queries[2])
    );
}

/// The body file the manifest records for `q`.
fn body_file(dir: &Path, q: &QuerySpec) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    let replay = FixtureSource::open(dir).unwrap();
    let i = replay.queries().position(|s| s == q).unwrap();
    m["queries"][i]["file"].as_str().unwrap().to_owned()
}

#[test]
fn missing_query_names_id_and_promql() {
    let dir = TempDir::new("missing");
    let rec = RecordingSource::new(Fake::new(), dir.path()).unwrap();
    block_on(rec.query(&instant("cpu", "sum(cpu)", 1))).unwrap();
    let replay = FixtureSource::open(dir.path()).unwrap();

    // Same PromQL, other time; and other PromQL.
    for q in [
        instant("cpu", "sum(cpu)", 2),
        instant("ram_request", "sum(ram)", 1),
    ] {
        let err = block_on(replay.query(&q)).unwrap_err();
        assert!(!err.retryable());
        assert!(
            err.message.contains("does not contain query"),
            "{}",
            err.message
        );
        assert!(err.message.contains(&q.id), "{}", err.message);
        assert!(err.message.contains(&q.promql), "{}", err.message);
    }
}

#[test]
fn concurrent_recording() {
    let dir = TempDir::new("concurrent");
    let rec = RecordingSource::new(Fake::new(), dir.path()).unwrap();
    let queries: Vec<QuerySpec> = (0..64)
        .map(|i| instant(&format!("q{i}"), &format!("metric_{i}"), i % 24))
        .collect();
    std::thread::scope(|s| {
        for chunk in queries.chunks(8) {
            let rec = &rec;
            s.spawn(move || {
                for q in chunk {
                    block_on(rec.query(q)).unwrap();
                }
            });
        }
    });
    assert_eq!(rec.recorded(), queries.len());
    let replay = FixtureSource::open(dir.path()).unwrap();
    assert_eq!(replay.queries().count(), queries.len());
    for q in &queries {
        assert_eq!(block_on(replay.query(q)).unwrap().body, Fake::body_for(q));
    }
}

#[test]
fn recording_appends_to_an_existing_fixture_and_later_wins() {
    let dir = TempDir::new("append");
    let q = instant("cpu", "sum(cpu)", 1);
    {
        let rec = RecordingSource::new(Fake::new(), dir.path()).unwrap();
        block_on(rec.query(&q)).unwrap();
    }
    // A second capture into the same directory with a different answer.
    struct Other;
    impl MetricsSource for Other {
        async fn query(&self, _: &QuerySpec) -> Result<RawResponse, SourceError> {
            Ok(RawResponse {
                body: b"second".to_vec(),
            })
        }
    }
    let rec = RecordingSource::new(Other, dir.path()).unwrap();
    assert_eq!(rec.recorded(), 1);
    block_on(rec.query(&q)).unwrap();
    assert!(dir.path().join("0002-cpu.json").exists());
    let replay = FixtureSource::open(dir.path()).unwrap();
    assert_eq!(block_on(replay.query(&q)).unwrap().body, b"second");
}

#[test]
fn corrupt_manifest() {
    let dir = TempDir::new("corrupt");
    std::fs::create_dir_all(dir.path()).unwrap();
    let manifest = dir.path().join(MANIFEST_FILE);

    std::fs::write(&manifest, b"{\"schema_version\":1,\"queries\":[").unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, FixtureError::Manifest { ref path, .. } if *path == manifest),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&manifest.display().to_string()),
        "{err}"
    );
    // The recorder refuses to append to it too.
    assert!(matches!(
        RecordingSource::new(Fake::new(), dir.path()),
        Err(FixtureError::Manifest { .. })
    ));

    std::fs::write(&manifest, br#"{"schema_version":99,"queries":[]}"#).unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("schema_version 99"), "{err}");

    let entry = |file: &str, bytes: u64| {
        format!(
            r#"{{"schema_version":1,"queries":[{{"id":"a","promql":"up","kind":"instant","time":"2026-01-01T00:00:00Z","file":"{file}","bytes":{bytes}}}]}}"#
        )
    };
    std::fs::write(&manifest, entry("../escape.json", 0)).unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(matches!(err, FixtureError::Invalid { .. }), "{err:?}");

    std::fs::write(&manifest, entry("0001-a.json", 5)).unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, FixtureError::Io { ref path, .. } if path.ends_with("0001-a.json")),
        "{err:?}"
    );

    std::fs::write(dir.path().join("0001-a.json"), b"abc").unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("has 3 bytes, the manifest says 5"),
        "{err}"
    );

    std::fs::write(&manifest, entry("0001-a.json", 3)).unwrap();
    assert_eq!(
        FixtureSource::open(dir.path()).unwrap().queries().count(),
        1
    );

    // Wrong kind tag.
    std::fs::write(
        &manifest,
        entry("0001-a.json", 3).replace("instant", "sideways"),
    )
    .unwrap();
    assert!(matches!(
        FixtureSource::open(dir.path()),
        Err(FixtureError::Manifest { .. })
    ));
}

#[test]
fn open_without_manifest() {
    let dir = TempDir::new("empty");
    std::fs::create_dir_all(dir.path()).unwrap();
    let err = FixtureSource::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains(MANIFEST_FILE), "{err}");
}

/// `create` remembers what was captured for the replay, and refuses a
/// directory that holds a fixture already (mixing two captures).
#[test]
fn a_capture_remembers_its_window_and_refuses_a_used_directory() {
    let dir = TempDir::new("capture");
    let t0 = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
    let what = Capture {
        window: costetl_core::Window::new(t0, t0 + TimeDelta::days(1)).unwrap(),
        resolution: TimeDelta::minutes(5),
    };
    {
        let rec = RecordingSource::create(Fake::new(), dir.path(), what).unwrap();
        block_on(rec.query(&instant("cpu", "sum(cpu)", 1))).unwrap();
    }
    let replay = FixtureSource::open(dir.path()).unwrap();
    assert_eq!(replay.capture(), Some(what));
    let Err(err) = RecordingSource::create(Fake::new(), dir.path(), what) else {
        panic!(
            "a second capture into {} was accepted",
            dir.path().display()
        );
    };
    assert!(err.to_string().contains("already holds a fixture"), "{err}");
    // A fixture recorded without it (diagnose --record, older captures)
    // says nothing.
    let plain = TempDir::new("plain");
    block_on(
        RecordingSource::new(Fake::new(), plain.path())
            .unwrap()
            .query(&instant("a", "a", 1)),
    )
    .unwrap();
    assert_eq!(FixtureSource::open(plain.path()).unwrap().capture(), None);
}
