//! `costetl allocation`: the flags, which become a
//! [`costetl_core::AllocationQuery`] (OpenCost's `/allocation/compute`: the
//! pipeline lives in the core), run on the sets a source loads or
//! computes; the reports are rendered as a table, CSV or OpenCost JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{ArgGroup, Args, ValueEnum};
use costetl_core::aggregate::ShareSplit;
use costetl_core::{
    Accumulate, AggregationOptions, AggregationProperty, AllocationQuery, AllocationSet, Filter,
    Report, Window,
};

use crate::UsageError;
use crate::etl::{ResolutionArg, StoreArgs};
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

    /// Read allocations back from an ETL store (a directory, file:///dir,
    /// s3://, gs:// or az://bucket/prefix, settings from the --config
    /// file's [store.*]) instead of computing them: the whole days (or
    /// hours) of --window, every cluster merged. A missing file is a
    /// warning.
    #[arg(long, value_name = "URL", conflicts_with_all = ["input", "prometheus", "fixtures"])]
    pub store: Option<String>,

    /// As --store, the store Kubecost's federated-store.yaml names.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["input", "prometheus", "fixtures", "store"]
    )]
    pub store_config: Option<PathBuf>,

    /// Which files --store reads: one per day (default) or per hour.
    #[arg(long = "etl-resolution", value_enum, default_value_t = ResolutionArg::Daily)]
    pub etl_resolution: ResolutionArg,

    /// Keep only sets whose window lies inside W (OpenCost window syntax:
    /// today, yesterday, week, 7d, 24h,
    /// 2021-01-01T00:00:00Z,2021-01-03T00:00:00Z, …; UTC).
    #[arg(long, value_name = "W", value_parser = crate::parse::window)]
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

impl AllocationArgs {
    /// The query the flags describe.
    pub fn query(&self) -> Result<AllocationQuery> {
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
        Ok(AllocationQuery {
            window: self.window,
            include_idle: self.idle || self.share_idle,
            aggregate: self.aggregate.clone().map(|a| a.0),
            options,
            accumulate: self.accumulate.into(),
        })
    }
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
    let store = StoreArgs {
        store: args.store.clone(),
        store_config: args.store_config.clone(),
    };
    let source = if store.store.is_some() || store.store_config.is_some() {
        let cfg = store.config(&args.engine.settings(None)?.store)?;
        Source::Store(cfg, args.etl_resolution.into())
    } else {
        args.input.source(&args.engine)?
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
    if source.is_metrics() {
        // The engine computes exactly this window; nothing to select.
        query.window = None;
    }
    let reports = source.reports(args.window, &query)?;
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
