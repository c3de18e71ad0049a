//! Shared helpers: fixture loading, an OpenMetrics checker and parser.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use costetl_core::Window;
use costetl_sim::Scenario;

/// `fixtures/scenarios/<name>.json`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios")
        .join(format!("{name}.json"))
}

/// The bundled scenario `name`, parsed and validated.
pub fn fixture(name: &str) -> Scenario {
    Scenario::from_path(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// An instant, from RFC 3339.
pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// `[a, b)` from RFC 3339.
pub fn win(a: &str, b: &str) -> Window {
    Window::new(t(a), t(b)).unwrap()
}

/// Whether `a` and `b` agree to `rel` relative (absolute near 0).
#[track_caller]
pub fn assert_close(a: f64, b: f64, rel: f64, what: &str) {
    let scale = a.abs().max(b.abs()).max(1.0);
    assert!((a - b).abs() <= rel * scale, "{what}: {a} != {b}");
}

/// Checks, as the text streams through, what OpenMetrics and promtool
/// require and promtool does not enforce (it drops out-of-order samples
/// silently): one `# TYPE` per family with its samples contiguous, each
/// series contiguous with strictly increasing timestamps, finite values,
/// `# EOF` last.
#[derive(Default)]
pub struct Checker {
    partial: Vec<u8>,
    families: HashSet<String>,
    family: Option<(String, String)>,
    series_seen: HashSet<String>,
    current: Option<(String, f64)>,
    eof: bool,
    /// Samples seen.
    pub samples: u64,
    /// Bytes seen.
    pub bytes: u64,
    /// Problems found (first few).
    pub errors: Vec<String>,
}

impl Checker {
    fn error(&mut self, e: String) {
        if self.errors.len() < 10 {
            self.errors.push(e);
        }
    }

    fn line(&mut self, line: &str) {
        if self.eof {
            self.error(format!("text after # EOF: {line}"));
            return;
        }
        if line == "# EOF" {
            self.eof = true;
            return;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let (name, kind) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if !self.families.insert(name.to_owned()) {
                self.error(format!(
                    "family {name} declared twice (samples not contiguous)"
                ));
            }
            self.family = Some((name.to_owned(), kind.to_owned()));
            self.current = None;
            return;
        }
        if line.starts_with('#') {
            self.error(format!("unexpected comment: {line}"));
            return;
        }
        // `<series> <value> <timestamp>`: label values may hold spaces,
        // value and timestamp cannot.
        let mut parts = line.rsplitn(3, ' ');
        let (Some(ts), Some(value), Some(series)) = (parts.next(), parts.next(), parts.next())
        else {
            self.error(format!("malformed line: {line}"));
            return;
        };
        let (Ok(ts), Ok(value)) = (ts.parse::<f64>(), value.parse::<f64>()) else {
            self.error(format!("unparsable value or timestamp: {line}"));
            return;
        };
        if !value.is_finite() {
            self.error(format!("non-finite value: {line}"));
        }
        self.samples += 1;
        let name = series.split('{').next().unwrap_or("");
        match &self.family {
            Some((f, kind)) if name == f || (kind == "counter" && name == format!("{f}_total")) => {
            }
            _ => self.error(format!(
                "sample {name} outside its family {:?}",
                self.family
            )),
        }
        match &mut self.current {
            Some((s, last)) if s == series => {
                let prev = std::mem::replace(last, ts);
                if ts <= prev {
                    self.error(format!(
                        "timestamps not increasing in {series}: {prev} then {ts}"
                    ));
                }
            }
            _ => {
                if !self.series_seen.insert(series.to_owned()) {
                    self.error(format!("series not contiguous: {series}"));
                }
                self.current = Some((series.to_owned(), ts));
            }
        }
    }

    /// The number of distinct series.
    pub fn series(&self) -> usize {
        self.series_seen.len()
    }

    /// Finish: panics listing the problems, if any.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.partial.is_empty(), "text does not end with a newline");
        assert!(self.eof, "no # EOF");
        assert!(self.errors.is_empty(), "{:#?}", self.errors);
    }
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.partial.extend_from_slice(buf);
        if let Some(last_nl) = self.partial.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.partial.drain(..=last_nl).collect();
            let text = String::from_utf8(complete).expect("UTF-8");
            for line in text.lines() {
                self.line(line);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A scenario's text, checked, then parsed into `series → [(ms, value)]`.
pub fn scrape(s: &Scenario) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut text = Vec::new();
    s.write_openmetrics(&mut text).unwrap();
    let mut c = Checker::default();
    c.write_all(&text).unwrap();
    c.assert_ok();
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for line in String::from_utf8(text).unwrap().lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut parts = line.rsplitn(3, ' ');
        let ts: f64 = parts.next().unwrap().parse().unwrap();
        let v: f64 = parts.next().unwrap().parse().unwrap();
        out.entry(parts.next().unwrap().to_owned())
            .or_default()
            .push(((ts * 1000.0).round() as i64, v));
    }
    out
}

/// The series whose text contains every one of `needles`.
pub fn matching<'a>(
    all: &'a BTreeMap<String, Vec<(i64, f64)>>,
    needles: &[&str],
) -> Vec<(&'a String, &'a Vec<(i64, f64)>)> {
    all.iter()
        .filter(|(k, _)| needles.iter().all(|n| k.contains(n)))
        .collect()
}

/// Exactly one series containing every one of `needles`.
#[track_caller]
pub fn one<'a>(all: &'a BTreeMap<String, Vec<(i64, f64)>>, needles: &[&str]) -> &'a [(i64, f64)] {
    let m = matching(all, needles);
    assert_eq!(
        m.len(),
        1,
        "series matching {needles:?}: {:#?}",
        m.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    m[0].1
}
