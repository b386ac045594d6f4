//! Several agents in one run: trusted host tools ([`HostTool`]), agents offered to other
//! agents as tools ([`AgentTool`]), handoffs from one agent to another ([`Handoff`]) inside
//! a [`Team`], all driven by the same [`Runner`](crate::Runner).
//!
//! ```text
//! Agent::with_host_tool(HostTool::new("lookup", "…", |args: Args| async { … }))
//! Agent::with_agent_tool(AgentTool::new(researcher, "…"))   callee runs its own loop
//! Agent::with_handoff(Handoff::to("billing", "…"))          model sees `transfer_to_billing`
//! Team::builder(triage).agent(billing).max_handoffs(4).build()?
//! runner.run_team(&team, "task")  /  runner.with_team(team).run(…)
//! ```
//!
//! A triage agent with a trusted host tool and a researcher called as a tool, handing the
//! conversation to a billing agent (scripted models here; each agent may have a model —
//! and a provider — of its own with [`Agent::with_model`]):
//!
//! ```rust,standalone_crate
//! use std::sync::Arc;
//!
//! use warden::testing::{ScriptedLlm, ScriptedModel};
//! use warden::{Agent, AgentTool, EngineConfig, Executor, Handoff, HistoryFilter, HostTool};
//! use warden::{LoopConfig, RunEvent, RunHandle, Runner, StopReason, Team};
//!
//! #[derive(serde::Deserialize, warden::schemars::JsonSchema)]
//! #[schemars(crate = "warden::schemars")]
//! struct Order {
//!     /// The order number.
//!     id: u32,
//! }
//!
//! fn scripted(name: &str, responses: Vec<warden_core::chat::ChatResponse>) -> Agent {
//!     let mut config = LoopConfig::new("scripted");
//!     config.agent_name = name.into();
//!     Agent::new(config).with_model(Arc::new(ScriptedLlm::new(responses)))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     warden::run_compiler_child_if_requested();
//!     // A host function: the application's own state, unsandboxed, marked `trusted`.
//!     let lookup = HostTool::new("lookup", "Looks an order up", |o: Order| async move {
//!         Ok(format!("order {} was charged twice", o.id))
//!     })
//!     .timeout(std::time::Duration::from_secs(5));
//!     let researcher = scripted("researcher", vec![ScriptedModel::text("Refunds take 3 days.")]);
//!     let triage = scripted("triage", vec![
//!         ScriptedModel::calls(&[("c1", "lookup", r#"{"id": 7}"#)]),
//!         ScriptedModel::calls(&[("c2", "researcher", r#"{"input": "refund delay?"}"#)]),
//!         ScriptedModel::calls(&[("c3", "transfer_to_billing", r#"{"reason": "a refund"}"#)]),
//!     ])
//!     .with_host_tool(lookup)?
//!     .with_agent_tool(AgentTool::new(researcher, "Answers policy questions"))?
//!     .with_handoff(Handoff::to("billing", "refunds").filter(HistoryFilter::DropToolCalls))?;
//!     let billing = scripted("billing", vec![ScriptedModel::text("Refunded order 7.")]);
//!     let team = Team::builder(triage).agent(billing).max_handoffs(4).build()?;
//!
//!     let runner = Runner::new(Arc::new(ScriptedLlm::new([])), Executor::new(EngineConfig::default())?);
//!     let mut handoffs = Vec::new();
//!     let runner = runner.with_team(team.clone());
//!     let result = runner
//!         .run_with(team.entry(), "I was charged twice", &RunHandle::new(), |event| {
//!             if let RunEvent::Handoff { from, to, .. } = event {
//!                 handoffs.push(format!("{from} -> {to}"));
//!             }
//!         })
//!         .await?;
//!     assert_eq!(result.stop_reason, StopReason::Completed);
//!     assert_eq!(result.output.map(|o| o.text).as_deref(), Some("Refunded order 7."));
//!     assert_eq!(handoffs, ["triage -> billing"]);
//!     Ok(())
//! }
//! ```
//!
//! Invariants: each agent's sandboxed tools run under that agent's own grants only — a
//! handoff switches to the target's tools and grants, a callee runs with its own, nothing
//! flows along; one budget covers the run: a callee's budget is carved out of what its
//! caller has left (parallel callees reserve their share) and its usage is charged to the
//! caller, a handoff keeps the usage so far; every nested event reaches the caller's sink
//! as [`RunEvent::Nested`](crate::RunEvent::Nested) with the agent path; cancelling a run
//! cancels its nested runs; a session or durable run goes on with the agent last handed to
//! (each checkpoint records it), and a callee whose usage passed its carved budget ends
//! with the budget stop reason.

mod agent_tool;
mod handoff;
mod host;
mod pool;
mod run;
mod summary;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests_carve;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests_durable;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests_resume;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use agent_tool::AgentTool;
pub use handoff::{Handoff, HistoryFilter};
pub use host::{DEFAULT_HOST_TOOL_TIMEOUT, HostTool};
pub(crate) use pool::BudgetPool;
pub(crate) use run::{
    Active, HostCtx, HostRun, Next, check_team, execute_host, next_agent, run_agents,
};
pub(crate) use summary::team_changes;

use crate::runner::Agent;

/// How many handoffs a run may make unless [`TeamBuilder::max_handoffs`] says otherwise.
pub const DEFAULT_MAX_HANDOFFS: u32 = 8;

/// What runs the calls of a tool the host runs itself.
#[derive(Clone)]
pub(crate) enum HostBinding {
    /// A trusted host function.
    Function(Arc<HostTool>),
    /// Another agent, run to its final answer.
    Agent(Arc<AgentTool>),
    /// A handoff to the named agent of the team.
    Handoff(Arc<Handoff>),
}

impl HostBinding {
    /// What kind of tool it is, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            HostBinding::Function(_) => "a trusted host tool",
            HostBinding::Agent(_) => "an agent tool",
            HostBinding::Handoff(_) => "a handoff",
        }
    }
}

/// A set of agents that may hand a run to each other, by name, and the entry agent a run
/// starts with. Cheap to clone. Build one with [`Team::builder`].
#[derive(Clone)]
pub struct Team {
    inner: Arc<TeamInner>,
}

struct TeamInner {
    entry: Agent,
    agents: BTreeMap<String, Agent>,
    max_handoffs: u32,
}

impl Team {
    /// A team whose runs start with `entry`.
    pub fn builder(entry: Agent) -> TeamBuilder {
        TeamBuilder {
            entry: entry.clone(),
            agents: vec![entry],
            max_handoffs: DEFAULT_MAX_HANDOFFS,
        }
    }

    /// The agent a run starts with.
    pub fn entry(&self) -> &Agent {
        &self.inner.entry
    }

    /// The agent called `name`.
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.inner.agents.get(name)
    }

    /// The names of the team's agents.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.agents.keys().map(String::as_str)
    }

    /// The most handoffs one run may make; one more ends it with
    /// [`StopReason::HandoffLimit`](crate::StopReason::HandoffLimit).
    pub fn max_handoffs(&self) -> u32 {
        self.inner.max_handoffs
    }
}

/// Builds a [`Team`].
pub struct TeamBuilder {
    entry: Agent,
    agents: Vec<Agent>,
    max_handoffs: u32,
}

impl TeamBuilder {
    /// Adds an agent others may hand off to.
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agents.push(agent);
        self
    }

    /// The most handoffs a run may make (default [`DEFAULT_MAX_HANDOFFS`]).
    pub fn max_handoffs(mut self, n: u32) -> Self {
        self.max_handoffs = n;
        self
    }

    /// The team, once every name is unique and every handoff (of every agent, and of the
    /// agents they offer as tools) names an agent of the team.
    pub fn build(self) -> Result<Team, TeamError> {
        let mut agents = BTreeMap::new();
        for agent in self.agents {
            let name = agent.name().to_owned();
            if agents.insert(name.clone(), agent).is_some() {
                return Err(TeamError::DuplicateAgent { name });
            }
        }
        for agent in agents.values() {
            check_handoffs(agent, &agents, 0)?;
        }
        Ok(Team {
            inner: Arc::new(TeamInner {
                entry: self.entry,
                agents,
                max_handoffs: self.max_handoffs,
            }),
        })
    }
}

/// Deepest nesting of agents as tools checked (and allowed) in a team.
const MAX_NESTING: usize = 16;

fn check_handoffs(
    agent: &Agent,
    agents: &BTreeMap<String, Agent>,
    depth: usize,
) -> Result<(), TeamError> {
    if depth > MAX_NESTING {
        return Err(TeamError::TooDeep {
            agent: agent.name().to_owned(),
            limit: MAX_NESTING,
        });
    }
    for (_, binding) in agent.host_bindings() {
        match binding {
            HostBinding::Handoff(h) if !agents.contains_key(h.target()) => {
                return Err(TeamError::UnknownAgent {
                    from: agent.name().to_owned(),
                    to: h.target().to_owned(),
                    known: agents.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            HostBinding::Agent(tool) => check_handoffs(tool.agent(), agents, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

/// A team that cannot be built, or an agent with handoffs run without its team.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// Two agents share a name.
    #[error("two agents of the team are called `{name}`: give each agent a name of its own")]
    DuplicateAgent {
        /// The name.
        name: String,
    },
    /// A handoff names an agent the team does not have.
    #[error(
        "agent `{from}` hands off to `{to}`, which is not in the team (agents: {known}); add it with `TeamBuilder::agent`"
    )]
    UnknownAgent {
        /// The agent handing off.
        from: String,
        /// The name it gives.
        to: String,
        /// The team's agents.
        known: String,
    },
    /// Agents offered as tools nest deeper than allowed.
    #[error("agent `{agent}` is nested more than {limit} agents deep as a tool")]
    TooDeep {
        /// The agent too deep.
        agent: String,
        /// The limit.
        limit: usize,
    },
    /// An agent with handoffs was run alone: its handoffs name agents only a team knows.
    #[error(
        "agent `{agent}` has handoffs, so it runs in a team: build one with `Team::builder` and run it with `Runner::run_team`"
    )]
    NoTeam {
        /// The agent.
        agent: String,
    },
    /// A stored run was handed to another agent of its team, but the runner that would
    /// continue it has no team.
    #[error(
        "the stored run of agent `{entry}` was handed off to agent `{active}`, which only its team knows: continue it with `Runner::with_team`"
    )]
    NoTeamForStored {
        /// The run's entry agent.
        entry: String,
        /// The agent the run was handed to.
        active: String,
    },
}
