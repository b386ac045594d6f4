//! `warden replay <id> [--live-tools]`: re-runs a recorded run offline. Model responses
//! come from the record; tool results from the record too, or from the agent's tools run
//! now (`--live-tools`, to try a new tool version against real history). The replayed
//! history is compared with the recorded one message by message; the first difference is
//! reported with its step, and the exit code is then 1. A run of a team (a multi-agent
//! file, or an agent file with handoffs or agent tools) is replayed with the team loaded as
//! `warden run` loads it, following its handoffs up to `max_handoffs`; `--live-tools`
//! refuses a team whose agents run other agents inside their turns (see
//! `nested_live_tools`).
//!
//! Invariant: a replay never calls a model, never connects to one (not even to probe it)
//! and never writes to the store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use warden::team_file::TeamDef;
use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{Agent, AgentDef, EngineConfig, Executor, RunHandle, Runner, Team};
use warden_core::chat::Message;
use warden_core::controller::Step;
use warden_core::tool::{ToolOutcome, ToolUsage};

use super::console::Console;
use super::render::Renderer;

/// `warden replay <id>`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run's id, a unique prefix of it, or `last`.
    id: String,
    /// Run the agent's tools now instead of taking their results from the record.
    #[arg(long)]
    live_tools: bool,
    /// The agent file (default: the file the run was started with).
    #[arg(long)]
    agent: Option<PathBuf>,
}

pub async fn run(args: ReplayArgs, console: Console) -> ExitCode {
    let mut view = Renderer::new(console.clone());
    match replay(args).await {
        Ok(None) => {
            console.err_line("replay matches the record");
            ExitCode::SUCCESS
        }
        Ok(Some(divergence)) => {
            console.err_line(&divergence);
            ExitCode::FAILURE
        }
        Err(message) => view.error(&message),
    }
}

/// `None` when the replay matches the record, else the first divergence in words.
async fn replay(args: ReplayArgs) -> Result<Option<String>, String> {
    let store = super::store::open()?;
    let id = store.resolve(&args.id).await.map_err(|e| e.to_string())?;
    let run = store.load(&id).await.map_err(|e| e.to_string())?;
    let recorded = run.checkpoint.snapshot.state.transcript().to_vec();
    let Some(Message::User { content: input }) = recorded.first() else {
        return Err(format!("run {id} has no recorded task to replay"));
    };
    let file = (args.agent.clone())
        .or_else(|| run.checkpoint.agent.file.clone().map(PathBuf::from))
        .ok_or(format!(
            "run {id} has no agent file recorded: pass --agent FILE"
        ))?;
    let executor = Executor::new(EngineConfig::default()).map_err(|e| e.to_string())?;
    let responses = store.responses(&id).await.map_err(|e| e.to_string())?;
    // Every model of the replay answers from the record (a team's agents share it: their
    // responses are recorded in the order the run asked for them).
    let script = Arc::new(ScriptedLlm::new(responses.clone()));
    // The demo's agent is built in code; its notes folder lives as long as the replay.
    // The demo's second scene is a team: the replay follows its handoffs.
    let mut team = None;
    let (agent, _notes) = if file.as_os_str() == warden_cli::demo::TEAM_SOURCE {
        if args.live_tools {
            return Err(nested_live_tools("the demo's team"));
        }
        let built = (warden_cli::demo::team(&executor).await).map_err(|e| e.to_string())?;
        let entry = built.entry().clone();
        team = Some(built);
        (entry, None)
    } else if file.as_os_str() == warden_cli::demo::DEMO_SOURCE {
        let (agent, notes) =
            (warden_cli::demo::demo_agent(&executor).await).map_err(|e| e.to_string())?;
        (agent, Some(notes))
    } else if let Some(def) = TeamDef::load_for_run(&file).map_err(|e| e.to_string())? {
        // A team file, loaded as `warden run` loads it, but connected to nothing.
        if args.live_tools && def.nests_agents() {
            return Err(nested_live_tools(&format!("{}'s team", file.display())));
        }
        let built = (def.build_with_model(executor.clone(), script.clone()).await)
            .map_err(|e| e.to_string())?;
        let entry = built.entry().clone();
        team = Some(built);
        (entry, None)
    } else {
        let def = AgentDef::load(&file).map_err(|e| e.to_string())?;
        let agent = Agent::load(&def, &executor)
            .await
            .map_err(|e| e.to_string())?;
        (agent, None)
    };
    let replayed = if args.live_tools {
        let mut runner = Runner::new(script, executor);
        if let Some(team) = team {
            runner = runner.with_team(team);
        }
        let mut session = runner.session(&agent);
        // A request past the recorded responses fails the run: the history shows where.
        let _ = session
            .send(input.to_string(), &RunHandle::new(), |_| {})
            .await;
        (session.state()).map_or_else(Vec::new, |s| s.transcript().to_vec())
    } else {
        with_recorded_tools(&agent, team.as_ref(), input, responses, &recorded)?
    };
    Ok(first_divergence(&recorded, &replayed))
}

/// Why `--live-tools` refuses a team whose agents run other agents inside their turns.
fn nested_live_tools(what: &str) -> String {
    format!(
        "--live-tools cannot replay {what}: an agent of it runs another agent inside its turn \
         (an agent tool or an agent guardrail), and that agent's own model calls are not \
         recorded, so they cannot be fed back; replay it without the flag (those answers \
         then come from the recorded tool results)"
    )
}

/// Drives the agent's loop with the recorded responses and the recorded tool results, and
/// follows its handoffs within `team` up to its handoff limit, as the run did (agents
/// offered as tools are not run: their answers are recorded tool results).
fn with_recorded_tools(
    agent: &Agent,
    team: Option<&Team>,
    input: &str,
    responses: Vec<warden_core::chat::ChatResponse>,
    recorded: &[Message],
) -> Result<Vec<Message>, String> {
    let results: HashMap<&str, &str> = (recorded.iter())
        .filter_map(|m| match m {
            Message::Tool {
                call_id, content, ..
            } => Some((call_id.as_str(), &**content)),
            _ => None,
        })
        .collect();
    let mut agent = agent.clone();
    let mut controller = agent.new_controller(input).map_err(|e| e.to_string())?;
    let mut model = ScriptedModel::new(responses);
    let mut handoffs = 0;
    loop {
        let fed = match controller.next_step() {
            Step::CallModel(request) | Step::Summarize(request) => match model.respond(&request) {
                Ok(response) => controller.on_model_response(response),
                // Past the record: the replay asked for more than was recorded.
                Err(_) => break,
            },
            Step::RunTools(plan) => {
                let outcomes = (plan.calls.iter())
                    .map(|call| ToolOutcome {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        result: Ok(results
                            .get(call.call_id.as_str())
                            .map_or("(no result in the record)".into(), |r| (*r).to_string())),
                        usage: ToolUsage::default(),
                    })
                    .collect();
                controller.on_tool_results(outcomes)
            }
            Step::Done(_) => {
                let Some(team) = team else { break };
                // One handoff past the limit ended the run there.
                if handoffs >= team.max_handoffs() {
                    break;
                }
                match team.follow_handoff(&agent, &controller) {
                    Ok(Some((next, next_controller))) => {
                        (agent, controller) = (next, next_controller);
                        handoffs += 1;
                        continue;
                    }
                    Ok(None) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        fed.map_err(|e| e.to_string())?;
    }
    Ok(controller.state().transcript().to_vec())
}

/// The first message where the two histories differ, with its step (the model call it
/// follows); tool results are compared by their text.
fn first_divergence(recorded: &[Message], replayed: &[Message]) -> Option<String> {
    let step_of = |at: usize| {
        (recorded[..at].iter())
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count()
            .saturating_sub(1)
    };
    let same = |a: &Message, b: &Message| match (a, b) {
        (
            Message::Tool {
                call_id: x,
                content: c,
                ..
            },
            Message::Tool {
                call_id: y,
                content: d,
                ..
            },
        ) => x == y && c == d,
        _ => a == b,
    };
    for (at, (a, b)) in recorded.iter().zip(replayed).enumerate() {
        if !same(a, b) {
            return Some(format!(
                "replay diverges at step {} (message {at}):\n  recorded: {}\n  replayed: {}",
                step_of(at),
                brief(a),
                brief(b)
            ));
        }
    }
    match recorded.len().cmp(&replayed.len()) {
        std::cmp::Ordering::Equal => None,
        _ => Some(format!(
            "replay diverges after step {}: the record has {} messages, the replay {}",
            step_of(recorded.len().min(replayed.len())),
            recorded.len(),
            replayed.len()
        )),
    }
}

fn brief(message: &Message) -> String {
    let json = serde_json::to_string(message).unwrap_or_default();
    match json.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &json[..at]),
        None => json,
    }
}
