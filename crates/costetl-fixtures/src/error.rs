//! The crate's one error type.

use std::path::PathBuf;

/// Why a fixture directory could not be written or read.
///
/// Every variant names the file concerned. The underlying error is part of
/// the message (and not also returned as `source()`, so chains print it
/// once).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done (`"create directory"`, `"read"`, `"write"`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The manifest is not valid JSON or does not have the expected shape.
    #[error("invalid fixture manifest {}: {error}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What serde_json reported, with line and column.
        error: serde_json::Error,
    },
    /// The manifest parsed but does not describe a usable fixture
    /// (unsupported schema version, a body of the wrong size, a file name
    /// outside the directory, an impossible step).
    #[error("invalid fixture {}: {reason}", path.display())]
    Invalid {
        /// The manifest or body file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl FixtureError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        error: std::io::Error,
    ) -> Self {
        FixtureError::Io {
            action,
            path: path.into(),
            error,
        }
    }
}
