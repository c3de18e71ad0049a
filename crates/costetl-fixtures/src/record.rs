//! [`RecordingSource`]: tee every response of a wrapped source to disk.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use costetl_core::source::{MetricsSource, QuerySpec, RawResponse, SourceError, SourceErrorKind};

use crate::manifest::{self, CaptureWire, Entry, Manifest, SCHEMA_VERSION, When};
use crate::{Capture, FixtureError};

/// A [`MetricsSource`] that forwards each query to `inner` and records the
/// response body verbatim into a fixture directory (see the crate docs for
/// the layout), for [`FixtureSource`](crate::FixtureSource) to replay.
///
/// Queries may run concurrently: file numbering and manifest updates happen
/// under one mutex, and the manifest is rewritten atomically after every
/// recorded body, so the directory is a valid fixture at all times (a
/// capture that stops half-way still replays what it got). The mutex is
/// never held across an `.await`; the inner query runs unlocked.
///
/// Failed queries are passed through and not recorded. If an existing
/// fixture is found in the directory, new entries are appended to it (on
/// replay the later of two identical queries wins).
#[derive(Debug)]
pub struct RecordingSource<S> {
    inner: S,
    dir: PathBuf,
    manifest: Mutex<Manifest>,
}

impl<S: MetricsSource> RecordingSource<S> {
    /// Wrap `inner`, recording into `dir` (created if missing).
    ///
    /// Fails if the directory cannot be created or holds an unreadable
    /// manifest.
    pub fn new(inner: S, dir: impl Into<PathBuf>) -> Result<Self, FixtureError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| FixtureError::io("create directory", &dir, e))?;
        let manifest = manifest::load(&dir)?.unwrap_or(Manifest {
            schema_version: SCHEMA_VERSION,
            capture: None,
            queries: Vec::new(),
        });
        Ok(RecordingSource {
            inner,
            dir,
            manifest: Mutex::new(manifest),
        })
    }

    /// Wrap `inner`, recording a new fixture into `dir`, which must not
    /// hold one already (a second capture into it would mix two windows'
    /// answers); `capture` says what is being captured.
    pub fn create(
        inner: S,
        dir: impl Into<PathBuf>,
        capture: Capture,
    ) -> Result<Self, FixtureError> {
        let dir = dir.into();
        if manifest::load(&dir)?.is_some() {
            return Err(FixtureError::Invalid {
                path: dir.join(crate::MANIFEST_FILE),
                reason: "the directory already holds a fixture; choose another directory or \
                         delete this one"
                    .to_owned(),
            });
        }
        let source = Self::new(inner, dir)?;
        source.lock().capture = Some(CaptureWire::from_capture(&capture));
        manifest::save(&source.dir, &source.lock())?;
        Ok(source)
    }

    /// The fixture directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many queries the manifest holds so far (including any found in
    /// the directory at construction).
    pub fn recorded(&self) -> usize {
        self.lock().queries.len()
    }

    /// Unwrap, returning the inner source.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manifest> {
        // A panic elsewhere while holding the lock leaves the manifest
        // consistent (entries are pushed after their body is written), so
        // keep recording rather than propagate the poison.
        self.manifest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write one body and the updated manifest.
    fn record(&self, q: &QuerySpec, body: &[u8]) -> Result<(), FixtureError> {
        let mut manifest = self.lock();
        let file = format!(
            "{:04}-{}.json",
            manifest.queries.len() + 1,
            manifest::file_stem(&q.id)
        );
        let path = self.dir.join(&file);
        std::fs::write(&path, body).map_err(|e| FixtureError::io("write", &path, e))?;
        manifest.queries.push(Entry {
            id: q.id.clone(),
            promql: q.promql.clone(),
            when: When::from_kind(&q.kind),
            file,
            bytes: body.len() as u64,
        });
        if let Err(e) = manifest::save(&self.dir, &manifest) {
            // Keep memory in line with disk; the orphan body file is harmless.
            manifest.queries.pop();
            return Err(e);
        }
        Ok(())
    }
}

impl<S: MetricsSource> MetricsSource for RecordingSource<S> {
    async fn query(&self, q: &QuerySpec) -> Result<RawResponse, SourceError> {
        let response = self.inner.query(q).await?;
        // Blocking file IO inside an async fn: bodies are written once and
        // the manifest is small; a capture run is IO-bound on the backend,
        // not on the local disk.
        self.record(q, &response.body).map_err(|e| SourceError {
            message: format!("fixture recorder: {e}"),
            kind: SourceErrorKind::Permanent,
        })?;
        Ok(response)
    }
}
