//! The fixed reference the engine's speed is measured against: serde_json
//! parsing a Prometheus HTTP API body into borrowed structs of its shape
//! (`&str` labels and values where the text allows, no processing), the
//! least any decoder of these bodies must do. Issue 13's goal is end to
//! end within 2× of this.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

/// `{"status": …, "data": {"resultType": …, "result": [series]}}`.
#[derive(Deserialize)]
pub struct Response<'a> {
    /// `success` or `error`.
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// The payload.
    #[serde(borrow)]
    pub data: Data<'a>,
}

/// `data` of a response.
#[derive(Deserialize)]
pub struct Data<'a> {
    /// `vector` or `matrix`.
    #[serde(rename = "resultType", borrow)]
    pub result_type: Cow<'a, str>,
    /// The series.
    #[serde(borrow)]
    pub result: Vec<Series<'a>>,
}

/// One series: labels, and an instant `value` or range `values`.
#[derive(Deserialize)]
pub struct Series<'a> {
    /// Label name and value pairs, in body order.
    #[serde(borrow)]
    pub metric: Labels<'a>,
    /// An instant vector's sample: `[time, "value"]`.
    #[serde(borrow, default)]
    pub value: Option<(f64, Cow<'a, str>)>,
    /// A range vector's samples.
    #[serde(borrow, default)]
    pub values: Vec<(f64, Cow<'a, str>)>,
}

/// A label object as pairs (a map would hash every name: more than a
/// reference parse should do).
pub struct Labels<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Labels<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a label object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Labels<'de>, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(pair) = map.next_entry::<BorrowedStr<'de>, BorrowedStr<'de>>()? {
                    pairs.push((pair.0.0, pair.1.0));
                }
                Ok(Labels(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// A string borrowed from the body unless it has escapes.
struct BorrowedStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wrap<'a>(#[serde(borrow)] Cow<'a, str>);
        Wrap::deserialize(d).map(|w| BorrowedStr(w.0))
    }
}

/// Parses every body; the number of series, so nothing is optimised away.
///
/// # Panics
///
/// On a body that is not a Prometheus response (the generator's never is).
pub fn parse_all<B: AsRef<[u8]>>(bodies: &[(costetl_core::source::QuerySpec, B)]) -> usize {
    bodies
        .iter()
        .map(|(_, b)| {
            let r: Response<'_> = serde_json::from_slice(b.as_ref()).expect("a response");
            r.data.result.len()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_shapes_and_borrows_plain_text() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"pod":"a","ns":"x\"y"},"values":[[1.5,"2"],[3,"4"]]},
            {"metric":{},"value":[7,"NaN"]}]}}"#;
        let r: Response<'_> = serde_json::from_slice(body).unwrap();
        assert_eq!(r.data.result_type, "matrix");
        let s = &r.data.result[0];
        assert_eq!(s.metric.0.len(), 2);
        assert!(matches!(s.metric.0[0].1, Cow::Borrowed("a")));
        assert!(matches!(&s.metric.0[1].1, Cow::Owned(v) if v == "x\"y"));
        assert_eq!(s.values.len(), 2);
        assert_eq!(r.data.result[1].value.as_ref().unwrap().1, "NaN");
    }
}
