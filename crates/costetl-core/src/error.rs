//! The core crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in the core crate.
///
/// Every variant names the input that was wrong so that a caller can report it
/// without further context.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A window string or window bounds could not be understood.
    #[error("illegal window {input:?}: {reason}")]
    InvalidWindow {
        /// The text (or bounds) that was given.
        input: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A filter expression did not parse.
    #[error("filter parse error at column {column}: {message}\n  {input}\n  {caret:>width$}", caret = "^", width = column)]
    FilterParse {
        /// The whole filter text.
        input: String,
        /// 1-based column (in characters) of the offending token.
        column: usize,
        /// What was expected or found there.
        message: String,
    },
    /// An aggregation property (`aggregate=` token) is not one we know.
    #[error("unknown aggregation property {input:?}: {reason}")]
    InvalidAggregation {
        /// The token that was given.
        input: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A set range cannot be accumulated as asked.
    #[error("cannot accumulate: {reason}")]
    Accumulate {
        /// Why not.
        reason: String,
    },
    /// A metrics source failed to answer a query.
    #[error("query {query} failed: {message}")]
    Source {
        /// The query's id.
        query: String,
        /// What the source said.
        message: String,
    },
    /// A backend response could not be decoded.
    #[error("query {query}: cannot decode response: {reason}")]
    Decode {
        /// The query's id.
        query: String,
        /// What was wrong, with the start of the body where useful.
        reason: String,
    },
    /// The backend answered with a Prometheus error.
    #[error("query {query}: backend error {error_type}: {message}")]
    Backend {
        /// The query's id.
        query: String,
        /// Prometheus' `errorType` (`bad_data`, `timeout`, `execution`,
        /// VictoriaMetrics' `422`, …).
        error_type: String,
        /// Prometheus' `error`.
        message: String,
    },
    /// An allocation JSON document could not be read.
    #[error("invalid allocation JSON: {reason}")]
    Json {
        /// What was wrong, including the JSON path where known.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
