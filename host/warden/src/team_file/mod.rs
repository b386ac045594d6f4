//! Multi-agent definitions: one TOML file with an `[agents.<name>]` table per agent and an
//! `entry` agent, or several files joined by `include`, with handoffs, agents offered as
//! tools and guardrails declared beside each agent's usual keys.
//!
//! ```toml
//! entry = "triage"
//! max_handoffs = 4
//! include = ["billing.toml"]          # more [agents.*] tables (may include others)
//!
//! [agents.triage]
//! instructions = "Route the question."
//! model = { provider = "openai", name = "gpt-4o-mini" }
//! handoffs = [{ agent = "billing", description = "Invoices", filter = { last_messages = 6 } }]
//! agent_tools = [{ agent = "researcher", description = "Looks things up" }]
//! guardrails = [
//!   { stage = "input", agent = "judge", before_model = true },
//!   { stage = "output", component = "builtin:text", tool = "json_query",
//!     text_arg = "document", args = { query = "$" } },
//! ]
//! ```
//!
//! Each `[agents.<name>]` table takes the keys of an agent file (its `name` is the table's
//! name). [`TeamDef::load`] reads every file and checks every reference before anything is
//! built; [`Runner::from_team_file`](crate::Runner::from_team_file) then loads the
//! components, connects each agent's model and builds the [`Team`](crate::Team).
//!
//! Invariant: every mistake is an error naming the file, the line (where the TOML parser
//! or a reference's span knows it) and the key — an unknown key, an agent referenced but
//! not defined, files including each other, a missing or unknown entry, agents calling
//! each other as tools in a cycle — and all of them are found before any model call.

mod build;
mod error;
mod parse;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests_agent_file;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::agent::{AgentDef, AgentError};
use crate::runner::SetupError;
pub use error::TeamFileError;

/// A multi-agent definition, every reference checked. See the module docs.
#[derive(Debug, Clone)]
pub struct TeamDef {
    /// The agent runs start with.
    pub entry: String,
    /// The most handoffs a run may make (the team's default when unset).
    pub max_handoffs: Option<u32>,
    /// The agents by name.
    pub agents: BTreeMap<String, TeamAgentDef>,
}

/// One agent of a [`TeamDef`]: its definition and how it reaches the others.
#[derive(Debug, Clone)]
pub struct TeamAgentDef {
    /// The agent's own settings (model, tools, budget...), paths resolved.
    pub def: AgentDef,
    /// Agents it may hand the run to.
    pub handoffs: Vec<HandoffDef>,
    /// Agents it may call as tools.
    pub agent_tools: Vec<AgentToolDef>,
    /// Its guardrails.
    pub guardrails: Vec<GuardrailDef>,
    /// The file it is defined in.
    pub file: PathBuf,
}

/// A handoff as declared (`handoffs = [{ agent, description, filter }]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffDef {
    /// The agent handed to.
    pub agent: String,
    /// When to hand off, for the model.
    pub description: String,
    /// What of the history is passed on (default: all of it).
    #[serde(default)]
    pub filter: FilterDef,
}

/// A handoff's history filter as written: `"all"`, `"drop_tool_calls"`, `"summary"` or
/// `{ last_messages = N }`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterDef {
    /// Everything.
    #[default]
    All,
    /// Without tool calls and results.
    DropToolCalls,
    /// One message summing up the conversation.
    Summary,
    /// The last N messages.
    LastMessages(usize),
}

/// An agent offered as a tool (`agent_tools = [{ agent, description, name }]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentToolDef {
    /// The agent called.
    pub agent: String,
    /// What it does, for the caller's model.
    pub description: String,
    /// The tool's name (default: the agent's).
    #[serde(default)]
    pub name: Option<String>,
}

/// A guardrail as declared: another agent of the file set (`agent`), or a tool of a
/// sandboxed component (`component`, `tool`, `text_arg`, `args`; nothing granted).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailDef {
    /// What it checks.
    pub stage: crate::GuardrailStage,
    /// Its name in events and stop reasons (default: the agent's or the tool's).
    #[serde(default)]
    pub name: Option<String>,
    /// An agent of the file set answering `{"tripped": bool, "message": string}`.
    #[serde(default)]
    pub agent: Option<String>,
    /// A component (`builtin:<name>` or a path relative to the file).
    #[serde(default)]
    pub component: Option<PathBuf>,
    /// The component's tool to call.
    #[serde(default)]
    pub tool: Option<String>,
    /// The argument carrying the checked text (default `text`).
    #[serde(default)]
    pub text_arg: Option<String>,
    /// Fixed arguments of every call.
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// For an input guardrail: the model waits until it passed.
    #[serde(default)]
    pub before_model: bool,
}

impl TeamDef {
    /// Reads the file at `path` and every file it includes, and checks every reference.
    /// Nothing is loaded or connected yet.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<TeamDef, TeamFileError> {
        parse::load(path.as_ref())
    }
}

impl TeamDef {
    /// Reads the single-agent file at `path` whose `handoffs`, `agent_tools` or agent
    /// `guardrails` name other agents by their files (`agent = "billing.toml"`, relative
    /// to the naming file), and every file they name, checking every reference as
    /// [`TeamDef::load`] does: the team of those agents, entered by `path`'s agent.
    pub fn load_agent_file(path: impl AsRef<std::path::Path>) -> Result<TeamDef, TeamFileError> {
        parse::load_agent_file(path.as_ref())
    }
}

/// Keys of a single-agent file that make it a team's entry (see [`TeamDef::load_agent_file`]).
const LINK_KEYS: [&str; 3] = ["handoffs", "agent_tools", "guardrails"];

/// Whether the agent file at `path` declares handoffs, agent tools or guardrails. A file
/// that cannot be read or parsed does not: loading it says why.
pub(crate) fn declares_links(path: &std::path::Path) -> bool {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= 1 << 20);
    let text = small.then(|| std::fs::read_to_string(path).ok()).flatten();
    let table = text.and_then(|t| t.parse::<toml::Table>().ok());
    table.is_some_and(|t| LINK_KEYS.iter().any(|k| t.contains_key(*k)))
}

/// The runner (with the team) and entry agent of a single-agent file that declares
/// handoffs, agent tools or guardrails: everything read, checked, loaded and connected
/// before any model call.
pub(crate) async fn from_agent_file(
    path: &std::path::Path,
) -> Result<(crate::Runner, crate::Agent), SetupError> {
    let team_error = |e: TeamFileError| SetupError::TeamFile(Box::new(e));
    let def = TeamDef::load_agent_file(path).map_err(team_error)?;
    let executor = warden_sandbox::Executor::new(warden_sandbox::EngineConfig::default())
        .map_err(|e| SetupError::Executor(Box::new(e)))?;
    let (runner, team) = build::build(&def, executor, None)
        .await
        .map_err(team_error)?;
    let entry = team.entry().clone();
    Ok((runner.with_team(team), entry))
}

/// Whether the file at `path` is a multi-agent file (an `entry` and `[agents.<name>]`
/// tables) rather than one agent's. A file that cannot be read or parsed is not: loading
/// it as an agent file says why.
pub(crate) fn is_multi_agent_file(path: &std::path::Path) -> bool {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= 1 << 20);
    let text = small.then(|| std::fs::read_to_string(path).ok()).flatten();
    let table = text.and_then(|t| t.parse::<toml::Table>().ok());
    table.is_some_and(|t| t.get("agents").is_some_and(toml::Value::is_table))
}

/// The runner (with the team) and entry agent of the multi-agent file at `path`, as
/// [`Runner::from_team_file`](crate::Runner::from_team_file) builds them; the entry agent
/// records `path` as its file, so a stored run is resumed and replayed from it.
pub(crate) async fn from_multi_agent_file(
    path: &std::path::Path,
) -> Result<(crate::Runner, crate::Agent), SetupError> {
    let (runner, team) = crate::Runner::from_team_file(path)
        .await
        .map_err(|e| SetupError::TeamFile(Box::new(e)))?;
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let entry = team.entry().clone().with_source(file);
    Ok((runner.with_team(team), entry))
}

impl TeamDef {
    /// The team a file given to `warden run` defines, if it defines one: a multi-agent
    /// file, or an agent file with handoffs, agent tools or agent guardrails (see
    /// [`TeamDef::load_agent_file`]); `None` for a plain agent file.
    pub fn load_for_run(
        path: impl AsRef<std::path::Path>,
    ) -> Result<Option<TeamDef>, TeamFileError> {
        let path = path.as_ref();
        if is_multi_agent_file(path) {
            return Self::load(path).map(Some);
        }
        if declares_links(path) {
            return Self::load_agent_file(path).map(Some);
        }
        Ok(None)
    }

    /// Whether some agent runs another agent's own loop inside its turn (an agent tool or
    /// an agent guardrail): that agent's model calls are not part of the run's record.
    pub fn nests_agents(&self) -> bool {
        (self.agents.values())
            .any(|a| !a.agent_tools.is_empty() || a.guardrails.iter().any(|g| g.agent.is_some()))
    }

    /// Builds the team with `model` as every agent's model, connecting and probing
    /// nothing (a replay feeds recorded responses through it): components are loaded and
    /// every reference checked as for a run.
    pub async fn build_with_model(
        &self,
        executor: warden_sandbox::Executor,
        model: std::sync::Arc<dyn crate::Model>,
    ) -> Result<crate::Team, TeamFileError> {
        let (_, team) = build::build(self, executor, Some(model)).await?;
        Ok(team)
    }
}

impl crate::Runner {
    /// Loads the multi-agent file at `path` (see [`crate::team_file`]) and builds the team:
    /// every file read and checked, then each agent's components loaded and model
    /// connected, all before any model call. The runner's own model is the entry agent's.
    pub async fn from_team_file(
        path: impl AsRef<std::path::Path>,
    ) -> Result<(crate::Runner, crate::Team), TeamFileError> {
        let def = TeamDef::load(path)?;
        let executor = warden_sandbox::Executor::new(warden_sandbox::EngineConfig::default())
            .map_err(|e| TeamFileError::Setup {
                agent: def.entry.clone(),
                source: Box::new(SetupError::Executor(Box::new(e))),
            })?;
        build::build(&def, executor, None).await
    }
}

/// An agent error with its key moved under `agents.<name>.`.
fn under_agent(error: AgentError, name: &str) -> AgentError {
    match error {
        AgentError::Invalid { file, key, message } => AgentError::Invalid {
            file,
            key: format!("agents.{name}.{key}"),
            message,
        },
        other => other,
    }
}
