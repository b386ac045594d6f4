//! Optional model settings beyond the basics, passed through to the wire where the
//! provider has them: `top_p`, `seed`, stop sequences, reasoning effort, a thinking budget,
//! and `extra_body` fields for a server's own settings (vLLM, Ollama).
//!
//! Invariant: a setting the provider does not have is refused with a typed error, never
//! dropped silently, and so is an `extra_body` key the wire writes itself. The agent file is
//! checked when it is loaded and every request again before it is encoded (the same
//! checks), so no request carrying an invalid setting is sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::config::ProviderKind;
use super::types::{ChatRequest, Message, ToolChoice};

/// Most stop sequences (the OpenAI API's limit, applied to both wires).
pub const MAX_STOP_SEQUENCES: usize = 4;
/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 256;
/// Smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// How hard an OpenAI reasoning model thinks before answering (`reasoning_effort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    Low,
    Medium,
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

/// A model setting that cannot be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// The provider has no such setting.
    #[error("{provider} has no such setting; {hint}")]
    Unsupported {
        option: &'static str,
        provider: &'static str,
        hint: &'static str,
    },
    #[error("{value} is out of range: set a value between 0 and 1")]
    TopP { value: f32 },
    #[error("{count} stop sequences: at most {MAX_STOP_SEQUENCES} are allowed")]
    TooManyStops { count: usize },
    #[error("stop sequence {index} is {len} bytes: at most {MAX_STOP_BYTES} are allowed")]
    StopTooLong { index: usize, len: usize },
    #[error("stop sequence {index} is empty or only whitespace, which providers refuse")]
    BlankStop { index: usize },
    #[error(
        "{budget} tokens: Anthropic needs at least {MIN_THINKING_BUDGET} and fewer than \
         max_tokens ({max_tokens}); lower the budget or raise max_tokens"
    )]
    ThinkingBudget { budget: u32, max_tokens: u32 },
    /// Extended thinking together with something Anthropic refuses beside it.
    #[error("cannot go with {with}: {why}")]
    ThinkingConflict {
        with: &'static str,
        why: &'static str,
    },
    /// An `extra_body` key the wire writes itself.
    #[error("`{key}` is a field warden writes itself; set it with its own setting, not extra_body")]
    ReservedKey { key: String },
}

impl OptionsError {
    /// The setting at fault, as named in the `[model]` table.
    pub fn setting(&self) -> &'static str {
        match self {
            Self::Unsupported { option, .. } => option,
            Self::TopP { .. } => "top_p",
            Self::TooManyStops { .. } | Self::StopTooLong { .. } | Self::BlankStop { .. } => "stop",
            Self::ThinkingBudget { .. } | Self::ThinkingConflict { .. } => "thinking_budget",
            Self::ReservedKey { .. } => "extra_body",
        }
    }
}

/// Why thinking cannot go with tools (see [`OptionsError::ThinkingConflict`]).
pub const THINKING_WITH_TOOLS: &str = "Anthropic wants each tool-calling turn's thinking blocks \
     sent back with the tool results, and warden does not keep them; remove thinking_budget or the tools";

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

    /// Checks the options against the provider `kind` and the request's `max_tokens` and
    /// `temperature`.
    pub fn check(
        &self,
        kind: ProviderKind,
        max_tokens: u32,
        temperature: Option<f32>,
    ) -> Result<(), OptionsError> {
        if let Some(value) = self.top_p
            && !(0.0..=1.0).contains(&value)
        {
            return Err(OptionsError::TopP { value });
        }
        self.check_stop()?;
        match kind {
            ProviderKind::Openai => {
                if self.thinking_budget.is_some() {
                    return Err(unsupported(
                        "thinking_budget",
                        kind,
                        "use reasoning_effort (low, medium, high) for OpenAI reasoning models",
                    ));
                }
            }
            ProviderKind::Anthropic => {
                if self.seed.is_some() {
                    return Err(unsupported(
                        "seed",
                        kind,
                        "the Messages API takes no seed: remove it",
                    ));
                }
                if self.reasoning_effort.is_some() {
                    return Err(unsupported(
                        "reasoning_effort",
                        kind,
                        "use thinking_budget (tokens) for Anthropic",
                    ));
                }
                if let Some(budget) = self.thinking_budget {
                    self.check_thinking(budget, max_tokens, temperature)?;
                }
            }
        }
        for key in self.extra_body.keys() {
            if body_keys(kind).contains(&key.as_str()) {
                return Err(OptionsError::ReservedKey { key: key.clone() });
            }
        }
        Ok(())
    }

    fn check_stop(&self) -> Result<(), OptionsError> {
        let count = self.stop.len();
        if count > MAX_STOP_SEQUENCES {
            return Err(OptionsError::TooManyStops { count });
        }
        for (index, text) in self.stop.iter().enumerate() {
            if text.len() > MAX_STOP_BYTES {
                return Err(OptionsError::StopTooLong {
                    index,
                    len: text.len(),
                });
            }
            if text.trim().is_empty() {
                return Err(OptionsError::BlankStop { index });
            }
        }
        Ok(())
    }

    /// Anthropic refuses thinking beside a set temperature or a `top_p` under 0.95.
    fn check_thinking(
        &self,
        budget: u32,
        max_tokens: u32,
        temperature: Option<f32>,
    ) -> Result<(), OptionsError> {
        if budget < MIN_THINKING_BUDGET || budget >= max_tokens {
            return Err(OptionsError::ThinkingBudget { budget, max_tokens });
        }
        if temperature.is_some() {
            return Err(OptionsError::ThinkingConflict {
                with: "temperature",
                why: "Anthropic refuses a temperature while thinking; remove one of them",
            });
        }
        if self.top_p.is_some_and(|p| p < 0.95) {
            return Err(OptionsError::ThinkingConflict {
                with: "a top_p under 0.95",
                why: "Anthropic allows top_p only from 0.95 to 1 while thinking",
            });
        }
        Ok(())
    }
}

/// Checks a whole request before it is encoded for the wire `kind`: its options, and what
/// extended thinking cannot go with (a forced tool, tool calls in the history).
pub(crate) fn check_request(req: &ChatRequest, kind: ProviderKind) -> Result<(), OptionsError> {
    let s = &req.settings;
    s.options.check(kind, s.max_tokens, s.temperature)?;
    if kind == ProviderKind::Anthropic && s.options.thinking_budget.is_some() {
        let forced = matches!(s.tool_choice, ToolChoice::Required | ToolChoice::Tool(_));
        if forced && !req.tools.is_empty() {
            return Err(OptionsError::ThinkingConflict {
                with: "a forced tool choice",
                why: "Anthropic allows only tool_choice auto or none while thinking",
            });
        }
        let calls = req
            .messages
            .iter()
            .any(|m| matches!(m, Message::Assistant { tool_calls, .. } if !tool_calls.is_empty()));
        if calls {
            return Err(OptionsError::ThinkingConflict {
                with: "tool calls",
                why: THINKING_WITH_TOOLS,
            });
        }
    }
    Ok(())
}

/// The top-level body fields the wire of `kind` writes itself: `extra_body` may not set them.
pub fn body_keys(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Openai => super::openai::BODY_KEYS,
        ProviderKind::Anthropic => super::anthropic::BODY_KEYS,
    }
}

fn unsupported(option: &'static str, kind: ProviderKind, hint: &'static str) -> OptionsError {
    OptionsError::Unsupported {
        option,
        provider: match kind {
            ProviderKind::Openai => "OpenAI",
            ProviderKind::Anthropic => "Anthropic",
        },
        hint,
    }
}
