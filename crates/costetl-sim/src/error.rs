//! The simulator's one error type.

use thiserror::Error;

/// Everything that can go wrong while loading a scenario or producing its
/// outputs.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The scenario is inconsistent (unknown node, overlapping pods, …).
    /// `path` names the offending element, e.g.
    /// `clusters[0].pods[3].containers[1]`.
    #[error("invalid scenario at {path}: {reason}")]
    Invalid {
        /// Where in the scenario.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A window asked for expectations does not lie within the scenario.
    #[error("window {window} is not within the scenario {scenario}")]
    WindowOutsideScenario {
        /// The window asked for.
        window: String,
        /// The scenario's `[start, end)`.
        scenario: String,
    },
    /// The scenario JSON did not parse.
    #[error("cannot read scenario: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading the scenario or writing output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with the simulator's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for [`Error::Invalid`].
pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}
