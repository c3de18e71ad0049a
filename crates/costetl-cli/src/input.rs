//! Where allocation sets come from.
//!
//! [`InputArgs`] is the clap group of mutually exclusive source flags and
//! [`Source`] what it resolves to: a stored allocation JSON file, a live
//! Prometheus-compatible backend, or a captured fixture directory. The last
//! two are computed by the engine for `--window`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::TimeDelta;
use clap::Args;
use costetl_core::engine::{self, Computation};
use costetl_core::json::{response_from_value, set_from_value};
use costetl_core::plan::EngineConfig;
use costetl_core::source::MetricsSource;
use costetl_core::{AllocationSet, Window};
use costetl_fixtures::FixtureSource;
use costetl_prom::PromSource;
use serde_json::Value;

/// The data source: exactly one of these flags.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct InputArgs {
    /// OpenCost allocation JSON: an /allocation response
    /// ({"code":200,"data":[set,...]}) or a single set ({name: allocation}).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// A Prometheus-compatible backend to compute allocations from
    /// (OpenCost's PROMETHEUS_SERVER_ENDPOINT).
    #[arg(long, value_name = "URL", env = "PROMETHEUS_SERVER_ENDPOINT")]
    pub prometheus: Option<String>,

    /// A fixture directory written by `costetl capture`, replayed offline.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
}

/// How the engine reads metrics (used with --prometheus and --fixtures).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Integration step (1m default; OpenCost uses 5m).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_resolution)]
    pub resolution: TimeDelta,

    /// Label holding the cluster id.
    #[arg(
        long,
        value_name = "LABEL",
        default_value = "cluster_id",
        env = "PROM_CLUSTER_ID_LABEL"
    )]
    pub cluster_label: String,

    /// Cluster id for series without the cluster label.
    #[arg(
        long,
        value_name = "ID",
        default_value = "default-cluster",
        env = "CLUSTER_ID"
    )]
    pub cluster_id: String,

    /// Only compute the cluster named by --cluster-id.
    #[arg(long, env = "CURRENT_CLUSTER_ID_FILTER_ENABLED")]
    pub cluster_filter: bool,

    /// Queries in flight at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        env = "MAX_QUERY_CONCURRENCY"
    )]
    pub concurrency: usize,
}

fn parse_resolution(s: &str) -> Result<TimeDelta, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected <N>s, <N>m or <N>h"))?;
    let d = match unit {
        "s" => TimeDelta::seconds(n),
        "m" => TimeDelta::minutes(n),
        "h" => TimeDelta::hours(n),
        _ => return Err(format!("{s:?}: expected <N>s, <N>m or <N>h")),
    };
    if d <= TimeDelta::zero() {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(d)
}

impl EngineArgs {
    /// The engine configuration these flags describe.
    pub fn config(&self) -> EngineConfig {
        EngineConfig {
            cluster_label: self.cluster_label.clone(),
            cluster_filter: self.cluster_filter.then(|| self.cluster_id.clone()),
            default_cluster: self.cluster_id.clone(),
            resolution: self.resolution,
            concurrency: self.concurrency,
            ..EngineConfig::default()
        }
    }
}

/// A resolved data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An OpenCost allocation JSON file.
    File(PathBuf),
    /// A live Prometheus-compatible backend.
    Prometheus(String),
    /// A captured fixture directory.
    Fixtures(PathBuf),
}

impl InputArgs {
    /// The source the flags name. The clap group guarantees exactly one.
    pub fn source(&self) -> Result<Source> {
        match (&self.input, &self.prometheus, &self.fixtures) {
            (Some(path), _, _) => Ok(Source::File(path.clone())),
            (_, Some(url), _) => Ok(Source::Prometheus(url.clone())),
            (_, _, Some(dir)) => Ok(Source::Fixtures(dir.clone())),
            _ => anyhow::bail!(
                "no input given: pass --input FILE, --prometheus URL or --fixtures DIR"
            ),
        }
    }
}

impl Source {
    /// Whether sets are computed from metrics (and so need a window).
    pub fn is_metrics(&self) -> bool {
        !matches!(self, Source::File(_))
    }

    /// Every allocation set the source holds (files), or computes for
    /// `window` (metrics sources), in window order.
    pub fn load(&self, window: Option<Window>, engine: &EngineArgs) -> Result<Vec<AllocationSet>> {
        match self {
            Source::File(path) => load_file(path),
            Source::Prometheus(url) => {
                let src = PromSource::new(url).with_context(|| format!("--prometheus {url}"))?;
                Ok(compute_from(&src, window, engine)?.range.sets)
            }
            Source::Fixtures(dir) => {
                let src = FixtureSource::open(dir)
                    .with_context(|| format!("opening fixtures {}", dir.display()))?;
                Ok(compute_from(&src, window, engine)?.range.sets)
            }
        }
    }
}

/// Run the engine on `src` for `window` on a small runtime of our own (the
/// core picks none; reqwest needs tokio's IO driver).
pub fn compute_from<S: MetricsSource>(
    src: &S,
    window: Option<Window>,
    engine: &EngineArgs,
) -> Result<Computation> {
    let window = window.context("--window is required with --prometheus and --fixtures")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(engine::allocations(src, window, &engine.config()))
        .with_context(|| format!("computing allocations for {window}"))
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
