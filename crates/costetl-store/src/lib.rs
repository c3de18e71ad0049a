//! costetl-store: the ETL store. Allocation sets are kept as one Parquet
//! file per cluster and UTC-aligned hour or day, in a local directory or an
//! S3, GCS or Azure bucket, in Hive-style partitions
//! (`allocations/resolution=1d/cluster=<id>/day=<YYYY-MM-DD>/<start>-<end>.parquet`),
//! so every cluster of a fleet writes its own files into one shared bucket
//! and any reader (costetl, DuckDB, Athena, Trino, Spark) sees the whole
//! fleet and prunes by cluster and day. `migrate` moves a store of the
//! layout earlier versions wrote.
//!
//! The keys and the rule for when a new build may replace a stored file are
//! pure and live in [`costetl_core::etl`], the bytes in `costetl_parquet`;
//! this crate is the IO around them:
//!
//! - [`StoreConfig`] and [`EtlStore::open`]: where the store is
//!   (`file:///…`, a directory, `s3://bucket/prefix`) and how to reach it.
//! - [`EtlStore::put`]: encode, read what is stored, apply the
//!   [`OverwritePolicy`](costetl_core::etl::OverwritePolicy) (an empty or
//!   partial rebuild never replaces good data), then write with a
//!   conditional put so two writers cannot silently overwrite each other.
//!   S3 PUTs are atomic and conditional; a directory store compares and
//!   writes under a lock file (`local`), through a staging file fsynced and
//!   renamed into place: a reader never sees half a file.
//! - [`EtlStore::get`], [`EtlStore::list`], [`EtlStore::clusters`],
//!   [`EtlStore::load`]: read one file, a cluster's files, the clusters, or
//!   a federated range (one merged set per window across clusters, with the
//!   files that are missing named).
//! - [`EtlStore::query`]: an allocation query over a fleet's files, read
//!   and aggregated file by file in bounded memory (`query`).
//!
//! All methods are `async` on [`object_store`], which needs a Tokio runtime;
//! the caller owns it (the core picks none).

mod aws;
mod config;
mod error;
mod failpoint;
mod local;
mod migrate;
mod objstore;
mod query;
mod remote;
mod store;

pub use config::{AzureConfig, GcsConfig, S3Config, StoreConfig};
pub use error::StoreError;
pub use failpoint::{FAILPOINT_VAR, failpoint};
pub use migrate::Migrated;
pub use objstore::from_objstore_yaml;
pub use query::FleetQuery;
pub use store::{EtlStore, FileRead, Loaded, PutOutcome};

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
