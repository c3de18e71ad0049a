//! Where allocation sets come from.
//!
//! [`InputArgs`] is the clap group of mutually exclusive source flags and
//! [`Source`] what it resolves to: a stored allocation JSON file, a live
//! Prometheus-compatible backend, a captured fixture directory, or an ETL
//! store (`allocation --store`). Backends and fixtures are computed by the
//! engine for `--window`; a store is read for it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use costetl_core::engine::{self, Computation};
use costetl_core::etl::Resolution;
use costetl_core::json::{response_from_value, set_from_value};
use costetl_core::plan::EngineConfig;
use costetl_core::source::MetricsSource;
use costetl_core::{AllocationQuery, AllocationSet, Report, Window};
use costetl_fixtures::FixtureSource;
use costetl_prom::PromSource;
use costetl_store::StoreConfig;
use serde_json::Value;

use crate::UsageError;
use crate::settings::{Settings, SettingsArgs};
use costetl_prom::PromError;

/// The data source: at most one of these flags. With none, the backend
/// comes from `PROMETHEUS_SERVER_ENDPOINT` or the `--config` file.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct InputArgs {
    /// OpenCost allocation JSON: an /allocation response
    /// ({"code":200,"data":[set,...]}) or a single set ({name: allocation}).
    /// With `etl build`, imported into the store (each set must lie inside
    /// one file's window).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// A Prometheus-compatible backend to compute allocations from
    /// (default: PROMETHEUS_SERVER_ENDPOINT, or the --config file's url).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,

    /// A fixture directory written by `costetl capture`, replayed offline.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
}

/// A resolved data source.
#[derive(Debug, Clone)]
pub enum Source {
    /// An OpenCost allocation JSON file.
    File(PathBuf),
    /// A live Prometheus-compatible backend.
    Prometheus(Settings),
    /// A captured fixture directory, replayed with these engine settings.
    Fixtures(PathBuf, Settings),
    /// An ETL store read back: its files of this resolution, every cluster
    /// merged per window.
    Store(StoreConfig, Resolution),
}

impl InputArgs {
    /// The source the flags name. Settings are only read for metrics
    /// sources, so a stray environment variable cannot break `--input`.
    pub fn source(&self, engine: &SettingsArgs) -> Result<Source> {
        if let Some(path) = &self.input {
            return Ok(Source::File(path.clone()));
        }
        let settings = engine.settings(self.prometheus.as_deref())?;
        if let Some(dir) = &self.fixtures {
            return Ok(Source::Fixtures(dir.clone(), settings));
        }
        Ok(Source::Prometheus(settings))
    }
}

impl Source {
    /// Whether sets are computed from metrics (exactly for the window asked).
    pub fn is_metrics(&self) -> bool {
        matches!(self, Source::Prometheus(_) | Source::Fixtures(..))
    }

    /// Every allocation set the source holds (files), or computes for
    /// `window` (metrics sources), in window order.
    pub fn load(&self, window: Option<Window>) -> Result<Vec<AllocationSet>> {
        match self {
            Source::File(path) => load_file(path),
            Source::Prometheus(settings) => {
                let src = prom_source(settings)?;
                Ok(compute_from(&src, window, &settings.engine)?.range.sets)
            }
            Source::Fixtures(dir, settings) => {
                let src = FixtureSource::open(dir)
                    .with_context(|| format!("opening fixtures {}", dir.display()))?;
                let (window, engine) = replay_settings(&src, window, &settings.engine);
                Ok(compute_from(&src, window, &engine)?.range.sets)
            }
            Source::Store(..) => bail!(UsageError(
                "an ETL store is read by `costetl allocation --store`, for a query".into()
            )),
        }
    }

    /// The query's reports on what the source holds or computes for
    /// `window`; a store is read file by file (`crate::fleet`).
    pub fn reports(&self, window: Option<Window>, query: &AllocationQuery) -> Result<Vec<Report>> {
        match self {
            Source::Store(cfg, resolution) => {
                crate::fleet::reports(cfg, *resolution, window, query)
            }
            _ => Ok(query.run(self.load(window)?)?),
        }
    }
}

/// The window and engine settings to replay `src` with: what the flags
/// say, the captured window when they name none, and always the captured
/// resolution (another one asks other queries, which the fixture lacks).
fn replay_settings(
    src: &FixtureSource,
    window: Option<Window>,
    engine: &EngineConfig,
) -> (Option<Window>, EngineConfig) {
    let mut engine = engine.clone();
    let Some(c) = src.capture() else {
        return (window, engine);
    };
    if engine.resolution != c.resolution {
        crate::report::note(&format!(
            "note: replaying at the capture's resolution, {}",
            costetl_core::window::duration_string(c.resolution)
        ));
        engine.resolution = c.resolution;
    }
    (window.or(Some(c.window)), engine)
}

/// Run the engine on `src` for `window` on a small runtime of our own (the
/// core picks none; reqwest needs tokio's IO driver).
pub fn compute_from<S: MetricsSource>(
    src: &S,
    window: Option<Window>,
    engine: &EngineConfig,
) -> Result<Computation> {
    let window = window.ok_or_else(|| {
        UsageError("--window is required with --prometheus and --fixtures".into())
    })?;
    let rt = crate::runtime()?;
    let src = crate::report::Tracked::new(src, &format!("querying {window}"));
    rt.block_on(engine::allocations(&src, window, engine))
        .with_context(|| format!("computing allocations for {window}"))
}

/// The backend `settings` describe; the error names its URL (without any
/// password). No URL at all is a usage error.
pub fn prom_source(settings: &Settings) -> Result<PromSource> {
    if settings.prometheus.url.trim().is_empty() {
        return Err(UsageError(
            "no backend given: pass --prometheus URL, set PROMETHEUS_SERVER_ENDPOINT, \
             or set url under [prometheus] in the --config file \
             (allocation also reads --input FILE or --fixtures DIR)"
                .into(),
        )
        .into());
    }
    let backend = || format!("backend {}", settings.prometheus.redacted_url());
    PromSource::from_config(&settings.prometheus).map_err(|e| match e {
        // What the user typed is wrong, not the world: a usage error.
        PromError::InvalidBaseUrl { .. } | PromError::InvalidConfig { .. } => {
            UsageError(format!("{}: {e}", backend())).into()
        }
        e => anyhow::Error::new(e).context(backend()),
    })
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
        let err = load_file(Path::new("does/not/exist.json")).unwrap_err();
        assert!(format!("{err:#}").contains("does/not/exist.json"));
    }
}
