//! `costetl allocation`: flags, and the pipeline from loaded sets to
//! reports.
//!
//! The pipeline, per OpenCost's `/allocation/compute`:
//! 1. keep the sets whose window lies inside `--window`;
//! 2. drop idle allocations unless `--idle` or `--share-idle`
//!    (OpenCost's `includeIdle=false`);
//! 3. aggregate each set (filter, idle and shared-cost distribution);
//! 4. accumulate the aggregated sets over time (by name, after
//!    aggregation).
//!
//! What the filter removed is accumulated alongside, so every report can
//! say how much it left out.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{ArgGroup, Args, ValueEnum};
use costetl_core::aggregate::{FILTERED, ShareSplit};
use costetl_core::{
    Accumulate, AggregationOptions, AggregationProperty, Allocation, AllocationSet,
    AllocationSetRange, Filter, Window,
};

use crate::UsageError;
use crate::etl::ResolutionArg;
use crate::input::{InputArgs, Source};
use crate::render;
use crate::settings::SettingsArgs;

/// Flags of `costetl allocation`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("idle_mode").args(["idle", "share_idle"]).multiple(true)))]
pub struct AllocationArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub engine: SettingsArgs,

    /// Read allocations back from an ETL store (a directory, file:///dir
    /// or s3://bucket/prefix, S3 settings from the --config file's
    /// [store.s3]) instead of computing them: the whole days (or hours) of
    /// --window, every cluster merged. A missing file is a warning.
    #[arg(long, value_name = "URL", conflicts_with_all = ["input", "prometheus", "fixtures"])]
    pub store: Option<String>,

    /// Which files --store reads: one per day (default) or per hour.
    #[arg(long = "etl-resolution", value_enum, default_value_t = ResolutionArg::Daily)]
    pub etl_resolution: ResolutionArg,

    /// Keep only sets whose window lies inside W (OpenCost window syntax:
    /// today, yesterday, week, 7d, 24h,
    /// 2021-01-01T00:00:00Z,2021-01-03T00:00:00Z, …; UTC).
    #[arg(long, value_name = "W", value_parser = parse_window)]
    pub window: Option<Window>,

    /// Aggregate by these properties (namespace, cluster, controller,
    /// label:app, …); "all" puts everything in one bucket. Default: no
    /// aggregation, allocations keep their names.
    #[arg(long, value_name = "K[,K]", value_parser = parse_aggregate)]
    pub aggregate: Option<AggregateBy>,

    /// Include idle allocations (shown as __idle__ after aggregation).
    #[arg(long)]
    pub idle: bool,

    /// Share idle cost onto allocations, weighted by their cost per
    /// resource (implies idle is included).
    #[arg(long)]
    pub share_idle: bool,

    /// Idle is per node rather than per cluster.
    #[arg(long, requires = "idle_mode")]
    pub idle_by_node: bool,

    /// Keep idle per cluster (or node) instead of one __idle__.
    #[arg(long, requires = "idle_mode")]
    pub split_idle: bool,

    /// Namespaces whose cost is shared out instead of shown.
    #[arg(long, value_name = "NS[,NS]", value_delimiter = ',')]
    pub share_namespaces: Vec<String>,

    /// Label pairs whose allocations' cost is shared out.
    #[arg(long, value_name = "K:V[,K:V]", value_delimiter = ',', value_parser = parse_label_pair)]
    pub share_labels: Vec<(String, String)>,

    /// How shared cost is split.
    #[arg(long, value_enum, default_value_t = SplitArg::Weighted)]
    pub share_split: SplitArg,

    /// Extra cost in dollars per hour, shared like a shared namespace
    /// (e.g. support=1.5). Repeatable; each name at most once.
    #[arg(long, value_name = "NAME=DOLLARS", num_args = 1.., value_parser = parse_hourly_cost)]
    pub shared_hourly_cost: Vec<(String, f64)>,

    /// OpenCost v2 filter, e.g. 'namespace:"kube-system"' or
    /// 'cluster:"c1" + controllerKind:"deployment"'.
    #[arg(long, value_name = "F")]
    pub filter: Option<Filter>,

    /// Combine the aggregated sets over time.
    #[arg(long, value_enum, value_name = "PERIOD", default_value_t = AccumulateArg::None)]
    pub accumulate: AccumulateArg,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Parsed `--aggregate`: empty means "all into one bucket".
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateBy(pub Vec<AggregationProperty>);

/// `--share-split`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// In proportion to each allocation's cost.
    Weighted,
    /// The same amount to every allocation.
    Even,
}

/// `--accumulate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccumulateArg {
    /// Keep the sets as they are.
    None,
    /// Everything into one set.
    All,
    /// One set per UTC hour.
    Hour,
    /// One set per UTC day.
    Day,
    /// One set per week (Sunday to Saturday, UTC).
    Week,
    /// One set per calendar month (UTC).
    Month,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table per set, for people.
    Table,
    /// OpenCost's /allocation/compute response.
    Json,
    /// One row per allocation per set.
    Csv,
}

/// A window flag: OpenCost's syntax, and not empty (`T,T` selects
/// nothing and computes nothing).
pub(crate) fn parse_window(s: &str) -> Result<Window, String> {
    let w = Window::parse_utc(s, Utc::now()).map_err(|e| e.to_string())?;
    if w.start() == w.end() {
        return Err(format!("{w} is empty: its start is its end"));
    }
    Ok(w)
}

fn parse_aggregate(s: &str) -> Result<AggregateBy, costetl_core::Error> {
    AggregationProperty::parse_list(s).map(AggregateBy)
}

fn parse_label_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!(
            "expected LABEL:VALUE, e.g. app:monitoring, got {s:?}"
        )),
    }
}

fn parse_hourly_cost(s: &str) -> Result<(String, f64), String> {
    let Some((name, cost)) = s.split_once('=') else {
        return Err(format!(
            "expected NAME=DOLLARS, e.g. support=1.5, got {s:?}"
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("missing name in {s:?}: expected NAME=DOLLARS"));
    }
    let cost: f64 = cost
        .trim()
        .parse()
        .map_err(|_| format!("{:?} is not a number of dollars per hour", cost.trim()))?;
    if !cost.is_finite() || cost < 0.0 {
        return Err(format!(
            "{cost} dollars per hour: must be finite and non-negative"
        ));
    }
    Ok((name.to_owned(), cost))
}

impl From<AccumulateArg> for Accumulate {
    fn from(a: AccumulateArg) -> Self {
        match a {
            AccumulateArg::None => Accumulate::None,
            AccumulateArg::All => Accumulate::All,
            AccumulateArg::Hour => Accumulate::Hour,
            AccumulateArg::Day => Accumulate::Day,
            AccumulateArg::Week => Accumulate::Week,
            AccumulateArg::Month => Accumulate::Month,
        }
    }
}

/// Everything the pipeline needs besides the sets.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Keep only sets inside this window.
    pub window: Option<Window>,
    /// Keep idle allocations (otherwise they are dropped first).
    pub include_idle: bool,
    /// `None`: keep names; `Some(&[])`: one bucket.
    pub aggregate: Option<Vec<AggregationProperty>>,
    /// Filter, idle and sharing options.
    pub options: AggregationOptions,
    /// Accumulation after aggregation.
    pub accumulate: Option<Accumulate>,
}

impl AllocationArgs {
    /// The query the flags describe.
    pub fn query(&self) -> Result<Query> {
        let mut shared_hourly_costs = BTreeMap::new();
        for (name, cost) in &self.shared_hourly_cost {
            if shared_hourly_costs.insert(name.clone(), *cost).is_some() {
                bail!("--shared-hourly-cost: {name} is given more than once");
            }
        }
        let options = AggregationOptions {
            filter: self.filter.clone(),
            idle_by_node: self.idle_by_node,
            share_idle: self.share_idle,
            split_idle: self.split_idle,
            share_namespaces: self.share_namespaces.clone(),
            share_labels: self.share_labels.clone(),
            share_split: match self.share_split {
                SplitArg::Weighted => ShareSplit::Weighted,
                SplitArg::Even => ShareSplit::Even,
            },
            shared_hourly_costs,
            ..AggregationOptions::default()
        };
        Ok(Query {
            window: self.window,
            include_idle: self.idle || self.share_idle,
            aggregate: self.aggregate.clone().map(|a| a.0),
            options,
            accumulate: Some(self.accumulate.into()),
        })
    }
}

/// One output set and what the filter removed from it.
#[derive(Clone, Debug)]
pub struct Report {
    /// The aggregated (and accumulated) allocations.
    pub set: AllocationSet,
    /// Everything the filter excluded, idle and shared cost included.
    pub filtered_out: Allocation,
}

/// Run the pipeline on `sets`.
pub fn compute(sets: Vec<AllocationSet>, q: &Query) -> Result<Vec<Report>> {
    let mut aggregated = Vec::new();
    let mut filtered = Vec::new();
    for mut set in sets {
        let w = set.window();
        if q.window
            .is_some_and(|qw| w.start() < qw.start() || w.end() > qw.end())
        {
            continue;
        }
        if !q.include_idle {
            let idle: Vec<String> = set
                .iter()
                .filter(|a| a.is_idle())
                .map(|a| a.name.clone())
                .collect();
            for name in idle {
                set.remove(&name);
            }
        }
        let agg = set
            .aggregate_by(q.aggregate.as_deref(), &q.options)
            .with_context(|| format!("aggregating the set for {w}"))?;
        // The filtered-out remainder rides along in a one-allocation set per
        // window, so accumulation buckets it exactly like the sets.
        let mut f = AllocationSet::new(w);
        f.insert(agg.filtered_out);
        aggregated.push(agg.set);
        filtered.push(f);
    }
    let by = q.accumulate.unwrap_or(Accumulate::None);
    let sets = AllocationSetRange::new(aggregated)
        .accumulate(by)
        .context("--accumulate")?
        .sets;
    let filtered = AllocationSetRange::new(filtered).accumulate(by)?.sets;
    if sets.len() != filtered.len() {
        bail!("internal error: accumulation produced mismatched filter totals");
    }
    Ok(sets
        .into_iter()
        .zip(filtered)
        .map(|(set, mut f)| {
            let w = set.window();
            let filtered_out = f
                .remove(FILTERED)
                .unwrap_or_else(|| Allocation::new(FILTERED, w));
            Report { set, filtered_out }
        })
        .collect())
}

/// Why `reports` hold nothing to show, if they do not: an empty result
/// must not pass for a $0 fleet.
fn empty_result(reports: &[Report], window: Option<Window>) -> Option<String> {
    if reports.is_empty() {
        return Some(match window {
            Some(w) => format!("no allocation set lies inside --window {w}"),
            None => "the input holds no allocation set".to_owned(),
        });
    }
    if reports.iter().any(|r| !r.set.is_empty()) {
        return None;
    }
    let removed: f64 = reports.iter().map(|r| r.filtered_out.total_cost()).sum();
    Some(if removed != 0.0 {
        format!("the filter left nothing: it removed everything (${removed:.2})")
    } else {
        "no allocations in the window: the source has no data for it (is --window right? \
         `costetl diagnose --at TIME` shows what the backend holds then)"
            .to_owned()
    })
}

/// `costetl allocation`.
pub fn run(args: &AllocationArgs) -> Result<()> {
    let mut query = args.query()?;
    let source = match &args.store {
        Some(url) => {
            let mut cfg = args.engine.settings(None)?.store;
            cfg.url.clone_from(url);
            Source::Store(cfg, args.etl_resolution.into())
        }
        None => args.input.source(&args.engine)?,
    };
    if source.is_metrics()
        && let Some(w) = args.window
    {
        // Checked before computing for seconds: the engine computes one
        // set per window, which accumulation cannot split.
        Accumulate::from(args.accumulate)
            .check(w)
            .map_err(|e| UsageError(format!("--accumulate: {e}; pass a shorter --window")))?;
    }
    let sets = source.load(args.window)?;
    if source.is_metrics() {
        // The engine computed exactly this window; nothing to select.
        query.window = None;
    }
    let reports = compute(sets, &query)?;
    crate::report::warnings(reports.iter().flat_map(|r| &r.set.warnings));
    if let Some(why) = empty_result(&reports, args.window) {
        bail!("{why}");
    }
    let text = match args.format {
        Format::Table => render::table(&reports),
        Format::Csv => render::csv(&reports),
        Format::Json => {
            let sets: Vec<AllocationSet> = reports.into_iter().map(|r| r.set).collect();
            let mut s = costetl_core::json::response_to_string(&sets);
            s.push('\n');
            s
        }
    };
    crate::print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use costetl_core::testing::mock_set_cluster_idle;

    fn two_days() -> Vec<AllocationSet> {
        let d0 = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        vec![
            mock_set_cluster_idle(d0),
            mock_set_cluster_idle(d0 + TimeDelta::days(1)),
        ]
    }

    fn by_namespace() -> Query {
        Query {
            aggregate: Some(vec![AggregationProperty::Namespace]),
            accumulate: Some(Accumulate::All),
            ..Query::default()
        }
    }

    fn cost(r: &Report, name: &str) -> f64 {
        r.set
            .get(name)
            .map(Allocation::total_cost)
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn idle_is_dropped_unless_asked_for() {
        let r = compute(two_days(), &by_namespace()).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].set.get("__idle__").is_none());
        assert_eq!(cost(&r[0], "namespace1"), 56.0);
        assert_eq!(r[0].set.total_cost(), 164.0);

        let q = Query {
            include_idle: true,
            ..by_namespace()
        };
        let r = compute(two_days(), &q).unwrap();
        assert_eq!(cost(&r[0], "__idle__"), 60.0);
        assert_eq!(r[0].set.total_cost(), 224.0);
    }

    #[test]
    fn share_idle() {
        let mut q = Query {
            include_idle: true,
            ..by_namespace()
        };
        q.options.share_idle = true;
        let r = compute(two_days(), &q).unwrap();
        assert!((cost(&r[0], "namespace1") - 85.375).abs() < 1e-9);
        assert!((r[0].set.total_cost() - 224.0).abs() < 1e-9);
    }

    #[test]
    fn filtered_out_is_accumulated() {
        let mut q = Query {
            include_idle: true,
            ..by_namespace()
        };
        q.options.filter = Some("namespace:\"namespace1\"".parse().unwrap());
        let r = compute(two_days(), &q).unwrap();
        let kept = r[0].set.total_cost();
        let out = r[0].filtered_out.total_cost();
        assert!(out > 0.0);
        assert!((kept + out - 224.0).abs() < 1e-9);
        assert_eq!(r[0].set.window(), r[0].filtered_out.window);
    }

    #[test]
    fn window_keeps_sets_inside() {
        let d0 = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        let q = Query {
            window: Some(Window::new(d0, d0 + TimeDelta::days(1)).unwrap()),
            ..Query::default()
        };
        let r = compute(two_days(), &q).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].set.len(), 12);
        assert_eq!(r[0].filtered_out.total_cost(), 0.0);
    }

    #[test]
    fn hourly_cost_parsing() {
        assert_eq!(
            parse_hourly_cost("support = 1.5"),
            Ok(("support".into(), 1.5))
        );
        assert!(parse_hourly_cost("support").is_err());
        assert!(parse_hourly_cost("=1").is_err());
        assert!(parse_hourly_cost("x=-1").is_err());
        assert!(parse_hourly_cost("x=inf").is_err());
        assert_eq!(
            parse_label_pair("app:web"),
            Ok(("app".into(), "web".into()))
        );
        assert!(parse_label_pair("app").is_err());
    }
}
