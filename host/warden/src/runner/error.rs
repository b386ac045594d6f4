//! The runner's errors: [`SetupError`] (an agent that cannot start; always raised before
//! the first model call) and [`RunError`] (a run that could not be driven).
//!
//! Invariant: a failure of the model or of a tool during a run is not an error here: it is
//! the run's stop reason or a tool result the model sees. These enums are for what stops
//! the driver itself.

use std::path::PathBuf;

use crate::agent::AgentError;
use warden_core::controller::ControllerError;
use warden_llm::LlmError;
use warden_sandbox::{ExecutorError, LoadError, PolicyError};

/// An agent that cannot start. Messages name the agent file and key, and say what to do.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The agent file does not parse, has an invalid value, or names a missing file.
    #[error(transparent)]
    Agent(Box<AgentError>),
    /// An agent file naming other agents (handoffs, agent tools, guardrails) whose team
    /// cannot be read, checked or built; the error names the file, line and key.
    #[error(transparent)]
    TeamFile(Box<crate::team_file::TeamFileError>),
    /// The wasm engine could not be built.
    #[error(transparent)]
    Executor(Box<ExecutorError>),
    /// A tool component does not load.
    #[error("{file}: `{key}`: the component {} does not load: {source}", path.display())]
    Load {
        /// The agent file.
        file: String,
        /// The key naming the component.
        key: String,
        /// The component, resolved.
        path: PathBuf,
        /// Why it does not load.
        source: Box<LoadError>,
    },
    /// An installed pack named by the agent file cannot be used (not installed, no longer
    /// verifies, or the agent file's `narrow` would widen its grant).
    #[error("{file}: `{key}`: {source}")]
    Pack {
        /// The agent file.
        file: String,
        /// The key naming the pack.
        key: String,
        /// What is wrong.
        source: Box<warden_pack::PackError>,
    },
    /// A tool's sandbox policy is invalid (including a granted directory that does not exist).
    #[error("{file}: `{key}`: {source}")]
    Policy {
        /// The agent file.
        file: String,
        /// The key of the policy.
        key: String,
        /// What is wrong with it.
        source: Box<PolicyError>,
    },
    /// Two components provide a tool of the same name.
    #[error(
        "{file}: the tool `{name}` is provided by both `{first}` and `{second}`; \
         remove one of the components"
    )]
    DuplicateTool {
        /// The agent file.
        file: String,
        /// The tool's name.
        name: String,
        /// The first component providing it.
        first: String,
        /// The second one.
        second: String,
    },
    /// Per-tool settings for a tool the component does not provide.
    #[error("{file}: `{key}`: the component has no tool `{name}` (it provides: {available})")]
    UnknownToolSetting {
        /// The agent file.
        file: String,
        /// The key of the settings.
        key: String,
        /// The tool name the settings are for.
        name: String,
        /// The tools the component does provide, comma-separated.
        available: String,
    },
    /// The loop settings do not work with the loaded tools (bad schema, unknown stop tool).
    #[error("{file}: {source}")]
    Loop {
        /// The agent file.
        file: String,
        /// What the controller refused.
        source: Box<ControllerError>,
    },
    /// The provider needs an API key and its environment variable is not set.
    #[error(
        "{file}: `model`: no API key: set the environment variable {env_var} (or name another \
         variable with `model.api_key_env`)"
    )]
    MissingKey {
        /// The agent file.
        file: String,
        /// The variable that should hold the key.
        env_var: String,
    },
    /// The model cannot be used: invalid provider settings.
    #[error("{file}: `{key}`: {source}")]
    Model {
        /// The agent file.
        file: String,
        /// The key at fault.
        key: String,
        /// What the LLM interface refused.
        source: Box<LlmError>,
    },
    /// The model's base URL does not accept connections.
    #[error(
        "{file}: `model.base_url`: cannot connect to {url}: {detail}; start the server or fix \
         the URL"
    )]
    Unreachable {
        /// The agent file.
        file: String,
        /// The base URL.
        url: String,
        /// Why the connection failed.
        detail: String,
    },
}

/// A run that could not be driven to its end.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The agent cannot start.
    #[error(transparent)]
    Setup(#[from] Box<SetupError>),
    /// The controller refused the configuration or a feed (the latter is a driver bug).
    #[error(transparent)]
    Controller(#[from] ControllerError),
    /// `run_sync` was called from inside an async runtime, where blocking would stall it.
    #[error(
        "run_sync was called inside an async runtime; call `Runner::run(..).await` there instead"
    )]
    InsideRuntime,
    /// The runtime for `run_sync` could not be built.
    #[error("cannot start an async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The run store failed; the run stopped at its last checkpoint.
    #[error(transparent)]
    Store(warden_store::StoreError),
    /// A durable run cannot go on (see [`super::DurableError`]).
    #[error(transparent)]
    Durable(#[from] super::DurableError),
    /// The task driving a streamed run panicked or was dropped.
    #[error("the run's task ended abnormally: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// The agents of a multi-agent run do not fit together (see [`crate::Team`]).
    #[error(transparent)]
    Team(#[from] crate::multi::TeamError),
}
