//! Optional model settings beyond the basics (`top_p`, `seed`, stop sequences, reasoning
//! effort, a thinking budget, `extra_body`), carried by a request to the adapters.
//!
//! Invariant: the data only; which provider accepts which setting is checked by the adapters
//! (`warden-llm`), when an agent loads and before every request is encoded.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most stop sequences (the OpenAI API's limit, applied to both wires).
pub const MAX_STOP_SEQUENCES: usize = 4;
/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 256;
/// Smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// How hard an OpenAI reasoning model thinks before answering (`reasoning_effort`),
/// serialised in lower case.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    /// Fewest reasoning tokens: fastest and cheapest.
    Low,
    /// The API's default.
    Medium,
    /// Most reasoning tokens: slowest, for hard problems.
    High,
}

/// The optional settings of a request. Empty (the default) sends none of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOptions {
    /// Nucleus sampling, 0 to 1 (OpenAI `top_p`, Anthropic `top_p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Best-effort determinism (OpenAI `seed`). Anthropic has none: refused there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Text that ends the answer (OpenAI `stop`, Anthropic `stop_sequences`); at most
    /// [`MAX_STOP_SEQUENCES`], each 1 to [`MAX_STOP_BYTES`] bytes and not only whitespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// OpenAI `reasoning_effort` (reasoning models). Refused for Anthropic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Anthropic extended thinking: `thinking: {type: "enabled", budget_tokens}`, at least
    /// [`MIN_THINKING_BUDGET`] and below `max_tokens`. Refused for OpenAI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u32>,
    /// Fields added at the top level of the JSON body, after warden's own; a key warden
    /// writes (model, messages, tools, stream...) is refused rather than overridden.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra_body: Map<String, Value>,
}

impl ModelOptions {
    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The options for a summary request: no stop sequences (they would cut the summary)
    /// and no thinking budget (the summary's smaller `max_tokens` may not leave room).
    pub fn for_summary(&self) -> Self {
        Self {
            stop: Vec::new(),
            thinking_budget: None,
            ..self.clone()
        }
    }
}
