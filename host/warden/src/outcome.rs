//! The sandbox's outcome of a call, as the agent loop wants it back: the one conversion
//! between `warden-sandbox` (which knows no loop) and `warden-core` (which knows no sandbox).
//! Public, so a program driving the controller itself (see the `step_loop` example) does not
//! copy it.
//!
//! Invariant: every sandbox failure maps to a typed [`ToolFailureKind`]; one the core does not
//! know yet (the sandbox's error enum may grow) becomes `Internal` rather than being lost.

use std::time::Duration;

use warden_core::tool::{PlannedCall, ToolFailure, ToolFailureKind, ToolOutcome, ToolUsage};
use warden_sandbox::{CallOutcome, CallUsage, ToolCallError};

/// The controller's view of the executor's outcome of `call`.
pub fn tool_outcome(call: &PlannedCall, outcome: CallOutcome) -> ToolOutcome {
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result: outcome.result.map_err(|e| tool_failure(&e)),
        usage: tool_usage(&outcome.usage),
    }
}

/// A sandbox failure as the loop sees it: typed kind, the text for the model, transience.
pub fn tool_failure(error: &ToolCallError) -> ToolFailure {
    ToolFailure {
        kind: failure_kind(error),
        message: error.message_for_model(),
        transient: error.is_transient(),
    }
}

/// What a call used, in the loop's units.
pub fn tool_usage(usage: &CallUsage) -> ToolUsage {
    ToolUsage {
        fuel: usage.fuel_consumed,
        wall_ms: duration_ms(usage.wall_time),
        peak_memory: usage.peak_memory_bytes,
        bytes_in: usage.bytes_in,
        bytes_out: usage.bytes_out,
        http_requests: u64::from(usage.http_requests),
        http_bytes_sent: usage.http_bytes_sent,
        http_bytes_received: usage.http_bytes_received,
    }
}

fn failure_kind(error: &ToolCallError) -> ToolFailureKind {
    use ToolCallError as E;
    use ToolFailureKind as K;
    match error {
        E::InvalidArguments { .. } => K::InvalidArguments,
        E::UnknownTool { .. } => K::UnknownTool,
        E::OutOfFuel { .. } => K::OutOfFuel,
        E::Timeout { .. } => K::Timeout,
        E::MemoryLimit { .. } => K::MemoryLimit,
        E::ResourceLimit { .. } => K::ResourceLimit,
        E::StackOverflow => K::StackOverflow,
        E::OutputTooLarge { .. } => K::OutputTooLarge,
        E::LimitExceeded { .. } => K::LimitExceeded,
        E::CapabilityDenied { .. } => K::CapabilityDenied,
        E::Trap { .. } => K::Trap,
        E::ToolFailed { .. } => K::ToolFailed,
        E::InvalidOutput { .. } => K::InvalidOutput,
        E::Internal { .. } => K::Internal,
        // The sandbox's error enum is non-exhaustive: a kind added later is not lost.
        _ => K::Internal,
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed kind and the sandbox's own name for it agree, for every failure the sandbox
    /// reports: the `--json` events and the model's text keep their names.
    #[test]
    fn every_sandbox_failure_keeps_its_name_as_a_typed_kind() {
        let errors = [
            ToolCallError::StackOverflow,
            ToolCallError::UnknownTool {
                name: "x".into(),
                available: vec![],
            },
            ToolCallError::InvalidArguments {
                path: String::new(),
                message: "m".into(),
            },
        ];
        for error in errors {
            assert_eq!(failure_kind(&error).as_str(), error.kind(), "{error:?}");
        }
    }
}
