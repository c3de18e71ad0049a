//! `costetl rules`: the recording rules the plan reads, as a Prometheus
//! rule file (also what Amazon Managed Service for Prometheus' ruler and
//! Mimir's ruler take). The rules themselves are the core's
//! (`plan::rule_groups`); this module only writes them as YAML.

use std::io::{self, Write};

use anyhow::{Context, Result};
use chrono::TimeDelta;
use clap::Args;
use costetl_core::plan::{RuleGroup, RulesConfig, promql_duration, rule_groups};
use serde::Serialize;

/// Flags of `costetl rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Label holding the cluster id, kept by every aggregation (default
    /// cluster_id).
    #[arg(long, value_name = "LABEL", env = "PROM_CLUSTER_ID_LABEL")]
    pub cluster_label: Option<String>,

    /// How often the ruler evaluates the rules (default 1m). At most the
    /// scrape interval, so that every pair of scrapes is seen.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse::positive)]
    pub interval: Option<TimeDelta>,

    /// The range of `rate` and `irate` (default 5m). At least two scrape
    /// intervals, so that it always holds two samples.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse::positive)]
    pub rate_range: Option<TimeDelta>,
}

/// The rule file's shape (Prometheus' `groups:` format).
#[derive(Serialize)]
struct RuleFile {
    groups: Vec<GroupDto>,
}

#[derive(Serialize)]
struct GroupDto {
    name: String,
    interval: String,
    rules: Vec<RuleDto>,
}

#[derive(Serialize)]
struct RuleDto {
    record: String,
    expr: String,
}

/// `costetl rules`.
pub fn run(args: &RulesArgs) -> Result<()> {
    let d = RulesConfig::default();
    let cfg = RulesConfig {
        cluster_label: args.cluster_label.clone().unwrap_or(d.cluster_label),
        interval: args.interval.unwrap_or(d.interval),
        rate_range: args.rate_range.unwrap_or(d.rate_range),
    };
    let text = rule_file(&rule_groups(&cfg))?;
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the rules to stdout")
}

/// The groups as a rule file, with a header saying where it goes.
fn rule_file(groups: &[RuleGroup]) -> Result<String> {
    let file = RuleFile {
        groups: groups
            .iter()
            .map(|g| GroupDto {
                name: g.name.clone(),
                interval: promql_duration(g.interval),
                rules: g
                    .rules
                    .iter()
                    .map(|r| RuleDto {
                        record: r.record.clone(),
                        expr: r.expr.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let yaml = serde_norway::to_string(&file).context("writing the rules as YAML")?;
    Ok(format!(
        "# Recording rules for costetl (`costetl rules`), Kubecost and OpenCost.\n\
         # Prometheus: list this file under `rule_files:`. Amazon Managed Service\n\
         # for Prometheus: `aws amp create-rule-groups-namespace --data fileb://FILE`.\n\
         # History: `promtool tsdb create-blocks-from rules` backfills past days.\n\
         # costetl reads `{}` for a window when it\n\
         # has samples in the window's first hour (`--no-rules` never reads it).\n{yaml}",
        costetl_core::plan::CPU_IRATE_RULE
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_parses_back_with_every_rule() {
        let groups = rule_groups(&RulesConfig::default());
        let text = rule_file(&groups).unwrap();
        let back: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let parsed = back["groups"].as_sequence().unwrap();
        assert_eq!(parsed.len(), groups.len());
        for (p, g) in parsed.iter().zip(&groups) {
            assert_eq!(p["name"].as_str(), Some(g.name.as_str()));
            assert_eq!(p["interval"].as_str(), Some("1m"));
            let rules = p["rules"].as_sequence().unwrap();
            assert_eq!(rules.len(), g.rules.len());
            for (pr, r) in rules.iter().zip(&g.rules) {
                assert_eq!(pr["record"].as_str(), Some(r.record.as_str()));
                assert_eq!(pr["expr"].as_str(), Some(r.expr.as_str()));
            }
        }
    }
}
