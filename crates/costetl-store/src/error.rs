//! [`StoreError`]: everything the store can fail with, naming the object.

/// What went wrong, and with which object or setting.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's configuration cannot be used.
    #[error("ETL store configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The object store failed (network, permissions, disk).
    #[error("ETL store: {op} {path}: {error}")]
    ObjectStore {
        /// What was being done: `get`, `put`, `list`.
        op: &'static str,
        /// The object or prefix.
        path: String,
        /// The object store's error (in the message, so not also a
        /// `source`: a report of the chain would say it twice).
        error: object_store::Error,
    },
    /// A file could not be encoded or decoded.
    #[error("ETL file {path}: {error}")]
    Format {
        /// The object.
        path: String,
        /// The core's error, naming what is wrong in the file (in the
        /// message, as above).
        error: costetl_core::Error,
    },
    /// The query run on the files failed (an invalid shared hourly cost,
    /// a window straddling an accumulation period).
    #[error("ETL store query: {error}")]
    Query {
        /// The core's error.
        error: costetl_core::Error,
    },
    /// Another writer changed the file between our read and our write; the
    /// stored file is whatever that writer wrote. Building again decides
    /// afresh against it.
    #[error(
        "ETL file {path} was changed by another writer while this one was deciding; \
         nothing was overwritten: build again to compare with the new file"
    )]
    Conflict {
        /// The object.
        path: String,
    },
    /// The store holds files in the layout costetl wrote before schema
    /// version 2: reading or syncing it as it is would miss them.
    #[error(
        "ETL store {store} holds {objects} object(s) in the layout of costetl before schema \
         version 2 (e.g. {example}), which readers of the partitioned layout do not see: \
         move them first with `costetl etl migrate` (EtlStore::migrate)"
    )]
    LegacyLayout {
        /// The store.
        store: String,
        /// How many files and pending markers.
        objects: usize,
        /// One of them.
        example: String,
    },
}
