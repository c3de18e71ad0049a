//! [`EtlStore::query`]: an allocation query over a fleet's files, read file
//! by file.
//!
//! Each file (one cluster's window) is aggregated as it arrives and only
//! the aggregates are kept, so a month of a hundred clusters reads in the
//! memory of a few files rather than of the month. When the query shares
//! cost across clusters (shared namespaces, labels or hourly costs;
//! [`AllocationQuery::per_cluster`]) a window's files are merged first and
//! aggregated together, which holds one window's sets at a time.
//!
//! A file missing for a cluster the store knows, or one that does not
//! decode, becomes a warning on its window: a gap never passes for a cheap
//! day.

use costetl_core::etl::{EtlKey, Resolution};
use costetl_core::{
    AllocationQuery, AllocationSet, QueryRun, Report, Warning, WarningKind, Window,
};
use futures::TryStreamExt;

use crate::Result;
use crate::error::StoreError;
use crate::store::{EtlStore, FileRead};

/// What [`EtlStore::query`] gives.
#[derive(Debug)]
pub struct FleetQuery {
    /// The query's reports, one per (accumulated) window.
    pub reports: Vec<Report>,
    /// Files found (decoded or not); 0 means the store holds nothing for
    /// the range.
    pub files: usize,
    /// Cluster-windows without a file.
    pub missing: usize,
    /// Files that did not decode.
    pub damaged: usize,
}

impl EtlStore {
    /// Run `query` on every cluster's files (`clusters`: only these) for
    /// the windows of `range` at `resolution`, reading them one by one;
    /// see the [module docs](self).
    ///
    /// # Errors
    ///
    /// As [`EtlStore::fleet_keys`] and [`EtlStore::read_each`], and
    /// [`StoreError::Query`] for the query's own errors.
    pub async fn query(
        &self,
        clusters: Option<&[String]>,
        resolution: Resolution,
        range: Window,
        query: &AllocationQuery,
    ) -> Result<FleetQuery> {
        let keys = self.fleet_keys(clusters, resolution, range).await?;
        let mut sink = Sink::new(query);
        let (mut files, mut missing, mut damaged) = (0, 0, 0);
        let mut reads = std::pin::pin!(self.read_each(keys));
        while let Some((key, got)) = reads.try_next().await? {
            let part = match got {
                FileRead::Found(found) => {
                    files += 1;
                    found.0
                }
                FileRead::Missing => {
                    missing += 1;
                    let text = format!(
                        "ETL store has no file for cluster {} in {}: its cost is missing here",
                        key.cluster, key.window
                    );
                    gap(&key, WarningKind::MissingFile, text)
                }
                FileRead::Damaged(why) => {
                    (files, damaged) = (files + 1, damaged + 1);
                    let text = format!(
                        "ETL file of cluster {} for {} does not decode, its cost is missing \
                         here (`costetl etl sync --verify` rebuilds it): {why}",
                        key.cluster, key.window
                    );
                    gap(&key, WarningKind::DamagedFile, text)
                }
            };
            sink.push(part)?;
        }
        Ok(FleetQuery {
            reports: sink.finish()?,
            files,
            missing,
            damaged,
        })
    }
}

/// An empty set of `key`'s window carrying the warning that its cluster's
/// cost is missing there.
fn gap(key: &EtlKey, kind: WarningKind, text: String) -> AllocationSet {
    let mut set = AllocationSet::new(key.window);
    set.warnings
        .push(Warning::new(kind, text).cluster(&key.cluster));
    set
}

/// Where the files' sets go: straight into the query run when each
/// cluster may be aggregated on its own, else merged per window first.
struct Sink<'q> {
    run: QueryRun<'q>,
    per_cluster: bool,
    /// The window being merged (only when not `per_cluster`).
    window: Option<AllocationSet>,
}

impl<'q> Sink<'q> {
    fn new(query: &'q AllocationQuery) -> Self {
        Self {
            run: query.start(),
            per_cluster: query.per_cluster(),
            window: None,
        }
    }

    fn push(&mut self, part: AllocationSet) -> Result<()> {
        if self.per_cluster {
            return self.run.push_part(part).map_err(query_error);
        }
        match &mut self.window {
            Some(merged) if merged.window() == part.window() => merged.accumulate(&part),
            _ => {
                if let Some(done) = self.window.replace(part) {
                    self.run.push(done).map_err(query_error)?;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Report>> {
        if let Some(done) = self.window.take() {
            self.run.push(done).map_err(query_error)?;
        }
        self.run.finish().map_err(query_error)
    }
}

fn query_error(error: costetl_core::Error) -> StoreError {
    StoreError::Query { error }
}
