//! `warden demo`, as a library function: a realistic multi-step task run fully offline with
//! the scripted [`DemoModel`] and the repo's real guest tools (fs, text, calc, http) in
//! their sandboxes. It shows parallel tool calls, two calls refused by the sandbox (a file
//! outside the granted folder; a web host with no egress allowed — refused before any
//! connection) and the model recovering, and a tool-call budget stop with a forced final
//! answer. A second scene ([`run_team_scene`]) runs several agents: one called by another as
//! a tool, then a handoff. [`run`] returns a [`DemoReport`] of what the sandbox enforced.
//!
//! Invariant: nothing leaves the machine — the model is in-process and the only granted
//! capability is one read-only temporary folder; the folder is removed when the demo ends.

mod model;
mod report;
mod team;
mod workspace;

use std::collections::BTreeMap;
use std::sync::Arc;

use warden::{Agent, RunError, RunHandle, Runner, SetupError};
use warden_core::budget::Budget;
use warden_core::controller::LoopConfig;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_sandbox::{DirMode, Executor, GrantedDir, LoadError, ToolPolicy};

pub use model::DemoModel;
pub use report::{DemoReport, RefusedCall};
pub use team::{TEAM_SOURCE, TEAM_TASK, run_team_scene, run_team_scene_recorded, team};
pub use workspace::{GUEST_NOTES, Workspace};

/// The task the demo's agent is given.
pub const TASK: &str = "Analyse the project notes in /notes: list the open action items with \
their owners, total the estimated hours, and check the budget and the roadmap they link to.";

/// Tool calls the demo's agent may make (the model asks for one more turn than this allows).
pub const MAX_TOOL_CALLS: u32 = 11;

/// Wasm fuel units each call may burn.
pub const FUEL_PER_CALL: u64 = 500_000_000;

/// Linear memory each call may use, in bytes (32 MiB).
pub const MEMORY_PER_CALL: u64 = 32 << 20;

/// Why the demo could not run.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The temporary folder could not be created.
    #[error("cannot create the demo's temporary folder: {0}")]
    Workspace(#[source] std::io::Error),
    /// A built-in component did not load.
    #[error("the built-in {tool} component does not load: {source}")]
    Load {
        /// The component's built-in name (`fs`, `calc`, ...).
        tool: &'static str,
        /// Why it did not load.
        source: LoadError,
    },
    /// The agent could not be assembled.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The run could not be driven.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The second scene's agents do not form a team.
    #[error(transparent)]
    Team(#[from] warden::TeamError),
}

/// Runs the demo with `executor`, giving every event to `on_event` as it happens.
pub async fn run(
    executor: &Executor,
    on_event: impl FnMut(&RunEvent) + Send,
) -> Result<DemoReport, DemoError> {
    run_recorded(executor, None, on_event).await
}

/// [`run`], recorded in `store` when one is given (as any run: `warden runs show last`).
pub async fn run_recorded(
    executor: &Executor,
    store: Option<Arc<dyn warden::store::Store>>,
    mut on_event: impl FnMut(&RunEvent) + Send,
) -> Result<DemoReport, DemoError> {
    let (agent, workspace) = demo_agent(executor).await?;
    let runner = Runner::new(Arc::new(DemoModel), executor.clone()).streaming(true);
    let mut tally = report::Tally::default();
    let on_event = |event: RunEvent| {
        tally.observe(&event);
        on_event(&event);
    };
    let handle = RunHandle::new();
    let result: RunResult = match store {
        Some(store) => {
            let runner = runner.with_store(store);
            let recorded = runner.run_recorded(&agent, TASK, &handle, on_event).await?;
            // The demo's tools need no approval: a recorded demo run never pauses.
            (recorded.result).ok_or(RunError::Durable(warden::DurableError::NoStore))?
        }
        None => runner.run_with(&agent, TASK, &handle, on_event).await?,
    };
    Ok(tally.finish(result, workspace.notes().display().to_string()))
}

/// Where the demo's agent says it comes from, in its recorded runs.
pub const DEMO_SOURCE: &str = "builtin:demo";

/// The demo's agent and the notes folder it reads (removed when dropped): what `warden
/// replay` rebuilds for a recorded demo run.
pub async fn demo_agent(executor: &Executor) -> Result<(Agent, Workspace), DemoError> {
    let workspace = Workspace::create().map_err(DemoError::Workspace)?;
    let agent = agent(executor, &workspace).await?;
    Ok((agent, workspace))
}

/// The agent: fs (read-only `/notes`), text, calc, and http with no host allowed.
async fn agent(executor: &Executor, workspace: &Workspace) -> Result<Agent, DemoError> {
    let mut config = LoopConfig::new("demo-scripted");
    config.agent_name = "notes-analyst".into();
    config.instructions = "You analyse project notes with the tools you are given. Use \
        several tools at once when the calls are independent. Say what you could not check."
        .into();
    config.budget = Budget {
        max_tool_calls: Some(MAX_TOOL_CALLS),
        ..Budget::default()
    };
    let base = ToolPolicy {
        fuel: Some(FUEL_PER_CALL),
        max_memory_bytes: MEMORY_PER_CALL,
        ..ToolPolicy::default()
    };
    let fs_policy = ToolPolicy {
        dirs: vec![GrantedDir {
            host: workspace.notes(),
            guest: GUEST_NOTES.into(),
            mode: DirMode::ReadOnly,
        }],
        env: BTreeMap::new(),
        ..base.clone()
    };
    let components = [
        ("fs", fs_policy),
        ("text", base.clone()),
        ("calc", base.clone()),
        // No host is allowed (the default): every outgoing request is refused by the host's
        // egress policy before any DNS lookup or connection.
        ("http", base),
    ];
    let mut agent = Agent::new(config);
    for (tool, policy) in components {
        let set = warden::builtin::load_named(executor, tool)
            .await
            .map_err(|source| DemoError::Load { tool, source })?;
        agent = agent.with_tools(set, policy)?;
    }
    Ok(agent.with_source(DEMO_SOURCE))
}
