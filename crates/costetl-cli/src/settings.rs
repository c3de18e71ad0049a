//! The settings every metrics command shares: how to reach the backend
//! ([`PromConfig`]) and which PromQL the engine sends ([`EngineConfig`]).
//!
//! Layers, later wins: built-in defaults, then the `--config FILE` (TOML,
//! sections `[prometheus]` and `[engine]`), then the environment (OpenCost's
//! variable names: `PROMETHEUS_SERVER_ENDPOINT`, `DB_BASIC_AUTH_*`,
//! `PROM_CLUSTER_ID_LABEL`, `CLUSTER_ID`, …), then flags. So a Kubecost or
//! OpenCost pod's environment works unchanged, a file holds what has no
//! variable (SigV4, extra parameters, retries), and a flag overrides both
//! for one run. `docs/configuration.md` lists every key.
//!
//! TOML rather than YAML: the `toml` crate is already in the workspace and
//! well kept, while `serde_yaml` is archived and its forks are young.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::TimeDelta;
use clap::Args;
use clap::builder::BoolishValueParser;
use costetl_core::plan::EngineConfig;
use costetl_prom::PromConfig;
use costetl_store::StoreConfig;
use serde::Deserialize;

/// Flags shared by `allocation`, `capture` and `diagnose`. Each overrides
/// the config file; those with an environment variable read it when the
/// flag is absent.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// TOML file with `[prometheus]` (endpoint, auth, TLS, headers,
    /// parameters, timeouts, retries, limits) and `[engine]` settings; see
    /// docs/configuration.md. Environment variables and flags override it.
    #[arg(long, value_name = "FILE", env = "COSTETL_CONFIG")]
    pub config: Option<PathBuf>,

    /// Integration step (default 1m; OpenCost uses 5m).
    #[arg(long, value_name = "DURATION", value_parser = crate::parse::positive)]
    pub resolution: Option<TimeDelta>,

    /// Label holding the cluster id (default cluster_id).
    #[arg(long, value_name = "LABEL", env = "PROM_CLUSTER_ID_LABEL")]
    pub cluster_label: Option<String>,

    /// Cluster id for series without the cluster label (default
    /// default-cluster).
    #[arg(long, value_name = "ID", env = "CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// Only compute the cluster named by --cluster-id.
    #[arg(
        long,
        value_name = "BOOL",
        env = "CURRENT_CLUSTER_ID_FILTER_ENABLED",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub cluster_filter: Option<bool>,

    /// Queries in flight at once (default 5).
    #[arg(long, value_name = "N", env = "MAX_QUERY_CONCURRENCY")]
    pub concurrency: Option<usize>,

    /// Node labels copied onto allocations, comma-separated (default:
    /// zone, region, instance type, Karpenter capacity type).
    #[arg(
        long,
        value_name = "LABELS",
        env = "ALLOCATION_NODE_LABELS_INCLUDE_LIST",
        value_delimiter = ','
    )]
    pub node_labels: Option<Vec<String>>,

    /// Never read costetl's recording rule (`costetl rules`), even where
    /// it covers the window.
    #[arg(long)]
    pub no_rules: bool,
}

/// What the layers resolve to.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The backend, when metrics come from one.
    pub prometheus: PromConfig,
    /// The engine.
    pub engine: EngineConfig,
    /// The ETL store (`[store]`; `--store` overrides its url).
    pub store: StoreConfig,
    /// Whether the user named the default cluster id (flag, `CLUSTER_ID`
    /// or the config file) rather than leaving the built-in
    /// `default-cluster`.
    pub cluster_id_named: bool,
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    prometheus: PromConfig,
    engine: EngineSection,
    store: StoreConfig,
}

/// `[engine]`: what is not about reaching the backend.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EngineSection {
    cluster_label: Option<String>,
    cluster_id: Option<String>,
    cluster_filter: Option<bool>,
    /// Duration text, e.g. `"5m"`.
    resolution: Option<String>,
    /// Longest window in one query, e.g. `"1d"`.
    max_query_window: Option<String>,
    node_labels: Option<Vec<String>>,
    default_pricing: Option<PricingSection>,
}

/// `[engine.default_pricing]`, $ per hour.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PricingSection {
    cpu: Option<f64>,
    ram_gib: Option<f64>,
    gpu: Option<f64>,
}

impl ConfigFile {
    fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("config file {}: {}", path.display(), toml_error(&text, &e))
        })
    }
}

/// A TOML error as "line L, column C: message", without the snippet of
/// the offending line toml prints (the line may hold a password) and with
/// quoted values in the message (serde quotes a mistyped value) hidden.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("line {line}, column {column}: ")
    });
    let mut message = String::new();
    for (i, part) in e.message().split('"').enumerate() {
        if i > 0 {
            message.push('"');
        }
        message.push_str(if i % 2 == 1 { "***" } else { part });
    }
    format!("{}{}", at.unwrap_or_default(), message.trim_end())
}

impl SettingsArgs {
    /// The settings for a run, reading the process environment. `url` is
    /// the command's `--prometheus` flag, which wins over everything.
    pub fn settings(&self, url: Option<&str>) -> Result<Settings> {
        self.settings_with(url, |k| std::env::var(k).ok())
    }

    /// As [`SettingsArgs::settings`] with `env` for the environment.
    fn settings_with(
        &self,
        url: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let mut file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let mut prometheus = std::mem::take(&mut file.prometheus);
        prometheus
            .apply_env(env)
            .context("reading OpenCost's environment variables")?;
        if let Some(url) = url {
            prometheus.url = url.to_owned();
        }
        if let Some(n) = self.concurrency {
            prometheus.concurrency = n;
        }

        let mut engine = EngineConfig::default();
        let e = std::mem::take(&mut file.engine);
        let in_file = |key: &str| match &self.config {
            Some(p) => format!("{}: engine.{key}", p.display()),
            None => format!("engine.{key}"),
        };
        if let Some(text) = &e.resolution {
            engine.resolution = crate::parse::positive(text)
                .map_err(|m| anyhow::anyhow!("{}: {m}", in_file("resolution")))?;
        }
        if let Some(text) = &e.max_query_window {
            engine.max_query_window = crate::parse::positive(text)
                .map_err(|m| anyhow::anyhow!("{}: {m}", in_file("max_query_window")))?;
        }
        if let Some(p) = e.default_pricing {
            let d = &mut engine.default_pricing;
            for (key, from, to) in [
                ("cpu", p.cpu, &mut d.cpu),
                ("ram_gib", p.ram_gib, &mut d.ram_gib),
                ("gpu", p.gpu, &mut d.gpu),
            ] {
                if let Some(v) = from {
                    if !(v.is_finite() && v >= 0.0) {
                        bail!(
                            "{}: {v} is not a price (a finite $/h >= 0)",
                            in_file(&format!("default_pricing.{key}"))
                        );
                    }
                    *to = v;
                }
            }
        }
        if let Some(labels) = self.node_labels.clone().or(e.node_labels) {
            engine.node_labels = labels
                .into_iter()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
        }
        if let Some(label) = self.cluster_label.clone().or(e.cluster_label) {
            engine.cluster_label = label;
        }
        let named_id = self.cluster_id.clone().or(e.cluster_id);
        let cluster_id_named = named_id.is_some();
        if let Some(id) = named_id {
            engine.default_cluster = id;
        }
        if self.cluster_filter.or(e.cluster_filter).unwrap_or(false) {
            engine.cluster_filter = Some(engine.default_cluster.clone());
        }
        if let Some(step) = self.resolution {
            engine.resolution = step;
        }
        if self.no_rules {
            engine.rules = costetl_core::plan::RulesMode::Ignore;
        }
        // One knob: the engine issues as many queries as the source lets
        // run at once.
        engine.concurrency = prometheus.concurrency.max(1);
        Ok(Settings {
            prometheus,
            engine,
            store: file.store,
            cluster_id_named,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use costetl_prom::AuthConfig;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const FILE: &str = r#"
        [prometheus]
        url = "http://file:9090/prometheus"
        concurrency = 3
        headers = { "X-Scope-OrgID" = "team-a" }
        [prometheus.auth]
        type = "basic"
        username = "costetl"
        password = "s3cret"

        [engine]
        cluster_label = "cluster"
        cluster_id = "prod-eu"
        cluster_filter = true
        resolution = "5m"
        max_query_window = "6h"
        node_labels = ["topology.kubernetes.io/zone"]
        default_pricing = { cpu = 0.03 }
    "#;

    #[test]
    fn defaults_without_file_env_or_flags() {
        let s = SettingsArgs::default()
            .settings_with(None, env(&[]))
            .unwrap();
        assert_eq!(s.engine, EngineConfig::default());
        assert_eq!(s.prometheus, PromConfig::default());
    }

    #[test]
    fn file_sets_both_sections() {
        let f = file(FILE);
        let args = SettingsArgs {
            config: Some(f.path().to_owned()),
            ..SettingsArgs::default()
        };
        let s = args.settings_with(None, env(&[])).unwrap();
        assert_eq!(s.prometheus.url, "http://file:9090/prometheus");
        assert_eq!(s.prometheus.concurrency, 3);
        assert!(matches!(s.prometheus.auth, AuthConfig::Basic { .. }));
        let e = &s.engine;
        assert_eq!(e.cluster_label, "cluster");
        assert_eq!(e.default_cluster, "prod-eu");
        assert_eq!(e.cluster_filter.as_deref(), Some("prod-eu"));
        assert_eq!(e.resolution, TimeDelta::minutes(5));
        assert_eq!(e.max_query_window, TimeDelta::hours(6));
        assert_eq!(e.node_labels, ["topology.kubernetes.io/zone"]);
        assert_eq!(e.default_pricing.cpu, 0.03);
        assert_eq!(
            e.default_pricing.ram_gib,
            EngineConfig::default().default_pricing.ram_gib
        );
        assert_eq!(e.concurrency, 3);
    }

    #[test]
    fn environment_beats_file_and_flags_beat_both() {
        let f = file(FILE);
        let vars = [
            ("PROMETHEUS_SERVER_ENDPOINT", "http://env:9090"),
            ("MAX_QUERY_CONCURRENCY", "8"),
            ("DB_BEARER_TOKEN", "tok"),
        ];
        let args = SettingsArgs {
            config: Some(f.path().to_owned()),
            ..SettingsArgs::default()
        };
        let s = args.settings_with(None, env(&vars)).unwrap();
        assert_eq!(s.prometheus.url, "http://env:9090");
        assert_eq!(s.prometheus.concurrency, 8);
        assert!(matches!(s.prometheus.auth, AuthConfig::Bearer { .. }));
        // Headers the environment does not name stay.
        assert!(format!("{:?}", s.prometheus.headers).contains("team-a"));

        // Flags (clap has already folded PROM_CLUSTER_ID_LABEL & co. in).
        let args = SettingsArgs {
            config: Some(f.path().to_owned()),
            resolution: Some(TimeDelta::minutes(1)),
            cluster_label: Some("k8s_cluster".into()),
            cluster_id: Some("prod-us".into()),
            cluster_filter: Some(false),
            concurrency: Some(2),
            node_labels: Some(vec!["a".into(), " ".into(), "b ".into()]),
            no_rules: true,
        };
        let s = args
            .settings_with(Some("http://flag:9090"), env(&vars))
            .unwrap();
        assert_eq!(s.prometheus.url, "http://flag:9090");
        assert_eq!(s.prometheus.concurrency, 2);
        assert_eq!(s.engine.concurrency, 2);
        assert_eq!(s.engine.resolution, TimeDelta::minutes(1));
        assert_eq!(s.engine.cluster_label, "k8s_cluster");
        assert_eq!(s.engine.default_cluster, "prod-us");
        assert_eq!(s.engine.cluster_filter, None);
        assert_eq!(s.engine.node_labels, ["a", "b"]);
        assert_eq!(s.engine.rules, costetl_core::plan::RulesMode::Ignore);
    }

    #[test]
    fn bad_files_name_the_file_and_the_key() {
        let cases = [
            ("[prometheus]\nurll = \"x\"\n", "urll"),
            ("[engine]\nresolution = \"soon\"\n", "engine.resolution"),
            ("[engine]\nresolution = \"0s\"\n", "engine.resolution"),
            (
                "[engine.default_pricing]\ncpu = -1.0\n",
                "default_pricing.cpu",
            ),
            ("[prometheus\n", "config file"),
            ("[storage]\n", "storage"),
            // The line and column, never the line's text or a quoted value.
            (
                "[prometheus]\nurl = \"http://h:9090\"\nconcurrency = \"hunter2-secret\"\n",
                "line 3, column 15",
            ),
            ("[prometheus]\nurl = \"http://h:9090\nx = 1\n", "line 2"),
        ];
        for (text, want) in cases {
            let f = file(text);
            let args = SettingsArgs {
                config: Some(f.path().to_owned()),
                ..SettingsArgs::default()
            };
            let err = format!("{:#}", args.settings_with(None, env(&[])).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains("hunter2") && !err.contains("h:9090"), "{err}");
            assert!(
                err.contains(&f.path().display().to_string()),
                "{text:?}: {err}"
            );
        }
        let args = SettingsArgs {
            config: Some("no/such/costetl.toml".into()),
            ..SettingsArgs::default()
        };
        let err = format!("{:#}", args.settings_with(None, env(&[])).unwrap_err());
        assert!(err.contains("no/such/costetl.toml"), "{err}");
    }

    #[test]
    fn bad_environment_names_the_variable() {
        let err = SettingsArgs::default()
            .settings_with(None, env(&[("INSECURE_SKIP_VERIFY", "maybe")]))
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("INSECURE_SKIP_VERIFY"),
            "{err:#}"
        );
    }

    /// Every TOML example in docs/configuration.md parses, so the page
    /// cannot drift from the code.
    #[test]
    fn documented_examples_parse() {
        let doc = include_str!("../../../docs/configuration.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect();
        assert_eq!(blocks.len(), 3);
        for block in blocks {
            let f = file(block);
            let args = SettingsArgs {
                config: Some(f.path().to_owned()),
                ..SettingsArgs::default()
            };
            let s = args
                .settings_with(None, env(&[]))
                .unwrap_or_else(|e| panic!("{e:#}\n{block}"));
            assert!(s.prometheus.url.starts_with("https://"), "{block}");
        }
    }
}
