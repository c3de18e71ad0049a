//! The allocation query, as OpenCost's `/allocation/compute` runs it on
//! loaded sets:
//! 1. keep the sets whose window lies inside the query's window;
//! 2. drop idle allocations unless idle is asked for (OpenCost's
//!    `includeIdle=false`);
//! 3. aggregate each set (filter, idle and shared-cost distribution);
//! 4. accumulate the aggregated sets over time (by name, after
//!    aggregation).
//!
//! What the filter removed is accumulated alongside, so every report says
//! how much it left out. An embedding service calls [`AllocationQuery::run`]
//! and gets what the CLI prints; [`AllocationQuery::start`] takes the sets
//! one at a time (a fleet read file by file).

use crate::aggregate::{AggregationOptions, FILTERED};
use crate::allocation::Allocation;
use crate::error::Result;
use crate::properties::AggregationProperty;
use crate::set::{Accumulate, AllocationSet, AllocationSetRange};
use crate::window::Window;

/// Everything the pipeline needs besides the sets.
#[derive(Clone, Debug, Default)]
pub struct AllocationQuery {
    /// Keep only sets inside this window.
    pub window: Option<Window>,
    /// Keep idle allocations (otherwise they are dropped first).
    pub include_idle: bool,
    /// `None`: keep names; `Some(&[])`: one bucket.
    pub aggregate: Option<Vec<AggregationProperty>>,
    /// Filter, idle and sharing options.
    pub options: AggregationOptions,
    /// Accumulation after aggregation.
    pub accumulate: Accumulate,
}

/// One output set and what the filter removed from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The aggregated (and accumulated) allocations.
    pub set: AllocationSet,
    /// Everything the filter excluded, idle and shared cost included.
    pub filtered_out: Allocation,
}

impl AllocationQuery {
    /// Run the query on `sets`.
    ///
    /// # Errors
    ///
    /// The aggregation's (invalid shared hourly costs) and the
    /// accumulation's (a set straddling a period boundary) errors.
    pub fn run(&self, sets: Vec<AllocationSet>) -> Result<Vec<Report>> {
        let mut run = self.start();
        for set in sets {
            run.push(set)?;
        }
        run.finish()
    }

    /// Run the query on sets handed over one at a time: each is
    /// aggregated when pushed and only its aggregate is kept, so a fleet's
    /// files can be read one by one in bounded memory.
    pub fn start(&self) -> QueryRun<'_> {
        QueryRun {
            query: self,
            aggregated: Vec::new(),
            filtered: Vec::new(),
        }
    }

    /// Whether aggregating each cluster's part of a window on its own and
    /// adding up the aggregates gives what aggregating the whole window
    /// gives. Idle is shared per cluster (or node), so it is; shared
    /// namespaces, labels and hourly costs are spread over every cluster's
    /// allocations, so with any of them it is not.
    pub fn per_cluster(&self) -> bool {
        let o = &self.options;
        o.share_namespaces.is_empty()
            && o.share_labels.is_empty()
            && o.shared_hourly_costs.is_empty()
    }

    /// Whether a set of window `w` lies inside the query's window.
    fn selects(&self, w: Window) -> bool {
        self.window
            .is_none_or(|q| w.start() >= q.start() && w.end() <= q.end())
    }
}

/// A query being run set by set; see [`AllocationQuery::start`].
#[derive(Debug)]
pub struct QueryRun<'q> {
    query: &'q AllocationQuery,
    /// One aggregated set per window, in the order pushed.
    aggregated: Vec<AllocationSet>,
    /// What the filter removed, in a one-allocation set per window, so
    /// accumulation buckets it exactly like the sets.
    filtered: Vec<AllocationSet>,
}

impl QueryRun<'_> {
    /// Aggregate `set` (unless its window is outside the query's) and keep
    /// the result as the next window's.
    ///
    /// # Errors
    ///
    /// The aggregation's.
    pub fn push(&mut self, set: AllocationSet) -> Result<()> {
        self.aggregate(set, false)
    }

    /// As [`QueryRun::push`] for one cluster's part of a window: added to
    /// the aggregate of the set pushed before if that has the same window.
    /// Exact when [`AllocationQuery::per_cluster`] holds; otherwise merge
    /// the window's parts first and [`QueryRun::push`] it.
    ///
    /// # Errors
    ///
    /// The aggregation's.
    pub fn push_part(&mut self, set: AllocationSet) -> Result<()> {
        self.aggregate(set, true)
    }

    fn aggregate(&mut self, set: AllocationSet, part: bool) -> Result<()> {
        let q = self.query;
        let w = set.window();
        if !q.selects(w) {
            return Ok(());
        }
        let set = if q.include_idle {
            set
        } else {
            without_idle(set)
        };
        let agg = set.into_aggregate_by(q.aggregate.as_deref(), &q.options)?;
        let mut f = AllocationSet::new(w);
        f.insert(agg.filtered_out);
        // A part is added to its window's aggregate; a window to the
        // aggregate of its accumulation bucket, now rather than at
        // `finish`, so that only one aggregate per bucket is kept.
        match (self.aggregated.last_mut(), self.filtered.last_mut()) {
            (Some(last), Some(last_f))
                if (part && last.window() == w) || q.accumulate.same_bucket(last.window(), w) =>
            {
                last.accumulate(&agg.set);
                last_f.accumulate(&f);
            }
            _ => {
                self.aggregated.push(agg.set);
                self.filtered.push(f);
            }
        }
        Ok(())
    }

    /// Accumulate the aggregates over time into the reports.
    ///
    /// # Errors
    ///
    /// The accumulation's (a set straddling a period boundary).
    pub fn finish(self) -> Result<Vec<Report>> {
        let by = self.query.accumulate;
        let sets = AllocationSetRange::new(self.aggregated).accumulate(by)?;
        let filtered = AllocationSetRange::new(self.filtered).accumulate(by)?;
        Ok(sets
            .sets
            .into_iter()
            .zip(filtered.sets)
            .map(|(set, mut f)| {
                let filtered_out = f
                    .remove(FILTERED)
                    .unwrap_or_else(|| Allocation::new(FILTERED, set.window()));
                Report { set, filtered_out }
            })
            .collect())
    }
}

/// `set` without its idle allocations.
fn without_idle(mut set: AllocationSet) -> AllocationSet {
    set.retain(|a| !a.is_idle());
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::mock_set_cluster_idle;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn two_days() -> Vec<AllocationSet> {
        let d0 = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        vec![
            mock_set_cluster_idle(d0),
            mock_set_cluster_idle(d0 + TimeDelta::days(1)),
        ]
    }

    fn by_namespace() -> AllocationQuery {
        AllocationQuery {
            aggregate: Some(vec![AggregationProperty::Namespace]),
            accumulate: Accumulate::All,
            ..AllocationQuery::default()
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
        let r = by_namespace().run(two_days()).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].set.get("__idle__").is_none());
        assert_eq!(cost(&r[0], "namespace1"), 56.0);
        assert_eq!(r[0].set.total_cost(), 164.0);

        let q = AllocationQuery {
            include_idle: true,
            ..by_namespace()
        };
        let r = q.run(two_days()).unwrap();
        assert_eq!(cost(&r[0], "__idle__"), 60.0);
        assert_eq!(r[0].set.total_cost(), 224.0);
    }

    #[test]
    fn share_idle() {
        let mut q = AllocationQuery {
            include_idle: true,
            ..by_namespace()
        };
        q.options.share_idle = true;
        let r = q.run(two_days()).unwrap();
        assert!((cost(&r[0], "namespace1") - 85.375).abs() < 1e-9);
        assert!((r[0].set.total_cost() - 224.0).abs() < 1e-9);
    }

    #[test]
    fn filtered_out_is_accumulated() {
        let mut q = AllocationQuery {
            include_idle: true,
            ..by_namespace()
        };
        q.options.filter = Some("namespace:\"namespace1\"".parse().unwrap());
        let r = q.run(two_days()).unwrap();
        let kept = r[0].set.total_cost();
        let out = r[0].filtered_out.total_cost();
        assert!(out > 0.0);
        assert!((kept + out - 224.0).abs() < 1e-9);
        assert_eq!(r[0].set.window(), r[0].filtered_out.window);
    }

    #[test]
    fn window_keeps_sets_inside() {
        let d0 = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        let q = AllocationQuery {
            window: Some(Window::new(d0, d0 + TimeDelta::days(1)).unwrap()),
            ..AllocationQuery::default()
        };
        let r = q.run(two_days()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].set.len(), 12);
        assert_eq!(r[0].filtered_out.total_cost(), 0.0);
        // Accumulating by day keeps both days apart, each with its own
        // (empty) filtered-out remainder.
        let q = AllocationQuery {
            accumulate: Accumulate::Day,
            ..AllocationQuery::default()
        };
        let r = q.run(two_days()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].filtered_out.window, r[1].set.window());
    }
}
