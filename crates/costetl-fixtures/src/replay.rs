//! [`FixtureSource`]: answer queries from a recorded fixture directory.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use costetl_core::source::{
    MetricsSource, QueryKind, QuerySpec, RawResponse, SourceError, SourceErrorKind,
};

use crate::manifest;
use crate::{Capture, FixtureError, MANIFEST_FILE};

/// A [`MetricsSource`] that replays a fixture directory written by
/// [`RecordingSource`](crate::RecordingSource).
///
/// [`open`](Self::open) reads the manifest and every body into memory, so
/// queries never touch the disk and complete immediately. A query is found
/// by its PromQL text plus its kind and times; its id only labels errors.
#[derive(Debug)]
pub struct FixtureSource {
    dir: PathBuf,
    /// In manifest order.
    queries: Vec<QuerySpec>,
    bodies: Vec<Vec<u8>>,
    /// PromQL → (kind, index into `queries`). Keyed by `String` so lookups
    /// borrow the caller's `&str`; the per-PromQL list is short (one entry
    /// per window).
    index: HashMap<String, Vec<(QueryKind, usize)>>,
    capture: Option<Capture>,
}

impl FixtureSource {
    /// Load the fixture in `dir`.
    ///
    /// Fails if the manifest is missing or invalid, or a body file is
    /// missing or has a different length than the manifest records.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, FixtureError> {
        let dir = dir.as_ref().to_path_buf();
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest = manifest::load(&dir)?.ok_or_else(|| {
            FixtureError::io(
                "read",
                &manifest_path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no fixture manifest"),
            )
        })?;
        let n = manifest.queries.len();
        let mut source = FixtureSource {
            dir,
            queries: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
            // `load` validated it.
            capture: (manifest.capture.as_ref()).and_then(|c| c.to_capture().ok()),
        };
        for entry in &manifest.queries {
            // `load` validated the step already.
            let spec = entry.spec().map_err(|reason| FixtureError::Invalid {
                path: manifest_path.clone(),
                reason,
            })?;
            let path = source.dir.join(&entry.file);
            let body = std::fs::read(&path).map_err(|e| FixtureError::io("read", &path, e))?;
            if body.len() as u64 != entry.bytes {
                return Err(FixtureError::Invalid {
                    reason: format!(
                        "body of query {:?} has {} bytes, the manifest says {}",
                        entry.id,
                        body.len(),
                        entry.bytes
                    ),
                    path,
                });
            }
            let i = source.queries.len();
            let kinds = source.index.entry(spec.promql.clone()).or_default();
            // A re-recorded query replaces the earlier answer.
            match kinds.iter_mut().find(|(k, _)| *k == spec.kind) {
                Some(slot) => slot.1 = i,
                None => kinds.push((spec.kind, i)),
            }
            source.queries.push(spec);
            source.bodies.push(body);
        }
        Ok(source)
    }

    /// The recorded queries, in manifest (recording) order.
    pub fn queries(&self) -> impl Iterator<Item = &QuerySpec> {
        self.queries.iter()
    }

    /// What the fixture captured, if its recorder said (`capture` does).
    pub fn capture(&self) -> Option<Capture> {
        self.capture
    }

    /// The fixture directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recorded body for `q`, if the fixture has it.
    pub fn body(&self, q: &QuerySpec) -> Option<&[u8]> {
        self.index
            .get(q.promql.as_str())?
            .iter()
            .find(|(k, _)| *k == q.kind)
            .map(|&(_, i)| self.bodies[i].as_slice())
    }

    fn answer(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        match self.body(q) {
            Some(body) => Ok(RawResponse {
                body: body.to_vec(),
            }),
            None => Err(SourceError {
                message: format!(
                    "fixture {} does not contain query {} ({}): {}",
                    self.dir.display(),
                    q.id,
                    describe_kind(&q.kind),
                    q.promql
                ),
                kind: SourceErrorKind::Permanent,
            }),
        }
    }
}

fn describe_kind(kind: &QueryKind) -> String {
    match kind {
        QueryKind::Instant { time } => format!("instant at {}", time.to_rfc3339()),
        QueryKind::Range { start, end, step } => format!(
            "range {} to {} step {}s",
            start.to_rfc3339(),
            end.to_rfc3339(),
            step.as_seconds_f64()
        ),
    }
}

impl MetricsSource for FixtureSource {
    fn query(
        &self,
        q: &QuerySpec,
    ) -> impl Future<Output = Result<RawResponse, SourceError>> + Send {
        std::future::ready(self.answer(q))
    }
}
