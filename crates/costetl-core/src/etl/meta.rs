//! What an ETL file says about itself: [`EtlMeta`], stored as JSON in the
//! Parquet footer's key-value metadata, so a store can list, compare and
//! protect files without decoding a single row.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SCHEMA_VERSION;
use super::coverage::Coverage;
use super::key::{EtlKey, Resolution};
use crate::allocation::Allocation;
use crate::error::{Error, Result};
use crate::set::AllocationSet;
use crate::warning::{Warning, WarningKind};
use crate::window::Window;

/// Footer key holding [`EtlMeta`] as JSON.
pub const META_KEY: &str = "costetl.meta";
/// Footer key holding the schema version as decimal text. Read before the
/// JSON, so that a reader can say "written by a newer costetl" even when a
/// newer meta JSON would not parse.
pub const SCHEMA_VERSION_KEY: &str = "costetl.schema_version";

/// What a file says about itself (stored as JSON in the Parquet footer's
/// key-value metadata under `costetl.meta`, plus `costetl.schema_version`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EtlMeta {
    /// Version of the row schema the file was written with.
    pub schema_version: u32,
    /// Cluster id (also in the path).
    pub cluster: String,
    /// Hourly or daily (also in the path).
    pub resolution: Resolution,
    /// The set's window, as RFC 3339 `start`/`end`.
    pub window: Window,
    /// What built it, e.g. `costetl 0.1.0`.
    pub producer: String,
    /// When it was built (the caller's clock).
    pub built_at: DateTime<Utc>,
    /// `built_at >= window.end`: the window was closed when built (an open
    /// window's file is provisional).
    pub complete: bool,
    /// Number of allocations (rows).
    pub allocations: u64,
    /// Σ total cost of the allocations.
    pub total_cost: f64,
    /// Σ running hours of non-idle, non-unmounted allocations: how much the
    /// source saw.
    pub container_hours: f64,
    /// Per namespace and metadata kind, what the file covers (empty in
    /// files written before it existed).
    #[serde(default)]
    pub coverage: Coverage,
    /// The set's warnings, as text (what every costetl reads).
    pub warnings: Vec<String>,
    /// The same warnings, typed (kind, cluster, node). Added without a
    /// schema bump: older readers ignore an unknown field, so they still
    /// read (and keep) these files. Empty in files written before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub typed_warnings: Vec<Warning>,
    /// The set's errors (inputs that failed without stopping the build).
    pub errors: Vec<String>,
}

impl EtlMeta {
    /// Describe `set` (window from the set; counts, totals, hours, warnings
    /// and errors from it), for `key`'s cluster and resolution.
    pub fn describe(
        set: &AllocationSet,
        key: &EtlKey,
        producer: &str,
        built_at: DateTime<Utc>,
    ) -> Self {
        let window = set.window();
        Self {
            schema_version: SCHEMA_VERSION,
            cluster: key.cluster.clone(),
            resolution: key.resolution,
            window,
            producer: producer.to_owned(),
            built_at,
            complete: built_at >= window.end(),
            allocations: set.len() as u64,
            total_cost: set.total_cost(),
            container_hours: set
                .iter()
                .filter(|a| !a.is_idle() && !a.is_unmounted())
                .map(Allocation::hours)
                .sum(),
            coverage: Coverage::of(set),
            warnings: set.warnings.iter().map(ToString::to_string).collect(),
            typed_warnings: set.warnings.clone(),
            errors: set.errors.clone(),
        }
    }

    /// The file's warnings, typed; text written by an older costetl reads
    /// as [`WarningKind::Other`].
    pub fn set_warnings(&self) -> Vec<Warning> {
        if self.typed_warnings.len() == self.warnings.len() {
            self.typed_warnings.clone()
        } else {
            let other = |m: &String| Warning::new(WarningKind::Other, m.clone());
            self.warnings.iter().map(other).collect()
        }
    }

    /// The key of the file this meta describes.
    ///
    /// # Errors
    ///
    /// As [`EtlKey::new`]: an unsafe cluster id or an unaligned window.
    pub fn key(&self) -> Result<EtlKey> {
        EtlKey::new(self.cluster.clone(), self.resolution, self.window)
    }

    /// The first field in which `self` differs from `other`, floats compared
    /// bit for bit (so NaN equals NaN); `None` when they agree.
    pub fn first_difference(&self, other: &Self) -> Option<&'static str> {
        let same_f64 = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        [
            (
                "schema_version",
                self.schema_version == other.schema_version,
            ),
            ("cluster", self.cluster == other.cluster),
            ("resolution", self.resolution == other.resolution),
            ("window", self.window == other.window),
            ("producer", self.producer == other.producer),
            ("built_at", self.built_at == other.built_at),
            ("complete", self.complete == other.complete),
            ("allocations", self.allocations == other.allocations),
            ("total_cost", same_f64(self.total_cost, other.total_cost)),
            (
                "container_hours",
                same_f64(self.container_hours, other.container_hours),
            ),
            ("coverage", self.coverage == other.coverage),
            ("warnings", self.warnings == other.warnings),
            (
                "typed_warnings",
                self.typed_warnings == other.typed_warnings,
            ),
            ("errors", self.errors == other.errors),
        ]
        .into_iter()
        .find_map(|(field, same)| (!same).then_some(field))
    }

    /// The footer's key-value pairs for this meta.
    pub fn to_footer(&self) -> Result<[(String, String); 2]> {
        let json = serde_json::to_string(self).map_err(|e| Error::EtlEncode {
            reason: format!("cannot write the metadata as JSON: {e}"),
        })?;
        Ok([
            (
                SCHEMA_VERSION_KEY.to_owned(),
                self.schema_version.to_string(),
            ),
            (META_KEY.to_owned(), json),
        ])
    }

    /// The meta from a footer's key-value pairs (`get` looks a key up).
    ///
    /// # Errors
    ///
    /// [`Error::EtlNewerSchema`] for a version above [`SCHEMA_VERSION`],
    /// [`Error::EtlMeta`] for a missing or unparsable key, or a JSON whose
    /// version disagrees with the version key.
    pub fn from_footer<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self> {
        let meta_err = |reason: String| Error::EtlMeta { reason };
        let version = get(SCHEMA_VERSION_KEY).ok_or_else(|| {
            meta_err(format!(
                "no {SCHEMA_VERSION_KEY:?} key in the footer: not a costetl ETL file"
            ))
        })?;
        let version: u32 = version.trim().parse().map_err(|e| {
            meta_err(format!(
                "{SCHEMA_VERSION_KEY:?} is {version:?}, not a version number: {e}"
            ))
        })?;
        if version > SCHEMA_VERSION {
            return Err(Error::EtlNewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            return Err(meta_err(format!(
                "{SCHEMA_VERSION_KEY:?} is 0; versions start at 1"
            )));
        }
        let json =
            get(META_KEY).ok_or_else(|| meta_err(format!("no {META_KEY:?} key in the footer")))?;
        let mut meta: EtlMeta = serde_json::from_str(json)
            .map_err(|e| meta_err(format!("{META_KEY:?} is not valid metadata JSON: {e}")))?;
        exact_floats(json, &mut meta)?;
        if meta.schema_version != version {
            return Err(meta_err(format!(
                "{META_KEY:?} says schema version {}, {SCHEMA_VERSION_KEY:?} says {version}",
                meta.schema_version
            )));
        }
        Ok(meta)
    }
}

/// Re-read the two floats from their JSON text with Rust's correctly
/// rounded parser: serde_json's default parser can be one ulp off, and a
/// meta must read back bit for bit (`decode` checks the rows' total against
/// it). Only these two fields, so `EtlMeta` keeps a plain derived
/// `Deserialize` for other formats.
fn exact_floats(json: &str, meta: &mut EtlMeta) -> Result<()> {
    #[derive(Deserialize)]
    struct Floats<'a> {
        #[serde(borrow)]
        total_cost: &'a serde_json::value::RawValue,
        #[serde(borrow)]
        container_hours: &'a serde_json::value::RawValue,
    }
    let parse = |raw: &serde_json::value::RawValue, field: &str| {
        raw.get().parse::<f64>().map_err(|e| Error::EtlMeta {
            reason: format!("{META_KEY:?}: {field} {:?} is not a number: {e}", raw.get()),
        })
    };
    let floats: Floats<'_> = serde_json::from_str(json).map_err(|e| Error::EtlMeta {
        reason: format!("{META_KEY:?} is not valid metadata JSON: {e}"),
    })?;
    meta.total_cost = parse(floats.total_cost, "total_cost")?;
    meta.container_hours = parse(floats.container_hours, "container_hours")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{mock_set, test_day};
    use std::collections::HashMap;

    fn key() -> EtlKey {
        EtlKey::new("cluster1", Resolution::Daily, test_day()).unwrap()
    }

    fn built(hours_after_end: i64) -> DateTime<Utc> {
        test_day().end() + chrono::TimeDelta::hours(hours_after_end)
    }

    fn footer_of(meta: &EtlMeta) -> HashMap<String, String> {
        meta.to_footer().unwrap().into_iter().collect()
    }

    #[test]
    fn describe_counts_totals_and_hours() {
        let mut set = mock_set(test_day().start());
        set.warnings
            .push(Warning::new(WarningKind::OverAllocated, "w").node("c", "n"));
        set.errors.push("e".into());
        let meta = EtlMeta::describe(&set, &key(), "costetl test", built(1));
        assert_eq!(meta.schema_version, SCHEMA_VERSION);
        assert_eq!(meta.window, set.window());
        assert_eq!(meta.allocations, 12);
        assert_eq!(meta.total_cost, 82.0);
        // 12 containers running the whole day.
        assert_eq!(meta.container_hours, 12.0 * 24.0);
        assert!(meta.complete);
        assert_eq!(
            (meta.warnings.clone(), meta.errors.clone()),
            (vec!["w".into()], vec!["e".into()])
        );
        assert_eq!(meta.set_warnings(), set.warnings);
        // A file from before typed warnings: its texts, of kind "other".
        let old = EtlMeta {
            typed_warnings: vec![],
            ..meta.clone()
        };
        assert_eq!(old.set_warnings(), [Warning::new(WarningKind::Other, "w")]);
        let json = serde_json::to_value(&old).unwrap();
        assert!(json.get("typed_warnings").is_none());
        assert_eq!(meta.key().unwrap(), key());
        // Built before the window closed: provisional.
        assert!(!EtlMeta::describe(&set, &key(), "p", built(-1)).complete);
        assert!(EtlMeta::describe(&set, &key(), "p", built(0)).complete);
    }

    #[test]
    fn describe_leaves_idle_and_unmounted_out_of_container_hours() {
        let w = test_day();
        let mut set = AllocationSet::new(w);
        set.insert(Allocation::new("c/n/ns/pod/ctr", w));
        set.insert(Allocation::new("c/__idle__", w));
        set.insert(Allocation::new(
            "c//__unmounted__/__unmounted__/__unmounted__",
            w,
        ));
        let meta = EtlMeta::describe(&set, &key(), "p", built(1));
        assert_eq!(meta.container_hours, 24.0);
        assert_eq!(meta.allocations, 3);
    }

    #[test]
    fn footer_round_trip_is_exact() {
        let mut meta = EtlMeta::describe(&mock_set(test_day().start()), &key(), "p", built(1));
        // Floats that serde_json's default parser reads one ulp off (about
        // one random float in ten is).
        meta.total_cost = 994.141_423_413_993_5;
        meta.container_hours = 2.0_f64.sqrt() * 1e-7;
        let lossy: EtlMeta = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert_ne!(
            lossy.container_hours.to_bits(),
            meta.container_hours.to_bits()
        );
        meta.built_at = DateTime::from_timestamp(1_700_100_000, 123_456_789).unwrap();
        let footer = footer_of(&meta);
        assert_eq!(footer[SCHEMA_VERSION_KEY], SCHEMA_VERSION.to_string());
        let back = EtlMeta::from_footer(|k| footer.get(k).map(String::as_str)).unwrap();
        assert_eq!(back, meta);
        assert_eq!(back.total_cost.to_bits(), meta.total_cost.to_bits());
        let json = &footer[META_KEY];
        assert!(
            json.contains(
                r#""window":{"start":"2023-11-15T00:00:00Z","end":"2023-11-16T00:00:00Z"}"#
            ),
            "{json}"
        );
        assert!(json.contains(r#""resolution":"1d""#), "{json}");
    }

    #[test]
    fn footer_errors_name_the_problem() {
        let meta = EtlMeta::describe(&mock_set(test_day().start()), &key(), "p", built(1));
        let read =
            |f: &HashMap<String, String>| EtlMeta::from_footer(|k| f.get(k).map(String::as_str));
        let reason = |e: Error| match e {
            Error::EtlMeta { reason } => reason,
            other => panic!("expected EtlMeta, got {other:?}"),
        };

        let mut f = footer_of(&meta);
        f.remove(SCHEMA_VERSION_KEY);
        assert!(reason(read(&f).unwrap_err()).contains("not a costetl ETL file"));

        let mut f = footer_of(&meta);
        f.insert(SCHEMA_VERSION_KEY.into(), "one".into());
        assert!(reason(read(&f).unwrap_err()).contains("\"one\", not a version number"));

        let mut f = footer_of(&meta);
        f.insert(SCHEMA_VERSION_KEY.into(), "0".into());
        assert!(reason(read(&f).unwrap_err()).contains("versions start at 1"));

        let mut f = footer_of(&meta);
        f.insert(SCHEMA_VERSION_KEY.into(), (SCHEMA_VERSION + 1).to_string());
        f.insert(META_KEY.into(), "{not json at all".into());
        assert_eq!(
            read(&f).unwrap_err(),
            Error::EtlNewerSchema {
                found: SCHEMA_VERSION + 1,
                supported: SCHEMA_VERSION
            }
        );

        let mut f = footer_of(&meta);
        f.remove(META_KEY);
        assert!(reason(read(&f).unwrap_err()).contains("no \"costetl.meta\" key"));

        let mut f = footer_of(&meta);
        f.insert(META_KEY.into(), "{\"schema_version\":1}".into());
        assert!(reason(read(&f).unwrap_err()).contains("missing field"));

        let mut f = footer_of(&meta);
        let bad_window = f[META_KEY].replace("2023-11-16T00:00:00Z", "2023-11-14T00:00:00Z");
        f.insert(META_KEY.into(), bad_window);
        assert!(reason(read(&f).unwrap_err()).contains("end is before start"));

        let mut f = footer_of(&meta);
        let current = format!("\"schema_version\":{SCHEMA_VERSION}");
        let other = f[META_KEY].replace(&current, "\"schema_version\":1");
        f.insert(META_KEY.into(), other);
        assert!(reason(read(&f).unwrap_err()).contains("says schema version 1,"));
    }

    #[test]
    fn first_difference_names_the_field() {
        let a = EtlMeta::describe(&mock_set(test_day().start()), &key(), "p", built(1));
        assert_eq!(a.first_difference(&a.clone()), None);
        let mut b = a.clone();
        b.total_cost = 1.0;
        assert_eq!(a.first_difference(&b), Some("total_cost"));
        let mut nan = a.clone();
        nan.total_cost = f64::NAN;
        assert_eq!(nan.first_difference(&nan.clone()), None);
        let mut c = a.clone();
        c.warnings.push("x".into());
        assert_eq!(a.first_difference(&c), Some("warnings"));
    }
}
