//! [`AwsError`]: why credentials could not be found or a request could not
//! be signed. Messages never contain a secret.

/// What went wrong; the message names the step, file or endpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Settings, files or answers that will not work however often they
    /// are asked again (a bad region, a profile loop, an STS `AccessDenied`,
    /// an unreadable token file).
    #[error("{message}")]
    Config {
        /// What is wrong, and where.
        message: String,
    },
    /// A credentials endpoint did not answer or answered "try later"
    /// (timeouts, HTTP 5xx, throttling): trying again may succeed.
    #[error("{message}")]
    Unavailable {
        /// Which endpoint, and what it said.
        message: String,
    },
    /// No step of the chain is configured.
    #[error("no AWS credentials: tried {}", tried.join(", "))]
    NotFound {
        /// Each step and why it had nothing, in chain order.
        tried: Vec<String>,
    },
}

impl AwsError {
    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// An error that asking again will not fix.
    pub(crate) fn config(message: String) -> Self {
        Self::Config { message }
    }

    /// An endpoint's failure, transient or not by what it answered.
    pub(crate) fn answer(message: String, transient: bool) -> Self {
        if transient {
            Self::Unavailable { message }
        } else {
            Self::Config { message }
        }
    }
}

/// `e` and its sources, each once, joined by `: `.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
