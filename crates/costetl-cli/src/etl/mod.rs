//! `costetl etl`: build ETL files from a backend (or a capture) into a
//! store, and show what a store holds.
//!
//! - `etl build --window W --store URL`: compute each aligned day (or hour)
//!   of W, split it by cluster, and put one file per cluster and window
//!   under the overwrite policy: a worse rebuild is kept out and said so.
//! - `etl sync --store URL`: what a cost-model service does on a timer, once:
//!   plan (`costetl_core::etl::plan`) the windows in retention that are
//!   new, missing, provisional, failed or unreadable, build them, and prune
//!   files past retention (`--prune`).
//! - `etl status --store URL`: per cluster, how many files, the range they
//!   cover, their total cost, and the windows inside it that are missing,
//!   provisional, built with errors or unreadable (footers only).
//! - `etl migrate --store URL`: a store of the layout costetl wrote before
//!   schema version 2 moved into the partitioned one (`migrate.rs`).

mod migrate;
mod status;
mod tally;

use tally::{FileFacts, Outcome, Tally};

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Subcommand, ValueEnum};
use costetl_core::etl::{self, EtlKey, EtlMeta, OverwritePolicy, Resolution};
use costetl_core::window::duration_string;
use costetl_core::{AllocationSet, Window};
use costetl_store::{EtlStore, StoreConfig};

use crate::input::{InputArgs, Source};
use crate::settings::SettingsArgs;

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
    /// Bring a store up to date: build every window in retention that is
    /// new, missing, provisional, failed or unreadable; prune older files
    /// with --prune.
    Sync(SyncArgs),
    /// Show the clusters, windows and gaps a store holds.
    Status(StatusArgs),
    /// Move a store written before schema version 2 (Kubecost's federated
    /// layout) into the partitioned layout; reads and syncs refuse such a
    /// store until then.
    Migrate(MigrateArgs),
}

/// Where the store is: `--store`, else the config file's `[store]`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The ETL store: a directory, file:///dir, s3://bucket/prefix,
    /// gs://bucket/prefix or az://container/prefix (settings in the
    /// --config file's [store.s3], [store.gcs], [store.azure], else each
    /// cloud's environment).
    #[arg(long, value_name = "URL", env = "COSTETL_STORE")]
    pub store: Option<String>,

    /// Kubecost's federated-store.yaml (Thanos objstore YAML: type S3, GCS
    /// or AZURE, config, prefix) instead of --store, as Kubecost mounts it
    /// from its secret.
    #[arg(
        long,
        value_name = "FILE",
        env = "COSTETL_STORE_CONFIG",
        conflicts_with = "store"
    )]
    pub store_config: Option<PathBuf>,
}

impl StoreArgs {
    /// The store these flags and `settings` name.
    pub fn open(&self, settings: &StoreConfig) -> Result<EtlStore> {
        open_store(&self.config(settings)?, Access::Write)
    }

    /// The store, for a command that only reads it: nothing is created.
    pub fn open_existing(&self, settings: &StoreConfig) -> Result<EtlStore> {
        open_store(&self.config(settings)?, Access::Read)
    }

    /// The configuration: Kubecost's YAML, or `settings` with the URL
    /// --store gives.
    pub fn config(&self, settings: &StoreConfig) -> Result<StoreConfig> {
        if let Some(path) = &self.store_config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --store-config {}", path.display()))?;
            return costetl_store::from_objstore_yaml(&text)
                .map_err(|e| crate::UsageError(format!("{}: {e}", path.display())).into());
        }
        let mut cfg = settings.clone();
        if let Some(url) = &self.store {
            cfg.url.clone_from(url);
        }
        Ok(cfg)
    }
}

/// Whether a command writes the store (a missing directory is created)
/// or only reads it (a missing directory is an error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Access {
    Read,
    Write,
}

/// The store `cfg` names. No URL is a usage error.
pub fn open_store(cfg: &StoreConfig, access: Access) -> Result<EtlStore> {
    if cfg.url.trim().is_empty() {
        return Err(crate::UsageError(
            "no ETL store given: pass --store URL or --store-config FILE, or set url under \
             [store] in the --config file"
                .into(),
        )
        .into());
    }
    match access {
        Access::Write => EtlStore::open(cfg),
        Access::Read => EtlStore::open_existing(cfg),
    }
    .with_context(|| format!("opening the ETL store {}", cfg.url))
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

/// Where `build` and `sync` compute from and write to.
#[derive(Debug, Args)]
struct PipeArgs {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    settings: SettingsArgs,

    #[command(flatten)]
    store: StoreArgs,

    /// One file per day (default) or per hour.
    #[arg(long = "etl-resolution", value_enum, default_value_t = ResolutionArg::Daily)]
    etl_resolution: ResolutionArg,

    /// Store series without the cluster label under the built-in id
    /// `default-cluster`. Without it (or --cluster-id naming the cluster),
    /// such files are refused: in a shared store they would mix with
    /// every other cluster that lost its label (a wrong --cluster-label
    /// turns a whole fleet into `default-cluster`).
    #[arg(long)]
    allow_default_cluster: bool,
}

/// What [`PipeArgs`] resolve to.
struct Pipe {
    source: Source,
    store: EtlStore,
    resolution: Resolution,
    /// A cluster id that must not be stored: the built-in default, when
    /// nobody named it.
    refused: Option<String>,
}

impl PipeArgs {
    /// The source and the store. A file (`--input`) is imported by `etl
    /// build` (`import`); elsewhere, a file or a store as the source is a
    /// usage error.
    fn open(&self, import: bool) -> Result<Pipe> {
        let source = self.input.source(&self.settings)?;
        let (store, refused) = match &source {
            Source::Prometheus(s) | Source::Fixtures(_, s) => (
                self.store.open(&s.store)?,
                (!s.cluster_id_named && !self.allow_default_cluster)
                    .then(|| s.engine.default_cluster.clone()),
            ),
            // OpenCost's sets name their clusters themselves.
            Source::File(_) if import => {
                (self.store.open(&self.settings.settings(None)?.store)?, None)
            }
            Source::File(_) | Source::Store(..) => bail!(crate::UsageError(
                "etl sync computes from metrics: use --prometheus URL or --fixtures DIR \
                 (`etl build --input FILE` imports OpenCost JSON)"
                    .into()
            )),
        };
        Ok(Pipe {
            source,
            store,
            resolution: self.etl_resolution.into(),
            refused,
        })
    }
}

#[derive(Debug, Args)]
struct BuildArgs {
    #[command(flatten)]
    pipe: PipeArgs,

    /// The windows to build (OpenCost window syntax, UTC), aligned to the
    /// store resolution, e.g. yesterday or 2023-11-14T00:00:00Z,2023-11-16T00:00:00Z.
    #[arg(long, value_name = "W", value_parser = crate::parse::window)]
    window: Window,

    /// Replace stored files even when the new build looks worse (fewer
    /// container-hours, errors, empty).
    #[arg(long)]
    force: bool,

    /// Output format: lines for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

#[derive(Debug, Args)]
struct SyncArgs {
    #[command(flatten)]
    pipe: PipeArgs,

    /// How far back files are kept and built (e.g. 91d, 49h). Default:
    /// ETL_DAILY_STORE_DURATION_DAYS days (91) for daily files,
    /// ETL_HOURLY_STORE_DURATION_HOURS hours (49) for hourly ones, as
    /// Kubecost names them.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse::positive)]
    retention: Option<TimeDelta>,

    /// Delete the files past retention (default: only list them).
    #[arg(long)]
    prune: bool,

    /// Print the plan; build and delete nothing.
    #[arg(long)]
    dry_run: bool,

    /// The time to sync at (RFC 3339 or Unix seconds; default now): which
    /// windows have closed, and the files' build time.
    #[arg(long, value_name = "TIME", value_parser = crate::parse::time)]
    at: Option<DateTime<Utc>>,

    /// Output format: lines for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,

    /// Read every stored file whole to find damaged ones (rebuilt like
    /// unreadable files); without it only the footers are read.
    #[arg(long)]
    verify: bool,
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

    /// Output format: lines for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,

    /// Read every file whole and check its checksum, schema and rows (a
    /// damaged row group is listed as unreadable); without it only the
    /// footers are read.
    #[arg(long)]
    verify: bool,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    #[command(flatten)]
    settings: SettingsArgs,

    #[command(flatten)]
    store: StoreArgs,

    /// Output format: lines for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// How `etl status` and `etl sync` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Lines for people.
    Text,
    /// One JSON document on stdout (the text's facts, typed).
    Json,
}

/// `costetl etl`.
pub fn run(args: &EtlArgs) -> Result<()> {
    match &args.command {
        EtlCommand::Build(b) => build(b),
        EtlCommand::Sync(s) => sync(s),
        EtlCommand::Status(s) => status::run(s),
        EtlCommand::Migrate(m) => migrate::run(m),
    }
}

/// Where a run's sets come from: computed per window, or imported from
/// an OpenCost file read once.
enum Feed<'a> {
    Compute(&'a Source),
    Import(Vec<AllocationSet>),
}

impl Feed<'_> {
    /// The sets for window `w`: computed for it, or the imported sets that
    /// lie inside it.
    fn sets(&self, w: Window) -> Result<Vec<AllocationSet>> {
        match self {
            Feed::Compute(source) => source.load(Some(w)),
            Feed::Import(sets) => Ok((sets.iter())
                .filter(|s| inside(s.window(), w))
                .cloned()
                .collect()),
        }
    }
}

fn inside(inner: Window, outer: Window) -> bool {
    outer.start() <= inner.start() && inner.end() <= outer.end()
}

/// The sets of an OpenCost file to import into `windows`: each must lie
/// inside one of them (a set across a boundary cannot be split without
/// inventing data); those outside them all are left, and counted.
fn import(source: &Source, windows: &[Window]) -> Result<(Vec<AllocationSet>, usize)> {
    let sets = source.load(None)?;
    let span = Window::new(windows[0].start(), windows[windows.len() - 1].end())?;
    let (mut kept, mut outside) = (Vec::new(), 0);
    for s in sets {
        let w = s.window();
        if windows.iter().any(|x| inside(w, *x)) {
            kept.push(s);
        } else if span.overlap(&w).is_some_and(|o| !o.is_empty()) {
            bail!(
                "the set for {w} crosses a window boundary of --window's files; import it with \
                 --etl-resolution of its size or larger, or a file of smaller sets"
            );
        } else {
            outside += 1;
        }
    }
    Ok((kept, outside))
}

/// Where and how one run writes.
struct Target<'a> {
    store: &'a EtlStore,
    rt: &'a tokio::runtime::Runtime,
    resolution: Resolution,
    policy: OverwritePolicy,
    producer: String,
    /// A cluster id not to store (see `PipeArgs::allow_default_cluster`).
    refused: Option<String>,
}

impl Target<'_> {
    /// Compute window `w` from `source` and put each cluster's part but
    /// those in `skip` (clusters whose stored file is good).
    fn build_window(
        &self,
        feed: &Feed<'_>,
        w: Window,
        built_at: DateTime<Utc>,
        skip: &BTreeSet<String>,
        tally: &mut Tally,
    ) -> Result<()> {
        let Some(computed) = etl::parts::computable(w, built_at)? else {
            tally.push(
                Outcome::Skipped,
                None,
                w,
                format!("it began less than a minute before {built_at}"),
            );
            return Ok(());
        };
        let mut set = AllocationSet::new(computed);
        for s in &feed.sets(computed)? {
            set.accumulate(s);
        }
        tally.warnings.extend(set.warnings.iter().cloned());
        if set.is_empty() {
            tally.push(
                Outcome::Empty,
                None,
                w,
                "the source has no allocation in this window (no data there, or a cluster \
                 filter that matches nothing); nothing stored",
            );
            return Ok(());
        }
        // Every cluster is marked before any file is written: a crash
        // between two clusters' files leaves the other's marker, which the
        // next sync finds (`etl::plan`).
        let mut parts = Vec::new();
        for (cluster, part) in etl::parts::by_cluster(&set, w) {
            if skip.contains(&cluster) {
                continue;
            }
            if self.refused.as_ref() == Some(&cluster) {
                tally.push(
                    Outcome::Failed,
                    Some(&cluster),
                    w,
                    format!(
                        "series without the cluster label would be stored as {cluster:?}, an \
                         id nobody set: check --cluster-label, name the cluster with \
                         --cluster-id, or pass --allow-default-cluster"
                    ),
                );
                continue;
            }
            let key = EtlKey::new(cluster.as_str(), self.resolution, w)
                .with_context(|| format!("cluster {cluster:?}"))
                .and_then(|key| {
                    self.rt
                        .block_on(self.store.mark_pending(&key))
                        .with_context(|| format!("marking {key}"))?;
                    Ok(key)
                });
            parts.push((cluster, part, key));
        }
        costetl_store::failpoint("etl-marked");
        for (cluster, part, key) in parts {
            let stored = key.and_then(|key| {
                let meta = EtlMeta::describe(&part, &key, &self.producer, built_at);
                let outcome = self
                    .rt
                    .block_on(self.store.put(&part, &meta, &self.policy))
                    .with_context(|| format!("storing {key}"))?;
                costetl_store::failpoint("etl-stored");
                self.rt
                    .block_on(self.store.clear_pending(&key))
                    .with_context(|| format!("clearing the mark of {key}"))?;
                Ok((meta, outcome))
            });
            let (meta, outcome) = match stored {
                Ok(done) => done,
                Err(e) => {
                    tally.push(Outcome::Failed, Some(&cluster), w, format!("{e:#}"));
                    continue;
                }
            };
            let verb = if outcome.decision.is_write() {
                Outcome::Written
            } else {
                Outcome::Kept
            };
            let facts = FileFacts {
                allocations: meta.allocations,
                total_cost: meta.total_cost,
                bytes: outcome.bytes as u64,
            };
            tally.file(verb, &cluster, w, facts, outcome.decision.reason());
        }
        Ok(())
    }
}

/// A JSON report on stdout: one pretty document and a newline.
fn json_report(v: serde_json::Value) -> String {
    format!("{}\n", costetl_core::json::to_string_pretty(&v))
}

fn producer() -> String {
    format!("costetl {}", env!("CARGO_PKG_VERSION"))
}

fn build(args: &BuildArgs) -> Result<()> {
    let Pipe {
        source,
        store,
        resolution,
        refused,
    } = args.pipe.open(true)?;
    let windows = resolution.windows(args.window).map_err(|e| {
        crate::UsageError(format!(
            "--window {} for {resolution} files: {e}",
            args.window
        ))
    })?;
    let rt = crate::runtime()?;
    let target = Target {
        store: &store,
        rt,
        resolution,
        policy: OverwritePolicy {
            force: args.force,
            ..OverwritePolicy::default()
        },
        producer: producer(),
        refused,
    };
    let feed = match &source {
        Source::File(path) => {
            let (sets, outside) = import(&source, &windows)?;
            if outside > 0 {
                crate::report::note(&format!(
                    "note: {outside} set(s) of {} lie outside --window: not imported",
                    path.display()
                ));
            }
            Feed::Import(sets)
        }
        _ => Feed::Compute(&source),
    };
    let mut tally = Tally::default();
    for w in windows {
        target.build_window(&feed, w, Utc::now(), &BTreeSet::new(), &mut tally)?;
    }
    let (written, kept) = (
        tally.count(Outcome::Written, false),
        tally.count(Outcome::Kept, false),
    );
    let (failed, empty) = (
        tally.count(Outcome::Failed, false),
        tally.count(Outcome::Empty, true),
    );
    crate::print(&match args.format {
        ReportFormat::Text => format!(
            "{}{written} file(s) written, {kept} kept, {failed} failed, {empty} empty \
             window(s), in {}\n",
            tally.text(),
            store.description()
        ),
        ReportFormat::Json => json_report(serde_json::json!({
            "store": store.description(),
            "resolution": resolution,
            "written": written, "kept": kept, "failed": failed, "empty": empty,
            "events": tally.events,
            "warnings": tally.warnings,
        })),
    })?;
    crate::report::warnings(&tally.warnings);
    if failed > 0 {
        bail!("{failed} cluster-window(s) could not be stored; see FAILED above");
    }
    // Asked for a window, stored nothing: a typo'd window or filter must
    // not look like success.
    if empty > 0 {
        bail!(
            "{empty} window(s) had no allocation to store; see EMPTY above (is --window \
             right? `costetl diagnose --at TIME` shows what the backend holds then)"
        );
    }
    Ok(())
}

/// The retention `--retention` or Kubecost's variable for `resolution`
/// gives, else Kubecost's default (91 days, 49 hours).
fn retention(flag: Option<TimeDelta>, resolution: Resolution) -> Result<TimeDelta> {
    if let Some(r) = flag {
        return Ok(r);
    }
    let (var, unit, default) = match resolution {
        Resolution::Daily => ("ETL_DAILY_STORE_DURATION_DAYS", TimeDelta::days(1), 91),
        Resolution::Hourly => ("ETL_HOURLY_STORE_DURATION_HOURS", TimeDelta::hours(1), 49),
    };
    let n = match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{var}={v:?}: expected a positive whole number"))?,
        Err(_) => default,
    };
    Ok(unit * n)
}

fn sync(args: &SyncArgs) -> Result<()> {
    let pipe = args.pipe.open(false)?;
    let keep_for = retention(args.retention, pipe.resolution)?;
    let now = args.at.unwrap_or_else(Utc::now);
    let rt = crate::runtime()?;
    let plan = sync_plan(rt, &pipe, keep_for, now, args.verify)?;
    let Pipe {
        source,
        store,
        resolution,
        refused,
    } = pipe;
    let report = SyncReport {
        store: &store,
        resolution,
        keep_for,
        plan: &plan,
    };
    if args.dry_run {
        return crate::print(&match args.format {
            ReportFormat::Text => format!("{}dry run: nothing built or deleted\n", report.head()),
            ReportFormat::Json => report.json(serde_json::json!({"dry_run": true})),
        });
    }
    let target = Target {
        store: &store,
        rt,
        resolution,
        policy: OverwritePolicy::default(),
        producer: producer(),
        refused,
    };
    let tally = build_windows(&target, &source, &plan, now);
    let pruned = if args.prune {
        prune(rt, &store, &plan.expired)?
    } else {
        0
    };
    report.outcome(args, &tally, pruned)
}

/// Builds every window of `plan`.
fn build_windows(
    target: &Target<'_>,
    source: &Source,
    plan: &etl::Plan,
    now: DateTime<Utc>,
) -> Tally {
    let mut tally = Tally::default();
    let bar = crate::report::progress("building windows", Some(plan.build.len() as u64));
    for b in &plan.build {
        // One window failing (outside the backend's retention, a backend
        // error) must not stop the others.
        let feed = Feed::Compute(source);
        if let Err(e) = target.build_window(&feed, b.window, now, &b.good, &mut tally) {
            tally.push(Outcome::Failed, None, b.window, format!("{e:#}"));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    tally
}

/// Deletes the files past retention; returns how many.
fn prune(rt: &tokio::runtime::Runtime, store: &EtlStore, expired: &[EtlKey]) -> Result<usize> {
    for key in expired {
        rt.block_on(store.delete(key))
            .with_context(|| format!("pruning {key}"))?;
    }
    Ok(expired.len())
}

/// What `etl sync` says: the store, the retention and the plan, then what
/// the run did.
struct SyncReport<'a> {
    store: &'a EtlStore,
    resolution: Resolution,
    keep_for: TimeDelta,
    plan: &'a etl::Plan,
}

impl SyncReport<'_> {
    /// The plan as text: a summary line, then each window to build and why.
    fn head(&self) -> String {
        let plan = self.plan;
        format!(
            "{}: {} files kept for {}, retained {}; {} window(s) to build, \
             {} file(s) past retention\n{}",
            self.store.description(),
            self.resolution,
            duration_string(self.keep_for),
            plan.retained,
            plan.build.len(),
            plan.expired.len(),
            plan.build
                .iter()
                .map(|b| format!("build {}: {}\n", b.window, why(b)))
                .collect::<String>()
        )
    }

    /// The plan as JSON, with `extra`'s fields added.
    fn json(&self, extra: serde_json::Value) -> String {
        let plan = self.plan;
        let mut v = serde_json::json!({
            "store": self.store.description(),
            "resolution": self.resolution,
            "retention": duration_string(self.keep_for),
            "retained": plan.retained,
            "build": plan.build.iter().map(|b| serde_json::json!({
                "window": b.window, "why": why(b),
            })).collect::<Vec<_>>(),
            "expired": plan.expired.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        json_report(v)
    }

    /// Prints what the run did (`pruned` files deleted); an error when a
    /// window failed or when every window was empty.
    fn outcome(&self, args: &SyncArgs, tally: &Tally, pruned: usize) -> Result<()> {
        let plan = self.plan;
        let count = |o, whole| tally.count(o, whole);
        let (written, kept, empty) = (
            count(Outcome::Written, false),
            count(Outcome::Kept, false),
            count(Outcome::Empty, true),
        );
        let (failed, failed_parts) = (count(Outcome::Failed, true), count(Outcome::Failed, false));
        crate::print(&match args.format {
            ReportFormat::Text => {
                let unpruned = if !args.prune && !plan.expired.is_empty() {
                    format!(
                        "{} file(s) past retention kept (pass --prune to delete them)\n",
                        plan.expired.len()
                    )
                } else {
                    String::new()
                };
                format!(
                    "{}{}{unpruned}{written} file(s) written, {kept} kept, {failed} window(s) \
                     failed, {failed_parts} cluster-window(s) failed, {empty} empty window(s), \
                     {pruned} pruned\n",
                    self.head(),
                    tally.text()
                )
            }
            ReportFormat::Json => self.json(serde_json::json!({
                "written": written, "kept": kept, "failed_windows": failed,
                "failed": failed_parts, "empty": empty, "pruned": pruned,
                "events": tally.events, "warnings": tally.warnings,
            })),
        })?;
        crate::report::warnings(&tally.warnings);
        if failed > 0 || failed_parts > 0 {
            bail!(
                "{failed} window(s) and {failed_parts} cluster-window(s) failed; see FAILED above"
            );
        }
        // Windows before a cluster's metrics begin are empty, and said so; a
        // run in which every window was empty found no data at all.
        if !plan.build.is_empty() && empty == plan.build.len() {
            bail!(
                "none of the {empty} window(s) to build had an allocation: the source holds no \
                 data for them (backend retention, URL or cluster filter?)"
            );
        }
        Ok(())
    }
}

/// Why a window is to be built, in a few words.
fn why(b: &etl::Build) -> String {
    if b.needs.is_empty() {
        return "new window".to_owned();
    }
    let needs: Vec<String> = (b.needs.iter())
        .map(|(c, n)| format!("{c} {}", n.describe()))
        .collect();
    needs.join(", ")
}

/// What a sync at `now` has to build and may prune: the store listed
/// (every file read whole with `verify`; for the cluster filter's cluster
/// alone, if any), stale markers dropped.
fn sync_plan(
    rt: &tokio::runtime::Runtime,
    pipe: &Pipe,
    keep_for: TimeDelta,
    now: DateTime<Utc>,
    verify: bool,
) -> Result<etl::Plan> {
    let Pipe {
        source,
        store,
        resolution,
        ..
    } = pipe;
    let resolution = *resolution;
    let listing = || format!("listing {}", store.description());
    let (mut stored, mut pending) = rt
        .block_on(store.inventory(resolution, verify))
        .with_context(listing)?;
    // An agent that computes one cluster of a shared store (the cluster
    // filter) plans for that cluster alone: it cannot fill the others'
    // gaps, and would recompute them on every run trying.
    if let Source::Prometheus(s) | Source::Fixtures(_, s) = source
        && let Some(mine) = &s.engine.cluster_filter
    {
        stored.retain(|(key, _)| &key.cluster == mine);
        pending.retain(|key| &key.cluster == mine);
    }
    // A marker whose file was stored is a crash between the put and the
    // clearing: nothing to rebuild, only the marker to drop.
    for key in (pending.iter()).filter(|k| stored.iter().any(|(s, _)| s == *k)) {
        rt.block_on(store.clear_pending(key))
            .with_context(|| format!("clearing the mark of {key}"))?;
    }
    etl::plan(now, resolution, keep_for, &stored, &pending)
        .with_context(|| format!("--retention {}", duration_string(keep_for)))
}
