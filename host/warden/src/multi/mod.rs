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
//! Invariants: each agent's sandboxed tools run under that agent's own grants only — a
//! handoff switches to the target's tools and grants, a callee runs with its own, nothing
//! flows along; one budget covers the run: a callee's budget is carved out of what its
//! caller has left (parallel callees reserve their share) and its usage is charged to the
//! caller, a handoff keeps the usage so far; every nested event reaches the caller's sink
//! as [`RunEvent::Nested`](crate::RunEvent::Nested) with the agent path; cancelling a run
//! cancels its nested runs.

mod agent_tool;
mod handoff;
mod host;
mod pool;
mod run;
#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use agent_tool::AgentTool;
pub use handoff::{Handoff, HistoryFilter};
pub use host::{DEFAULT_HOST_TOOL_TIMEOUT, HostTool};
pub(crate) use pool::BudgetPool;
pub(crate) use run::{HostCtx, HostRun, execute_host, run_agents};

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
}
