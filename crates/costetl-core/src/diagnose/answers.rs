//! The decoded answers (or errors) to the plan's queries, by query id.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::promjson::{self, QueryResult};

/// The decoded answer (or the error) of each query, by query id.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    by_id: HashMap<String, Result<QueryResult>>,
}

impl Answers {
    /// Record the outcome of query `id`.
    pub fn insert(&mut self, id: impl Into<String>, r: Result<QueryResult>) {
        self.by_id.insert(id.into(), r);
    }

    /// Decode and record a response body for query `id`.
    pub fn insert_body(&mut self, id: &str, body: &[u8]) {
        self.insert(id, promjson::decode(id, body));
    }

    pub(super) fn get(&self, id: &str) -> std::result::Result<&QueryResult, String> {
        match self.by_id.get(id) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("query {id}: no answer was supplied")),
        }
    }

    /// The error query `id` failed with, if it did.
    pub(super) fn error(&self, id: &str) -> Option<&Error> {
        self.by_id.get(id).and_then(|r| r.as_ref().err())
    }
}
