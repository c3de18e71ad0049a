//! The ETL file format: round trips of random sets (bit for bit),
//! conservation of cost through the file, corrupt and foreign inputs, the
//! golden v1 schema and the checked-in v1 file that every later version
//! must still read.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Array, Float64Array, RecordBatch};
use arrow_schema::{Field, Schema};
use chrono::{DateTime, TimeDelta, Utc};
use costetl_core::etl::{EtlKey, EtlMeta, Resolution, SCHEMA_VERSION};
use costetl_core::testing::{arb_set, mock_set, test_day};
use costetl_core::{
    Allocation, AllocationSet, Error, LbAllocation, RawAllocationOnly, Warning, WarningKind,
};
use costetl_parquet as etl;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/etl")
}

fn key(cluster: &str) -> EtlKey {
    EtlKey::new(cluster, Resolution::Daily, test_day()).unwrap()
}

/// `{:?}` of every allocation: Debug prints floats in their shortest
/// round-trip form and tells -0.0 from 0.0, so equal text is equal bits
/// (NaN aside, which prints as NaN whatever its payload).
fn debug_allocations(set: &AllocationSet) -> Vec<String> {
    set.iter().map(|a| format!("{a:?}")).collect()
}

/// Every batch of a file, read with Parquet alone (not the decoder).
fn batches(bytes: &[u8]) -> (Arc<Schema>, Vec<RecordBatch>, Vec<KeyValue>) {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes)).unwrap();
    let schema = Arc::clone(builder.schema());
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let batches = builder.build().unwrap().map(Result::unwrap).collect();
    (schema, batches, kv)
}

/// Σ of the file's `total_cost` column in row order, from -0.0 as an
/// iterator sum starts.
fn column_total(bytes: &[u8]) -> f64 {
    let (_, batches, _) = batches(bytes);
    // Folded from +0.0, as `AllocationSet::total_cost` folds.
    let mut total = 0.0;
    for b in &batches {
        let col = b
            .column_by_name("total_cost")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(col.null_count(), 0);
        for v in col.values() {
            total += v;
        }
    }
    total
}

/// FNV-1a 64, written from its definition as docs/etl.md names it, so the
/// checksum format is checked against an independent implementation.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A Parquet file with `batches`, the footer pairs `kv` and, when `kv`
/// has a `costetl.meta`, a correct `costetl.checksum` as docs/etl.md
/// defines it: what another writer (a newer costetl, a broken one) could
/// produce.
fn write_raw(schema: Arc<Schema>, batches: &[RecordBatch], kv: Vec<KeyValue>) -> Vec<u8> {
    let meta_json = kv
        .iter()
        .find(|e| e.key == "costetl.meta")
        .and_then(|e| e.value.clone());
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.flush().unwrap();
    w.sync().unwrap();
    if let Some(json) = meta_json {
        let mut covered = w.inner().to_vec();
        let len = covered.len();
        covered.extend(json.as_bytes());
        let sum = format!("fnv1a64:{len}:{:016x}", fnv1a64(&covered));
        w.append_key_value_metadata(KeyValue::new("costetl.checksum".into(), sum));
    }
    w.close().unwrap();
    out
}

/// The costetl footer pairs of a file but its checksum (Arrow's own
/// schema pair is dropped too: the writer adds it again).
fn costetl_kv(kv: &[KeyValue]) -> Vec<KeyValue> {
    kv.iter()
        .filter(|e| e.key.starts_with("costetl.") && e.key != "costetl.checksum")
        .cloned()
        .collect()
}

fn mock_file() -> (AllocationSet, EtlMeta, Vec<u8>) {
    let set = mock_set(test_day().start());
    let meta = EtlMeta::describe(&set, &key("c"), "costetl test", test_day().end());
    let bytes = etl::encode(&set, &meta).unwrap();
    (set, meta, bytes)
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

/// Floats of every kind, for fields outside the totals.
fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::ANY,
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 4.0),
        Just(f64::MAX),
    ]
}

/// Finite costs including -0.0, negatives and awkward fractions, small
/// enough that sums stay finite.
fn any_cost() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(-0.0),
        -1e6..1e6f64,
        (0u64..u64::MAX).prop_map(|b| f64::from_bits(b >> 12) * 1e-300),
    ]
}

prop_compose! {
    /// [`arb_set`] with extreme values in some fields, every optional part
    /// (load balancers, namespace metadata, raw maxima, default pricing)
    /// set on some allocations, sub-second times, warnings and errors.
    fn arb_rich_set()(
        set in arb_set(20),
        tweaks in prop::collection::vec((any_float(), any_float(), any_cost(), any::<bool>(), 0..60_000i64), 20),
        warnings in prop::collection::vec("[ -~]{0,20}", 0..3),
        errors in prop::collection::vec("\\PC{0,10}", 0..3),
    ) -> AllocationSet {
        let mut set = set;
        for (a, (x, y, c, flag, ms)) in set.iter_mut().zip(tweaks) {
            a.cpu_core_request_average = x;
            a.network_transfer_bytes = y;
            a.shared_cost = c;
            a.default_priced = flag;
            a.end = (a.start + TimeDelta::milliseconds(ms)).min(a.window.end());
            if flag {
                a.raw_allocation_only = Some(RawAllocationOnly { cpu_core_usage_max: y, ram_bytes_usage_max: x });
                a.properties.namespace_labels.insert("env".into(), "prod ✓".into());
                a.properties.namespace_annotations.insert("a/b".into(), String::new());
                a.load_balancers.insert(
                    format!("{}/ns/lb", a.properties.cluster).into(),
                    LbAllocation { service: "ns/lb".into(), cost: c, private: flag, ip: "10.0.0.1".into(), hours: x },
                );
            }
        }
        set.warnings = warnings
            .into_iter()
            .map(|w| Warning::new(WarningKind::Backend, w).node("c", "n"))
            .collect();
        set.errors = errors;
        set
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decode_inverts_encode_bit_for_bit(
        set in arb_rich_set(),
        built_mins in -600i64..6000,
    ) {
        let built_at = test_day().end() + TimeDelta::minutes(built_mins);
        let meta = EtlMeta::describe(&set, &key("cluster-a"), "costetl test", built_at);
        let bytes = etl::encode(&set, &meta).unwrap();
        let (back, back_meta) = etl::decode(&bytes).unwrap();

        prop_assert_eq!(debug_allocations(&back), debug_allocations(&set));
        prop_assert_eq!(back.window(), set.window());
        prop_assert_eq!(&back.warnings, &set.warnings);
        prop_assert_eq!(&back.errors, &set.errors);
        prop_assert_eq!(format!("{back_meta:?}"), format!("{meta:?}"));
        prop_assert_eq!(etl::decode_meta(&bytes).unwrap().total_cost.to_bits(), meta.total_cost.to_bits());
        prop_assert_eq!(back_meta.complete, built_mins >= 0);

        // Conservation: the rows, the footer and the set agree to the bit.
        let rows = column_total(&bytes);
        prop_assert_eq!(rows.to_bits(), meta.total_cost.to_bits());
        prop_assert_eq!(meta.total_cost.to_bits(), set.total_cost().to_bits());
        prop_assert_eq!(back.total_cost().to_bits(), set.total_cost().to_bits());
    }

    #[test]
    fn plain_random_sets_round_trip_equal(set in arb_set(30)) {
        let meta = EtlMeta::describe(&set, &key("c"), "costetl test", test_day().end());
        let (back, back_meta) = etl::decode(&etl::encode(&set, &meta).unwrap()).unwrap();
        prop_assert_eq!(back, set);
        prop_assert_eq!(back_meta, meta);
    }
}

// ---------------------------------------------------------------------------
// Corrupt and foreign inputs
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_not_parquet(r: Result<impl std::fmt::Debug, Error>) {
    match r {
        Err(Error::EtlNotParquet { reason }) => assert!(!reason.is_empty()),
        other => panic!("expected EtlNotParquet, got {other:?}"),
    }
}

#[test]
fn empty_bytes_are_not_parquet() {
    assert_not_parquet(etl::decode(&[]));
    assert_not_parquet(etl::decode_meta(&[]));
    assert_not_parquet(etl::decode(b"PAR1"));
    assert_not_parquet(etl::decode(b"PAR1PAR1"));
    assert_not_parquet(etl::decode(b"{\"code\":200,\"data\":[]}"));
}

#[test]
fn every_truncation_is_an_error() {
    let (_, _, bytes) = mock_file();
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        assert!(etl::decode(cut).is_err(), "decode of the first {len} bytes");
        assert!(
            etl::decode_meta(cut).is_err(),
            "decode_meta of the first {len} bytes"
        );
    }
    // Cutting the front (e.g. a ranged read gone wrong) is an error too.
    assert!(etl::decode(&bytes[1..]).is_err());
}

/// The meta reads from any suffix that holds the footer, as a store's
/// ranged read gets it; `footer_len` says how long a suffix must be.
#[test]
fn the_meta_reads_from_a_suffix() {
    let (_, meta, bytes) = mock_file();
    let n = match etl::footer_len(&bytes[bytes.len() - 8..]).unwrap() {
        etl::FooterLen::Short(n) => n,
        fits => panic!("8 bytes cannot hold the footer: {fits:?}"),
    };
    assert!(n > 8 && n < bytes.len(), "{n} of {}", bytes.len());
    assert_eq!(etl::footer_len(&bytes).unwrap(), etl::FooterLen::Fits(n));
    let suffix = &bytes[bytes.len() - n..];
    assert_eq!(etl::footer_len(suffix).unwrap(), etl::FooterLen::Fits(n));
    assert_eq!(etl::decode_meta(suffix).unwrap(), meta);
    assert_eq!(
        etl::decode_meta(&bytes[bytes.len() - n - 100..]).unwrap(),
        meta
    );
    // One byte short is an error that says so, not a misread.
    let e = etl::decode_meta(&suffix[1..]).unwrap_err();
    assert!(
        e.to_string().contains(&format!("footer needs {n} bytes")),
        "{e}"
    );
    // Too few bytes, or no Parquet magic, are errors.
    assert_not_parquet(etl::footer_len(&bytes[bytes.len() - 7..]));
    assert_not_parquet(etl::footer_len(b"12345678"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_are_errors(body in prop::collection::vec(any::<u8>(), 0..512), len in any::<u32>()) {
        prop_assert!(etl::decode(&body).is_err());
        // Shaped like a Parquet file so the footer parser gets to work.
        let mut framed = b"PAR1".to_vec();
        framed.extend(&body);
        framed.extend(len.to_le_bytes());
        framed.extend(b"PAR1");
        prop_assert!(etl::decode(&framed).is_err());
        prop_assert!(etl::decode_meta(&framed).is_err());
    }

    /// Flipped bytes anywhere: no panic (the Parquet reader's own panics
    /// on corrupt data are caught), and whatever still decodes is the set
    /// that was written.
    #[test]
    fn flipped_bytes_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
    ) {
        let (set, _, bytes) = mock_file();
        let mut bad = bytes.clone();
        for (at, mask) in flips {
            let i = at.index(bad.len());
            bad[i] ^= mask;
        }
        if let Ok((back, meta)) = etl::decode(&bad) {
            // Rows and meta are checksummed: only footer bytes that do not
            // change the content (statistics, say) can get through.
            prop_assert_eq!(debug_allocations(&back), debug_allocations(&set));
            prop_assert_eq!(back.total_cost().to_bits(), meta.total_cost.to_bits());
        }
        let _ = etl::decode_meta(&bad);
    }
}

#[test]
fn a_file_from_a_newer_costetl_is_refused_by_version() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    // What the next version's writer might produce: a new column, a new
    // meta shape.
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(
        "carbon_kg",
        arrow_schema::DataType::Float64,
        false,
    ));
    let schema2 = Arc::new(Schema::new(fields));
    let batches2: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let mut cols = b.columns().to_vec();
            cols.push(Arc::new(Float64Array::from(vec![1.0; b.num_rows()])));
            RecordBatch::try_new(Arc::clone(&schema2), cols).unwrap()
        })
        .collect();
    let next = SCHEMA_VERSION + 1;
    let kv2: Vec<KeyValue> = costetl_kv(&kv)
        .into_iter()
        .map(|e| match e.key.as_str() {
            "costetl.schema_version" => KeyValue::new(e.key, next.to_string()),
            _ => KeyValue::new(
                e.key,
                format!(r#"{{"schema_version":{next},"v{next}":"other shape"}}"#),
            ),
        })
        .collect();
    let v2 = write_raw(schema2, &batches2, kv2);
    let expected = Error::EtlNewerSchema {
        found: next,
        supported: SCHEMA_VERSION,
    };
    assert_eq!(etl::decode(&v2).unwrap_err(), expected);
    assert_eq!(etl::decode_meta(&v2).unwrap_err(), expected);
    assert!(expected.to_string().contains("written by a newer costetl"));
}

#[test]
fn the_checksum_covers_rows_and_meta() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    // Rewritten by an independent writer with a checksum computed from
    // the documented definition: accepted.
    let rewritten = write_raw(Arc::clone(&schema), &batches, costetl_kv(&kv));
    etl::decode(&rewritten).unwrap();

    // The same file with a label changed (no total can notice that).
    let mut labels = costetl_kv(&kv);
    labels.push(
        kv.iter()
            .find(|e| e.key == "costetl.checksum")
            .unwrap()
            .clone(),
    );
    let mut relabelled = batches.clone();
    let (i, _) = schema.column_with_name("pod").unwrap();
    let mut cols = relabelled[0].columns().to_vec();
    let pods: Vec<String> = (0..relabelled[0].num_rows())
        .map(|r| format!("pod-{r}"))
        .collect();
    cols[i] = Arc::new(arrow_array::StringArray::from(pods));
    relabelled[0] = RecordBatch::try_new(Arc::clone(&schema), cols).unwrap();
    let props = WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_key_value_metadata(Some(labels))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    w.write(&relabelled[0]).unwrap();
    w.close().unwrap();
    let e = etl::decode(&out).unwrap_err();
    assert!(
        matches!(&e, Error::EtlChecksum { reason } if reason.contains("the footer says")),
        "{e}"
    );

    // Without a checksum: refused, naming the key.
    let (schema, batches, kv) = self::batches(&bytes);
    let no_sum = {
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(costetl_kv(&kv)))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
        w.write(&batches[0]).unwrap();
        w.close().unwrap();
        out
    };
    assert_eq!(
        etl::decode(&no_sum).unwrap_err(),
        Error::EtlMeta {
            reason: "no \"costetl.checksum\" key in the footer".into()
        }
    );
}

#[test]
fn a_missing_column_is_named() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    let (pod, _) = schema.column_with_name("pod").unwrap();
    let keep: Vec<usize> = (0..schema.fields().len()).filter(|i| *i != pod).collect();
    let schema = Arc::new(schema.project(&keep).unwrap());
    let batches: Vec<RecordBatch> = batches.iter().map(|b| b.project(&keep).unwrap()).collect();
    let file = write_raw(schema, &batches, costetl_kv(&kv));
    assert_eq!(
        etl::decode(&file).unwrap_err(),
        Error::EtlColumn {
            column: "pod".into(),
            reason: "missing".into()
        }
    );
    // The footer alone is still fine: listings can show the file.
    assert!(etl::decode_meta(&file).is_ok());
}

#[test]
fn a_column_of_another_type_is_named() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    let (i, _) = schema.column_with_name("cpu_cost").unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("cpu_cost", arrow_schema::DataType::Utf8, false);
    let schema = Arc::new(Schema::new(fields));
    let batches: Vec<RecordBatch> = batches
        .iter()
        .map(|b| {
            let mut cols = b.columns().to_vec();
            cols[i] = Arc::new(arrow_array::StringArray::from(vec!["1"; b.num_rows()]));
            RecordBatch::try_new(Arc::clone(&schema), cols).unwrap()
        })
        .collect();
    let e = etl::decode(&write_raw(schema, &batches, costetl_kv(&kv))).unwrap_err();
    assert_eq!(
        e,
        Error::EtlColumn {
            column: "cpu_cost".into(),
            reason: "has type Utf8, expected Float64".into()
        }
    );
}

#[test]
fn rows_outside_the_meta_window_are_refused() {
    let (_, meta, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    // The footer claims the next day; the rows are for this one.
    let mut next = meta.clone();
    next.window = costetl_core::testing::day(test_day().end());
    let json = serde_json::to_string(&next).unwrap();
    let kv: Vec<KeyValue> = costetl_kv(&kv)
        .into_iter()
        .map(|e| match e.key.as_str() {
            "costetl.meta" => KeyValue::new(e.key, json.clone()),
            _ => e,
        })
        .collect();
    let e = etl::decode(&write_raw(schema, &batches, kv)).unwrap_err();
    assert!(
        matches!(&e, Error::EtlRows { reason } if reason.contains("the file's metadata says [2023-11-16T00:00:00Z")),
        "{e}"
    );
}

#[test]
fn a_plain_parquet_file_is_not_an_etl_file() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, _) = batches(&bytes);
    let plain = write_raw(
        schema,
        &batches,
        vec![KeyValue::new("other".into(), "x".to_owned())],
    );
    let e = etl::decode_meta(&plain).unwrap_err();
    assert!(
        matches!(&e, Error::EtlMeta { reason } if reason.contains("not a costetl ETL file")),
        "{e}"
    );
    assert_eq!(etl::decode(&plain).unwrap_err(), e);
}

#[test]
fn an_unparsable_meta_is_named() {
    let (_, _, bytes) = mock_file();
    let (schema, batches, kv) = batches(&bytes);
    let kv: Vec<KeyValue> = costetl_kv(&kv)
        .into_iter()
        .map(|e| match e.key.as_str() {
            "costetl.meta" => KeyValue::new(e.key, "{\"schema_version\":1,".to_owned()),
            _ => e,
        })
        .collect();
    let e = etl::decode(&write_raw(schema, &batches, kv)).unwrap_err();
    assert!(
        matches!(&e, Error::EtlMeta { reason } if reason.starts_with("\"costetl.meta\" is not valid metadata JSON")),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// Golden schema and the checked-in v1 file
// ---------------------------------------------------------------------------

fn schema_file(version: u32) -> PathBuf {
    fixtures().join(format!("allocations-v{version}.schema.txt"))
}

#[allow(
    clippy::disallowed_methods,
    reason = "reads a golden file: the test does IO, the core under test does not"
)]
fn read_schema_file(version: u32) -> String {
    let path = schema_file(version);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; every schema version needs its golden file (docs/etl.md)",
            path.display()
        )
    })
}

#[test]
fn every_schema_matches_its_golden_text() {
    for version in 1..=SCHEMA_VERSION {
        let schema = etl::schema_of(version).unwrap();
        assert_eq!(etl::schema_text(&schema), read_schema_file(version));
    }
}

#[test]
fn encoder_writes_the_golden_schema_of_the_current_version() {
    // What is actually in a file, read back by Parquet, must be the golden
    // text of SCHEMA_VERSION: a column added without a new version (and a
    // new golden file) fails here.
    let (_, _, bytes) = mock_file();
    let (schema, _, _) = batches(&bytes);
    assert_eq!(etl::schema_text(&schema), read_schema_file(SCHEMA_VERSION));
}

/// The checked-in file's content: [`mock_set`] plus a warning and an error,
/// built an hour after its day closed. It was written before warnings were
/// typed: its warning reads back as text of kind "other".
fn fixture_set() -> (AllocationSet, EtlMeta) {
    let mut set = mock_set(test_day().start());
    set.warnings.push(Warning::new(
        WarningKind::Other,
        "fixture warning: 1 node priced by default",
    ));
    set.errors
        .push("fixture error: query network_cost timed out".into());
    let built_at: DateTime<Utc> = test_day().end() + TimeDelta::hours(1);
    let meta = EtlMeta::describe(&set, &key("opencost-mock"), "costetl 0.1.0", built_at);
    (set, meta)
}

#[allow(
    clippy::disallowed_methods,
    reason = "reads the checked-in file: the test does IO, the core under test does not"
)]
fn checked_in_file(version: u32) -> Vec<u8> {
    let path = fixtures().join(format!("allocations-v{version}.parquet"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; every schema version needs its checked-in file (docs/etl.md)",
            path.display()
        )
    })
}

#[test]
fn checked_in_files_of_every_version_still_decode() {
    for version in 1..=SCHEMA_VERSION {
        let (set, meta) = etl::decode(&checked_in_file(version)).unwrap();
        let (want_set, mut want_meta) = fixture_set();
        want_meta.schema_version = version;
        if version == 1 {
            // Written before files carried their coverage (read as empty,
            // which any rebuild covers) and before warnings were typed.
            want_meta.coverage = costetl_core::etl::Coverage::default();
            want_meta.typed_warnings.clear();
        }
        assert_eq!(meta, want_meta, "v{version}");
        assert_eq!(set, want_set, "v{version}");
        assert_eq!(set.total_cost(), 82.0);
    }
}

/// Writes the checked-in file and the golden schema of the current version
/// if they do not exist yet: those of released versions are frozen (that
/// is their point). Run with
/// `COSTETL_REGENERATE=1 cargo test -p costetl-parquet --test it codec::regenerate_fixtures -- --ignored`.
#[allow(
    clippy::disallowed_methods,
    reason = "writes the golden files when COSTETL_REGENERATE=1: test tooling, not the core"
)]
#[test]
#[ignore = "writes fixtures; needs COSTETL_REGENERATE=1"]
fn regenerate_fixtures() {
    if std::env::var_os("COSTETL_REGENERATE").is_none_or(|v| v != "1") {
        eprintln!("set COSTETL_REGENERATE=1 to write fixtures/etl/");
        return;
    }
    let (set, meta) = fixture_set();
    std::fs::create_dir_all(fixtures()).unwrap();
    let file = fixtures().join(format!("allocations-v{SCHEMA_VERSION}.parquet"));
    if !file.exists() {
        std::fs::write(file, etl::encode(&set, &meta).unwrap()).unwrap();
    }
    let golden = schema_file(SCHEMA_VERSION);
    if !golden.exists() {
        let schema = etl::schema_of(SCHEMA_VERSION).unwrap();
        std::fs::write(golden, etl::schema_text(&schema)).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------

/// `n` container allocations shaped like a real cluster-day: 3 clusters, 60
/// nodes, 40 namespaces, 5 labels each, a PV on every fourth container and
/// a service on every third, costs from a fixed pseudo-random sequence.
fn big_set(n: usize) -> AllocationSet {
    let w = test_day();
    let mut set = AllocationSet::new(w);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..n {
        let cluster = format!("cluster-{}", i % 3);
        let node = format!("ip-10-0-{}-{}.ec2.internal", i % 60, (i * 7) % 250);
        let ns = format!("team-{}", i % 40);
        let pod = format!("svc-{}-7d9f8c6b5-{:05}", i % 400, i);
        let container = format!("app-{}", i % 3);
        let mut a = Allocation::new(format!("{cluster}/{node}/{ns}/{pod}/{container}"), w);
        let p = &mut a.properties;
        p.cluster = cluster.into();
        p.node = node.as_str().into();
        p.provider_id = format!("aws:///eu-west-1a/i-0{:016x}", i % 60).into();
        p.namespace = ns.into();
        p.pod = pod.into();
        p.container = container.into();
        p.controller = format!("svc-{}", i % 400).into();
        p.controller_kind = "deployment".into();
        for (k, v) in [
            ("app", format!("svc-{}", i % 400)),
            ("team", format!("team-{}", i % 40)),
            ("env", "production".into()),
            ("version", format!("v{}", i % 5)),
            ("pod_template_hash", "7d9f8c6b5".into()),
        ] {
            p.labels.insert(k.into(), v);
        }
        if i % 3 == 0 {
            p.services = vec![format!("svc-{}", i % 400).into()];
        }
        a.start = w.start() + TimeDelta::minutes((rand() * 600.0) as i64);
        a.cpu_core_request_average = rand() * 2.0;
        a.cpu_core_usage_average = rand();
        a.cpu_core_hours = a.cpu_core_request_average * a.hours();
        a.cpu_cost = a.cpu_core_hours * 0.031;
        a.ram_bytes_request_average = rand() * 4e9;
        a.ram_bytes_usage_average = rand() * 3e9;
        a.ram_byte_hours = a.ram_bytes_request_average * a.hours();
        a.ram_cost = a.ram_byte_hours / 1e9 * 0.004;
        a.network_transfer_bytes = rand() * 1e9;
        a.network_cost = rand() * 0.1;
        a.network_cross_zone_cost = a.network_cost;
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: rand() * 3.0,
            ram_bytes_usage_max: rand() * 4e9,
        });
        if i % 4 == 0 {
            a.pvs.insert(
                costetl_core::PvKey {
                    cluster: a.properties.cluster.to_string(),
                    name: format!("pvc-{i:08x}"),
                },
                costetl_core::PvAllocation {
                    byte_hours: rand() * 1e12,
                    cost: rand() * 0.5,
                    provider_id: format!("vol-{i:017x}"),
                },
            );
        }
        set.insert(a);
    }
    set
}

#[test]
fn encoded_sizes_stay_small() {
    let (_, _, mock) = mock_file();
    let big = big_set(10_000);
    let meta = EtlMeta::describe(&big, &key("c"), "costetl test", test_day().end());
    let bytes = etl::encode(&big, &meta).unwrap();
    eprintln!(
        "encoded sizes: mock set (12 allocations) {} B; 10,000 allocations {} B ({:.0} B/allocation)",
        mock.len(),
        bytes.len(),
        bytes.len() as f64 / 10_000.0
    );
    // Generous bounds: a regression to, say, uncompressed or dictionary-less
    // strings would blow through them.
    assert!(mock.len() < 40_000, "mock set file is {} bytes", mock.len());
    assert!(
        bytes.len() < 2_500_000,
        "10k-allocation file is {} bytes",
        bytes.len()
    );
    let (back, _) = etl::decode(&bytes).unwrap();
    assert_eq!(back.len(), 10_000);
}
