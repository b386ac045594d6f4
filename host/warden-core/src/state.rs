//! The in-memory state of one run: the live history sent to the model, the full
//! transcript (originals of compacted turns included), per-step records and usage totals.
//!
//! Invariant: nothing is ever removed from the transcript. Compaction only replaces a range
//! of the live history by a summary, and the replaced messages stay in the compaction record
//! and in the transcript, so a run is auditable after the fact.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::chat::{FinishReason, Message, Usage};
use crate::tool::{ToolFailureKind, ToolUsage};

/// Usage summed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Input tokens of every model call.
    pub input_tokens: u64,
    /// Output tokens of every model call.
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (a subset of `input_tokens`).
    pub cached_tokens: u64,
    /// Cost of the model calls in USD (0 without a price).
    pub cost_usd: f64,
    /// Model calls made (summaries and the forced final answer included).
    pub model_calls: u32,
    /// Tool calls executed (invalid calls, which are never run, not included).
    pub tool_calls: u32,
    /// Tool calls rejected by the parser.
    pub invalid_tool_calls: u32,
    /// Wasm fuel units the tools burned.
    pub fuel: u64,
    /// Wall-clock time of the tool calls added up, in milliseconds (concurrent calls overlap).
    pub tool_wall_ms: u64,
    /// Bytes sent into the tools.
    pub bytes_in: u64,
    /// Bytes of tool output.
    pub bytes_out: u64,
    /// Outgoing HTTP requests the tools attempted.
    pub http_requests: u64,
    /// HTTP request body bytes sent by tools.
    #[serde(default)]
    pub http_bytes_sent: u64,
    /// HTTP response body bytes received by tools.
    #[serde(default)]
    pub http_bytes_received: u64,
    /// Model calls whose server reported no usage: their tokens (and cost) are warden's
    /// estimate, counted so token and cost budgets still hold.
    #[serde(default)]
    pub estimated_usage_calls: u32,
}

impl UsageTotals {
    /// Input plus output tokens.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Adds one model call's usage and cost. Saturating: the counts come from a server.
    pub fn add_model(&mut self, usage: &Usage, cost_usd: f64) {
        self.input_tokens = self.input_tokens.saturating_add(usage.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(usage.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(usage.cached_tokens);
        self.cost_usd += cost_usd;
        self.model_calls += 1;
    }

    /// Adds everything `other` counted (a nested run's usage, charged to its caller).
    pub fn add_totals(&mut self, other: &UsageTotals) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.cost_usd += other.cost_usd;
        self.model_calls = self.model_calls.saturating_add(other.model_calls);
        self.tool_calls = self.tool_calls.saturating_add(other.tool_calls);
        self.invalid_tool_calls =
            (self.invalid_tool_calls).saturating_add(other.invalid_tool_calls);
        self.fuel = self.fuel.saturating_add(other.fuel);
        self.tool_wall_ms = self.tool_wall_ms.saturating_add(other.tool_wall_ms);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.http_requests = self.http_requests.saturating_add(other.http_requests);
        self.http_bytes_sent = (self.http_bytes_sent).saturating_add(other.http_bytes_sent);
        self.http_bytes_received =
            (self.http_bytes_received).saturating_add(other.http_bytes_received);
        self.estimated_usage_calls =
            (self.estimated_usage_calls).saturating_add(other.estimated_usage_calls);
    }

    /// Adds one executed tool call's usage.
    pub fn add_tool(&mut self, usage: &ToolUsage) {
        self.tool_calls += 1;
        self.fuel += usage.fuel;
        self.tool_wall_ms += usage.wall_ms;
        self.bytes_in += usage.bytes_in;
        self.bytes_out += usage.bytes_out;
        self.http_requests += usage.http_requests;
        self.http_bytes_sent += usage.http_bytes_sent;
        self.http_bytes_received += usage.http_bytes_received;
    }
}

/// What kind of model call a step was. Serialised in snake case (`forced_final`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelCallKind {
    /// A normal turn of the loop.
    Turn,
    /// A summary of old turns for compaction.
    Summary,
    /// The last call, tools disabled, after a budget ran out.
    ForcedFinal,
}

impl std::fmt::Display for ModelCallKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Turn => "turn",
            Self::Summary => "summary of older turns",
            Self::ForcedFinal => "final answer, tools off",
        })
    }
}

/// One executed tool call, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The model's id of the call.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// `None` on success, else the failure kind.
    pub error_kind: Option<ToolFailureKind>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// What the attempts used together (peak memory: the largest).
    pub usage: ToolUsage,
}

/// A tool call the parser rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidCallRecord {
    /// The model's id of the call.
    pub call_id: String,
    /// The tool name the model used.
    pub name: String,
    /// Why it was rejected, in one line.
    pub reason: String,
}

/// One step of the run: a model call and the tool calls it led to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Position of the step in the run, from 0.
    pub index: usize,
    /// What the model call was for.
    pub kind: ModelCallKind,
    /// Estimated input tokens of the request, before it was sent.
    pub estimated_input_tokens: u64,
    /// Tokens the call used.
    pub usage: Usage,
    /// The server reported no usage: `usage` is warden's estimate.
    #[serde(default)]
    pub usage_estimated: bool,
    /// Cost of the call in USD (0 without a price).
    pub cost_usd: f64,
    /// Why the model stopped; `None` until it answered (or when the call failed).
    pub finish_reason: Option<FinishReason>,
    /// The tool calls run in this step, in the order their first attempt finished.
    pub tool_calls: Vec<ToolCallRecord>,
    /// The tool calls the parser rejected.
    pub invalid_calls: Vec<InvalidCallRecord>,
}

/// A compaction: which live messages were replaced, and by what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// Step during which it happened.
    pub step: usize,
    /// The replaced messages, verbatim.
    pub originals: Vec<Message>,
    /// The summary the model wrote.
    pub summary: String,
}

/// The state of one run. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    live: Vec<Message>,
    transcript: Vec<Message>,
    steps: Vec<StepRecord>,
    compactions: Vec<CompactionRecord>,
    usage: UsageTotals,
    #[serde(skip)]
    lineage: Lineage,
}

/// Which line of appends a state's lists are on: new for every state made, cloned,
/// deserialised or put together, and whenever the live history changes other than by an
/// append (a compaction, a replacement). While it stays the same, the live history, the
/// transcript, the compactions and all step records but the last are only ever appended
/// to, so a writer that kept what it wrote may write only what follows. Not part of the
/// state's value: equality and serialisation ignore it.
#[derive(Debug)]
struct Lineage(u64);

impl Lineage {
    fn fresh() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl Default for Lineage {
    fn default() -> Self {
        Self::fresh()
    }
}

impl Clone for Lineage {
    /// A clone goes its own way: it gets a line of its own.
    fn clone(&self) -> Self {
        Self::fresh()
    }
}

impl PartialEq for Lineage {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl RunState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a message to the live history and the transcript.
    pub fn push(&mut self, message: Message) {
        self.transcript.push(message.clone());
        self.live.push(message);
    }

    /// The history the next request is built from (no system prompt).
    pub fn live(&self) -> &[Message] {
        &self.live
    }

    /// Every message of the run in order, compacted originals included.
    pub fn transcript(&self) -> &[Message] {
        &self.transcript
    }

    /// Replaces `range` of the live history by one user message carrying `summary`; the
    /// originals move to the compaction record. Out-of-range or empty ranges change nothing.
    pub fn compact(&mut self, range: Range<usize>, summary: String) -> Option<&CompactionRecord> {
        if range.is_empty() || range.end > self.live.len() {
            return None;
        }
        let note = Message::user(format!("[Summary of the earlier conversation]\n{summary}"));
        let originals: Vec<Message> = self.live.splice(range, [note]).collect();
        self.lineage = Lineage::fresh();
        self.compactions.push(CompactionRecord {
            step: self.steps.len(),
            originals,
            summary,
        });
        self.compactions.last()
    }

    /// Compactions so far.
    pub fn compactions(&self) -> &[CompactionRecord] {
        &self.compactions
    }

    /// Starts the record of a new step; returns its index.
    pub fn begin_step(&mut self, kind: ModelCallKind, estimated_input_tokens: u64) -> usize {
        let index = self.steps.len();
        self.steps.push(StepRecord {
            index,
            kind,
            estimated_input_tokens,
            usage: Usage::default(),
            usage_estimated: false,
            cost_usd: 0.0,
            finish_reason: None,
            tool_calls: Vec::new(),
            invalid_calls: Vec::new(),
        });
        index
    }

    /// The current (latest) step, if any.
    pub fn current_step_mut(&mut self) -> Option<&mut StepRecord> {
        self.steps.last_mut()
    }

    /// All step records.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// Usage totals.
    pub fn usage(&self) -> &UsageTotals {
        &self.usage
    }

    /// Usage totals, to add to.
    pub fn usage_mut(&mut self) -> &mut UsageTotals {
        &mut self.usage
    }

    /// Replaces the live history by `live` (a handoff passing a filtered history on). The
    /// transcript keeps every message: nothing is removed from it.
    pub fn replace_live(&mut self, live: Vec<Message>) {
        self.live = live;
        self.lineage = Lineage::fresh();
    }

    /// The line of appends the lists are on (see [`RunState`]'s `lineage`): while two
    /// reads give the same value, the lists only grew at their ends (the last step record
    /// excepted, which changes as its tool calls finish).
    pub fn lineage(&self) -> u64 {
        self.lineage.0
    }

    /// The state taken apart, so a store can keep its growing lists as rows of their own.
    pub fn into_parts(self) -> RunStateParts {
        RunStateParts {
            live: self.live,
            transcript: self.transcript,
            steps: self.steps,
            compactions: self.compactions,
            usage: self.usage,
        }
    }

    /// The state put back together from [`RunState::into_parts`].
    pub fn from_parts(parts: RunStateParts) -> Self {
        Self {
            live: parts.live,
            transcript: parts.transcript,
            steps: parts.steps,
            compactions: parts.compactions,
            usage: parts.usage,
            lineage: Lineage::fresh(),
        }
    }
}

/// The pieces of a [`RunState`] (see [`RunState::into_parts`]): the four lists that grow
/// with the run, and the usage totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStateParts {
    /// The live history.
    pub live: Vec<Message>,
    /// Every message of the run.
    pub transcript: Vec<Message>,
    /// The step records.
    pub steps: Vec<StepRecord>,
    /// The compactions.
    pub compactions: Vec<CompactionRecord>,
    /// Usage totals.
    pub usage: UsageTotals,
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn compaction_keeps_originals_in_record_and_transcript() {
        let mut state = RunState::new();
        for text in ["task", "a", "b", "c"] {
            state.push(Message::user(text));
        }
        let record = state.compact(1..3, "a and b happened".into()).unwrap();
        assert_eq!(
            record.originals,
            vec![Message::user("a"), Message::user("b")]
        );
        assert_eq!(state.live().len(), 3);
        assert!(
            matches!(&state.live()[1], Message::User { content } if content.contains("a and b happened"))
        );
        assert_eq!(state.transcript().len(), 4);
        assert!(state.compact(2..9, "x".into()).is_none());
    }
}
