//! Non-streaming response bodies, serialised from typed structs: this is the mock's hot
//! path in benchmarks, so it builds no intermediate `serde_json::Value`.
//!
//! Invariant: the bytes are the same JSON the real APIs send for the turn (field names,
//! `content: null` beside tool calls, Anthropic's usage without cached input).

use serde::Serialize;
use serde_json::Value;

use crate::render::{Answer, Format, anthropic_finish, call_id};

#[derive(Serialize)]
struct OpenAiBody<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<OpenAiChoice<'a>>,
    usage: OpenAiUsage,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct OpenAiChoice<'a> {
    index: u32,
    message: OpenAiMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct OpenAiMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OpenAiCall<'a>>,
}

#[derive(Serialize)]
struct OpenAiCall<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OpenAiFunction<'a>,
}

#[derive(Serialize)]
struct OpenAiFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct OpenAiUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: Cached,
}

#[derive(Serialize)]
struct Cached {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct AnthropicBody<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: &'a str,
    stop_sequence: Option<()>,
    usage: AnthropicUsage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: String,
        name: &'a str,
        input: Input<'a>,
    },
}

/// Anthropic sends parsed input; arguments that are not JSON are sent as a string.
#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Json(Value),
    Text(&'a str),
}

#[derive(Serialize)]
struct AnthropicUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

impl Answer<'_> {
    /// The non-streaming body.
    pub fn json_bytes(&self) -> Vec<u8> {
        let t = self.turn;
        let u = &self.usage;
        let encoded = match self.format {
            Format::OpenAi => {
                let message = OpenAiMessage {
                    role: "assistant",
                    content: t.text.as_deref(),
                    refusal: None,
                    tool_calls: t
                        .tool_calls
                        .iter()
                        .enumerate()
                        .map(|(i, c)| OpenAiCall {
                            id: call_id(self.format, self.turn_index, i),
                            kind: "function",
                            function: OpenAiFunction {
                                name: &c.name,
                                arguments: &c.arguments,
                            },
                        })
                        .collect(),
                };
                let choices = if self.empty_choices {
                    Vec::new()
                } else {
                    vec![OpenAiChoice {
                        index: 0,
                        message,
                        logprobs: None,
                        finish_reason: t.finish_reason(),
                    }]
                };
                serde_json::to_vec(&OpenAiBody {
                    id: format!("chatcmpl-mock-{}", self.serial),
                    object: "chat.completion",
                    created: 1_730_000_000,
                    model: self.model,
                    choices,
                    usage: OpenAiUsage {
                        prompt_tokens: u.input_tokens,
                        completion_tokens: u.output_tokens,
                        total_tokens: u.input_tokens + u.output_tokens,
                        prompt_tokens_details: Cached {
                            cached_tokens: u.cached_tokens,
                        },
                    },
                    system_fingerprint: "fp_mock",
                })
            }
            Format::Anthropic => {
                let mut content = Vec::new();
                if !self.empty_choices {
                    if let Some(text) = &t.text {
                        content.push(Block::Text { text });
                    }
                    for (i, c) in t.tool_calls.iter().enumerate() {
                        let input = match serde_json::from_str::<Value>(&c.arguments) {
                            Ok(raw) => Input::Json(raw),
                            Err(_) => Input::Text(&c.arguments),
                        };
                        content.push(Block::ToolUse {
                            id: call_id(self.format, self.turn_index, i),
                            name: &c.name,
                            input,
                        });
                    }
                }
                serde_json::to_vec(&AnthropicBody {
                    id: format!("msg_mock_{}", self.serial),
                    kind: "message",
                    role: "assistant",
                    model: self.model,
                    content,
                    stop_reason: anthropic_finish(t.finish_reason()),
                    stop_sequence: None,
                    usage: AnthropicUsage {
                        input_tokens: u.input_tokens - u.cached_tokens.min(u.input_tokens),
                        output_tokens: u.output_tokens,
                        cache_read_input_tokens: u.cached_tokens,
                        cache_creation_input_tokens: 0,
                    },
                })
            }
        };
        // Serialising plain structs of strings and numbers cannot fail.
        encoded.unwrap_or_default()
    }
}
