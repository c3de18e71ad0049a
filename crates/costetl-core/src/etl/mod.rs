//! The ETL files' pure parts: one file per (cluster, resolution,
//! UTC-aligned window) holding an [`AllocationSet`](crate::AllocationSet).
//! This module decides what a file holds (its meta and its rows), where it
//! goes ([`EtlKey::path`]) and whether a new file may replace a stored one
//! ([`decide`]). The Parquet bytes are `costetl-parquet`'s (so only the
//! crates that read or write files compile Arrow), and the store that puts
//! them on disk or in a bucket is `costetl-store`.
//!
//! - [`key`]: [`Resolution`], [`EtlKey`] and the Hive-style path layout
//!   `allocations/resolution=<1h|1d>/cluster=<id>/day=<YYYY-MM-DD>/<start>-<end>.parquet`
//!   (and the legacy federated one, for migration).
//! - [`meta`]: [`EtlMeta`], the JSON in the Parquet footer that describes a
//!   file (window, completeness, counts, totals, warnings, errors).
//! - [`row`]: [`AllocationRowV2`], the versioned row type (reading version
//!   1 too), separate from the model so the model can change without
//!   breaking files.
//! - [`decide`] and [`OverwritePolicy`]: never overwrite good data with
//!   worse, comparing totals and [`coverage`] (per namespace, per kind of
//!   metadata).
//! - [`parts`]: a fleet's computed set cut into one part per cluster and
//!   window (an open window computed up to the minute of the build).
//! - [`plan`]: which windows a store needs (re)built and which files are
//!   past retention, for a sync run.
//!
//! # Versioning
//!
//! A file's footer carries `costetl.schema_version`. Adding a column or
//! changing a type means a new row version and a bump of
//! [`SCHEMA_VERSION`]; readers accept every version up to their own and
//! refuse newer ones with [`Error::EtlNewerSchema`](crate::Error::EtlNewerSchema).
//! Version 1 must decode forever: `fixtures/etl/allocations-v1.parquet` is
//! decoded by `costetl-parquet`'s tests, and the golden schema text pins
//! the columns. See `docs/etl.md`.

pub mod coverage;
pub mod key;
pub mod meta;
mod overwrite;
pub mod parts;
pub mod plan;
pub mod row;

pub use coverage::Coverage;
pub use key::{
    ALLOCATIONS_ROOT, EtlKey, LEGACY_ROOT, Resolution, cluster_of_partition, cluster_prefix,
    legacy_cluster_prefix, resolution_prefix,
};
pub use meta::EtlMeta;
pub use overwrite::{Decision, Existing, OverwritePolicy, decide};
pub use plan::{Build, Need, Plan, Stored, plan, retained};
pub use row::{AllocationRowV2, LbRowV1, PvRowV1};

/// The row schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u32 = 2;
