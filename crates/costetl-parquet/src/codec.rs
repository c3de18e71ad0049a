//! Bytes in, bytes out: [`encode`] a set and its meta as a Parquet file,
//! [`decode`] one back, or read only its footer with [`decode_meta`].
//!
//! The file is plain Parquet (Snappy, one row per allocation, the row type
//! of [`super::SCHEMA_VERSION`]), so DuckDB, Athena or Spark query it as is;
//! everything costetl needs to trust it is in the footer's key-value
//! metadata. Decoding checks what Parquet does not: the schema version, a
//! content checksum over the row groups and the meta (Parquet pages carry
//! none as the `parquet` crate writes them), every required column and its
//! type, that each row's `total_cost` is the sum of its cost columns, and
//! that the rows add up to what the meta claims (count and total cost, bit
//! for bit).

use std::sync::Arc;

use arrow_array::{Array, Float64Array, RecordBatch};
use arrow_schema::Schema;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::{KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

use costetl_core::etl::SCHEMA_VERSION;
use costetl_core::etl::meta::{EtlMeta, META_KEY};
use costetl_core::etl::row::AllocationRowV2;
use costetl_core::{Allocation, AllocationSet, Error, Result};

use crate::checksum::{self, CHECKSUM_KEY};
use crate::schema::{schema_of, schema_v2};

/// Rows per Arrow batch, both ways: bounds the memory of one conversion
/// step without making small files pay for many steps.
const BATCH_ROWS: usize = 8192;

fn encode_err(reason: String) -> Error {
    Error::EtlEncode { reason }
}

fn rows_err(reason: String) -> Error {
    Error::EtlRows { reason }
}

fn not_parquet(e: &impl std::fmt::Display) -> Error {
    Error::EtlNotParquet {
        reason: e.to_string(),
    }
}

/// Whether two floats are the same value bit for bit (NaN equals NaN).
fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Parquet bytes for `set`: one row per allocation ([`AllocationRowV2`]),
/// Snappy, the meta in the footer.
///
/// # Errors
///
/// [`Error::EtlEncode`] when the meta does not describe this set exactly
/// (its window, or any field [`EtlMeta::describe`] would fill in
/// differently, e.g. a total or the warnings), when an allocation's window
/// is not the set's, or when the meta's key is invalid (unsafe cluster id,
/// window not aligned to the resolution), or when the set's total cost is
/// NaN or infinite (JSON cannot carry it). The check is strict because the
/// footer is what stores trust when deciding whether to overwrite a file.
pub fn encode(set: &AllocationSet, meta: &EtlMeta) -> Result<Vec<u8>> {
    if meta.window != set.window() {
        return Err(encode_err(format!(
            "meta window {} is not the set's window {}",
            meta.window,
            set.window()
        )));
    }
    let key = meta
        .key()
        .map_err(|e| encode_err(format!("invalid key in meta: {e}")))?;
    let expected = EtlMeta::describe(set, &key, &meta.producer, meta.built_at);
    if let Some(field) = meta.first_difference(&expected) {
        return Err(encode_err(format!(
            "meta field {field} does not describe the set (build the meta with EtlMeta::describe)"
        )));
    }
    // JSON has no NaN or infinity (serde_json would write null and fail to
    // read it back), and a cost of NaN is a bug upstream anyway.
    for (field, v) in [
        ("total_cost", meta.total_cost),
        ("container_hours", meta.container_hours),
    ] {
        if !v.is_finite() {
            return Err(encode_err(format!(
                "the set's {field} is {v}; sanitize it first (Allocation::sanitize_nan)"
            )));
        }
    }
    if let Some(a) = set.iter().find(|a| a.window != set.window()) {
        return Err(encode_err(format!(
            "allocation {:?} has window {}, the set has {}",
            a.name,
            a.window,
            set.window()
        )));
    }

    let schema = schema_v2();
    let [(version_key, version), (meta_key, meta_json)] = meta.to_footer()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(version_key, version),
            KeyValue::new(meta_key, meta_json.clone()),
        ]))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(props))
        .map_err(|e| encode_err(format!("Parquet writer: {e}")))?;
    let allocations: Vec<&Allocation> = set.iter().collect();
    for chunk in allocations.chunks(BATCH_ROWS) {
        let rows: Vec<AllocationRowV2> = (chunk.iter())
            .map(|a| AllocationRowV2::new(a, meta.complete, meta.built_at))
            .collect();
        let batch = serde_arrow::to_record_batch(schema.fields(), &rows)
            .map_err(|e| encode_err(format!("rows to Arrow: {e}")))?;
        writer
            .write(&batch)
            .map_err(|e| encode_err(format!("Parquet writer: {e}")))?;
    }
    // After the flush (rows into a row group) and the sync (the writer's
    // buffer into `out`), every row group is in `out`; only the page
    // indexes and the footer (with the checksum) follow.
    writer
        .flush()
        .map_err(|e| encode_err(format!("Parquet writer: {e}")))?;
    writer
        .sync()
        .map_err(|e| encode_err(format!("Parquet writer: {e}")))?;
    if writer.inner().len() != writer.bytes_written() {
        return Err(encode_err(format!(
            "Parquet writer holds back {} of {} bytes after a sync; cannot checksum them",
            writer.bytes_written().saturating_sub(writer.inner().len()),
            writer.bytes_written()
        )));
    }
    let sum = checksum::footer_value(writer.inner(), &meta_json);
    writer.append_key_value_metadata(KeyValue::new(CHECKSUM_KEY.to_owned(), sum));
    writer
        .close()
        .map_err(|e| encode_err(format!("Parquet writer: {e}")))?;
    Ok(out)
}

/// Only the footer's meta: cheap, no row group is decoded. `bytes` is the
/// file, or any suffix of it that holds the footer (see [`footer_len`]).
/// The content checksum is not verified (it covers the rows): use
/// [`decode`] when the content must be trusted.
///
/// # Errors
///
/// [`Error::EtlNotParquet`] for bytes that are not a Parquet file (empty,
/// truncated, corrupt footer); [`Error::EtlNewerSchema`] for a file written
/// by a newer costetl; [`Error::EtlMeta`] for a missing or unparsable meta.
pub fn decode_meta(bytes: &[u8]) -> Result<EtlMeta> {
    match footer_len(bytes)? {
        FooterLen::Short(n) => Err(not_parquet(&format!(
            "the footer needs {n} bytes, the file has {}",
            bytes.len()
        ))),
        FooterLen::Fits(_) => unpanicked(|| decode_meta_unguarded(bytes)),
    }
}

/// What the end of a file says about its footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FooterLen {
    /// The bytes given hold the whole footer, which is this many bytes.
    Fits(usize),
    /// The footer is this many bytes, more than were given: read that
    /// many from the end of the file and call again.
    Short(usize),
}

/// How long the footer is, from the last bytes of a file (at least 8):
/// lets a store read a file's meta with a suffix range request instead
/// of the whole file.
///
/// # Errors
///
/// [`Error::EtlNotParquet`] when the bytes do not end like a plain Parquet
/// file.
pub fn footer_len(suffix: &[u8]) -> Result<FooterLen> {
    const TAIL: usize = 8;
    let Some(tail) = suffix.len().checked_sub(TAIL).map(|at| &suffix[at..]) else {
        return Err(not_parquet(&format!(
            "{} bytes are too few for a Parquet footer",
            suffix.len()
        )));
    };
    let tail = parquet::file::metadata::FooterTail::try_from(tail).map_err(|e| not_parquet(&e))?;
    if tail.is_encrypted_footer() {
        return Err(not_parquet(&"the footer is encrypted"));
    }
    let need = tail.metadata_length() + TAIL;
    Ok(if need <= suffix.len() {
        FooterLen::Fits(need)
    } else {
        FooterLen::Short(need)
    })
}

/// The meta from the end of a file: `suffix` holds at least the footer
/// ([`footer_len`] says how much that is). A whole file is a suffix too.
fn decode_meta_unguarded(suffix: &[u8]) -> Result<EtlMeta> {
    let FooterLen::Fits(n) = footer_len(suffix)? else {
        return Err(not_parquet(&"the footer is longer than the bytes given"));
    };
    let footer = &suffix[suffix.len() - n..suffix.len() - 8];
    let metadata = ParquetMetaDataReader::decode_metadata(footer).map_err(|e| not_parquet(&e))?;
    meta_of(&metadata)
}

/// The value of footer key `key`, if present.
fn footer<'a>(metadata: &'a ParquetMetaData, key: &str) -> Option<&'a str> {
    metadata
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value.as_deref())
}

fn meta_of(metadata: &ParquetMetaData) -> Result<EtlMeta> {
    EtlMeta::from_footer(|key| footer(metadata, key))
}

/// Check the file against its footer checksum (after the version check:
/// a newer version may checksum differently).
fn verify_checksum(metadata: &ParquetMetaData, bytes: &[u8]) -> Result<()> {
    let stored = footer(metadata, CHECKSUM_KEY).ok_or_else(|| Error::EtlMeta {
        reason: format!("no {CHECKSUM_KEY:?} key in the footer"),
    })?;
    // `meta_of` succeeded, so the meta key is there.
    let meta_json = footer(metadata, META_KEY).unwrap_or_default();
    checksum::verify(bytes, meta_json, stored)
}

/// The set and meta back. The set's warnings and errors come from the meta;
/// its metadata-merge mode is the default (it is not stored).
///
/// # Errors
///
/// As [`decode_meta`], and: [`Error::EtlColumn`] for a column the file's
/// schema version requires that is missing or of another type;
/// [`Error::EtlRows`] for rows that cannot be read, an allocation whose
/// window is not the meta's, a name that appears twice, or rows whose count
/// or total cost is not the meta's. Never panics on any input bytes.
pub fn decode(bytes: &[u8]) -> Result<(AllocationSet, EtlMeta)> {
    unpanicked(|| decode_unguarded(bytes))
}

/// Runs a decode, turning a panic inside it into [`Error::EtlNotParquet`].
///
/// The Parquet reader still asserts on some corrupt pages instead of
/// returning an error (in parquet 60, e.g. "Decoder for dict should have
/// been set" for a data page whose encoding byte was flipped; upstream is
/// fixing these one by one, apache/arrow-rs#9434), and a flipped byte in a
/// file on disk must not bring down a store that is listing a bucket. Our
/// own code returns errors; this only backstops the dependency. The panic
/// hook still prints the message, and a build with `panic = "abort"` aborts.
fn unpanicked<T>(decode: impl FnOnce() -> Result<T>) -> Result<T> {
    // The closure owns or borrows only its own input and builds fresh
    // state; nothing half-updated is observed after an unwind.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(Error::EtlNotParquet {
            reason: format!("corrupt data made the Parquet reader panic: {message}"),
        })
    })
}

fn decode_unguarded(bytes: &[u8]) -> Result<(AllocationSet, EtlMeta)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(bytes))
        .map_err(|e| not_parquet(&e))?;
    let meta = meta_of(builder.metadata())?;
    verify_checksum(builder.metadata(), bytes)?;
    check_chunk_ranges(builder.metadata(), bytes.len())?;
    // Each version keeps its schema here, forever; their rows read into
    // one row type (version 1 through aliases and `fill_v1`).
    // `meta_of` refused versions above SCHEMA_VERSION and 0.
    let expected = schema_of(meta.schema_version).ok_or(Error::EtlNewerSchema {
        found: meta.schema_version,
        supported: SCHEMA_VERSION,
    })?;
    // Room for the rows the footer announces, bounded by the bytes: a
    // damaged footer must not reserve more than the file could hold.
    let room = usize::try_from(meta.allocations).map_or(0, |n| n.min(bytes.len() / 16));
    decode_rows(builder, meta, &expected, room)
}

/// The rows of a file with the columns of `expected`, checked against its
/// meta, into a set with `room` for them.
fn decode_rows(
    builder: ParquetRecordBatchReaderBuilder<Bytes>,
    meta: EtlMeta,
    expected: &Schema,
    room: usize,
) -> Result<(AllocationSet, EtlMeta)> {
    let indices = column_indices(builder.schema(), expected)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| not_parquet(&e))?;

    let mut set = AllocationSet::new(meta.window);
    set.reserve(room);
    let mut rows_seen: u64 = 0;
    // Folded value by value in file order from 0.0, exactly as
    // `AllocationSet::total_cost` folds them when the meta is described:
    // equal to the bit unless a value changed. (Files written before it
    // folded from 0.0 began with -0.0: a zero of either sign agrees.)
    let mut total_cost = 0.0;
    for batch in reader {
        let batch = batch.map_err(|e| not_parquet(&e))?;
        for v in float_column(&batch, "total_cost")?.values() {
            total_cost += v;
        }
        let rows: Vec<AllocationRowV2> = serde_arrow::from_record_batch(&batch)
            .map_err(|e| rows_err(format!("cannot read rows {rows_seen}..: {e}")))?;
        for mut row in rows {
            if meta.schema_version == 1 {
                row.fill_v1(meta.complete, meta.built_at);
            }
            if let Some(why) = row.disagreement(meta.complete, meta.built_at) {
                return Err(rows_err(format!("allocation {:?}: {why}", row.name)));
            }
            // The stored total against the stored costs: the checksum
            // catches changed bytes, this catches a writer that wrote
            // inconsistent rows (or a checksum recomputed over them).
            let summed = row.summed_total_cost();
            if !same_f64(summed, row.total_cost) {
                return Err(rows_err(format!(
                    "allocation {:?}: total_cost column says {}, its costs add up to {summed}",
                    row.name, row.total_cost
                )));
            }
            let a = Allocation::try_from(row)?;
            if a.window != meta.window {
                return Err(rows_err(format!(
                    "allocation {:?} has window {}, the file's metadata says {}",
                    a.name, a.window, meta.window
                )));
            }
            if set.get(&a.name).is_some() {
                return Err(rows_err(format!("allocation {:?} appears twice", a.name)));
            }
            set.insert(a);
            rows_seen += 1;
        }
    }
    if rows_seen != meta.allocations {
        return Err(rows_err(format!(
            "{rows_seen} rows, but the metadata says {} allocations",
            meta.allocations
        )));
    }
    let zeros = total_cost == 0.0 && meta.total_cost == 0.0;
    if !(same_f64(total_cost, meta.total_cost) || zeros) {
        return Err(rows_err(format!(
            "total_cost of the rows sums to {total_cost}, the metadata says {}",
            meta.total_cost
        )));
    }
    set.warnings = meta.set_warnings();
    set.errors.clone_from(&meta.errors);
    Ok((set, meta))
}

/// Every column chunk lies inside the file. The Parquet reader asserts
/// (panics) on a negative offset or length in corrupt metadata, and reads
/// past the end are better reported up front, naming the chunk.
fn check_chunk_ranges(metadata: &ParquetMetaData, file_len: usize) -> Result<()> {
    let file_len = i64::try_from(file_len).unwrap_or(i64::MAX);
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for (c, chunk) in group.columns().iter().enumerate() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            let len = chunk.compressed_size();
            let inside =
                start >= 0 && len >= 0 && start.checked_add(len).is_some_and(|end| end <= file_len);
            if !inside {
                return Err(Error::EtlNotParquet {
                    reason: format!(
                        "row group {g} column {c} ({}) claims bytes at offset {start}, length {len}, \
                         outside the {file_len}-byte file",
                        chunk.column_path()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The file's top-level column index of every column in `expected`, after
/// checking that each is there with a compatible type. Extra columns are
/// allowed (and not read).
fn column_indices(found: &Schema, expected: &Schema) -> Result<Vec<usize>> {
    expected
        .fields()
        .iter()
        .map(|want| {
            let column_err = |reason: String| Error::EtlColumn {
                column: want.name().clone(),
                reason,
            };
            let (i, have) = found
                .column_with_name(want.name())
                .ok_or_else(|| column_err("missing".to_owned()))?;
            // Ignores nested field names and metadata: those are Arrow
            // spelling, not meaning, and a null where none may be is caught
            // when the rows are read.
            if !have.data_type().equals_datatype(want.data_type()) {
                return Err(column_err(format!(
                    "has type {}, expected {}",
                    have.data_type(),
                    want.data_type()
                )));
            }
            Ok(i)
        })
        .collect()
}

/// A non-null Float64 column of `batch`.
fn float_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array> {
    let column = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
        .ok_or_else(|| Error::EtlColumn {
            column: name.to_owned(),
            reason: "missing or not float64".to_owned(),
        })?;
    if column.null_count() > 0 {
        return Err(Error::EtlColumn {
            column: name.to_owned(),
            reason: "holds nulls".to_owned(),
        });
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use costetl_core::Window;
    use costetl_core::etl::{EtlKey, Resolution};
    use costetl_core::testing::{mock_set, test_day};

    fn key() -> EtlKey {
        EtlKey::new("cluster1", Resolution::Daily, test_day()).unwrap()
    }

    fn meta_for(set: &AllocationSet) -> EtlMeta {
        EtlMeta::describe(set, &key(), "costetl test", test_day().end())
    }

    fn encode_reason(set: &AllocationSet, meta: &EtlMeta) -> String {
        match encode(set, meta) {
            Err(Error::EtlEncode { reason }) => reason,
            other => panic!("expected EtlEncode, got {other:?}"),
        }
    }

    #[test]
    fn a_panic_while_decoding_is_an_error() {
        let r: Result<()> = unpanicked(|| panic!("Decoder for dict should have been set"));
        assert_eq!(
            r,
            Err(Error::EtlNotParquet {
                reason: "corrupt data made the Parquet reader panic: \
                         Decoder for dict should have been set"
                    .into()
            })
        );
        let r: Result<()> = unpanicked(|| panic!("{} {}", "formatted", 1));
        assert!(
            matches!(r, Err(Error::EtlNotParquet { reason }) if reason.ends_with("formatted 1"))
        );
    }

    #[test]
    fn mock_set_round_trips() {
        let set = mock_set(test_day().start());
        let meta = meta_for(&set);
        let bytes = encode(&set, &meta).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let (back, back_meta) = decode(&bytes).unwrap();
        assert_eq!(back, set);
        assert_eq!(back_meta, meta);
        assert_eq!(decode_meta(&bytes).unwrap(), meta);
    }

    #[test]
    fn empty_set_round_trips() {
        let mut set = AllocationSet::new(test_day());
        set.errors.push("prometheus unreachable".into());
        let meta = meta_for(&set);
        let (back, back_meta) = decode(&encode(&set, &meta).unwrap()).unwrap();
        assert_eq!((back, back_meta), (set, meta));
    }

    #[test]
    fn encode_refuses_a_meta_that_does_not_describe_the_set() {
        let set = mock_set(test_day().start());
        let good = meta_for(&set);

        let mut m = good.clone();
        m.window = Window::new(test_day().end(), test_day().end() + TimeDelta::days(1)).unwrap();
        assert!(encode_reason(&set, &m).starts_with("meta window [2023-11-16T00:00:00Z"));

        let mut m = good.clone();
        m.cluster = "..".into();
        assert!(encode_reason(&set, &m).contains("invalid key in meta"));

        let mut m = good.clone();
        m.resolution = Resolution::Hourly;
        assert!(encode_reason(&set, &m).contains("not one aligned 1h window"));

        let mut m = good.clone();
        m.total_cost += 1.0;
        assert!(encode_reason(&set, &m).contains("meta field total_cost"));

        let mut m = good.clone();
        m.schema_version = SCHEMA_VERSION - 1;
        assert!(encode_reason(&set, &m).contains("meta field schema_version"));

        let mut m = good;
        m.warnings.push("not in the set".into());
        assert!(encode_reason(&set, &m).contains("meta field warnings"));
    }

    #[test]
    fn encode_refuses_non_finite_totals() {
        let mut set = mock_set(test_day().start());
        if let Some(a) = set.iter_mut().next() {
            a.cpu_cost = f64::NAN;
        }
        let meta = meta_for(&set);
        assert_eq!(
            encode_reason(&set, &meta),
            "the set's total_cost is NaN; sanitize it first (Allocation::sanitize_nan)"
        );
        // Non-finite values outside the totals are stored as they are.
        let mut set = mock_set(test_day().start());
        if let Some(a) = set.iter_mut().next() {
            a.cpu_core_usage_average = f64::INFINITY;
            a.network_transfer_bytes = f64::NAN;
        }
        let (back, _) = decode(&encode(&set, &meta_for(&set)).unwrap()).unwrap();
        let a = back.iter().next().unwrap();
        assert_eq!(a.cpu_core_usage_average, f64::INFINITY);
        assert!(a.network_transfer_bytes.is_nan());
    }

    #[test]
    fn encode_refuses_allocations_of_another_window() {
        let w = test_day();
        let mut set = AllocationSet::new(w);
        let other = Window::new(w.start(), w.end() + TimeDelta::hours(1)).unwrap();
        set.insert(Allocation::new("a", other));
        let meta = meta_for(&set);
        assert!(encode_reason(&set, &meta).starts_with("allocation \"a\" has window"));
    }

    #[test]
    fn sub_millisecond_times_are_truncated() {
        let w = test_day();
        let mut set = AllocationSet::new(w);
        let mut a = Allocation::new("a", w);
        a.start = w.start() + TimeDelta::microseconds(1500);
        set.insert(a);
        let (back, _) = decode(&encode(&set, &meta_for(&set)).unwrap()).unwrap();
        let start = back.get("a").unwrap().start;
        assert_eq!(start, w.start() + TimeDelta::milliseconds(1));
    }

    #[test]
    fn decode_checks_the_rows_against_the_meta() {
        // A file whose meta claims one more allocation than it holds: the
        // same bytes as a valid file with another footer.
        let set = mock_set(test_day().start());
        let mut lying = meta_for(&set);
        lying.allocations += 1;
        let bytes = write_unchecked(&set, &lying);
        let e = decode(&bytes).unwrap_err();
        assert_eq!(
            e,
            Error::EtlRows {
                reason: "12 rows, but the metadata says 13 allocations".into()
            }
        );
        let mut lying = meta_for(&set);
        lying.total_cost = 81.0;
        let e = decode(&write_unchecked(&set, &lying)).unwrap_err();
        assert!(
            e.to_string()
                .contains("total_cost of the rows sums to 82, the metadata says 81"),
            "{e}"
        );
    }

    /// The rows `encode` writes for `set` under `meta`.
    fn rows_of(set: &AllocationSet, meta: &EtlMeta) -> Vec<AllocationRowV2> {
        (set.iter())
            .map(|a| AllocationRowV2::new(a, meta.complete, meta.built_at))
            .collect()
    }

    /// `encode` without its checks, for files it would refuse.
    fn write_unchecked(set: &AllocationSet, meta: &EtlMeta) -> Vec<u8> {
        let rows = rows_of(set, meta);
        write_rows(&rows, meta)
    }

    fn write_rows(rows: &[AllocationRowV2], meta: &EtlMeta) -> Vec<u8> {
        let schema = schema_v2();
        let footer = meta
            .to_footer()
            .unwrap()
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(footer))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(props)).unwrap();
        w.write(&serde_arrow::to_record_batch(schema.fields(), &rows).unwrap())
            .unwrap();
        w.flush().unwrap();
        w.sync().unwrap();
        let [_, (_, json)] = meta.to_footer().unwrap();
        let sum = checksum::footer_value(w.inner(), &json);
        w.append_key_value_metadata(KeyValue::new(CHECKSUM_KEY.to_owned(), sum));
        w.close().unwrap();
        out
    }

    #[test]
    fn decode_checks_each_rows_total_against_its_costs() {
        let set = mock_set(test_day().start());
        let meta = meta_for(&set);
        let mut rows = rows_of(&set, &meta);
        rows[2].gpu_cost = 5.0;
        let e = decode(&write_rows(&rows, &meta)).unwrap_err();
        assert_eq!(
            e,
            Error::EtlRows {
                reason: format!(
                    "allocation {:?}: total_cost column says 16, its costs add up to 20",
                    rows[2].name
                )
            }
        );
    }

    #[test]
    fn decode_rejects_duplicate_names() {
        let set = mock_set(test_day().start());
        let mut meta = meta_for(&set);
        let mut rows = rows_of(&set, &meta);
        // Two rows with one name: the set would merge them silently.
        rows[1].name = rows[0].name.clone();
        meta.total_cost = rows.iter().map(|r| r.total_cost).sum();
        let e = decode(&write_rows(&rows, &meta)).unwrap_err();
        assert_eq!(
            e,
            Error::EtlRows {
                reason: format!("allocation {:?} appears twice", rows[0].name)
            }
        );
    }

    #[test]
    fn decode_rejects_rows_of_another_window() {
        let set = mock_set(test_day().start());
        let meta = meta_for(&set);
        let mut rows = rows_of(&set, &meta);
        rows[3].window_end += TimeDelta::hours(1);
        let e = decode(&write_rows(&rows, &meta)).unwrap_err();
        assert!(
            e.to_string().contains("has window [2023-11-15T00:00:00Z, 2023-11-16T01:00:00Z), \
                                    the file's metadata says [2023-11-15T00:00:00Z, 2023-11-16T00:00:00Z)"),
            "{e}"
        );
    }
}
