//! The tool side of the loop, as the model and the controller see it: the catalog entry of a
//! tool, a planned call, its outcome and usage, and the typed kind of a failure.
//!
//! Invariant: nothing here knows how a tool runs. The runtime maps its executor's outcome
//! into a [`ToolOutcome`]; a failure's [`ToolFailureKind`] is a type, never free text.

use serde::{Deserialize, Serialize};

/// What to do when a tool call fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorPolicy {
    /// The structured error becomes the tool result; the loop goes on.
    #[default]
    ToModel,
    /// Transient failures are retried up to `max_retries` times, then go to the model.
    Retry {
        /// Retries after the first attempt.
        max_retries: u32,
    },
    /// The run ends with the error.
    Abort,
}

/// One tool offered to the model, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCatalogEntry {
    /// The name the model calls it by; unique in a catalog.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub args_schema: serde_json::Value,
    /// Run this tool's calls one after another, never alongside other calls.
    #[serde(default)]
    pub sequential: bool,
    /// What to do when a call fails (default: tell the model).
    #[serde(default)]
    pub error_policy: ErrorPolicy,
}

impl ToolCatalogEntry {
    /// An entry with the default policy (concurrent, errors to the model).
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        args_schema: serde_json::Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            args_schema,
            sequential: false,
            error_policy: ErrorPolicy::ToModel,
        }
    }
}

/// Resources one tool call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUsage {
    /// Wasm fuel units burned (instantiation included).
    pub fuel: u64,
    /// Wall-clock time of the call, in milliseconds.
    pub wall_ms: u64,
    /// Largest linear memory the guest had, in bytes.
    pub peak_memory: u64,
    /// Bytes sent into the guest (tool name and arguments).
    pub bytes_in: u64,
    /// Bytes of output returned.
    pub bytes_out: u64,
    /// Outgoing HTTP requests the tool attempted (allowed or not).
    pub http_requests: u64,
    /// HTTP request body bytes the tool sent.
    #[serde(default)]
    pub http_bytes_sent: u64,
    /// HTTP response body bytes the tool received.
    #[serde(default)]
    pub http_bytes_received: u64,
}

/// What kind of failure a tool call ended in. Serialised in snake case (`out_of_fuel`), the
/// names the sandbox and the `--json` events use.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolFailureKind {
    /// The arguments are not JSON or do not match the tool's schema.
    InvalidArguments,
    /// No loaded tool has that name.
    UnknownTool,
    /// The call used up its fuel.
    OutOfFuel,
    /// The call ran past its deadline.
    Timeout,
    /// The call asked for more memory than its limit.
    MemoryLimit,
    /// The call hit a limit on host resources (handles, open files, table elements).
    ResourceLimit,
    /// The guest overflowed its stack.
    StackOverflow,
    /// The call's output was larger than its cap.
    OutputTooLarge,
    /// The call hit another per-call cap (bytes written, HTTP bodies, ...).
    LimitExceeded,
    /// The call tried something its policy does not grant.
    CapabilityDenied,
    /// The guest trapped.
    Trap,
    /// The tool ran and reported an error of its own.
    ToolFailed,
    /// The tool's output was not valid (not UTF-8, not what it declared).
    InvalidOutput,
    /// The host failed to run the call; not the tool's doing.
    Internal,
}

impl ToolFailureKind {
    /// The snake-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArguments => "invalid_arguments",
            Self::UnknownTool => "unknown_tool",
            Self::OutOfFuel => "out_of_fuel",
            Self::Timeout => "timeout",
            Self::MemoryLimit => "memory_limit",
            Self::ResourceLimit => "resource_limit",
            Self::StackOverflow => "stack_overflow",
            Self::OutputTooLarge => "output_too_large",
            Self::LimitExceeded => "limit_exceeded",
            Self::CapabilityDenied => "capability_denied",
            Self::Trap => "trap",
            Self::ToolFailed => "tool_failed",
            Self::InvalidOutput => "invalid_output",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ToolFailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a tool call produced no output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFailure {
    /// What kind of failure it was.
    pub kind: ToolFailureKind,
    /// What the model is told.
    pub message: String,
    /// Whether running the call again may succeed.
    pub transient: bool,
}

/// The outcome of one call, fed back by the driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutcome {
    /// The [`PlannedCall::call_id`] this answers.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The tool's output, or why there is none.
    pub result: Result<String, ToolFailure>,
    /// What the call used.
    pub usage: ToolUsage,
}

/// One call to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCall {
    /// The model's id of the call; its [`ToolOutcome`] carries it back.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// Arguments, already validated against the tool's schema.
    pub arguments: serde_json::Value,
    /// Run alone: wait for the calls before it, start the ones after it only when done.
    pub sequential: bool,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}
