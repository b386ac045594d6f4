//! What the loop knows of guardrails: the stage a check ran at and a check's verdict. The
//! checks themselves (Rust functions, sandboxed components, other agents) live in `warden`;
//! this crate only carries their outcome in events and stop reasons.
//!
//! Invariant: a verdict that trips always carries a message saying why (an empty one is
//! replaced by a generic sentence), so a stop reason or a vetoed call never says nothing.

use serde::{Deserialize, Serialize};

/// Where in a run a guardrail checks.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStage {
    /// The user's input, before or while the first model call runs.
    Input,
    /// The run's final output.
    Output,
    /// One tool call, before it runs (a trip vetoes that call only).
    ToolCall,
}

impl GuardrailStage {
    /// The snake-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::ToolCall => "tool_call",
        }
    }
}

impl std::fmt::Display for GuardrailStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Input => "the input",
            Self::Output => "the output",
            Self::ToolCall => "a tool call",
        })
    }
}

/// A guardrail's decision: pass, or trip with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The check failed: the run ends (input, output) or the call is vetoed (tool call).
    pub tripped: bool,
    /// Why (shown to the caller, or to the model for a vetoed call).
    #[serde(default)]
    pub message: String,
}

impl Verdict {
    /// The check passed.
    pub fn pass() -> Self {
        Verdict {
            tripped: false,
            message: String::new(),
        }
    }

    /// The check failed because of `message`.
    pub fn trip(message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.trim().is_empty() {
            message = "the guardrail tripped without saying why".into();
        }
        Verdict {
            tripped: true,
            message,
        }
    }
}
