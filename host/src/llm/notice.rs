//! Notices: things the LLM interface did on the caller's behalf that the run should show
//! (a wait for the rate limiter, a retry). The agent loop turns them into run events.
//!
//! Invariant: emitting never blocks and never fails; with no receiver it is a no-op.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

/// Something the interface did while serving a request.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmNotice {
    /// The client-side rate limiter held the request back.
    RateLimitWait { waited: Duration, reason: String },
    /// An attempt failed with a transient error; another starts after `delay`.
    /// `attempt` is the number of the attempt that failed (1-based).
    Retry {
        attempt: u32,
        delay: Duration,
        cause: String,
    },
}

/// Where notices go: an optional unbounded channel.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    tx: Option<UnboundedSender<LlmNotice>>,
}

impl Notices {
    /// Notices are dropped.
    pub fn none() -> Self {
        Notices { tx: None }
    }

    /// Notices are sent to `tx`.
    pub fn new(tx: UnboundedSender<LlmNotice>) -> Self {
        Notices { tx: Some(tx) }
    }

    /// Sends a notice; a closed receiver is ignored because notices are informational.
    pub fn emit(&self, notice: LlmNotice) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(notice);
        }
    }
}
