//! The demo's second scene: several agents in one run. A `triage` agent asks an
//! `estimator` agent (offered to it as a tool, with the sandboxed calc tool of its own) for
//! a total, then hands the conversation to a `writer` agent, which answers. Each agent has
//! its own scripted model; nothing leaves the machine.
//!
//! Invariant: only the estimator has a sandboxed tool (calc): neither triage nor the writer
//! can call it. The scripted figures are what calc returns for the estimator's call (the
//! e2e test checks the real result against them).

use std::sync::Arc;

use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{
    Agent, AgentTool, Handoff, HistoryFilter, RunError, RunHandle, Runner, Team, ToolPolicy,
};
use warden_core::controller::LoopConfig;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_sandbox::Executor;

use super::DemoError;

/// The task of the second scene.
pub const TEAM_TASK: &str = "The open items are estimated at 3, 5 and 8 hours. How many hours \
is that in all? Write it up for the project lead.";

/// Where the second scene's entry agent says it comes from, in its recorded runs (what
/// `warden replay` rebuilds the team from).
pub const TEAM_SOURCE: &str = "builtin:demo-team";

/// The hours the estimator adds up.
const EXPRESSION: &str = "3 + 5 + 8";

fn agent(name: &str, instructions: &str, script: Vec<warden_core::chat::ChatResponse>) -> Agent {
    let mut config = LoopConfig::new("demo-scripted");
    config.agent_name = name.into();
    config.instructions = instructions.into();
    Agent::new(config).with_model(Arc::new(ScriptedLlm::new(script)))
}

/// The team: triage (entry; the estimator as a tool, a handoff to the writer), the
/// estimator (calc, sandboxed) and the writer.
pub async fn team(executor: &Executor) -> Result<Team, DemoError> {
    let calc = warden::builtin::load_named(executor, "calc")
        .await
        .map_err(|source| DemoError::Load {
            tool: "calc",
            source,
        })?;
    let estimator = agent(
        "estimator",
        "Add up estimates with the calc tool.",
        vec![
            ScriptedModel::calls(&[(
                "est_1",
                "calc",
                &format!(r#"{{"expression":"{EXPRESSION}"}}"#),
            )]),
            ScriptedModel::text("16 hours in all (3 + 5 + 8)."),
        ],
    )
    .with_tools(calc, ToolPolicy::default())?;
    let writer = agent(
        "writer",
        "Write short notes for the project lead.",
        vec![ScriptedModel::text(
            "Note for the project lead: the open items add up to 16 hours (3 + 5 + 8), \
             as computed by the estimator's sandboxed calc tool.",
        )],
    );
    let triage = agent(
        "triage",
        "Get figures from the estimator, then hand over to the writer.",
        vec![
            ScriptedModel::calls(&[(
                "tri_1",
                "estimator",
                r#"{"input":"Add up 3, 5 and 8 hours."}"#,
            )]),
            ScriptedModel::calls(&[(
                "tri_2",
                "transfer_to_writer",
                r#"{"reason":"the figure is ready to write up"}"#,
            )]),
        ],
    )
    .with_agent_tool(AgentTool::new(
        estimator,
        "Adds up estimates; give it the numbers.",
    ))?
    .with_handoff(Handoff::to("writer", "Writes the final note").filter(HistoryFilter::Summary))?
    .with_source(TEAM_SOURCE);
    Ok(Team::builder(triage)
        .agent(writer)
        .max_handoffs(2)
        .build()?)
}

/// Runs the second scene, giving every event (nested ones tagged with their agent path)
/// to `on_event`.
pub async fn run_team_scene(
    executor: &Executor,
    on_event: impl FnMut(&RunEvent) + Send,
) -> Result<RunResult, DemoError> {
    run_team_scene_recorded(executor, None, on_event).await
}

/// [`run_team_scene`], recorded in `store` when one is given, handoff and all (`warden
/// runs show last`, `warden replay last`).
pub async fn run_team_scene_recorded(
    executor: &Executor,
    store: Option<Arc<dyn warden::store::Store>>,
    mut on_event: impl FnMut(&RunEvent) + Send,
) -> Result<RunResult, DemoError> {
    let team = team(executor).await?;
    // The runner's own model is never asked: every agent of the team has one of its own.
    let unused = Arc::new(ScriptedLlm::new([]));
    let runner = Runner::new(unused, executor.clone()).with_team(team.clone());
    let (handle, on_event) = (RunHandle::new(), |e: RunEvent| on_event(&e));
    let result = match store {
        Some(store) => {
            let runner = runner.with_store(store);
            let recorded =
                (runner.run_recorded(team.entry(), TEAM_TASK, &handle, on_event)).await?;
            // No tool of the scene needs approval: it never pauses.
            (recorded.result).ok_or(RunError::Durable(warden::DurableError::NoStore))?
        }
        None => {
            runner
                .run_with(team.entry(), TEAM_TASK, &handle, on_event)
                .await?
        }
    };
    Ok(result)
}
