//! The runtime-agnostic driver: probe the backend, split the window into
//! query windows, fetch each window's two rounds of queries with bounded
//! concurrency, join them, and halve a window the backend refuses as too
//! large.

use chrono::TimeDelta;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::plan::{self, EngineConfig, RangeSemantics, RulesMode};
use crate::promjson::{self, Series};
use crate::set::{AllocationSet, AllocationSetRange};
use crate::source::{MetricsSource, QuerySpec};
use crate::warning::{Warning, WarningKind};
use crate::window::{Period, Window};

use super::results::{FetchStats, Results};

/// The windows a long window is queried in: at most `max` each, split at
/// UTC midnights when `max` is a day so that daily sets line up with days.
pub fn query_windows(window: Window, max: TimeDelta) -> Vec<Window> {
    if max == TimeDelta::days(1) {
        window.split_at(Period::Day)
    } else {
        window.split(max)
    }
}

/// Fetch `queries` with at most `concurrency` in flight and decode them.
pub async fn fetch<S: MetricsSource>(
    src: &S,
    queries: &[QuerySpec],
    concurrency: usize,
) -> Result<(Results, FetchStats)> {
    let decoded: Vec<(String, promjson::QueryResult, usize)> = stream::iter(queries)
        .map(|q| async move {
            let raw = src.query(q).await.map_err(|e| Error::Source {
                query: q.id.clone(),
                message: e.message,
                kind: e.kind,
            })?;
            let result = promjson::decode(&q.id, &raw.body)?;
            Ok::<_, Error>((q.id.clone(), result, raw.body.len()))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut results = Results::default();
    let mut stats = FetchStats::default();
    for (id, r, bytes) in decoded {
        stats.add(FetchStats {
            queries: 1,
            bytes,
            series: r.series.len(),
            samples: r.series.iter().map(|s| s.samples.len()).sum(),
            largest: bytes,
        });
        results.insert(id, r);
    }
    Ok((results, stats))
}

/// Learn the backend's subquery range semantics with one tiny query.
pub async fn probe_range_semantics<S: MetricsSource>(
    src: &S,
    window: Window,
) -> Result<RangeSemantics> {
    let q = plan::range_probe(window);
    let (results, _) = fetch(src, std::slice::from_ref(&q), 1).await?;
    let r = results.get(plan::QueryId::RangeProbe)?;
    let v = r
        .series
        .first()
        .and_then(Series::last_value)
        .unwrap_or(f64::NAN);
    plan::range_semantics_from_probe(v).ok_or_else(|| Error::Backend {
        query: q.id.clone(),
        error_type: "unexpected".into(),
        message: format!("{} returned {v}, expected 2 or 3", q.promql),
    })
}

/// Learn cAdvisor's scrape interval (`None` without CPU series).
pub async fn probe_scrape_interval<S: MetricsSource>(
    src: &S,
    window: Window,
) -> Result<Option<TimeDelta>> {
    let q = plan::scrape_probe(window);
    let (results, _) = fetch(src, std::slice::from_ref(&q), 1).await?;
    Ok(results
        .get(plan::QueryId::ScrapeProbe)?
        .series
        .first()
        .and_then(Series::last_value)
        .and_then(|n| plan::scrape_interval_from_probe(window, n)))
}

/// Whether costetl's recording rule covers `window`'s start.
pub async fn probe_rules<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
) -> Result<RulesMode> {
    let q = plan::rules_probe(window, cfg);
    let (results, _) = fetch(src, std::slice::from_ref(&q), 1).await?;
    let count = results
        .get(plan::QueryId::RulesProbe)?
        .series
        .first()
        .and_then(Series::last_value);
    Ok(plan::rules_mode_from_probe(count))
}

/// Everything [`allocations`] produced besides the sets.
#[derive(Clone, Debug)]
pub struct Computation {
    /// One set per query window.
    pub range: AllocationSetRange,
    /// What the fetch cost, summed over windows.
    pub stats: FetchStats,
    /// The backend's subquery semantics as probed.
    pub semantics: RangeSemantics,
    /// Whether the plan read costetl's recording rule (`Use`) or not.
    pub rules: RulesMode,
}

/// Compute allocations for `window` from `src`: probe the backend (range
/// semantics; the scrape interval and the recording rule unless
/// configured), split
/// the window into query windows, fetch each window's queries and join
/// them.
///
/// When the backend refuses a query as too large (too many samples, a
/// response over its size limit, a chunk limit), that query window is
/// halved and each half computed on its own, down to
/// [`EngineConfig::min_query_window`]; the halves are merged into one set
/// for the window, with a warning saying so.
pub async fn allocations<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
) -> Result<Computation> {
    let mut cfg = cfg.clone();
    let (semantics, interval, rules) = futures::try_join!(
        probe_range_semantics(src, window),
        async {
            match cfg.scrape_interval {
                Some(_) => Ok(cfg.scrape_interval),
                None => probe_scrape_interval(src, window).await,
            }
        },
        async {
            match cfg.rules {
                RulesMode::Auto => probe_rules(src, window, &cfg).await,
                mode => Ok(mode),
            }
        }
    )?;
    cfg.scrape_interval = interval;
    cfg.rules = rules;
    let cfg = &cfg;
    let mut sets = Vec::new();
    let mut stats = FetchStats::default();
    let max = cfg
        .max_query_window
        .min(cfg.resolution * i32::try_from(cfg.max_steps_per_query.max(1)).unwrap_or(i32::MAX));
    for w in query_windows(window, max) {
        sets.push(window_set(src, w, cfg, semantics, &mut stats).await?);
    }
    Ok(Computation {
        range: AllocationSetRange::new(sets),
        stats,
        semantics,
        rules: cfg.rules,
    })
}

/// Both rounds of one window: the plan's [`FOLLOWUP_INPUTS`](super::FOLLOWUP_INPUTS), then the
/// follow-ups they call for together with the rest of the plan.
pub async fn fetch_window<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
    semantics: RangeSemantics,
) -> Result<(Results, FetchStats)> {
    let (first, rest): (Vec<QuerySpec>, Vec<QuerySpec>) = plan::plan(window, cfg, semantics)?
        .into_iter()
        .partition(|q| {
            q.id.parse()
                .is_ok_and(|id| super::FOLLOWUP_INPUTS.contains(&id))
        });
    let (mut results, mut stats) = fetch(src, &first, cfg.concurrency).await?;
    // The follow-ups first: at fine resolutions they are the heavier.
    let mut second = super::followups(window, &results, cfg, semantics)?;
    second.extend(rest);
    let (r, s) = fetch(src, &second, cfg.concurrency).await?;
    results.extend(r);
    stats.add(s);
    Ok((results, stats))
}

/// One query window's set, halving the window while the backend says the
/// queries are too large.
async fn window_set<S: MetricsSource>(
    src: &S,
    window: Window,
    cfg: &EngineConfig,
    semantics: RangeSemantics,
    stats: &mut FetchStats,
) -> Result<AllocationSet> {
    // Depth-first, earliest part first, so the parts merge in time order.
    let mut pending = vec![window];
    let mut merged: Option<AllocationSet> = None;
    let mut splits = Vec::new();
    while let Some(w) = pending.pop() {
        match fetch_window(src, w, cfg, semantics).await {
            Ok((results, s)) => {
                stats.add(s);
                let set = super::compute(w, &results, cfg)?;
                match merged.as_mut() {
                    Some(m) => m.accumulate(&set),
                    None => merged = Some(set),
                }
            }
            Err(e) if e.is_too_large() => {
                let Some((a, b)) = halve(w, cfg) else {
                    return Err(e);
                };
                tracing::info!(window = %w, error = %e, "too large for the backend: halving");
                splits.push(format!("{w} ({e})"));
                pending.push(b);
                pending.push(a);
            }
            Err(e) => return Err(e),
        }
    }
    let mut set = merged.unwrap_or_else(|| AllocationSet::new(window));
    for s in splits {
        set.warnings.push(Warning::new(
            WarningKind::Split,
            format!("the backend refused a query over {s}; computed the window in halves"),
        ));
    }
    Ok(set)
}

/// Two halves of `w` on the resolution grid, unless a half would be
/// shorter than the configured minimum.
fn halve(w: Window, cfg: &EngineConfig) -> Option<(Window, Window)> {
    let r = cfg.resolution.num_milliseconds().max(1);
    let steps = w.duration().num_milliseconds() / r;
    let half = TimeDelta::milliseconds(steps / 2 * r);
    if half < cfg.min_query_window.max(cfg.resolution) {
        return None;
    }
    let mid = w.start() + half;
    Some((
        Window::new(w.start(), mid).ok()?,
        Window::new(mid, w.end()).ok()?,
    ))
}
