//! The loop controller: a sans-IO state machine that decides each step of a run.
//!
//! The driver asks [`Controller::next_step`] what to do (`CallModel`, `Summarize`,
//! `RunTools`, `Done`), does the IO, and feeds the outcome back with
//! [`Controller::on_model_response`], [`Controller::on_model_error`] or
//! [`Controller::on_tool_results`]. [`Controller::cancel`] may come at any time. `next_step`
//! is idempotent while an answer is awaited: it returns the same pending step again.
//! Invariants: the live history is valid after every feed (each tool call gets exactly one
//! result, appended in call order, even when calls are invalid, skipped, aborted or
//! cancelled); a run always ends (turn budget, invalid-turn budget, output-retry budget,
//! a bound on turns the provider pauses in a row).
//!
//! A caller-driven loop (the driver owns the routing between "model" and "tools"):
//!
//! ```
//! use warden_core::controller::{Controller, LoopConfig, Step};
//! use warden_core::testing::ScriptedModel;
//! use warden_core::tool::{ToolCatalogEntry, ToolOutcome, ToolUsage};
//!
//! let tools = vec![ToolCatalogEntry::new("echo", "Echoes its input", serde_json::json!({"type": "object"}))];
//! let mut controller = Controller::new(LoopConfig::new("gpt-4o-mini"), tools, "Say hi via echo")?;
//! let mut model = ScriptedModel::new([
//!     ScriptedModel::calls(&[("c1", "echo", r#"{"text": "hi"}"#)]),
//!     ScriptedModel::text("The tool said hi."),
//! ]);
//! let result = loop {
//!     match controller.next_step() {
//!         Step::CallModel(request) | Step::Summarize(request) => {
//!             controller.on_model_response(model.respond(&request)?)?;
//!         }
//!         Step::RunTools(plan) => {
//!             let outcomes = plan.calls.iter().map(|call| ToolOutcome {
//!                 call_id: call.call_id.clone(),
//!                 name: call.name.clone(),
//!                 result: Ok(call.arguments["text"].to_string()),
//!                 usage: ToolUsage::default(),
//!             });
//!             controller.on_tool_results(outcomes.collect())?;
//!         }
//!         Step::Done(result) => break result,
//!     }
//!     for event in controller.take_events() {
//!         eprintln!("{}", event.to_json_line());
//!     }
//! };
//! assert_eq!(result.output.map(|o| o.text).as_deref(), Some("The tool said hi."));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod pause;
mod requests;
mod snapshot;
mod tools;
mod turn;
mod types;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_budget;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_pause;
#[cfg(test)]
mod tests_snapshot;
#[cfg(test)]
mod tests_stop;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::budget::{BudgetTracker, Consumption, Exhausted, OnExhaustion};
use crate::chat::{ChatRequest, ChatResponse, Message, ToolSpec, Usage, WireCache};
use crate::context::{ContextAssembler, models};
use crate::events::RunEvent;
use crate::parser::{OutputSchema, ToolSchemas};
use crate::run::{CancelMode, FinalOutput, ModelFailure, RunResult, StopReason};
use crate::state::{ModelCallKind, RunState};
use crate::tool::ToolCatalogEntry;
pub use config::{CompactionConfig, ControllerError, LoopConfig};
pub use snapshot::{ControllerSnapshot, SnapshotPhase, SnapshotSlot};
use tools::PendingTurn;
pub use types::*;

/// An agent's compiled schemas: tool arguments and the structured output. Compiled once per
/// agent and shared by its runs.
#[derive(Debug, Clone)]
pub struct Schemas {
    tools: Arc<ToolSchemas>,
    output: Option<Arc<OutputSchema>>,
}

impl Schemas {
    /// Compiles the schemas of `config` and `tools`. Fails if a tool schema or the output
    /// schema is invalid, or a stop tool is unknown.
    pub fn compile(
        config: &LoopConfig,
        tools: Vec<ToolCatalogEntry>,
    ) -> Result<Self, ControllerError> {
        let tools = ToolSchemas::compile(tools)?;
        if let Some(unknown) = config.stop_on_tools.iter().find(|n| tools.get(n).is_none()) {
            return Err(ControllerError::UnknownStopTool(unknown.clone()));
        }
        let output = config
            .output_schema
            .clone()
            .map(OutputSchema::compile)
            .transpose()?;
        Ok(Schemas {
            tools: Arc::new(tools),
            output: output.map(Arc::new),
        })
    }
}

/// Where the run stands.
enum Phase {
    /// Between steps: `next_step` decides.
    Ready,
    AwaitingModel {
        kind: ModelCallKind,
        request: Arc<ChatRequest>,
        estimate: u64,
        summary_range: Option<Range<usize>>,
    },
    AwaitingTools(PendingTurn),
    Finished(Box<RunResult>),
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Ready => "ready for the next step",
            Phase::AwaitingModel { .. } => "awaiting a model response",
            Phase::AwaitingTools(_) => "awaiting tool results",
            Phase::Finished(_) => "finished",
        }
    }
}

/// The loop state machine. See the module docs.
pub struct Controller {
    config: LoopConfig,
    system: String,
    tools: Arc<ToolSchemas>,
    specs: Arc<[ToolSpec]>,
    output_schema: Option<Arc<OutputSchema>>,
    assembler: ContextAssembler,
    budget: BudgetTracker,
    state: RunState,
    phase: Phase,
    events: Vec<RunEvent>,
    clock: Box<dyn Fn() -> Duration + Send>,
    turns: u32,
    invalid_turns: u32,
    output_retries: u32,
    /// Set when a budget ran out and the forced final answer is next.
    exhausted: Option<Exhausted>,
    cancel_after_turn: bool,
    /// A summary failed: no more summaries this run, old turns are dropped instead.
    summary_failed: bool,
    /// A summary was made since the last turn: make no second one before the next turn.
    summarized_since_turn: bool,
    /// Last (dropped, shrunk) counts reported, so a steady state does not repeat events.
    last_fit: (usize, usize),
    call_ids: HashSet<String>,
    /// The same ids in the order of first use (see `Controller::call_ids_in_order`).
    call_order: Vec<String>,
    /// The partial answer of a turn the provider paused, to be continued (see `pause`).
    paused: Option<String>,
    /// Pauses in a row.
    pauses: u32,
    /// The adapter's state between this run's requests (its encoding of the history).
    wire_cache: WireCache,
}

impl Controller {
    /// A controller for one run of `config` with `tools`, starting with the user's `input`.
    /// Fails if a tool schema or the output schema is invalid, or a stop tool is unknown.
    pub fn new(
        config: LoopConfig,
        tools: Vec<ToolCatalogEntry>,
        input: impl Into<String>,
    ) -> Result<Self, ControllerError> {
        let schemas = Schemas::compile(&config, tools)?;
        Ok(Self::with_schemas(config, &schemas, input))
    }

    /// A controller for one run with schemas compiled beforehand (shared by every run of
    /// an agent: compiling them costs more than a turn of the loop).
    pub fn with_schemas(config: LoopConfig, schemas: &Schemas, input: impl Into<String>) -> Self {
        let tools = schemas.tools.clone();
        let output_schema = schemas.output.clone();
        let mut system = config.instructions.clone();
        if let Some(schema) = &output_schema {
            if !system.is_empty() {
                system.push_str("\n\n");
            }
            system.push_str(&schema.instruction());
        }
        let assembler =
            ContextAssembler::new(&config.model, config.context_window, config.max_tokens)
                .with_tool_output_cap(config.compaction.tool_output_cap);
        let price = config.price.or_else(|| models::price(&config.model));
        let priced = price.is_some();
        let budget = BudgetTracker::new(config.budget.clone(), price);
        let input = input.into();
        let started = Instant::now();
        let mut controller = Self {
            specs: tools.specs(),
            tools,
            system,
            output_schema,
            assembler,
            budget,
            state: RunState::new(),
            phase: Phase::Ready,
            events: vec![RunEvent::RunStarted {
                agent: config.agent_name.clone(),
                model: config.model.clone(),
                input: input.clone(),
                provider: None,
                priced,
            }],
            clock: Box::new(move || started.elapsed()),
            turns: 0,
            invalid_turns: 0,
            output_retries: 0,
            exhausted: None,
            cancel_after_turn: false,
            summary_failed: false,
            summarized_since_turn: false,
            last_fit: (0, 0),
            call_ids: HashSet::new(),
            call_order: Vec::new(),
            paused: None,
            pauses: 0,
            wire_cache: WireCache::default(),
            config,
        };
        controller.state.push(Message::user(input));
        controller
    }

    /// Replaces the clock (elapsed time since the run started), e.g. for tests.
    pub fn with_clock(mut self, clock: impl Fn() -> Duration + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// What the driver should do next. Returns the pending step again while an answer is
    /// awaited, and `Done` (again) once the run is over.
    pub fn next_step(&mut self) -> Step {
        match &self.phase {
            Phase::Finished(result) => Step::Done((**result).clone()),
            Phase::AwaitingModel {
                kind: ModelCallKind::Summary,
                request,
                ..
            } => Step::Summarize(request.clone()),
            Phase::AwaitingModel { request, .. } => Step::CallModel(request.clone()),
            Phase::AwaitingTools(turn) => Step::RunTools(turn.plan()),
            Phase::Ready => self.plan_model_call(),
        }
    }

    /// Feeds the model's response to the pending `CallModel` or `Summarize` step.
    pub fn on_model_response(&mut self, mut response: ChatResponse) -> Result<(), ControllerError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Ready);
        let Phase::AwaitingModel {
            kind,
            estimate,
            summary_range,
            ..
        } = phase
        else {
            let got = phase.name();
            self.phase = phase;
            return Err(ControllerError::UnexpectedFeed {
                got: "a model response",
                phase: got,
            });
        };
        // Before anything reads them: arguments over the cap are dropped here at the latest.
        response.cap_tool_calls(self.config.max_tool_args_bytes);
        let estimated = self.fill_missing_usage(&mut response, estimate);
        let cost = self.budget.cost(&response.usage);
        let totals = self.state.usage_mut();
        totals.add_model(&response.usage, cost);
        totals.estimated_usage_calls += u32::from(estimated);
        let mut index = 0;
        if let Some(step) = self.state.current_step_mut() {
            step.usage = response.usage;
            step.usage_estimated = estimated;
            step.cost_usd = cost;
            step.finish_reason = Some(response.finish_reason.clone());
            index = step.index;
        }
        self.events.push(RunEvent::ModelResponse {
            step: index,
            kind,
            finish_reason: response.finish_reason.clone(),
            tool_calls: response.tool_calls.len(),
            usage: response.usage,
            usage_estimated: estimated,
            cost_usd: cost,
        });
        if !estimated {
            self.assembler
                .counter_mut()
                .calibrate(estimate, response.usage.input_tokens);
        }
        self.emit_warnings();
        match kind {
            ModelCallKind::Summary => self.apply_summary(response, summary_range.unwrap_or(0..0)),
            ModelCallKind::ForcedFinal => self.finish_forced(response),
            ModelCallKind::Turn => self.handle_turn(response),
        }
        Ok(())
    }

    /// Puts warden's estimate in place of the usage of a response whose server reported none
    /// (no real request has zero input tokens; some OpenAI-compatible servers leave usage
    /// out, or out of streams), so token and cost budgets still hold. Returns whether it did.
    fn fill_missing_usage(&self, response: &mut ChatResponse, estimated_input: u64) -> bool {
        if response.usage.input_tokens > 0 {
            return false;
        }
        let counter = self.assembler.counter();
        let text = response
            .text
            .as_deref()
            .map_or(0, |t| counter.count_text(t));
        // Dropped arguments were never kept: count them at ~4 bytes a token.
        let calls: u64 = (response.tool_calls.iter())
            .map(|c| {
                let dropped = c.dropped.map_or(0, |d| d.size_bytes / 4);
                counter.count_text(&c.name) + counter.count_text(&c.arguments) + dropped
            })
            .sum();
        response.usage = Usage {
            input_tokens: estimated_input.max(1),
            output_tokens: text + calls,
            cached_tokens: 0,
        };
        true
    }

    /// Feeds a failed model call (after the LLM interface's own retries). A failed summary
    /// only falls back to dropping old turns; any other failure ends the run.
    pub fn on_model_error(&mut self, failure: ModelFailure) -> Result<(), ControllerError> {
        match &self.phase {
            Phase::AwaitingModel {
                kind: ModelCallKind::Summary,
                ..
            } => {
                self.summary_failed = true;
                self.phase = Phase::Ready;
            }
            Phase::AwaitingModel { .. } => {
                self.finish(StopReason::ModelError { failure }, None, false);
            }
            other => {
                return Err(ControllerError::UnexpectedFeed {
                    got: "a model error",
                    phase: other.name(),
                });
            }
        }
        Ok(())
    }

    /// Stops the run. `Immediate`: pending tool calls get a "cancelled" result and the run
    /// ends now (feed the outcomes you already have first, to keep their usage).
    /// `AfterTurn`: the current model response and its tool calls complete, then it ends.
    pub fn cancel(&mut self, mode: CancelMode) {
        match mode {
            CancelMode::AfterTurn => self.cancel_after_turn = true,
            CancelMode::Immediate => {
                if matches!(self.phase, Phase::Finished(_)) {
                    return;
                }
                if let Phase::AwaitingTools(turn) = std::mem::replace(&mut self.phase, Phase::Ready)
                {
                    self.append_results(
                        turn.close("the run was cancelled before this call finished"),
                    );
                }
                self.finish(StopReason::Cancelled { mode }, None, false);
            }
        }
    }

    /// Ends the run with `reason`, decided by the driver (a tripped guardrail): pending tool
    /// calls are closed as in an immediate cancellation, and the run has no output. On a
    /// run that already finished, `reason` replaces its stop reason and its output is
    /// withdrawn (an output guardrail overrules the answer); a new `RunFinished` is queued,
    /// so a driver that holds back the first one forwards only the last.
    pub fn stop(&mut self, reason: StopReason) {
        if let Phase::AwaitingTools(turn) = std::mem::replace(&mut self.phase, Phase::Ready) {
            self.append_results(turn.close("the run was stopped before this call finished"));
        }
        self.finish(reason, None, false);
    }

    /// Starts a new user turn on a finished run (multi-turn chat). The history, usage and
    /// budget totals carry over; the turn and retry counters start again.
    pub fn continue_with(&mut self, input: impl Into<String>) -> Result<(), ControllerError> {
        if !matches!(self.phase, Phase::Finished(_)) {
            return Err(ControllerError::NotFinished);
        }
        self.phase = Phase::Ready;
        self.turns = 0;
        self.invalid_turns = 0;
        self.output_retries = 0;
        self.pauses = 0;
        self.exhausted = None;
        self.cancel_after_turn = false;
        self.state.push(Message::user(input.into()));
        Ok(())
    }

    /// Events queued since the last call, in order.
    pub fn take_events(&mut self) -> Vec<RunEvent> {
        std::mem::take(&mut self.events)
    }

    /// The events queued since the last call, drained in order; the queue keeps its room,
    /// so a driver draining it after every step allocates it once per run.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, RunEvent> {
        self.events.drain(..)
    }

    /// The run state (history, transcript, steps, usage).
    pub fn state(&self) -> &RunState {
        &self.state
    }

    /// The result, once the run is over.
    pub fn result(&self) -> Option<&RunResult> {
        match &self.phase {
            Phase::Finished(result) => Some(result),
            _ => None,
        }
    }

    /// The tool specs offered to the model.
    pub fn tool_specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// The system prompt sent (instructions plus the output-format instruction).
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    /// Wall time since the run started (as the time budget counts it).
    pub fn elapsed(&self) -> Duration {
        (self.clock)()
    }

    /// What is left of this run's budget now (see [`crate::budget::Budget::remaining`]):
    /// the most a nested run started now may use.
    pub fn remaining_budget(&self) -> crate::budget::Budget {
        (self.config.budget).remaining(self.state.usage(), (self.clock)())
    }

    /// Charges a nested run's usage (an agent called as a tool) to this run: its tokens,
    /// cost, model and tool calls count against this run's budget from the next check on.
    pub fn charge(&mut self, usage: &crate::state::UsageTotals) {
        self.state.usage_mut().add_totals(usage);
    }

    fn consumption(&self) -> Consumption<'_> {
        Consumption {
            totals: self.state.usage(),
            turns: self.turns,
            elapsed: (self.clock)(),
        }
    }

    fn emit_warnings(&mut self) {
        let consumption = Consumption {
            totals: self.state.usage(),
            turns: self.turns,
            elapsed: (self.clock)(),
        };
        for w in self.budget.new_warnings(consumption) {
            self.events.push(RunEvent::BudgetWarning {
                resource: w.resource,
                used: w.used,
                limit: w.limit,
            });
        }
    }

    /// A budget ran out: either the forced final answer comes next, or the run ends.
    fn on_exhausted(&mut self, exhausted: Exhausted) {
        match self.config.budget.on_exhaustion {
            OnExhaustion::Answer => self.exhausted = Some(exhausted),
            OnExhaustion::Error => self.finish(
                StopReason::Budget {
                    resource: exhausted.resource,
                    used: exhausted.used,
                    limit: exhausted.limit,
                },
                None,
                false,
            ),
        }
    }

    fn finish(&mut self, stop_reason: StopReason, output: Option<FinalOutput>, forced: bool) {
        self.commit_paused();
        let usage = *self.state.usage();
        self.events.push(RunEvent::RunFinished {
            stop_reason: stop_reason.clone(),
            forced,
            output: output.clone(),
            usage,
        });
        self.phase = Phase::Finished(Box::new(RunResult {
            stop_reason,
            output,
            forced,
            usage,
            steps: self.state.steps().to_vec(),
            compactions: self.state.compactions().len(),
        }));
    }
}
