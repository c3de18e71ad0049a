//! Decoding of Prometheus HTTP API query bodies (`/api/v1/query` and
//! `/api/v1/query_range`) into [`QueryResult`].
//!
//! Sources hand the core the backend's bytes verbatim
//! ([`crate::source::RawResponse`]); this module is the one place that
//! understands them, so a live response and its recorded fixture decode
//! identically.
//!
//! The envelope is `{status, data:{resultType, result}, warnings?, infos?,
//! errorType?, error?}`. The decoder is lenient where real backends differ
//! from Prometheus and strict where a silent misreading would skew costs:
//!
//! - unknown fields (VictoriaMetrics' `stats` and `isPartial`, Prometheus'
//!   `stats`) are skipped;
//! - `errorType` may be any string (VictoriaMetrics sends the HTTP status,
//!   `"422"`) or even a number, and may be missing;
//! - `warnings` and `infos` are kept, because a partial answer (Thanos,
//!   Mimir) must not pass for a complete one;
//! - `string` results and native histograms (`histogram`/`histograms`) are
//!   decode errors, since no cost query produces them.
//!
//! Speed matters here: a day of a large cluster is hundreds of MiB of JSON.
//! The body is checked as UTF-8 once and parsed with `serde_json::from_str`
//! through hand-written visitors, so that keys and sample strings are read
//! in place (borrowed). Label names and values are interned per body: a
//! day's body repeats a few thousand distinct strings (namespaces, nodes,
//! label names) over hundreds of thousands of series, so a body's distinct
//! strings are kept once and its series' labels are symbol pairs into them
//! ([`SeriesLabels`], `labels.rs`): no allocation per series or label, and
//! a day's results drop in a few frees per body. There is no intermediate
//! `serde_json::Value` tree and no `#[serde(flatten)]` (which buffers whole
//! objects).

mod labels;

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::{SmallVec, smallvec};

use crate::error::{Error, Result};

use labels::LabelsBuilder;
pub use labels::{Iter as LabelsIter, SeriesLabels};

/// How many characters of an undecodable body an error message quotes.
const BODY_EXCERPT_CHARS: usize = 200;

/// One time series of a query result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Label pairs sorted by name (unique names), including `__name__` when
    /// the backend returned it; the series of one body share one table.
    pub labels: SeriesLabels,
    /// Samples as (Unix time in seconds, value), in the backend's order
    /// (ascending time for Prometheus). Values may be NaN or infinite.
    pub samples: SampleVec,
}

/// A series' samples: one inline (an instant vector's, which is every
/// series of the plan: no allocation per series), more on the heap.
pub type SampleVec = SmallVec<[(f64, f64); 1]>;

impl Series {
    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name)
    }

    /// The value of the last sample, if there is one.
    pub fn last_value(&self) -> Option<f64> {
        self.samples.last().map(|&(_, v)| v)
    }
}

/// The shape of a query result (`data.resultType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// An instant vector: one sample per series.
    Vector,
    /// A range vector: any number of samples per series.
    Matrix,
    /// A single number, returned as one series without labels.
    Scalar,
}

/// A successfully decoded query response.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    /// What shape the backend said the result has.
    pub result_type: ResultType,
    /// The series, in the backend's order. A scalar is one series without
    /// labels and with one sample.
    pub series: Vec<Series>,
    /// The backend's `warnings` (e.g. Thanos partial responses); empty when
    /// absent.
    pub warnings: Vec<String>,
    /// The backend's `infos` (Prometheus 2.54+); empty when absent.
    pub infos: Vec<String>,
}

/// Decode a Prometheus HTTP API query response body.
///
/// `query_id` only labels errors. A `status: "error"` body becomes
/// [`Error::Backend`]; anything that is not a well-formed success body
/// (not UTF-8, not JSON, unexpected shape, `string` result, native
/// histograms) becomes [`Error::Decode`], quoting the start of the body when
/// the body is not JSON at all. Never panics.
pub fn decode(query_id: &str, body: &[u8]) -> Result<QueryResult> {
    let text = std::str::from_utf8(body).map_err(|e| Error::Decode {
        query: query_id.to_owned(),
        reason: format!(
            "body is not UTF-8 ({e}); body starts with {}",
            excerpt(body)
        ),
    })?;
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| Error::Decode {
        query: query_id.to_owned(),
        reason: format!("{e}; body starts with {}", excerpt(body)),
    })?;
    envelope.into_result(query_id)
}

/// The first [`BODY_EXCERPT_CHARS`] characters of `body`, quoted, for
/// error messages (proxies answer with HTML or plain text).
fn excerpt(body: &[u8]) -> String {
    // Cut bytes first so a huge body is never converted whole; a multi-byte
    // character split by the cut shows as U+FFFD, which is fine for a message.
    let head = &body[..body.len().min(BODY_EXCERPT_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut out: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// The top-level object, before validation.
#[derive(Default)]
struct Envelope {
    status: Option<Status>,
    data: Option<Data>,
    warnings: Vec<String>,
    infos: Vec<String>,
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Success,
    Error,
}

impl Envelope {
    fn into_result(self, query_id: &str) -> Result<QueryResult> {
        let decode_err = |reason: String| Error::Decode {
            query: query_id.to_owned(),
            reason,
        };
        match self.status {
            None => return Err(decode_err("missing \"status\" field".to_owned())),
            Some(Status::Error) => {
                return Err(Error::Backend {
                    query: query_id.to_owned(),
                    // Some gateways omit errorType; keep the message anyway.
                    error_type: self.error_type.unwrap_or_else(|| "unknown".to_owned()),
                    message: self.error.unwrap_or_default(),
                });
            }
            Some(Status::Success) => {}
        }
        let data = self
            .data
            .ok_or_else(|| decode_err("missing \"data\" field".to_owned()))?;
        let result_type = match data.result_type.as_deref() {
            Some("vector") => ResultType::Vector,
            Some("matrix") => ResultType::Matrix,
            Some("scalar") => ResultType::Scalar,
            Some("string") => {
                return Err(decode_err(
                    "resultType \"string\" is not supported (only vector, matrix, scalar)"
                        .to_owned(),
                ));
            }
            Some(other) => return Err(decode_err(format!("unknown resultType {other:?}"))),
            None => return Err(decode_err("missing \"data.resultType\" field".to_owned())),
        };
        let result = data
            .result
            .ok_or_else(|| decode_err("missing or null \"data.result\" field".to_owned()))?;
        let series = result.validate(result_type).map_err(decode_err)?;
        Ok(QueryResult {
            result_type,
            series,
            warnings: self.warnings,
            infos: self.infos,
        })
    }
}

/// `data`, before validation. `result` is read without knowing
/// `resultType` (JSON key order is not guaranteed), then checked against it.
#[derive(Default)]
struct Data {
    result_type: Option<String>,
    result: Option<RawResult>,
}

/// What a series object held as samples.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SampleShape {
    /// `value: [t, "v"]` (vector).
    Value,
    /// `values: [[t, "v"], ...]` (matrix).
    Values,
    /// Neither key.
    Missing,
    /// Both keys.
    Both,
}

/// `data.result`, shape-agnostic: series objects (vector or matrix) and/or
/// bare elements (scalar `[t, "v"]`).
#[derive(Default)]
struct RawResult {
    series: Vec<Series>,
    /// Index and shape of the first series whose shape differs from the
    /// first series' shape, if any.
    first_shape: Option<SampleShape>,
    mixed_shape_at: Option<usize>,
    /// Bare (non-object) elements, in order.
    bare: Vec<Bare>,
    /// The body's label names and values, each once, and every series'
    /// label pairs.
    labels: LabelsBuilder,
}

/// A non-object element of `result`.
enum Bare {
    Number(f64),
    /// A string; `None` if it is not a number (a `string` result's text).
    Str(Option<f64>),
    /// Anything else (array, bool, null).
    Other,
}

impl RawResult {
    fn validate(self, result_type: ResultType) -> std::result::Result<Vec<Series>, String> {
        match result_type {
            ResultType::Vector | ResultType::Matrix => {
                if !self.bare.is_empty() {
                    return Err(format!(
                        "{} result must be a list of series objects",
                        type_name(result_type)
                    ));
                }
                let (want, key) = match result_type {
                    ResultType::Vector => (SampleShape::Value, "value"),
                    _ => (SampleShape::Values, "values"),
                };
                if let Some(i) = self.mixed_shape_at {
                    return Err(format!(
                        "{} result: series {i} is shaped differently from series 0",
                        type_name(result_type)
                    ));
                }
                match self.first_shape {
                    None => {}
                    Some(shape) if shape == want => {}
                    Some(SampleShape::Both) => {
                        return Err("series has both \"value\" and \"values\"".to_owned());
                    }
                    Some(_) => {
                        return Err(format!(
                            "{} result: series must have a \"{key}\" field",
                            type_name(result_type)
                        ));
                    }
                }
                let table = self.labels.into_table();
                let mut series = self.series;
                for s in &mut series {
                    s.labels.attach(&table);
                }
                Ok(series)
            }
            ResultType::Scalar => match (self.series.is_empty(), self.bare.as_slice()) {
                (true, [Bare::Number(t), Bare::Str(Some(v))]) => Ok(vec![Series {
                    labels: SeriesLabels::default(),
                    samples: smallvec![(*t, *v)],
                }]),
                _ => Err("scalar result must be [<time>, \"<value>\"]".to_owned()),
            },
        }
    }

    fn push(&mut self, series: Series, shape: SampleShape) {
        match self.first_shape {
            None => self.first_shape = Some(shape),
            Some(first) if first != shape && self.mixed_shape_at.is_none() => {
                self.mixed_shape_at = Some(self.series.len());
            }
            Some(_) => {}
        }
        self.series.push(series);
    }
}

fn type_name(t: ResultType) -> &'static str {
    match t {
        ResultType::Vector => "vector",
        ResultType::Matrix => "matrix",
        ResultType::Scalar => "scalar",
    }
}

/// Parse a sample value string: Prometheus formats with Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`, giving `NaN`, `+Inf`, `-Inf` and
/// plain or exponent notation, all of which `f64::from_str` accepts.
fn parse_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

// ---------------------------------------------------------------------------
// Visitors. Each reads one JSON shape; keys are matched as borrowed `&str`
// (see `Key`) so no key is ever allocated.
// ---------------------------------------------------------------------------

/// A map key, borrowed from the input when it has no escapes. Unknown keys
/// are returned as `Other` so the caller skips their value.
enum Key {
    Status,
    Data,
    Warnings,
    Infos,
    ErrorType,
    Error,
    ResultType,
    Result,
    Metric,
    Value,
    Values,
    Histogram,
    Histograms,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key, E> {
                Ok(match v {
                    "status" => Key::Status,
                    "data" => Key::Data,
                    "warnings" => Key::Warnings,
                    "infos" => Key::Infos,
                    "errorType" => Key::ErrorType,
                    "error" => Key::Error,
                    "resultType" => Key::ResultType,
                    "result" => Key::Result,
                    "metric" => Key::Metric,
                    "value" => Key::Value,
                    "values" => Key::Values,
                    "histogram" => Key::Histogram,
                    "histograms" => Key::Histograms,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Prometheus API response object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Envelope, A::Error> {
                let mut env = Envelope::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Status => env.status = Some(map.next_value::<StatusField>()?.0),
                        Key::Data => env.data = map.next_value::<Option<Data>>()?,
                        Key::Warnings => {
                            env.warnings =
                                map.next_value::<Option<Vec<String>>>()?.unwrap_or_default();
                        }
                        Key::Infos => {
                            env.infos =
                                map.next_value::<Option<Vec<String>>>()?.unwrap_or_default();
                        }
                        Key::ErrorType => {
                            env.error_type = map.next_value::<Option<Lenient>>()?.map(|l| l.0)
                        }
                        Key::Error => env.error = map.next_value::<Option<Lenient>>()?.map(|l| l.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(EnvelopeVisitor)
    }
}

/// `status`: `"success"` or `"error"`.
struct StatusField(Status);

impl<'de> Deserialize<'de> for StatusField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StatusField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"success\" or \"error\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<StatusField, E> {
                match v {
                    "success" => Ok(StatusField(Status::Success)),
                    "error" => Ok(StatusField(Status::Error)),
                    other => Err(E::custom(format_args!(
                        "unknown status {other:?}, expected \"success\" or \"error\""
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A string that may also arrive as a number or bool (`errorType` from
/// gateways that emit the HTTP status as a number).
struct Lenient(String);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a data object with resultType and result")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Data, A::Error> {
                let mut data = Data::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::ResultType => {
                            data.result_type = map.next_value::<Option<Lenient>>()?.map(|l| l.0);
                        }
                        Key::Result => data.result = map.next_value::<Option<RawResult>>()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(data)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawResult;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a result array")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<RawResult, A::Error> {
                let mut out = RawResult::default();
                if let Some(n) = seq.size_hint() {
                    out.series.reserve(n);
                }
                while let Some(()) = seq.next_element_seed(ResultElement { out: &mut out })? {}
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

/// One element of `result`, pushed straight into the accumulator so series
/// are not moved through an intermediate enum.
struct ResultElement<'a> {
    out: &'a mut RawResult,
}

impl<'de> DeserializeSeed<'de> for ResultElement<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultElement<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a series object or a scalar element")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut series = Series::default();
        let start = self.out.labels.start();
        let (mut has_value, mut has_values) = (false, false);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Metric => {
                    // A repeated key: the last one counts.
                    self.out.labels.truncate(start);
                    map.next_value_seed(Labels(&mut self.out.labels))?;
                }
                Key::Value => {
                    let Sample(t, v) = map.next_value()?;
                    // Assign, not push: a repeated key must not make a
                    // vector series hold two samples.
                    series.samples = smallvec![(t, v)];
                    has_value = true;
                }
                Key::Values => {
                    series.samples = map.next_value::<Samples>()?.0;
                    has_values = true;
                }
                Key::Histogram | Key::Histograms => {
                    let name = if matches!(key, Key::Histogram) {
                        "histogram"
                    } else {
                        "histograms"
                    };
                    return Err(de::Error::custom(format_args!(
                        "native histogram samples (\"{name}\") are not supported"
                    )));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let shape = match (has_value, has_values) {
            (true, false) => SampleShape::Value,
            (false, true) => SampleShape::Values,
            (false, false) => SampleShape::Missing,
            (true, true) => SampleShape::Both,
        };
        series.labels = (self.out.labels)
            .finish_series(start)
            .map_err(de::Error::custom)?;
        self.out.push(series, shape);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        self.out.bare.push(Bare::Number(v));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.out.bare.push(Bare::Str(parse_value(v)));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.out.bare.push(Bare::Other);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<(), E> {
        self.out.bare.push(Bare::Other);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.out.bare.push(Bare::Other);
        Ok(())
    }
}

/// The `metric` object (or `null`): its pairs interned and appended to the
/// body's table (no map in between, nothing allocated per series).
struct Labels<'a>(&'a mut LabelsBuilder);

impl<'de> DeserializeSeed<'de> for Labels<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Labels<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a label object")
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(name) = map.next_key_seed(Interned(self.0))? {
            let value = map.next_value_seed(Interned(self.0))?;
            self.0.push(name, value);
        }
        Ok(())
    }
}

/// A label name or value, as its symbol in the body's table.
struct Interned<'a>(&'a mut LabelsBuilder);

impl<'de> DeserializeSeed<'de> for Interned<'_> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<u32, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Interned<'_> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<u32, E> {
        self.0.intern(v).map_err(E::custom)
    }
}

/// One `[t, "v"]` pair.
struct Sample(f64, f64);

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sample;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [<time>, \"<value>\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Sample, A::Error> {
                let t = seq
                    .next_element::<Timestamp>()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let v = seq
                    .next_element::<Value>()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(Sample(t.0, v.0))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A `values` array, read straight into the series' samples.
struct Samples(SampleVec);

impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Samples;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of [<time>, \"<value>\"] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Samples, A::Error> {
                let mut out = SampleVec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Sample(t, v)) = seq.next_element()? {
                    out.push((t, v));
                }
                Ok(Samples(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A sample time: a JSON number of (fractional) Unix seconds.
struct Timestamp(f64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Unix timestamp in seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
        }
        // `deserialize_f64` hands serde_json's parsed number to the visitor
        // without the generic `deserialize_any` dispatch.
        d.deserialize_f64(V)
    }
}

/// A sample value: a JSON string holding a float (`"1.5"`, `"NaN"`,
/// `"+Inf"`). Read in place; no allocation.
struct Value(f64);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
                parse_value(v)
                    .map(Value)
                    .ok_or_else(|| E::custom(format_args!("invalid sample value {v:?}")))
            }
            // Prometheus always quotes values; accept bare numbers from
            // look-alike backends rather than fail a whole query.
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
                Ok(Value(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
                Ok(Value(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
                Ok(Value(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(body: &str) -> QueryResult {
        decode("q", body.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn decode_reason(body: &[u8]) -> String {
        match decode("q", body) {
            Err(Error::Decode { query, reason }) => {
                assert_eq!(query, "q");
                reason
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    #[test]
    fn vector() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1435781451.781,"1"]},
            {"metric":{},"value":[1435781451,"0.5"]}]}}"#,
        );
        assert_eq!(r.result_type, ResultType::Vector);
        assert_eq!(r.series.len(), 2);
        let s = &r.series[0];
        assert_eq!(
            s.labels,
            [
                ("__name__", "up"),
                ("instance", "localhost:9090"),
                ("job", "prometheus")
            ]
        );
        assert_eq!(s.label("job"), Some("prometheus"));
        assert_eq!(s.label("__name__"), Some("up"));
        assert_eq!(s.label("pod"), None);
        assert_eq!(s.samples[..], [(1435781451.781, 1.0)]);
        assert!(r.series[1].labels.is_empty());
        assert_eq!(r.series[1].last_value(), Some(0.5));
        assert!(r.warnings.is_empty() && r.infos.is_empty());
    }

    #[test]
    fn matrix() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"pod":"a","namespace":"n"},"values":[[1,"1"],[61.5,"2e3"],[121,"-0.25"]]},
            {"metric":{"pod":"b"},"values":[]}]}}"#,
        );
        assert_eq!(r.result_type, ResultType::Matrix);
        assert_eq!(
            r.series[0].samples[..],
            [(1.0, 1.0), (61.5, 2000.0), (121.0, -0.25)]
        );
        assert_eq!(
            r.series[0].labels.iter().next(),
            Some(("namespace", "n")),
            "labels sorted by name"
        );
        assert_eq!(r.series[0].last_value(), Some(-0.25));
        assert_eq!(r.series[1].last_value(), None);
    }

    #[test]
    fn result_before_result_type() {
        let r = ok(
            r#"{"data":{"result":[{"value":[1,"2"],"metric":{"a":"b"}}],"resultType":"vector"},"status":"success"}"#,
        );
        assert_eq!(r.series[0].samples[..], [(1.0, 2.0)]);
        assert_eq!(r.series[0].label("a"), Some("b"));
    }

    #[test]
    fn scalar() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"42"]}}"#,
        );
        assert_eq!(r.result_type, ResultType::Scalar);
        assert_eq!(
            r.series,
            [Series {
                labels: SeriesLabels::default(),
                samples: smallvec![(1700000000.5, 42.0)]
            }]
        );
    }

    #[test]
    fn string_result_is_rejected() {
        let reason = decode_reason(
            br#"{"status":"success","data":{"resultType":"string","result":[1,"hello"]}}"#,
        );
        assert!(reason.contains("string"), "{reason}");
    }

    #[test]
    fn warnings_and_infos() {
        let r = ok(
            r#"{"status":"success","warnings":["No StoreAPIs matched for this query"],
            "infos":["PromQL info: metric might not be a counter"],
            "data":{"resultType":"vector","result":[]}}"#,
        );
        assert_eq!(r.warnings, ["No StoreAPIs matched for this query"]);
        assert_eq!(r.infos, ["PromQL info: metric might not be a counter"]);
        assert!(r.series.is_empty());
        // null lists are treated as absent
        let r = ok(
            r#"{"status":"success","warnings":null,"infos":null,"data":{"resultType":"vector","result":[]}}"#,
        );
        assert!(r.warnings.is_empty() && r.infos.is_empty());
    }

    #[test]
    fn prometheus_error_body() {
        let err = decode(
            "cpu",
            br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::Backend {
                query: "cpu".into(),
                error_type: "bad_data".into(),
                message: "invalid parameter \"query\": 1:5: parse error".into(),
            }
        );
        // Warnings may accompany errors; data may be present but empty.
        let err = decode(
            "cpu",
            br#"{"status":"error","data":{"resultType":"","result":null},"errorType":"execution","error":"many-to-many matching not allowed","warnings":["w"]}"#,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Backend { ref error_type, .. } if error_type == "execution"));
        // Missing errorType.
        let err = decode("cpu", br#"{"status":"error","error":"boom"}"#).unwrap_err();
        assert!(
            matches!(err, Error::Backend { ref error_type, ref message, .. } if error_type == "unknown" && message == "boom")
        );
    }

    #[test]
    fn victoriametrics_bodies() {
        let err = decode(
            "mem",
            br#"{"status":"error","errorType":"422","error":"error when executing query=\"up\" on the time range (start=1, end=2, step=1): cannot parse"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Backend { ref error_type, .. } if error_type == "422"),
            "{err:?}"
        );
        // Numeric errorType from other gateways.
        let err = decode("mem", br#"{"status":"error","errorType":422,"error":"x"}"#).unwrap_err();
        assert!(matches!(err, Error::Backend { ref error_type, .. } if error_type == "422"));

        let r = ok(
            r#"{"status":"success","isPartial":false,"data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","job":"vm"},"values":[[1700000000,"1"],[1700000060,"1"]]}]},
            "stats":{"seriesFetched":"1","executionTimeMsec":3}}"#,
        );
        assert_eq!(r.series[0].samples.len(), 2);
        assert_eq!(r.series[0].label("job"), Some("vm"));
    }

    #[test]
    fn non_finite_values() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"NaN"],[2,"+Inf"],[3,"-Inf"],[4,"1e-3"],[5,"-0"]]}]}}"#,
        );
        let v: Vec<f64> = r.series[0].samples.iter().map(|s| s.1).collect();
        assert!(v[0].is_nan());
        assert_eq!(v[1], f64::INFINITY);
        assert_eq!(v[2], f64::NEG_INFINITY);
        assert_eq!(v[3], 0.001);
        assert_eq!(v[4], 0.0);
    }

    #[test]
    fn bad_sample_value() {
        let reason = decode_reason(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
        );
        assert!(reason.contains("invalid sample value \"abc\""), "{reason}");
    }

    #[test]
    fn native_histograms_are_rejected() {
        let reason = decode_reason(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"2","buckets":[]}]}]}}"#,
        );
        assert!(
            reason.contains("native histogram") && reason.contains("\"histogram\""),
            "{reason}"
        );
        let reason = decode_reason(
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}}"#,
        );
        assert!(reason.contains("\"histograms\""), "{reason}");
    }

    #[test]
    fn shape_mismatches() {
        for body in [
            // vector claimed, matrix shape
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"values":[]}]}}"#,
            // matrix claimed, vector shape
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"value":[1,"1"]}]}}"#,
            // mixed series
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]},{"metric":{}}]}}"#,
            // scalar claimed, series given
            r#"{"status":"success","data":{"resultType":"scalar","result":[{"metric":{},"value":[1,"1"]}]}}"#,
            // vector claimed, scalar given
            r#"{"status":"success","data":{"resultType":"vector","result":[1,"1"]}}"#,
            // sample with 3 elements
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1",2]}]}}"#,
            // unknown result type, missing pieces, unknown status
            r#"{"status":"success","data":{"resultType":"histogramz","result":[]}}"#,
            r#"{"status":"success","data":{"result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"vector"}}"#,
            r#"{"status":"success"}"#,
            r#"{"data":{"resultType":"vector","result":[]}}"#,
            r#"{"status":"partial","data":{"resultType":"vector","result":[]}}"#,
            r#"[]"#,
        ] {
            decode_reason(body.as_bytes());
        }
    }

    #[test]
    fn empty_result() {
        let r = ok(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);
        assert_eq!(r.result_type, ResultType::Vector);
        assert!(r.series.is_empty());
        let r = ok(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#);
        assert_eq!(r.result_type, ResultType::Matrix);
    }

    #[test]
    fn truncated_json() {
        let full = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"1"]}]}}"#;
        for cut in 0..full.len() {
            decode_reason(&full[..cut]);
        }
        let reason = decode_reason(&full[..40]);
        assert!(reason.contains("EOF"), "{reason}");
    }

    #[test]
    fn html_body() {
        let body = format!(
            "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
            "x".repeat(1000)
        );
        let reason = decode_reason(body.as_bytes());
        assert!(
            reason.contains("<html><head><title>502 Bad Gateway"),
            "{reason}"
        );
        assert!(reason.len() < 400, "excerpt is bounded: {reason}");
    }

    #[test]
    fn non_utf8_body() {
        let reason = decode_reason(b"\x1f\x8b\x08\x00gzip?\xff\xfe");
        assert!(
            reason.contains("not UTF-8") && reason.contains("gzip?"),
            "{reason}"
        );
    }

    #[test]
    fn escaped_strings_and_unsorted_duplicate_labels() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"z":"1","a":"q\"uo\u00e9te","z":"2"},"value":[1,"\u0031"]}]}}"#,
        );
        let s = &r.series[0];
        assert_eq!(s.labels, [("a", "q\"uoéte"), ("z", "2")]);
        assert_eq!(s.samples[..], [(1.0, 1.0)]);
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode("q", &body);
        }

        #[test]
        fn never_panics_on_mutated_json(
            cut in 0usize..200,
            byte in any::<u8>(),
            pos in 0usize..200,
        ) {
            let mut body = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"NaN"]]}]},"warnings":["w"]}"#.to_vec();
            let p = pos % body.len();
            body[p] = byte;
            body.truncate(body.len() - cut.min(body.len()));
            let _ = decode("q", &body);
        }

        #[test]
        fn values_round_trip(v in any::<f64>(), t in 0u32..2_000_000_000) {
            // Go formats with the shortest representation; Rust's Display
            // does too, bar the spelling of infinities, which Prometheus
            // writes as +Inf / -Inf.
            let text = if v == f64::INFINITY { "+Inf".to_owned() }
                else if v == f64::NEG_INFINITY { "-Inf".to_owned() }
                else { v.to_string() };
            let body = format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{t},"{text}"]}}]}}}}"#);
            let r = decode("q", body.as_bytes()).unwrap();
            let got = r.series[0].samples[0];
            prop_assert_eq!(got.0, f64::from(t));
            prop_assert!(got.1 == v || (got.1.is_nan() && v.is_nan()));
        }
    }

    #[test]
    fn equal_label_strings_of_a_body_are_shared() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"shop","pod":"a"},"value":[1,"1"]},
            {"metric":{"namespace":"shop","pod":"b"},"value":[1,"2"]}]}}"#,
        );
        let a: Vec<_> = r.series[0].labels.iter().collect();
        let b: Vec<_> = r.series[1].labels.iter().collect();
        // One copy of each distinct string in the body's table.
        assert_eq!(a[0].0.as_ptr(), b[0].0.as_ptr(), "label names shared");
        assert_eq!(a[0].1.as_ptr(), b[0].1.as_ptr(), "label values shared");
        assert_ne!(a[1].1.as_ptr(), b[1].1.as_ptr());
        assert_eq!((a[1].1, b[1].1), ("a", "b"));
    }

    #[test]
    fn a_repeated_metric_key_counts_once_the_last_time() {
        let r = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"pod":"a","x":"1"},"value":[1,"1"],"metric":{"pod":"b"}},
            {"metric":{"pod":"c"},"value":[1,"2"]}]}}"#,
        );
        assert_eq!(r.series[0].labels, [("pod", "b")]);
        assert_eq!(r.series[1].labels, [("pod", "c")]);
    }
}
