//! Where allocation sets come from.
//!
//! [`InputArgs`] is the clap group of mutually exclusive source flags and
//! [`Source`] what it resolves to. Only `--input FILE` exists so far; later
//! sources (`--prometheus URL`, `--fixtures DIR`) are one more flag in the
//! group and one more variant.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use costetl_core::AllocationSet;
use costetl_core::json::{response_from_value, set_from_value};
use serde_json::Value;

/// The data source: exactly one of these flags.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct InputArgs {
    /// OpenCost allocation JSON: an /allocation response
    /// ({"code":200,"data":[set,...]}) or a single set ({name: allocation}).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// A resolved data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An OpenCost allocation JSON file.
    File(PathBuf),
}

impl InputArgs {
    /// The source the flags name. The clap group guarantees exactly one.
    pub fn source(&self) -> Result<Source> {
        match &self.input {
            Some(path) => Ok(Source::File(path.clone())),
            None => anyhow::bail!("no input given: pass --input FILE"),
        }
    }
}

impl Source {
    /// Every allocation set the source holds, in its order.
    pub fn load(&self) -> Result<Vec<AllocationSet>> {
        match self {
            Source::File(path) => load_file(path),
        }
    }
}

fn load_file(path: &Path) -> Result<Vec<AllocationSet>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading allocation file {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    sets_from_value(&value).with_context(|| {
        format!(
            "{}: not an OpenCost allocation response or set",
            path.display()
        )
    })
}

/// Read an `/allocation` response, a single set, or an array of sets.
///
/// A response is told from a set by a numeric `code`: a set keyed by
/// allocation name could hold an allocation named `code` or `data` (a
/// namespace, say), but its value would be an object.
pub fn sets_from_value(v: &Value) -> costetl_core::Result<Vec<AllocationSet>> {
    match v {
        Value::Object(o) if o.get("code").is_some_and(Value::is_number) => response_from_value(v),
        Value::Array(sets) => sets.iter().map(|s| set_from_value(s, None)).collect(),
        _ => Ok(vec![set_from_value(v, None)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use costetl_core::json::{response_to_value, set_to_value};
    use costetl_core::testing::mock_set_cluster_idle;

    #[test]
    fn reads_response_set_and_array() {
        let set = mock_set_cluster_idle(Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap());
        let resp = response_to_value(std::slice::from_ref(&set));
        assert_eq!(sets_from_value(&resp).unwrap().len(), 1);
        let single = set_to_value(&set);
        let got = sets_from_value(&single).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), set.len());
        let arr = Value::Array(vec![single.clone(), single]);
        assert_eq!(sets_from_value(&arr).unwrap().len(), 2);
    }

    #[test]
    fn rejects_non_sets() {
        assert!(sets_from_value(&serde_json::json!(3)).is_err());
        assert!(sets_from_value(&serde_json::json!({"code": 500, "message": "boom"})).is_err());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Source::File("does/not/exist.json".into())
            .load()
            .unwrap_err();
        assert!(format!("{err:#}").contains("does/not/exist.json"));
    }
}
