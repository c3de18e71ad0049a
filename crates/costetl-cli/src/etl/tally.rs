//! What a build or sync run did, as typed events: each window or
//! cluster-window written, kept, failed, empty or skipped, with the
//! numbers and the reason. Rendered as the lines people read, or as JSON.

use costetl_core::{Warning, Window};
use serde::Serialize;

/// What happened to one window or cluster-window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Stored.
    Written,
    /// The stored file is kept (the policy said why).
    Kept,
    /// Could not be computed or stored; the others went on.
    Failed,
    /// The source had no allocation in the window.
    Empty,
    /// Not attempted (a window that began less than a minute ago).
    Skipped,
}

/// One line of a run's report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Event {
    pub(crate) outcome: Outcome,
    /// The cluster; none for what concerns a whole window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cluster: Option<String>,
    pub(crate) window: Window,
    /// For a stored or kept file: its rows, total cost and size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<FileFacts>,
    pub(crate) reason: String,
}

/// The numbers of a file a run stored or kept out.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct FileFacts {
    pub(crate) allocations: u64,
    pub(crate) total_cost: f64,
    pub(crate) bytes: u64,
}

impl Event {
    /// The line people read (stable: tests and scripts grep it).
    fn line(&self) -> String {
        let verb = match self.outcome {
            Outcome::Written => "written",
            Outcome::Kept => "KEPT   ",
            Outcome::Failed => "FAILED ",
            Outcome::Empty => "EMPTY  ",
            Outcome::Skipped => "skipped",
        };
        let what = match &self.cluster {
            Some(c) => format!("{c} {}", self.window),
            None => self.window.to_string(),
        };
        match self.file {
            Some(f) => format!(
                "{verb} {what}: {} allocations, ${:.2}, {} bytes: {}\n",
                f.allocations, f.total_cost, f.bytes, self.reason
            ),
            None => format!("{verb} {what}: {}\n", self.reason),
        }
    }
}

/// Everything a run did, and the computations' warnings.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Tally {
    pub(crate) events: Vec<Event>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<Warning>,
}

impl Tally {
    /// Record what happened to `window` (of `cluster`, if any).
    pub(crate) fn push(
        &mut self,
        outcome: Outcome,
        cluster: Option<&str>,
        window: Window,
        reason: impl Into<String>,
    ) {
        self.events.push(Event {
            outcome,
            cluster: cluster.map(str::to_owned),
            window,
            file: None,
            reason: reason.into(),
        });
    }

    /// Record a file stored or kept.
    pub(crate) fn file(
        &mut self,
        outcome: Outcome,
        cluster: &str,
        window: Window,
        file: FileFacts,
        reason: &str,
    ) {
        self.push(outcome, Some(cluster), window, reason);
        if let Some(e) = self.events.last_mut() {
            e.file = Some(file);
        }
    }

    /// How many events had `outcome`; `whole` counts those about whole
    /// windows (no cluster) rather than cluster-windows.
    pub(crate) fn count(&self, outcome: Outcome, whole: bool) -> usize {
        (self.events.iter())
            .filter(|e| e.outcome == outcome && e.cluster.is_none() == whole)
            .count()
    }

    /// The lines people read, in order.
    pub(crate) fn text(&self) -> String {
        self.events.iter().map(Event::line).collect()
    }
}
