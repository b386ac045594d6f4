//! A tool call waiting for a person: what a paused run keeps in its checkpoint, and the
//! decision that resumes it.
//!
//! Invariant: a run is paused for at most one call at a time; the decision is recorded in
//! the store before the run continues, so a decision survives the process that took it.

use serde::{Deserialize, Serialize};
use warden_core::tool::PlannedCall;

/// The call a paused run waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// The call, with its arguments.
    pub call: PlannedCall,
    /// What it would be allowed to do (directories, hosts), one line each.
    pub grants: Vec<String>,
}

/// A person's decision on a [`PendingApproval`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run the call.
    Approve,
    /// Do not run it; the model is told why.
    Reject {
        /// The reason given, if any.
        reason: Option<String>,
    },
}
