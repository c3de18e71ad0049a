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
        /// Whether and how a retry may help.
        kind: crate::source::SourceErrorKind,
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
    /// A store resolution string is not one we know.
    #[error("unknown ETL resolution {input:?}: expected 1h, 1d, hourly or daily")]
    InvalidResolution {
        /// The text that was given.
        input: String,
    },
    /// A cluster id cannot be part of an ETL file's path.
    #[error("cluster id {cluster:?} cannot be used in an ETL path: {reason}")]
    InvalidClusterId {
        /// The id that was given.
        cluster: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// Bytes that should be an ETL file are not a readable Parquet file
    /// (empty, truncated, corrupt).
    #[error("not a readable ETL Parquet file: {reason}")]
    EtlNotParquet {
        /// What the Parquet reader said.
        reason: String,
    },
    /// An ETL file's footer metadata (`costetl.meta`,
    /// `costetl.schema_version`) is missing or cannot be parsed.
    #[error("ETL file metadata: {reason}")]
    EtlMeta {
        /// Which key, and what was wrong with it.
        reason: String,
    },
    /// An ETL file was written by a newer costetl, with a schema version
    /// this one does not know.
    #[error(
        "ETL file has schema version {found}, written by a newer costetl \
         (this one reads versions 1 to {supported})"
    )]
    EtlNewerSchema {
        /// The file's schema version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A column that the file's schema version requires is missing or has
    /// another type.
    #[error("ETL file column {column:?}: {reason}")]
    EtlColumn {
        /// The column's name.
        column: String,
        /// Missing, or the type found and the type expected.
        reason: String,
    },
    /// An ETL file's rows cannot be read back as allocations, or contradict
    /// the file's metadata.
    #[error("ETL file rows: {reason}")]
    EtlRows {
        /// Which row or allocation, and what was wrong.
        reason: String,
    },
    /// An ETL file's content does not match the checksum in its footer.
    #[error("ETL file is corrupt: {reason}")]
    EtlChecksum {
        /// The lengths or hashes that disagree.
        reason: String,
    },
    /// A set and its metadata cannot be written as an ETL file.
    #[error("cannot encode ETL file: {reason}")]
    EtlEncode {
        /// What did not fit.
        reason: String,
    },
}

/// Backend messages that mean "ask for less": Prometheus' sample limit,
/// AMP's response-size and data-size limits, Cortex/Mimir chunk and series
/// limits, VictoriaMetrics' sample and series limits.
const TOO_LARGE_MARKERS: &[&str] = &[
    "too many samples",
    "response larger than the max",
    "aggregated data size limit",
    "exceeded chunks limit",
    "the query hit the max number of chunks limit",
    "max number of series limit",
    "fetched series limit",
    "exceeded maximum resolution of 11,000 points",
    "cannot select more than",
    "too many points",
];

impl Error {
    /// Whether the same question over a shorter window may succeed: the
    /// source said so, the backend's error message names a size limit, or
    /// the backend gave up evaluating it (its query timeout).
    pub fn is_too_large(&self) -> bool {
        match self {
            Error::Source { kind, message, .. } => {
                *kind == crate::source::SourceErrorKind::TooLarge
                    || names_size_limit(message)
                    || names_work_timeout(message)
            }
            Error::Backend { message, .. } => {
                names_size_limit(message) || names_work_timeout(message)
            }
            _ => false,
        }
    }
}

/// The server gave up evaluating the query (Prometheus' "query timed out
/// in expression evaluation", VictoriaMetrics' `-search.maxQueryDuration`):
/// the same query would time out again, half of it may pass. A timeout
/// waiting in the server's queue is overload, not size, and is not one.
fn names_work_timeout(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("query timed out") && !m.contains("queue")) || m.contains("search.maxqueryduration")
}

fn names_size_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    TOO_LARGE_MARKERS.iter().any(|k| m.contains(k))
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
