//! Decoded query results by id, and what fetching them cost.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::plan::QueryId;
use rayon::prelude::*;

use crate::promjson::{self, QueryResult};
use crate::source::{QuerySpec, SourceErrorKind};

/// Decoded results of one window's queries, by query id. Each result is
/// shared: a copy of the whole (the uid fix, which changes a few results
/// of a mixed-version fleet) copies only the results it changes.
#[derive(Clone, Debug, Default)]
pub struct Results {
    by_id: HashMap<String, Arc<QueryResult>>,
}

impl Results {
    /// Every body of `bodies` decoded, in parallel on rayon's pool (one
    /// body per task: bodies are independent, and the largest take most
    /// of the time, so they run side by side).
    ///
    /// # Errors
    ///
    /// The first body that does not decode, as [`promjson::decode`] says.
    pub fn decode_all<B: AsRef<[u8]> + Sync>(bodies: &[(QuerySpec, B)]) -> Result<Self> {
        let decoded: Vec<(String, Arc<QueryResult>)> = bodies
            .par_iter()
            .map(|(q, body)| {
                let r = promjson::decode(&q.id, body.as_ref())?;
                Ok((q.id.clone(), Arc::new(r)))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            by_id: decoded.into_iter().collect(),
        })
    }

    /// Record the result of query `id`.
    pub fn insert(&mut self, id: impl Into<String>, r: QueryResult) {
        self.by_id.insert(id.into(), Arc::new(r));
    }

    /// Add every result of `other`.
    pub fn extend(&mut self, other: Results) {
        self.by_id.extend(other.by_id);
    }

    /// The result of `id`; an error naming the query when it was not
    /// supplied.
    pub(crate) fn get(&self, id: QueryId) -> Result<&QueryResult> {
        self.by_id
            .get(id.as_str())
            .map(|r| &**r)
            .ok_or_else(|| Error::Source {
                query: id.as_str().to_owned(),
                message: "no result was supplied for this query".into(),
                kind: SourceErrorKind::Permanent,
            })
    }

    /// The result of `id` to change, if supplied (copied first if another
    /// `Results` shares it).
    pub(crate) fn get_mut(&mut self, id: QueryId) -> Option<&mut QueryResult> {
        self.by_id.get_mut(id.as_str()).map(Arc::make_mut)
    }

    /// Whether `a` and `b` hold the very same result of `id` (not a copy).
    #[cfg(test)]
    pub(crate) fn shares(a: &Results, b: &Results, id: QueryId) -> bool {
        match (a.by_id.get(id.as_str()), b.by_id.get(id.as_str())) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            _ => false,
        }
    }

    /// Every result, ordered by id (for deterministic warnings).
    pub(crate) fn sorted(&self) -> Vec<(&str, &QueryResult)> {
        let mut v: Vec<(&str, &QueryResult)> =
            self.by_id.iter().map(|(k, r)| (k.as_str(), &**r)).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }
}

/// What fetching one window cost: the figure to compare with OpenCost's
/// plan on the same data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Queries sent.
    pub queries: usize,
    /// Response bytes received.
    pub bytes: usize,
    /// Series received.
    pub series: usize,
    /// Samples received.
    pub samples: usize,
    /// The largest single response, in bytes.
    pub largest: usize,
}

impl FetchStats {
    pub(crate) fn add(&mut self, o: FetchStats) {
        self.queries += o.queries;
        self.bytes += o.bytes;
        self.series += o.series;
        self.samples += o.samples;
        self.largest = self.largest.max(o.largest);
    }
}
