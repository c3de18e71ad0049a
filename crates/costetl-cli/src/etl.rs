//! `costetl etl`: build ETL files from a backend (or a capture) into a
//! store, and show what a store holds.
//!
//! - `etl build --window W --store URL`: compute each aligned day (or hour)
//!   of W, split it by cluster, and put one file per cluster and window
//!   under the overwrite policy: a worse rebuild is kept out and said so.
//! - `etl status --store URL`: per cluster, how many files, the range they
//!   cover, and the gaps inside it.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use costetl_core::etl::{EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::{AllocationSet, Window};
use costetl_store::{EtlStore, StoreConfig};

use crate::input::{InputArgs, Source};
use crate::settings::{Settings, SettingsArgs};

/// `costetl etl …`.
#[derive(Debug, Args)]
pub struct EtlArgs {
    #[command(subcommand)]
    command: EtlCommand,
}

#[derive(Debug, Subcommand)]
enum EtlCommand {
    /// Compute allocations for each aligned window of --window and store
    /// one file per cluster and window.
    Build(BuildArgs),
    /// Show the clusters, windows and gaps a store holds.
    Status(StatusArgs),
}

/// Where the store is: `--store`, else the config file's `[store]`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The ETL store: a directory, file:///dir, or s3://bucket/prefix
    /// (S3 settings in the --config file's [store.s3], else the AWS
    /// environment).
    #[arg(long, value_name = "URL", env = "COSTETL_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    /// The store these flags and `settings` name.
    pub fn open(&self, settings: &StoreConfig) -> Result<EtlStore> {
        open_store(self.store.as_deref(), settings)
    }
}

/// The store at `url` (else `settings.url`), reached with `settings`' S3
/// options. No URL anywhere is a usage error.
pub fn open_store(url: Option<&str>, settings: &StoreConfig) -> Result<EtlStore> {
    let mut cfg = settings.clone();
    if let Some(url) = url {
        cfg.url = url.to_owned();
    }
    if cfg.url.trim().is_empty() {
        return Err(crate::UsageError(
            "no ETL store given: pass --store URL or set url under [store] in the --config file"
                .into(),
        )
        .into());
    }
    EtlStore::open(&cfg).with_context(|| format!("opening the ETL store {}", cfg.url))
}

/// Store resolution flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResolutionArg {
    /// One file per cluster and UTC day.
    Daily,
    /// One file per cluster and UTC hour.
    Hourly,
}

impl From<ResolutionArg> for Resolution {
    fn from(r: ResolutionArg) -> Self {
        match r {
            ResolutionArg::Daily => Resolution::Daily,
            ResolutionArg::Hourly => Resolution::Hourly,
        }
    }
}

#[derive(Debug, Args)]
struct BuildArgs {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    settings: SettingsArgs,

    #[command(flatten)]
    store: StoreArgs,

    /// The windows to build (OpenCost window syntax, UTC), aligned to the
    /// store resolution, e.g. yesterday or 2023-11-14T00:00:00Z,2023-11-16T00:00:00Z.
    #[arg(long, value_name = "W", value_parser = crate::allocation::parse_window)]
    window: Window,

    /// One file per day (default) or per hour.
    #[arg(long = "etl-resolution", value_enum, default_value_t = ResolutionArg::Daily)]
    etl_resolution: ResolutionArg,

    /// Replace stored files even when the new build looks worse (fewer
    /// container-hours, errors, empty).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    settings: SettingsArgs,

    #[command(flatten)]
    store: StoreArgs,

    /// Which files to show.
    #[arg(long = "etl-resolution", value_enum, default_value_t = ResolutionArg::Daily)]
    etl_resolution: ResolutionArg,
}

/// `costetl etl`.
pub fn run(args: &EtlArgs) -> Result<()> {
    match &args.command {
        EtlCommand::Build(b) => build(b),
        EtlCommand::Status(s) => status(s),
    }
}

/// `set` split by cluster (each allocation's `properties.cluster`), each
/// part with the set's warnings and errors that name its cluster or none.
fn by_cluster(set: &AllocationSet) -> Vec<(String, AllocationSet)> {
    let mut parts: std::collections::BTreeMap<String, AllocationSet> = Default::default();
    for a in set.iter() {
        parts
            .entry(a.properties.cluster.clone())
            .or_insert_with(|| AllocationSet::new(set.window()))
            .insert(a.clone());
    }
    let clusters: Vec<String> = parts.keys().cloned().collect();
    parts
        .into_iter()
        .map(|(cluster, mut part)| {
            // A message naming no cluster concerns them all.
            let mine = |m: &&String| {
                m.contains(&cluster) || !clusters.iter().any(|c| m.contains(c.as_str()))
            };
            part.warnings = set.warnings.iter().filter(mine).cloned().collect();
            part.errors = set.errors.iter().filter(mine).cloned().collect();
            (cluster, part)
        })
        .collect()
}

fn build(args: &BuildArgs) -> Result<()> {
    let source = args.input.source(&args.settings)?;
    let settings: &Settings = match &source {
        Source::Prometheus(s) | Source::Fixtures(_, s) => s,
        Source::File(_) | Source::Store(..) => bail!(crate::UsageError(
            "etl build computes from metrics: use --prometheus URL or --fixtures DIR".into()
        )),
    };
    let store = args.store.open(&settings.store)?;
    let resolution = Resolution::from(args.etl_resolution);
    let windows = resolution
        .windows(args.window)
        .with_context(|| format!("--window {} for {resolution} files", args.window))?;
    let policy = OverwritePolicy {
        force: args.force,
        ..OverwritePolicy::default()
    };
    let rt = crate::runtime()?;
    let producer = format!("costetl {}", env!("CARGO_PKG_VERSION"));
    let mut out = String::new();
    let (mut written, mut kept) = (0, 0);
    for w in windows {
        let sets = source.load(Some(w))?;
        let mut set = AllocationSet::new(w);
        for s in &sets {
            set.accumulate(s);
        }
        let built_at: DateTime<Utc> = Utc::now();
        for (cluster, part) in by_cluster(&set) {
            let key = EtlKey::new(cluster.as_str(), resolution, w)
                .with_context(|| format!("cluster {cluster:?}"))?;
            let meta = EtlMeta::describe(&part, &key, &producer, built_at);
            let outcome = rt
                .block_on(store.put(&part, &meta, &policy))
                .with_context(|| format!("storing {key}"))?;
            let verb = if outcome.decision.is_write() {
                written += 1;
                "written"
            } else {
                kept += 1;
                "KEPT   "
            };
            out.push_str(&format!(
                "{verb} {cluster} {w}: {} allocations, ${:.2}, {} bytes: {}\n",
                meta.allocations,
                meta.total_cost,
                outcome.bytes,
                outcome.decision.reason()
            ));
        }
    }
    out.push_str(&format!(
        "{written} file(s) written, {kept} kept, in {}\n",
        store.description()
    ));
    crate::print(&out)
}

fn status(args: &StatusArgs) -> Result<()> {
    let settings = args.settings.settings(None)?;
    let store = args.store.open(&settings.store)?;
    let resolution = Resolution::from(args.etl_resolution);
    let rt = crate::runtime()?;
    let clusters = rt.block_on(store.clusters())?;
    let mut out = format!("{}\n", store.description());
    if clusters.is_empty() {
        out.push_str("no ETL files\n");
    }
    for cluster in clusters {
        let keys = rt.block_on(store.list(&cluster, resolution))?;
        let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
            out.push_str(&format!("{cluster}: no {resolution} files\n"));
            continue;
        };
        let span =
            Window::new(first.window.start(), last.window.end()).context("listing the store")?;
        let gaps: Vec<String> = resolution
            .windows(span)?
            .into_iter()
            .filter(|w| !keys.iter().any(|k| k.window == *w))
            .map(|w| w.start().format("%Y-%m-%dT%H:%MZ").to_string())
            .collect();
        out.push_str(&format!(
            "{cluster}: {} {resolution} file(s) covering {span}{}\n",
            keys.len(),
            if gaps.is_empty() {
                String::new()
            } else {
                format!("; missing {}", gaps.join(", "))
            }
        ));
    }
    crate::print(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use costetl_core::testing::mock_set;

    #[test]
    fn split_by_cluster_keeps_every_allocation_and_routes_messages() {
        let mut set = mock_set(Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap());
        set.warnings = vec![
            "node n1 in cluster1 has no price series".into(),
            "backend: partial response".into(),
        ];
        set.errors = vec!["cluster2: query x failed".into()];
        let parts = by_cluster(&set);
        let names: Vec<&str> = parts.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["cluster1", "cluster2"]);
        let total: f64 = parts.iter().map(|(_, p)| p.total_cost()).sum();
        assert_eq!(total, set.total_cost());
        assert_eq!(parts.iter().map(|(_, p)| p.len()).sum::<usize>(), set.len());
        let (_, one) = &parts[0];
        assert_eq!(one.warnings.len(), 2);
        assert!(one.errors.is_empty());
        let (_, two) = &parts[1];
        assert_eq!(two.warnings, ["backend: partial response"]);
        assert_eq!(two.errors, ["cluster2: query x failed"]);
    }
}
