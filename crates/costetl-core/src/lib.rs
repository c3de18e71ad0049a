//! costetl-core: the sans-IO heart of costetl.
//!
//! Turns metric query results into Kubernetes cost allocations, aggregates
//! them the way OpenCost does (minus its known bugs), and shapes them for
//! durable ETL files. This crate never does IO, never reads the clock and
//! never spawns: "now" and all data are passed in.
//!
//! The main types:
//! - [`Window`]: a half-open UTC time range, and the parser for every
//!   OpenCost window form.
//! - [`Allocation`], [`AllocationProperties`], [`AllocationSet`],
//!   [`AllocationSetRange`]: the allocation model, field for field with
//!   OpenCost.
//! - [`AggregationOptions`] and [`AllocationSet::aggregate_by`]:
//!   aggregation, idle and shared-cost distribution, filters.
//! - [`Warning`]: what a computation warns about, typed.
//! - [`AllocationQuery`]: OpenCost's `/allocation/compute` on loaded sets
//!   (select, drop idle, aggregate, accumulate), reporting what the filter
//!   removed.
//! - [`Filter`]: OpenCost's v2 filter language.
//! - [`json`]: OpenCost's allocation API JSON, both ways.
//! - [`etl`]: the versioned ETL file (Parquet bytes in, bytes out), its
//!   store keys and the rule for when a new file may replace a stored one.

pub mod aggregate;
pub mod allocation;
pub mod diagnose;
pub mod engine;
pub mod error;
pub mod etl;
pub mod filter;
pub mod json;
mod labels;
pub mod plan;
pub mod promjson;
pub mod properties;
pub mod query;
pub mod set;
pub mod small_map;
pub mod source;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod warning;
pub mod window;

pub use aggregate::{Aggregated, AggregationOptions};
pub use allocation::{
    Allocation, AllocationKind, LbAllocation, PvAllocation, PvKey, RawAllocationOnly,
};
pub use error::{Error, Result};
pub use filter::Filter;
pub use properties::{AggregationProperty, AllocationProperties, LabelConfig, MetadataMerge};
pub use query::{AllocationQuery, QueryRun, Report};
pub use set::{Accumulate, AllocationSet, AllocationSetRange};
pub use warning::{Warning, WarningKind};
pub use window::Window;
