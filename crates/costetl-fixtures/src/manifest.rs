//! The on-disk manifest: its serde shape, conversion to and from
//! [`QuerySpec`], and atomic load/save.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use costetl_core::Window;
use costetl_core::source::{QueryKind, QuerySpec};
use serde::{Deserialize, Serialize};

use crate::{FixtureError, MANIFEST_FILE};

/// The manifest layout this crate writes and reads. Bump on incompatible
/// changes so old fixtures fail with a clear message instead of misreading.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// `manifest.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub schema_version: u32,
    /// What was captured, when the recorder was told (older fixtures and
    /// `diagnose --record` have none). Optional, so schema 1 still reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureWire>,
    pub queries: Vec<Entry>,
}

/// [`Capture`](crate::Capture) on disk: the resolution in seconds, as
/// Prometheus' `step`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaptureWire {
    pub window: Window,
    pub resolution: f64,
}

impl CaptureWire {
    pub fn from_capture(c: &crate::Capture) -> Self {
        Self {
            window: c.window,
            resolution: c.resolution.as_seconds_f64(),
        }
    }

    pub fn to_capture(&self) -> Result<crate::Capture, String> {
        Ok(crate::Capture {
            window: self.window,
            resolution: step_from_secs(self.resolution)?,
        })
    }
}

/// One recorded query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub id: String,
    pub promql: String,
    // Flatten is fine here: manifests are small, unlike query bodies.
    #[serde(flatten)]
    pub when: When,
    /// Body file, relative to the fixture directory.
    pub file: String,
    /// Body length in bytes.
    pub bytes: u64,
}

/// The query kind and its times, tagged by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum When {
    Instant {
        time: DateTime<Utc>,
    },
    Range {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        /// Seconds (fractional allowed), as Prometheus' `step` parameter.
        step: f64,
    },
}

impl When {
    pub fn from_kind(kind: &QueryKind) -> Self {
        match *kind {
            QueryKind::Instant { time } => When::Instant { time },
            QueryKind::Range { start, end, step } => When::Range {
                start,
                end,
                step: step.as_seconds_f64(),
            },
        }
    }

    /// Back to a [`QueryKind`]; `Err` names what is wrong with the step.
    pub fn to_kind(&self) -> Result<QueryKind, String> {
        Ok(match *self {
            When::Instant { time } => QueryKind::Instant { time },
            When::Range { start, end, step } => QueryKind::Range {
                start,
                end,
                step: step_from_secs(step)?,
            },
        })
    }
}

/// Seconds as written by [`TimeDelta::as_seconds_f64`] back to the same
/// `TimeDelta`: whole seconds and nanoseconds are split before rounding so
/// steps like `0.1` or `300` come back exactly.
fn step_from_secs(secs: f64) -> Result<TimeDelta, String> {
    if !secs.is_finite() {
        return Err(format!("step {secs} is not a finite number of seconds"));
    }
    let whole = secs.trunc();
    let nanos = ((secs - whole) * 1e9).round();
    // `as` saturates, so check the range before converting.
    if whole.abs() >= i64::MAX as f64 / 1000.0 {
        return Err(format!("step {secs}s is out of range"));
    }
    TimeDelta::try_seconds(whole as i64)
        .and_then(|w| w.checked_add(&TimeDelta::nanoseconds(nanos as i64)))
        .ok_or_else(|| format!("step {secs}s is out of range"))
}

impl Entry {
    pub fn spec(&self) -> Result<QuerySpec, String> {
        Ok(QuerySpec {
            id: self.id.clone(),
            promql: self.promql.clone(),
            kind: self.when.to_kind()?,
        })
    }
}

/// Read `<dir>/manifest.json`; `Ok(None)` if it does not exist.
pub(crate) fn load(dir: &Path) -> Result<Option<Manifest>, FixtureError> {
    let path = dir.join(MANIFEST_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FixtureError::io("read", path, e)),
    };
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|error| FixtureError::Manifest {
            path: path.clone(),
            error,
        })?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(FixtureError::Invalid {
            path,
            reason: format!(
                "schema_version {} is not supported (this build reads {SCHEMA_VERSION})",
                manifest.schema_version
            ),
        });
    }
    if let Some(c) = &manifest.capture {
        c.to_capture().map_err(|reason| FixtureError::Invalid {
            path: path.clone(),
            reason: format!("capture resolution: {reason}"),
        })?;
    }
    for entry in &manifest.queries {
        check_file_name(&entry.file).map_err(|reason| FixtureError::Invalid {
            path: path.clone(),
            reason: format!("query {:?}: {reason}", entry.id),
        })?;
        entry
            .when
            .to_kind()
            .map_err(|reason| FixtureError::Invalid {
                path: path.clone(),
                reason: format!("query {:?}: {reason}", entry.id),
            })?;
    }
    Ok(Some(manifest))
}

/// Write `<dir>/manifest.json` atomically: a temporary file renamed over
/// the old one, so a crash mid-write never leaves a truncated manifest.
/// Callers serialise calls (the recorder holds its mutex).
pub(crate) fn save(dir: &Path, manifest: &Manifest) -> Result<(), FixtureError> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    let mut text = serde_json::to_vec_pretty(manifest).map_err(|error| FixtureError::Manifest {
        path: path.clone(),
        error,
    })?;
    text.push(b'\n');
    std::fs::write(&tmp, &text).map_err(|e| FixtureError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| FixtureError::io("replace", &path, e))
}

/// A body file must be a plain relative path inside the fixture directory
/// (fixtures are shared files; never follow one outside its directory).
fn check_file_name(file: &str) -> Result<(), String> {
    let p = PathBuf::from(file);
    if file.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "body file {file:?} is not a relative path inside the fixture"
        ));
    }
    Ok(())
}

/// A file-name-safe version of a query id: ids are chosen by code, but a
/// `/` or a space must not create directories or awkward names.
pub(crate) fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        format!("q{stem}")
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        for d in [
            TimeDelta::seconds(300),
            TimeDelta::milliseconds(100),
            TimeDelta::nanoseconds(1),
            TimeDelta::seconds(1) + TimeDelta::nanoseconds(1),
            TimeDelta::hours(24 * 30) + TimeDelta::nanoseconds(999_999_999),
            TimeDelta::milliseconds(-1500),
            TimeDelta::zero(),
        ] {
            assert_eq!(step_from_secs(d.as_seconds_f64()), Ok(d), "{d:?}");
        }
        assert!(step_from_secs(f64::NAN).is_err());
        assert!(step_from_secs(1e300).is_err());
    }

    #[test]
    fn file_names() {
        assert_eq!(file_stem("cpu_request"), "cpu_request");
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(file_stem(""), "q");
        assert_eq!(file_stem(".."), "q..");
        assert!(check_file_name("0001-a.json").is_ok());
        for bad in ["", "../x.json", "/etc/passwd", "a/../../b", "."] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
    }
}
