//! The Arrow schema of each ETL file version, written out column by column
//! (the file-format contract, reviewed in diffs and pinned by the golden
//! texts `fixtures/etl/allocations-v<N>.schema.txt`), and a stable text
//! rendering of schemas for those golden tests.
//!
//! `costetl_core::etl::AllocationRowV2` must have exactly the version-2
//! fields in this order; serde_arrow maps one onto the other and fails
//! loudly (a test encodes every column) if they drift apart. Version 2 is
//! version 1 with `start`/`end` renamed `running_start`/`running_end`,
//! `kind` after `name`, and `complete`, `built_at` at the end.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn float(name: &str) -> Field {
    Field::new(name, DataType::Float64, false)
}

fn boolean(name: &str) -> Field {
    Field::new(name, DataType::Boolean, false)
}

/// Milliseconds since the epoch, UTC: Parquet `TIMESTAMP(MILLIS, true)`,
/// which DuckDB, Athena and Spark read as a timestamp with time zone.
fn timestamp(name: &str) -> Field {
    let utc = Some(Arc::from("UTC"));
    Field::new(name, DataType::Timestamp(TimeUnit::Millisecond, utc), false)
}

fn list(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, false))),
        false,
    )
}

/// `Map<Utf8, Utf8>` with Arrow's canonical child names, so Parquet writes
/// a standard `MAP` logical type.
fn string_map(name: &str) -> Field {
    Field::new_map(
        name,
        "entries",
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
        false,
        false,
    )
}

/// The Arrow schema of version-1 files, in column order.
pub fn schema_v1() -> SchemaRef {
    let mut fields = vec![
        utf8("name"),
        timestamp("window_start"),
        timestamp("window_end"),
        timestamp("start"),
        timestamp("end"),
        float("minutes"),
    ];
    fields.extend(allocation_columns());
    Arc::new(Schema::new(fields))
}

/// The Arrow schema of version-2 files, in column order.
pub fn schema_v2() -> SchemaRef {
    let mut fields = vec![
        utf8("name"),
        utf8("kind"),
        timestamp("window_start"),
        timestamp("window_end"),
        timestamp("running_start"),
        timestamp("running_end"),
        float("minutes"),
    ];
    fields.extend(allocation_columns());
    fields.extend([boolean("complete"), timestamp("built_at")]);
    Arc::new(Schema::new(fields))
}

/// The schema of `version`, if this build knows it.
pub fn schema_of(version: u32) -> Option<SchemaRef> {
    match version {
        1 => Some(schema_v1()),
        2 => Some(schema_v2()),
        _ => None,
    }
}

/// The columns every version has, from `cluster` to `load_balancers`.
fn allocation_columns() -> Vec<Field> {
    let mut fields = Vec::new();
    fields.extend(
        [
            "cluster",
            "node",
            "container",
            "controller",
            "controller_kind",
            "namespace",
            "pod",
            "provider_id",
        ]
        .map(utf8),
    );
    fields.push(list("services", DataType::Utf8));
    fields.extend(
        [
            "labels",
            "annotations",
            "namespace_labels",
            "namespace_annotations",
        ]
        .map(string_map),
    );
    fields.extend(
        [
            "cpu_cores",
            "cpu_core_hours",
            "cpu_core_request_average",
            "cpu_core_usage_average",
            "cpu_cost",
            "cpu_cost_adjustment",
            "cpu_cost_idle",
            "gpu_count",
            "gpu_hours",
            "gpu_request_average",
            "gpu_usage_average",
            "gpu_cost",
            "gpu_cost_adjustment",
            "gpu_cost_idle",
            "network_transfer_bytes",
            "network_receive_bytes",
            "network_cost",
            "network_cross_zone_cost",
            "network_cross_region_cost",
            "network_internet_cost",
            "network_cost_adjustment",
            "load_balancer_cost",
            "load_balancer_cost_adjustment",
            "pv_byte_hours",
            "pv_cost",
            "pv_cost_adjustment",
            "ram_bytes",
            "ram_byte_hours",
            "ram_bytes_request_average",
            "ram_bytes_usage_average",
            "ram_cost",
            "ram_cost_adjustment",
            "ram_cost_idle",
            "shared_cost",
            "external_cost",
            "unmounted_pv_cost",
            "total_cost",
        ]
        .map(float),
    );
    fields.extend([
        Field::new("cpu_core_usage_max", DataType::Float64, true),
        Field::new("ram_bytes_usage_max", DataType::Float64, true),
        boolean("default_priced"),
    ]);
    let pv = Fields::from(vec![
        utf8("cluster"),
        utf8("name"),
        float("byte_hours"),
        float("cost"),
        utf8("provider_id"),
    ]);
    fields.push(list("pvs", DataType::Struct(pv)));
    let lb = Fields::from(vec![
        utf8("key"),
        utf8("service"),
        float("cost"),
        boolean("private"),
        utf8("ip"),
        float("hours"),
    ]);
    fields.push(list("load_balancers", DataType::Struct(lb)));
    fields
}

/// The schema as text, one `name: type` line per column, with nested
/// field names and nullability spelled out (`?` marks nullable). Written by
/// this crate rather than Arrow's `Display`, so the golden file changes
/// only when the schema does, not when Arrow's formatting does.
pub fn schema_text(schema: &Schema) -> String {
    let mut out = String::new();
    for f in schema.fields() {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{}", field_text(f));
    }
    out
}

fn field_text(f: &Field) -> String {
    let null = if f.is_nullable() { "?" } else { "" };
    format!("{}: {}{null}", f.name(), type_text(f.data_type()))
}

fn type_text(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "utf8".to_owned(),
        DataType::Float64 => "float64".to_owned(),
        DataType::Boolean => "bool".to_owned(),
        DataType::Timestamp(unit, tz) => {
            let unit = match unit {
                TimeUnit::Second => "s",
                TimeUnit::Millisecond => "ms",
                TimeUnit::Microsecond => "us",
                TimeUnit::Nanosecond => "ns",
            };
            match tz {
                Some(tz) => format!("timestamp[{unit}, {tz}]"),
                None => format!("timestamp[{unit}]"),
            }
        }
        DataType::List(item) => format!("list<{}>", field_text(item)),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields.iter().map(|f| field_text(f)).collect();
            format!("struct<{}>", inner.join(", "))
        }
        DataType::Map(entries, sorted) => {
            let sorted = if *sorted { "sorted " } else { "" };
            format!("{sorted}map<{}>", field_text(entries))
        }
        // Not used by any version so far; Arrow's own spelling will do.
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_text_spells_nesting_and_nullability() {
        let text = schema_text(&schema_v1());
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} line in\n{text}"))
                .to_owned()
        };
        assert_eq!(line("name"), "name: utf8");
        assert_eq!(line("start"), "start: timestamp[ms, UTC]");
        assert_eq!(line("services"), "services: list<item: utf8>");
        assert_eq!(
            line("labels"),
            "labels: map<entries: struct<key: utf8, value: utf8>>"
        );
        assert_eq!(line("cpu_core_usage_max"), "cpu_core_usage_max: float64?");
        assert_eq!(line("default_priced"), "default_priced: bool");
        assert_eq!(
            line("pvs"),
            "pvs: list<item: struct<cluster: utf8, name: utf8, byte_hours: float64, \
             cost: float64, provider_id: utf8>>"
        );
        assert_eq!(text.lines().count(), schema_v1().fields().len());
    }
}
