//! The loop's settings and the controller's errors.
//!
//! `LoopConfig` is what the controller needs from an agent definition, with no file
//! format attached: `warden::AgentDef::loop_config` fills it, tests build it directly.

use crate::budget::Budget;
use crate::context::DEFAULT_TOOL_OUTPUT_CAP;
use crate::context::models::Price;
use crate::parser::ParserError;

/// When and how old context is compacted.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionConfig {
    /// Ask the model for a summary of old turns (otherwise they are only dropped).
    pub summarize: bool,
    /// Summarise when the history uses more than this share of the input budget (0.0–1.0).
    pub trigger_ratio: f64,
    /// Turns kept verbatim after a summary.
    pub keep_recent_turns: usize,
    /// Per-output token cap for tool results when the history is too large.
    pub tool_output_cap: u64,
    /// Most output tokens the summary may use.
    pub summary_max_tokens: u32,
}

impl Default for CompactionConfig {
    /// Summaries on, at 80% of the input budget, keeping 4 recent turns; tool outputs capped
    /// at 4000 tokens; summaries of at most 1024 tokens.
    fn default() -> Self {
        Self {
            summarize: true,
            trigger_ratio: 0.8,
            keep_recent_turns: 4,
            tool_output_cap: DEFAULT_TOOL_OUTPUT_CAP,
            summary_max_tokens: 1024,
        }
    }
}

/// Everything the loop needs to know about the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopConfig {
    /// Name shown in events.
    pub agent_name: String,
    /// The system prompt.
    pub instructions: String,
    /// The provider's model name; also selects the window, tokenizer and price from the
    /// known-models table.
    pub model: String,
    /// Cap on the output tokens of each response.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// `top_p`, `seed`, stop sequences, reasoning or thinking, `extra_body`.
    pub options: crate::options::ModelOptions,
    /// Context window in tokens; overrides the known-models table.
    pub context_window: Option<u32>,
    /// The run's limits.
    pub budget: Budget,
    /// Overrides the price table (`None`: use the table; unknown models cost 0).
    pub price: Option<Price>,
    /// A successful call to one of these tools ends the run with its output.
    pub stop_on_tools: Vec<String>,
    /// Turns with invalid tool calls or empty answers tolerated before the run ends.
    pub max_invalid_turns: u32,
    /// JSON Schema the final answer must match.
    pub output_schema: Option<serde_json::Value>,
    /// Rejected final answers tolerated before the run ends.
    pub max_output_retries: u32,
    /// Most tool calls running at once.
    pub max_parallel_tools: usize,
    /// Let the model request several calls in one turn.
    pub parallel_tool_calls: bool,
    /// Largest argument text of one tool call, in bytes. Larger arguments are dropped unread
    /// and the call is rejected to the model with the size and this limit.
    pub max_tool_args_bytes: u64,
    /// When and how old context is compacted.
    pub compaction: CompactionConfig,
}

impl LoopConfig {
    /// Defaults for `model`: 1024 output tokens, 20 turns, 3 invalid turns, 2 output
    /// retries, 8 parallel tools, 1 MiB of arguments per tool call, compaction with summaries.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            agent_name: "agent".into(),
            instructions: String::new(),
            model: model.into(),
            max_tokens: 1024,
            temperature: None,
            options: crate::options::ModelOptions::default(),
            context_window: None,
            budget: Budget::default(),
            price: None,
            stop_on_tools: Vec::new(),
            max_invalid_turns: 3,
            output_schema: None,
            max_output_retries: 2,
            max_parallel_tools: 8,
            parallel_tool_calls: true,
            max_tool_args_bytes: crate::chat::DEFAULT_MAX_TOOL_ARGS_BYTES,
            compaction: CompactionConfig::default(),
        }
    }
}

/// A misuse of the controller or a configuration it cannot run with.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControllerError {
    /// The tool catalog or output schema is invalid.
    #[error(transparent)]
    Catalog(#[from] ParserError),
    /// A feed method was called in the wrong phase (a driver bug).
    #[error("{got} was fed while the controller was {phase}")]
    UnexpectedFeed {
        /// What was fed (`a model response`, ...).
        got: &'static str,
        /// What the controller was doing.
        phase: &'static str,
    },
    /// An outcome for a call that is not pending.
    #[error("no pending tool call has id `{0}`")]
    UnknownCall(String),
    /// `continue_with` on a run that has not finished.
    #[error("the run has not finished: drive it to `Done` before adding a new user turn")]
    NotFinished,
    /// A stop tool that is not in the catalog.
    #[error("stop_on_tools names `{0}`, which no loaded tool provides")]
    UnknownStopTool(String),
}
