//! Agents as tools: an agent offered to another as a tool. The caller's model calls it with
//! an `input`; the callee runs its own loop to a final answer — its own instructions, model,
//! tools and grants, under a budget carved out of what the caller has left — and that
//! answer is the tool result.
//!
//! Invariant: the callee's run is a child of the caller's: it is cancelled with it, its
//! events reach the caller's sink wrapped in `RunEvent::Nested` with the agent path and the
//! id of the call that started it (so two calls of one agent in a turn are told apart),
//! and its usage is charged to the caller (see `run::execute_host`).

use std::sync::Arc;

use serde::Deserialize;

use super::HostBinding;
use crate::runner::{Agent, SetupError};
use warden_core::run::{RunResult, StopReason};
use warden_core::tool::{ToolCatalogEntry, ToolFailure, ToolFailureKind};

/// An agent offered to another as a tool. See the module docs.
#[derive(Clone)]
pub struct AgentTool {
    agent: Agent,
    name: String,
    description: String,
}

/// The arguments the caller's model gives an agent tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentToolArgs {
    /// The task for the callee: its first user message.
    pub(crate) input: String,
}

impl AgentTool {
    /// `agent` as a tool named after it, described to the caller's model by `description`
    /// (say what it is good at and what input it needs).
    pub fn new(agent: Agent, description: impl Into<String>) -> Self {
        Self {
            name: agent.name().to_owned(),
            agent,
            description: description.into(),
        }
    }

    /// Calls the tool `name` instead of the agent's name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The agent that runs.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn entry(&self) -> ToolCatalogEntry {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "description": "The task for the agent, with everything it needs to know"
                }
            },
            "required": ["input"],
            "additionalProperties": false
        });
        ToolCatalogEntry::new(&self.name, &self.description, schema)
    }
}

/// The tool result of a callee's run: its answer, or why there is none.
pub(crate) fn answer_of(callee: &str, result: &RunResult) -> Result<String, ToolFailure> {
    let answered = matches!(
        result.stop_reason,
        StopReason::Completed | StopReason::StopTool { .. }
    );
    match (&result.output, answered || result.forced) {
        (Some(output), true) => Ok(output.text.clone()),
        _ => Err(ToolFailure {
            kind: match result.stop_reason {
                StopReason::Budget { .. } => ToolFailureKind::LimitExceeded,
                _ => ToolFailureKind::ToolFailed,
            },
            message: format!(
                "agent `{callee}` gave no answer: {}",
                result.stop_reason.describe()
            ),
            transient: false,
        }),
    }
}

impl Agent {
    /// Offers the agent of `tool` to this agent's model as a tool (see [`AgentTool`]).
    /// Fails if the name is taken.
    pub fn with_agent_tool(self, tool: AgentTool) -> Result<Self, SetupError> {
        let entry = tool.entry();
        self.with_host_binding(entry, HostBinding::Agent(Arc::new(tool)))
    }
}
