//! Building a [`Team`] from a checked [`TeamDef`]: each agent's components and model
//! (through the same setup as a single agent file), then its handoffs, agent tools and
//! guardrails, callees before their callers.
//!
//! Invariant: every agent is built once, after every agent it runs inside it (agent tools,
//! guardrail agents); the parse step has ruled out cycles among those.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{FilterDef, GuardrailDef, TeamAgentDef, TeamDef, TeamFileError};
use crate::guardrail::{ComponentCheck, Guardrail, GuardrailStage};
use crate::runner::{SetupError, connect_model};
use crate::{Agent, AgentTool, Handoff, HistoryFilter, Model, Runner, Team};
use warden_sandbox::{Executor, ToolPolicy};

/// A built agent and its model.
type Built = (Agent, Arc<dyn Model>);

/// Builds the team; `model`, when given, is every agent's model instead of the one its
/// definition connects to (a replay: nothing is connected, nothing probed).
pub(super) async fn build(
    def: &TeamDef,
    executor: Executor,
    model: Option<Arc<dyn Model>>,
) -> Result<(Runner, Team), TeamFileError> {
    let mut built: BTreeMap<String, Built> = BTreeMap::new();
    for name in order(def) {
        let Some(agent_def) = def.agents.get(&name) else {
            continue;
        };
        let agent = build_one(&name, agent_def, &built, &executor, model.clone()).await?;
        built.insert(name, agent);
    }
    let (entry, model) =
        built
            .get(&def.entry)
            .cloned()
            .ok_or_else(|| crate::TeamError::NoTeam {
                agent: def.entry.clone(),
            })?;
    let mut team = Team::builder(entry);
    for (name, (agent, _)) in &built {
        if *name != def.entry {
            team = team.agent(agent.clone());
        }
    }
    if let Some(n) = def.max_handoffs {
        team = team.max_handoffs(n);
    }
    Ok((Runner::new(model, executor), team.build()?))
}

/// The agents, each after the agents it runs inside it (depth first).
fn order(def: &TeamDef) -> Vec<String> {
    fn visit(def: &TeamDef, name: &str, out: &mut Vec<String>, depth: usize) {
        // The parse step rejected cycles; the depth bound only guards this function.
        if out.iter().any(|n| n == name) || depth > def.agents.len() {
            return;
        }
        if let Some(agent) = def.agents.get(name) {
            let callees = (agent.agent_tools.iter().map(|t| t.agent.as_str()))
                .chain(agent.guardrails.iter().filter_map(|g| g.agent.as_deref()));
            for callee in callees {
                visit(def, callee, out, depth + 1);
            }
        }
        out.push(name.to_owned());
    }
    let mut out = Vec::new();
    for name in def.agents.keys() {
        visit(def, name, &mut out, 0);
    }
    out
}

async fn build_one(
    name: &str,
    def: &TeamAgentDef,
    built: &BTreeMap<String, Built>,
    executor: &Executor,
    model: Option<Arc<dyn Model>>,
) -> Result<Built, TeamFileError> {
    let setup = |source: SetupError| TeamFileError::Setup {
        agent: name.to_owned(),
        source: Box::new(source),
    };
    let model = match model {
        Some(model) => model,
        None => connect_model(&def.def).await.map_err(setup)?,
    };
    let mut agent = Agent::load(&def.def, executor)
        .await
        .map_err(setup)?
        .with_model(model.clone());
    for h in &def.handoffs {
        let handoff = Handoff::to(&h.agent, &h.description).filter(filter(h.filter));
        agent = agent.with_handoff(handoff).map_err(setup)?;
    }
    for t in &def.agent_tools {
        let callee = callee(built, &t.agent)?;
        let mut tool = AgentTool::new(callee.0.clone(), &t.description);
        if let Some(tool_name) = &t.name {
            tool = tool.named(tool_name);
        }
        agent = agent.with_agent_tool(tool).map_err(setup)?;
    }
    for g in &def.guardrails {
        let guardrail = guardrail(name, def, g, built, executor).await?;
        agent = match g.stage {
            GuardrailStage::Input => agent.with_input_guardrail(guardrail),
            GuardrailStage::Output => agent.with_output_guardrail(guardrail),
            _ => agent.with_tool_guardrail(guardrail),
        };
    }
    Ok((agent, model))
}

fn callee<'a>(built: &'a BTreeMap<String, Built>, name: &str) -> Result<&'a Built, TeamFileError> {
    // Built callees first (see `order`); a miss means the parse step let a cycle through.
    built.get(name).ok_or_else(|| {
        TeamFileError::Team(crate::TeamError::NoTeam {
            agent: name.to_owned(),
        })
    })
}

fn filter(f: FilterDef) -> HistoryFilter {
    match f {
        FilterDef::All => HistoryFilter::All,
        FilterDef::DropToolCalls => HistoryFilter::DropToolCalls,
        FilterDef::Summary => HistoryFilter::Summary,
        FilterDef::LastMessages(n) => HistoryFilter::LastMessages(n),
    }
}

async fn guardrail(
    agent: &str,
    def: &TeamAgentDef,
    g: &GuardrailDef,
    built: &BTreeMap<String, Built>,
    executor: &Executor,
) -> Result<Guardrail, TeamFileError> {
    let setup = |source: SetupError| TeamFileError::Setup {
        agent: agent.to_owned(),
        source: Box::new(source),
    };
    let mut guardrail = match (&g.agent, &g.component, &g.tool) {
        (Some(judge), _, _) => {
            let (judge_agent, judge_model) = callee(built, judge)?.clone();
            let runner = Runner::new(judge_model, executor.clone());
            Guardrail::agent(g.name.as_deref().unwrap_or(judge), runner, judge_agent)
        }
        (None, Some(component), Some(tool)) => {
            let set = crate::builtin::load(executor, component)
                .await
                .map_err(|source| {
                    setup(SetupError::Load {
                        file: def.file.display().to_string(),
                        key: format!("agents.{agent}.guardrails.component"),
                        path: component.clone(),
                        source: Box::new(source),
                    })
                })?;
            let mut check = ComponentCheck::new(executor, set, tool, ToolPolicy::default())
                .map_err(|source| TeamFileError::Guardrail {
                    agent: agent.to_owned(),
                    source,
                })?;
            if let Some(text_arg) = &g.text_arg {
                check = check.text_arg(text_arg);
            }
            for (key, value) in &g.args {
                check = check.arg(key, value.clone());
            }
            Guardrail::component(g.name.as_deref().unwrap_or(tool), check)
        }
        // The parse step allows no other shape.
        _ => Guardrail::function("invalid", |_: &crate::guardrail::Subject<'_>| {
            crate::Verdict::trip("this guardrail was declared without a check")
        }),
    };
    if g.before_model {
        guardrail = guardrail.before_model();
    }
    Ok(guardrail)
}
