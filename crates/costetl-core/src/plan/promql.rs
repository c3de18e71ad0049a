//! PromQL text building shared by the plan and `diagnose`: durations,
//! string literals, selectors with the cluster filter, regex alternations,
//! and the window's timing (where queries are evaluated and over what).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};
use crate::window::Window;

use super::config::{EngineConfig, RangeSemantics};

/// PromQL duration text, in the largest whole unit (`1d`, `90s`, `250ms`).
pub fn dur(d: TimeDelta) -> String {
    let s = d.num_seconds();
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.num_milliseconds());
    }
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s != 0 && s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// A PromQL string literal.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `v` as an RE2 regex matching exactly `v`.
fn re_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A quoted regex matching exactly the given strings (PromQL anchors
/// regexes).
pub(crate) fn alternation<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let set: BTreeSet<&str> = values.into_iter().collect();
    let parts: Vec<String> = set.into_iter().map(re_escape).collect();
    quote(&parts.join("|"))
}

/// The largest price in $/h the plan believes (per core, GiB, GPU, node,
/// volume or balancer): no cloud charges a million dollars an hour, and a
/// sample above it is an exporter's fault.
pub(crate) const MAX_PRICE: f64 = 1e6;

/// `sel`'s samples that are a price: NaN, ±Inf, negative and implausible
/// samples dropped, each costing only its own step. Used only inside the
/// follow-ups' `scalar()` of one node's price: a comparison inside a
/// subquery costs Prometheus 5–10× the bare selector (measured on 1,806
/// containers at 1m: `running` 0.37 s → 4.05 s, a price 0.03 s → 0.17 s),
/// so the first round reads bare selectors, and a price sum that is not
/// finite makes its node priced per step by these follow-ups.
pub(crate) fn price_samples(sel: &str) -> String {
    format!("({sel} >= 0 <= {MAX_PRICE:e})")
}

/// Selectors carrying the configured cluster filter.
#[derive(Clone, Debug)]
pub(crate) struct Selectors {
    /// The cluster label.
    pub(crate) k: String,
    filter: Option<String>,
}

impl Selectors {
    pub(crate) fn new(cfg: &EngineConfig) -> Self {
        Self {
            k: cfg.cluster_label.clone(),
            filter: cfg
                .cluster_filter
                .as_ref()
                .map(|c| format!("{}={}", cfg.cluster_label, quote(c))),
        }
    }

    /// `{matchers…, <cluster filter>}`, or nothing.
    pub(crate) fn sel(&self, matchers: &[&str]) -> String {
        let mut parts: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
        if let Some(f) = &self.filter {
            parts.push(f);
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", parts.join(", "))
        }
    }

    /// A matcher for one cluster id: the default cluster also stands for
    /// series without the label.
    pub(crate) fn cluster_matcher(&self, cluster: &str, default_cluster: &str) -> String {
        if cluster == default_cluster {
            format!("{}=~{}", self.k, quote(&format!("{}|", re_escape(cluster))))
        } else {
            format!("{}={}", self.k, quote(cluster))
        }
    }
}

/// Where and over what a window's queries are evaluated.
///
/// Per-step quantities are subqueries `f(x[R:r])` evaluated once at the
/// last step `end − r`, covering exactly the window's steps; whole-window
/// lookups (metadata, constancy checks) are range selectors `[D]` at `end`;
/// functions of the raw samples (`increase`, averages and maxima of gauges)
/// read `[D] offset 1ms`, one pass over each sample whatever the resolution.
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    /// The last step.
    pub(crate) at: DateTime<Utc>,
    /// The window's end.
    pub(crate) end: DateTime<Utc>,
    /// `[R:r]`.
    pub(crate) sub: String,
    /// `[D]`.
    pub(crate) whole: String,
    /// `[D] offset 1ms`: exactly the samples in `[start, end)` whatever the
    /// range semantics (a sample at `end` belongs to the next window).
    pub(crate) samples: String,
    /// CPU used during step `[t, t + r)` is measured by a rate over a
    /// window ending at `t + r`: `rate(x[rate_range] offset -rate_lead)`.
    pub(crate) rate_range: String,
    pub(crate) rate_lead: String,
}

impl Grid {
    /// The grid of `window`, checked: aligned to the resolution, at least
    /// one step, at most the longest query window.
    pub(crate) fn new(window: Window, cfg: &EngineConfig, sem: RangeSemantics) -> Result<Self> {
        let r = cfg.resolution;
        let invalid = |reason: String| Error::InvalidWindow {
            input: window.to_string(),
            reason,
        };
        if r <= TimeDelta::zero() {
            return Err(invalid(format!("resolution {} must be positive", dur(r))));
        }
        let rs = r.num_milliseconds();
        if window.start().timestamp_millis() % rs != 0 || window.end().timestamp_millis() % rs != 0
        {
            return Err(invalid(format!(
                "window must be aligned to the resolution {}",
                dur(r)
            )));
        }
        if window.duration() < r {
            return Err(invalid(format!(
                "window is shorter than the resolution {}",
                dur(r)
            )));
        }
        if window.duration() > cfg.max_query_window {
            return Err(invalid(format!(
                "window is longer than the longest query window {}; split it first",
                dur(cfg.max_query_window)
            )));
        }
        let range = match sem {
            RangeSemantics::LeftOpen => window.duration(),
            // Any range in (D − r, D] excludes the step before the window
            // when the left edge is closed; half a step keeps it positive
            // for D = r.
            RangeSemantics::LeftClosed => window.duration() - r / 2,
        };
        Ok(Self {
            at: window.end() - r,
            end: window.end(),
            sub: format!("[{}:{}]", dur(range), dur(r)),
            whole: format!("[{}]", dur(window.duration())),
            samples: format!("[{}] offset 1ms", dur(window.duration())),
            // Two scrape intervals past the step (at least a minute) keep
            // two samples in the rate's window.
            rate_range: dur(r
                + (cfg.scrape_interval.unwrap_or(TimeDelta::seconds(30)) * 2)
                    .max(TimeDelta::minutes(1))),
            rate_lead: dur(r),
        })
    }

    /// `rate(metric{sel}[r + 1m] offset -r)`: the per-second rate during
    /// the step starting at the evaluation time.
    pub(crate) fn forward_rate(&self, metric_sel: &str) -> String {
        format!(
            "rate({metric_sel}[{}] offset -{})",
            self.rate_range, self.rate_lead
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_unit() {
        assert_eq!(dur(TimeDelta::days(1)), "1d");
        assert_eq!(dur(TimeDelta::seconds(86_370)), "86370s");
        assert_eq!(dur(TimeDelta::minutes(2)), "2m");
        assert_eq!(dur(TimeDelta::milliseconds(1500)), "1500ms");
    }

    #[test]
    fn alternations_escape_and_sort() {
        assert_eq!(alternation(["b.c", "a", "a"]), r#""a|b\\.c""#);
        let s = Selectors::new(&EngineConfig::default());
        assert_eq!(
            s.cluster_matcher("default-cluster", "default-cluster"),
            r#"cluster_id=~"default-cluster|""#
        );
        assert_eq!(s.cluster_matcher("a.b", "x"), r#"cluster_id="a.b""#);
    }
}
