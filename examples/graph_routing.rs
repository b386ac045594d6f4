//! Routing between agents as a graph (the LangGraph pattern), with warden's public API only:
//! a planner, a worker and a reviewer, each an [`Agent`] with a model of its own, and a small
//! state machine that decides who runs next from the run's state.
//!
//! ```text
//!  START ─▶ planner ─▶ worker ─▶ reviewer ──(approved)──▶ END
//!                        ▲           │
//!                        └(revise)───┘      stop condition: at most MAX_ROUNDS drafts
//! ```
//!
//! Each node reads the shared [`State`], builds its agent's input from it, runs the agent
//! to a final answer with [`Runner::run`], and writes the answer back; the edges are plain
//! functions of the state. The reviewer's edge is the conditional one.
//!
//! `cargo run -p warden-examples --example graph_routing` runs it offline on scripted
//! models (no network).

use std::sync::Arc;

use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{Agent, EngineConfig, Executor, LoopConfig, Model, RunResult, Runner, StopReason};

/// The most drafts the worker writes before the graph stops without approval.
pub const MAX_ROUNDS: u32 = 3;

/// The nodes of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Planner,
    Worker,
    Reviewer,
    End,
}

/// Everything the nodes share and the edges decide on.
#[derive(Debug, Default)]
pub struct State {
    pub task: String,
    pub plan: String,
    pub draft: String,
    pub feedback: Option<String>,
    pub approved: bool,
    pub rounds: u32,
    /// The nodes in the order they ran.
    pub trail: Vec<Node>,
}

/// Where to go after `node`, given the state: the graph's edges.
pub fn next(node: Node, state: &State) -> Node {
    match node {
        Node::Planner => Node::Worker,
        Node::Worker => Node::Reviewer,
        // The conditional edge, with the stop condition.
        Node::Reviewer if state.approved || state.rounds >= MAX_ROUNDS => Node::End,
        Node::Reviewer => Node::Worker,
        Node::End => Node::End,
    }
}

/// The three agents.
pub struct Agents {
    pub planner: Agent,
    pub worker: Agent,
    pub reviewer: Agent,
}

impl Agents {
    /// The agents, each talking to its own model.
    pub fn new(planner: Arc<dyn Model>, worker: Arc<dyn Model>, reviewer: Arc<dyn Model>) -> Self {
        let agent = |name: &str, instructions: &str, model| {
            let mut config = LoopConfig::new("scripted");
            config.agent_name = name.into();
            config.instructions = instructions.into();
            Agent::new(config).with_model(model)
        };
        Agents {
            planner: agent("planner", "Break the task into short steps.", planner),
            worker: agent("worker", "Carry out the plan; apply any feedback.", worker),
            reviewer: agent(
                "reviewer",
                "Answer APPROVE, or REVISE: followed by what to change.",
                reviewer,
            ),
        }
    }
}

/// Runs the graph from the planner to the end.
pub async fn run_graph(runner: &Runner, agents: &Agents, task: &str) -> anyhow::Result<State> {
    let mut state = State {
        task: task.into(),
        ..State::default()
    };
    let mut node = Node::Planner;
    while node != Node::End {
        state.trail.push(node);
        match node {
            Node::Planner => {
                state.plan = answer(runner.run(&agents.planner, &state.task).await?)?;
            }
            Node::Worker => {
                let mut input = format!("Task: {}\nPlan: {}", state.task, state.plan);
                if let Some(feedback) = &state.feedback {
                    input.push_str(&format!(
                        "\nYour last draft: {}\nFeedback: {feedback}",
                        state.draft
                    ));
                }
                state.draft = answer(runner.run(&agents.worker, input).await?)?;
                state.rounds += 1;
            }
            Node::Reviewer => {
                let input = format!("Task: {}\nDraft: {}", state.task, state.draft);
                let review = answer(runner.run(&agents.reviewer, input).await?)?;
                state.approved = review.trim_start().starts_with("APPROVE");
                state.feedback = review.strip_prefix("REVISE:").map(|f| f.trim().to_owned());
            }
            Node::End => {}
        }
        node = next(node, &state);
    }
    Ok(state)
}

/// The final answer of a node's run, or why there is none.
fn answer(result: RunResult) -> anyhow::Result<String> {
    match (&result.stop_reason, result.output) {
        (StopReason::Completed, Some(output)) => Ok(output.text),
        (reason, _) => anyhow::bail!("a node's agent did not answer: {}", reason.describe()),
    }
}

/// Scripted models: the reviewer asks for one revision, then approves.
pub fn scripted() -> (Arc<ScriptedLlm>, Arc<ScriptedLlm>, Arc<ScriptedLlm>) {
    (
        Arc::new(ScriptedLlm::new([ScriptedModel::text(
            "1. List the facts. 2. Write two sentences.",
        )])),
        Arc::new(ScriptedLlm::new([
            ScriptedModel::text("Wasm tools run sandboxed."),
            ScriptedModel::text("Wasm tools run sandboxed. Fuel bounds their work."),
        ])),
        Arc::new(ScriptedLlm::new([
            ScriptedModel::text("REVISE: say what bounds the work."),
            ScriptedModel::text("APPROVE"),
        ])),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    warden::run_compiler_child_if_requested();
    let (planner, worker, reviewer) = scripted();
    let agents = Agents::new(planner.clone(), worker, reviewer);
    // The runner's own model is never used: every agent has one of its own.
    let runner = Runner::new(planner, Executor::new(EngineConfig::default())?);
    let state = run_graph(
        &runner,
        &agents,
        "Explain warden's sandbox in two sentences.",
    )
    .await?;
    println!("path: {:?}", state.trail);
    println!(
        "approved: {} after {} draft(s)",
        state.approved, state.rounds
    );
    println!("{}", state.draft);
    Ok(())
}
