//! The ETL file codec: an [`AllocationSet`](costetl_core::AllocationSet)
//! and its [`EtlMeta`](costetl_core::etl::EtlMeta) to Parquet bytes and
//! back, bytes in and bytes out (no IO).
//!
//! What a file holds (rows, meta, key, overwrite policy) is decided by
//! `costetl_core::etl`, which stays free of Arrow; this crate is the only
//! one that compiles Arrow and Parquet, and only the crates that read or
//! write files (the store, the CLI's tests, the benches, the fuzzer)
//! depend on it. Its failures are the format's, so it returns
//! [`costetl_core::Error`]'s ETL variants rather than an enum of its own.
//!
//! - [`encode`], [`decode`], [`decode_meta`], [`footer_len`]: the codec
//!   (`codec.rs`), with a content checksum in the footer (`checksum.rs`;
//!   the Parquet pages carry none).
//! - [`schema`]: the Arrow schema of each row version and its golden text.

mod checksum;
mod codec;
pub mod schema;

pub use codec::{FooterLen, decode, decode_meta, encode, footer_len};
pub use schema::{schema_of, schema_text, schema_v1, schema_v2};
