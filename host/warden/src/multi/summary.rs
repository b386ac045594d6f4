//! What a durable run keeps of its team ([`TeamSummary`]: every agent's summary, model and
//! links), and what a resume finds changed in it.
//!
//! Invariant: two summaries of the same team definition are equal (members sorted by name,
//! links sorted), so any difference [`team_changes`] reports is a change of definition: an
//! agent added or removed, or one whose instructions, settings, tools, grants, budget,
//! model or handoffs (targets and filters) or agent tools differ.

use warden_store::{TeamMember, TeamSummary};

use super::{HostBinding, Team};
use crate::runner::{Agent, describe_changes};

impl Team {
    /// What a store keeps of this team to compare on resume; `provider` is the runner's,
    /// used by agents without a model of their own.
    pub(crate) fn summary(&self, provider: &str) -> TeamSummary {
        let agents = (self.names())
            .filter_map(|name| self.agent(name))
            .map(|agent| member(agent, provider))
            .collect();
        TeamSummary {
            max_handoffs: self.max_handoffs(),
            agents,
        }
    }
}

/// One agent as a [`TeamMember`].
fn member(agent: &Agent, provider: &str) -> TeamMember {
    let provider = agent.model().map_or(provider, |m| m.provider());
    let mut links: Vec<String> = (agent.host_bindings())
        .filter_map(|(name, binding)| match binding {
            HostBinding::Handoff(h) => Some(format!(
                "handoff to {} ({:?})",
                h.target(),
                h.history_filter()
            )),
            HostBinding::Agent(t) => {
                Some(format!("agent tool {name} runs agent {}", t.agent().name()))
            }
            // A host function's schema and description are in the agent's digest.
            HostBinding::Function(_) => None,
        })
        .collect();
    links.sort();
    TeamMember {
        agent: agent.summary(),
        model: format!("{provider}/{}", agent.config().model),
        links,
    }
}

/// What differs between `then` (stored) and `now` (the team the run would go on with):
/// each agent changed, added or removed, by name, with a line saying so (`agent `billing`:
/// tools removed: refund`), then `max_handoffs` if it changed.
pub(crate) fn team_changes(then: &TeamSummary, now: &TeamSummary) -> Vec<(String, String)> {
    let now_agents = &now.agents;
    let find = |list: &[TeamMember], name: &str| -> Option<TeamMember> {
        list.iter().find(|m| m.agent.name == name).cloned()
    };
    let mut names: Vec<&str> = (then.agents.iter().chain(now_agents))
        .map(|m| m.agent.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut changes = Vec::new();
    for name in names {
        let what = match (find(&then.agents, name), find(now_agents, name)) {
            (Some(_), None) => "removed from the team".to_owned(),
            (None, Some(_)) => "added to the team".to_owned(),
            (Some(a), Some(b)) if !same(&a, &b) => member_changes(&a, &b),
            _ => continue,
        };
        changes.push((name.to_owned(), format!("agent `{name}`: {what}")));
    }
    if now.max_handoffs != then.max_handoffs {
        let what = format!(
            "max_handoffs changed from {} to {}",
            then.max_handoffs, now.max_handoffs
        );
        changes.push(("max_handoffs".to_owned(), what));
    }
    changes
}

/// Whether two versions of one agent are the same definition (where its file lies is not
/// part of it: a copy resumes the run as well).
fn same(a: &TeamMember, b: &TeamMember) -> bool {
    a.agent.digest == b.agent.digest && a.model == b.model && a.links == b.links
}

/// What differs between two versions of one agent, in one line.
fn member_changes(then: &TeamMember, now: &TeamMember) -> String {
    let mut changes = Vec::new();
    if then.model != now.model {
        changes.push(format!("model {} -> {}", then.model, now.model));
    }
    if then.links != now.links {
        changes.push("its handoffs or agent tools changed".to_owned());
    }
    if then.agent.digest != now.agent.digest {
        let own = describe_changes(&then.agent, &now.agent);
        // The digest covers the model name and handoff tools too: say only what the
        // lines above did not.
        if changes.is_empty() || !own.starts_with("its settings") {
            changes.push(own);
        }
    }
    changes.join("; ")
}
