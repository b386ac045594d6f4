//! Optional model settings beyond the basics, passed through to the wire where the
//! provider has them: `top_p`, `seed`, stop sequences, reasoning effort, a thinking budget,
//! and `extra_body` fields for a server's own settings (vLLM, Ollama).
//!
//! Invariant: a setting the provider does not have is refused with a typed error, never
//! dropped silently, and so is an `extra_body` key the wire writes itself. The agent file is
//! checked when it is loaded and every request again before it is encoded (the same
//! checks), so no request carrying an invalid setting is sent.

use super::config::ProviderKind;
use warden_core::chat::{ChatRequest, Message, ToolChoice};
use warden_core::options::{MAX_STOP_BYTES, MAX_STOP_SEQUENCES, MIN_THINKING_BUDGET, ModelOptions};

/// A model setting that cannot be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// The provider has no such setting.
    #[error("{provider} has no such setting; {hint}")]
    Unsupported {
        /// The setting, as named in the `[model]` table.
        option: &'static str,
        /// The provider's name (`openai`, `anthropic`).
        provider: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// `top_p` outside 0..=1.
    #[error("{value} is out of range: set a value between 0 and 1")]
    TopP {
        /// The value given.
        value: f32,
    },
    /// More stop sequences than [`MAX_STOP_SEQUENCES`].
    #[error("{count} stop sequences: at most {MAX_STOP_SEQUENCES} are allowed")]
    TooManyStops {
        /// How many were given.
        count: usize,
    },
    /// A stop sequence longer than [`MAX_STOP_BYTES`].
    #[error("stop sequence {index} is {len} bytes: at most {MAX_STOP_BYTES} are allowed")]
    StopTooLong {
        /// Its position in the list (0-based).
        index: usize,
        /// Its length, in bytes.
        len: usize,
    },
    /// A stop sequence that is empty or only whitespace.
    #[error("stop sequence {index} is empty or only whitespace, which providers refuse")]
    BlankStop {
        /// Its position in the list (0-based).
        index: usize,
    },
    /// A thinking budget below [`MIN_THINKING_BUDGET`] or not below `max_tokens`.
    #[error(
        "{budget} tokens: Anthropic needs at least {MIN_THINKING_BUDGET} and fewer than \
         max_tokens ({max_tokens}); lower the budget or raise max_tokens"
    )]
    ThinkingBudget {
        /// The budget given, in tokens.
        budget: u32,
        /// The request's `max_tokens`.
        max_tokens: u32,
    },
    /// Extended thinking together with something Anthropic refuses beside it.
    #[error("cannot go with {with}: {why}")]
    ThinkingConflict {
        /// The conflicting setting or feature.
        with: &'static str,
        /// Why Anthropic refuses the pair.
        why: &'static str,
    },
    /// An `extra_body` key the wire writes itself.
    #[error("`{key}` is a field warden writes itself; set it with its own setting, not extra_body")]
    ReservedKey {
        /// The key, as given.
        key: String,
    },
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

/// Checks `options` against the provider `kind` and the request's `max_tokens` and
/// `temperature`.
pub fn check_options(
    options: &ModelOptions,
    kind: ProviderKind,
    max_tokens: u32,
    temperature: Option<f32>,
) -> Result<(), OptionsError> {
    if let Some(value) = options.top_p
        && !(0.0..=1.0).contains(&value)
    {
        return Err(OptionsError::TopP { value });
    }
    check_stop(options)?;
    match kind {
        ProviderKind::Openai => {
            if options.thinking_budget.is_some() {
                return Err(unsupported(
                    "thinking_budget",
                    kind,
                    "use reasoning_effort (low, medium, high) for OpenAI reasoning models",
                ));
            }
        }
        ProviderKind::Anthropic => {
            if options.seed.is_some() {
                return Err(unsupported(
                    "seed",
                    kind,
                    "the Messages API takes no seed: remove it",
                ));
            }
            if options.reasoning_effort.is_some() {
                return Err(unsupported(
                    "reasoning_effort",
                    kind,
                    "use thinking_budget (tokens) for Anthropic",
                ));
            }
            if let Some(budget) = options.thinking_budget {
                check_thinking(options, budget, max_tokens, temperature)?;
            }
        }
    }
    for key in options.extra_body.keys() {
        if body_keys(kind).contains(&key.as_str()) {
            return Err(OptionsError::ReservedKey { key: key.clone() });
        }
    }
    Ok(())
}

fn check_stop(options: &ModelOptions) -> Result<(), OptionsError> {
    let count = options.stop.len();
    if count > MAX_STOP_SEQUENCES {
        return Err(OptionsError::TooManyStops { count });
    }
    for (index, text) in options.stop.iter().enumerate() {
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
    options: &ModelOptions,
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
    if options.top_p.is_some_and(|p| p < 0.95) {
        return Err(OptionsError::ThinkingConflict {
            with: "a top_p under 0.95",
            why: "Anthropic allows top_p only from 0.95 to 1 while thinking",
        });
    }
    Ok(())
}

/// Checks a whole request before it is encoded for the wire `kind`: its options, and what
/// extended thinking cannot go with (a forced tool, tool calls in the history).
pub(crate) fn check_request(req: &ChatRequest, kind: ProviderKind) -> Result<(), OptionsError> {
    let s = &req.settings;
    check_options(&s.options, kind, s.max_tokens, s.temperature)?;
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
