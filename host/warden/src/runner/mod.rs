//! The IO driver of the sans-IO [`Controller`]: the [`Runner`] calls the model (streaming or
//! not), runs the tool calls of a turn concurrently in the executor's sandboxes, turns LLM
//! notices into events, and honours cancellation.
//!
//! ```text
//! Runner::from_file("agent.toml")      -> (Runner, Agent)   all checks before any model call
//! runner.run(&agent, "task")           -> RunResult
//! runner.run_streamed(&agent, "task")  -> (RunStream of RunEvent, RunHandle)
//! runner.run_sync(&agent, "task")      -> RunResult         (no async runtime needed)
//! runner.session(&agent)               -> Session           multi-turn chat
//! ```
//!
//! Invariants: every decision is the controller's (this module only does what a [`Step`]
//! says and feeds back what happened); every event the controller queues is forwarded, in
//! order, before the step that follows it; a cancelled run still returns its partial result
//! and usage; no tool call outlives the run that started it.

mod agent;
mod approval;
mod drive;
mod durable;
mod error;
mod failpoint;
mod guard;
mod record;
mod session;
mod setup;
mod stream;
mod team;
mod tools;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::agent::AgentDef;
use warden_core::events::RunEvent;
use warden_core::run::RunResult;
use warden_llm::Model;
use warden_sandbox::{EngineConfig, Executor};

pub use agent::Agent;
pub use agent::load_pack;
pub use approval::{ApprovalRequest, Approver};
pub(crate) use durable::describe_changes;
pub use durable::{DurableError, INTERRUPTED, Recorded, ResumeOptions};
pub use error::{RunError, SetupError};
pub use session::Session;
pub(crate) use setup::connect_model;
pub use stream::RunStream;

use crate::multi::{Team, run_agents};
pub(crate) use drive::duration_ms;
pub(crate) use team::drive_to_end;

#[cfg(doc)]
use warden_core::controller::Step;

/// Drives runs of [`Agent`]s against one model with one executor. Cheap to clone; share it
/// between tasks and runs.
#[derive(Clone)]
pub struct Runner {
    model: Arc<dyn Model>,
    executor: Executor,
    streaming: bool,
    /// Where durable runs are recorded (see `durable`).
    store: Option<Arc<dyn warden_store::Store>>,
    /// Decides on calls that need approval, in-process (see `approval`).
    approver: Option<Arc<dyn Approver>>,
    /// The agents handoffs may name (see `crate::multi`).
    team: Option<Team>,
    /// Emit `ModelContent` events (see [`Runner::capture_content`]).
    capture_content: bool,
}

impl Runner {
    /// A runner calling `model` and running tools in `executor`. Model calls are not streamed
    /// unless [`Runner::streaming`] turns it on (`run_streamed` always streams).
    pub fn new(model: Arc<dyn Model>, executor: Executor) -> Self {
        Self {
            model,
            executor,
            streaming: false,
            store: None,
            approver: None,
            team: None,
            capture_content: false,
        }
    }

    /// Emits a `ModelContent` event for every model call: the messages it was sent and
    /// its answer, in full up to a bound (see `warden_core::events::content`), for traces
    /// that record content (`warden_trace::TraceOptions::capture_content`). Off by
    /// default: the events then carry no message content beyond the task, previews and
    /// the answer. Nested runs (agents called as tools) inherit it.
    pub fn capture_content(mut self, on: bool) -> Self {
        self.capture_content = on;
        self
    }

    /// Whether model calls emit `ModelContent` events.
    pub fn captures_content(&self) -> bool {
        self.capture_content
    }

    /// Whether model calls use the provider's streaming API (text arrives as `TextDelta`
    /// events while the model writes; without it, as one `TextDelta` per model call once
    /// the call returns).
    pub fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Loads the agent file at `path` and builds the runner and the agent: see
    /// [`Runner::from_def_with`]. Uses a new executor with the default engine settings. A
    /// file that declares handoffs, agent tools or guardrails (naming other agent files)
    /// builds their team too, set on the runner, with the same checks; so does a
    /// multi-agent file (`[agents.<name>]` tables, see [`crate::team_file`]), entered by its
    /// `entry` agent.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<(Runner, Agent), SetupError> {
        // A file with handoffs, agent tools or guardrails is the entry of a team: the
        // runner comes with it (see `TeamDef::load_agent_file`).
        if crate::team_file::declares_links(path.as_ref()) {
            return crate::team_file::from_agent_file(path.as_ref()).await;
        }
        if crate::team_file::is_multi_agent_file(path.as_ref()) {
            return crate::team_file::from_multi_agent_file(path.as_ref()).await;
        }
        let def = AgentDef::load(path).map_err(|e| SetupError::Agent(Box::new(e)))?;
        Self::from_def(&def).await
    }

    /// [`Runner::from_def_with`] a new executor with the default engine settings.
    pub async fn from_def(def: &AgentDef) -> Result<(Runner, Agent), SetupError> {
        let executor = Executor::new(EngineConfig::default())
            .map_err(|e| SetupError::Executor(Box::new(e)))?;
        Self::from_def_with(def, executor).await
    }

    /// Builds everything an agent definition needs, checking it all before any model call:
    /// the files it names exist, every component loads, every policy is valid and grants only
    /// existing directories, tool names are unique, the loop settings compile, the API key is
    /// set and the model's base URL answers (through any proxy the environment sets). The
    /// first problem is returned as one error naming the file and key and saying what to do.
    pub async fn from_def_with(
        def: &AgentDef,
        executor: Executor,
    ) -> Result<(Runner, Agent), SetupError> {
        let agent = Agent::load(def, &executor).await?;
        let model = setup::connect_model(def).await?;
        Ok((Runner::new(model, executor), agent))
    }

    /// Asks `approver` about calls of tools marked `approval = "always" | "first"` (without
    /// one, a recorded run pauses there and an unrecorded run rejects the call).
    pub fn with_approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// Runs agents of `team`: their handoffs name its agents (see [`Team`]). Runs of
    /// agents with handoffs need one; [`Runner::run_team`] sets it for one run.
    pub fn with_team(mut self, team: Team) -> Self {
        self.team = Some(team);
        self
    }

    /// The team handoffs are resolved in, if any.
    pub fn team(&self) -> Option<&Team> {
        self.team.as_ref()
    }

    /// Runs `team`'s entry agent on `input` to the end, handoffs and all.
    pub async fn run_team(
        &self,
        team: &Team,
        input: impl Into<String>,
    ) -> Result<RunResult, RunError> {
        let runner = self.clone().with_team(team.clone());
        runner.run(team.entry(), input).await
    }

    pub(crate) fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// The model this runner calls.
    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// The executor tools run in.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Runs `agent` on `input` to the end.
    pub async fn run(
        &self,
        agent: &Agent,
        input: impl Into<String>,
    ) -> Result<RunResult, RunError> {
        self.run_with(agent, input, &RunHandle::new(), |_| {}).await
    }

    /// Runs `agent` on `input`, giving every event to `on_event` as it happens and stopping
    /// when `handle` says so.
    pub async fn run_with(
        &self,
        agent: &Agent,
        input: impl Into<String>,
        handle: &RunHandle,
        mut on_event: impl FnMut(RunEvent),
    ) -> Result<RunResult, RunError> {
        run_agents(
            self,
            agent,
            input.into(),
            handle,
            &mut on_event,
            self.streaming,
        )
        .await
    }

    /// Starts a run in a new task and returns its events as a stream (model calls are
    /// streamed, so text arrives as `TextDelta`s) plus a handle to cancel it. The stream ends
    /// after `RunFinished`; [`RunStream::result`] gives the result. Call it inside a tokio
    /// runtime (it spawns).
    ///
    /// Buffering: events wait in the stream until read; a run's events are bounded by its own
    /// budgets (turns, output tokens, tool calls). Once the stream is dropped or
    /// [`RunStream::result`] is taken, later events are not kept at all: a caller that stops
    /// reading stops the buffering by saying so.
    pub fn run_streamed(&self, agent: &Agent, input: impl Into<String>) -> (RunStream, RunHandle) {
        stream::start(self.clone(), agent.clone(), input.into())
    }

    /// Runs `agent` on `input` to the end, blocking the thread, on a current-thread tokio
    /// runtime built for the call. Fails with [`RunError::InsideRuntime`] when called from
    /// inside an async runtime (use [`Runner::run`] there).
    pub fn run_sync(&self, agent: &Agent, input: impl Into<String>) -> Result<RunResult, RunError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(RunError::InsideRuntime);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        runtime.block_on(self.run(agent, input))
    }

    /// A multi-turn session with `agent`: each [`Session::send`] is one user turn; the
    /// history, usage and budget totals carry over.
    pub fn session(&self, agent: &Agent) -> Session {
        Session::new(self.clone(), agent.clone())
    }
}

/// Stops a run from outside. Clone it freely; all clones control the same run.
#[derive(Debug, Clone, Default)]
pub struct RunHandle {
    token: CancellationToken,
    after_turn: Arc<AtomicBool>,
}

impl RunHandle {
    /// A handle that has not been cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops now: the model request and tool calls in flight are abandoned (their sandboxes
    /// are dropped), finished calls keep their results and usage, and the run returns with
    /// stop reason `cancelled`.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Stops once the current turn (the model's response and its tool calls) is done.
    pub fn cancel_after_turn(&self) {
        self.after_turn.store(true, Ordering::SeqCst);
    }

    /// Whether [`RunHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The token behind [`RunHandle::cancel`], to tie the run to a wider cancellation.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// A handle cancelled with `parent` (a nested run's: cancelling its caller cancels it).
    pub(crate) fn child_of(parent: &CancellationToken) -> Self {
        Self {
            token: parent.child_token(),
            after_turn: Arc::default(),
        }
    }

    fn after_turn_requested(&self) -> bool {
        self.after_turn.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests;
