//! What a diagnosis says: a status per check and cluster, with the detail
//! and the PromQL behind it.

use std::fmt;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The data is there.
    Pass,
    /// Something optional is missing, or a problem the engine works around.
    Warn,
    /// Costs will be wrong or missing until this is fixed.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check for one cluster (or for the whole backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Stable id of the check (`cadvisor_memory`, `duplicate_ksm`, …; see
    /// the module docs).
    pub check: String,
    /// The cluster the outcome is about, when the check is per cluster.
    pub cluster: Option<String>,
    /// What was checked, for people: `cluster a: container_memory_working_set_bytes`.
    pub name: String,
    /// Pass, warn or fail.
    pub status: Status,
    /// What was found, naming the culprits and the consequence.
    pub detail: String,
    /// The PromQL that was run.
    pub query: String,
}

/// A whole diagnosis: the clusters found and how each check came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    /// The clusters with any series of the presence checks, sorted
    /// (unlabelled series count for the default cluster where the engine
    /// would put them there).
    pub clusters: Vec<String>,
    /// One outcome per check and cluster, in check order; only the
    /// connectivity check's when the backend does not answer.
    pub outcomes: Vec<CheckOutcome>,
    /// One line for people when no check found any series at the
    /// evaluation time: the data may be older (`--at`), and where the
    /// probe found the latest sample.
    pub hint: Option<String>,
}

impl Diagnosis {
    /// How many outcomes have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}
