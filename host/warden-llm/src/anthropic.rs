//! Anthropic Messages wire mapping.
//!
//! Only mapping lives here. The neutral history is folded into Anthropic's shape: system
//! messages go to the top-level `system`, consecutive tool results and user text merge
//! into one user turn (tool results first) so roles alternate, and tool calls become
//! `tool_use` blocks. Thinking blocks and unknown event or block types are ignored.

use std::borrow::Cow;
use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::config::{ApiKey, ProviderKind};
use super::error::LlmError;
use super::history::{self, Turns};
use super::wire::{Endpoint, Step, StreamDecoder, Wire, anthropic_finish, parse_json};
use warden_core::chat::{
    ChatRequest, ChatResponse, Message, StreamEvent, ToolCall, ToolChoice, ToolSpec, Usage,
};

/// The API version this mapping follows.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// The Anthropic wire format.
pub(crate) struct Anthropic;

/// Every top-level field a body may have: `extra_body` may not set them.
pub(crate) const BODY_KEYS: &[&str] = &[
    "model",
    "max_tokens",
    "system",
    "messages",
    "temperature",
    "top_p",
    "stop_sequences",
    "thinking",
    "tools",
    "tool_choice",
    "stream",
];

/// The body's fields after `model` and `messages` (which [`history::encode`] writes).
#[derive(Serialize)]
struct Rest<'a> {
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    /// The tool list, encoded once per run.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    /// Last: a server's own fields (none of [`BODY_KEYS`], checked before encoding).
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, Value>,
}

/// `{"type": "enabled", "budget_tokens": N}`: extended thinking.
#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Input<'a>,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

/// A tool call's input: the model's own JSON object as it was (no re-encoding), or a
/// stand-in object when the arguments were not one.
#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Raw(&'a serde_json::value::RawValue),
    Value(Value),
}

fn input(arguments: &str) -> Input<'_> {
    match serde_json::from_str::<&serde_json::value::RawValue>(arguments) {
        Ok(raw) if raw.get().starts_with('{') => Input::Raw(raw),
        _ if arguments.trim().is_empty() => Input::Value(json!({})),
        _ => Input::Value(json!({"invalid_arguments": arguments})),
    }
}

fn wire_tool(t: &ToolSpec) -> WireTool<'_> {
    WireTool {
        name: &t.name,
        description: &t.description,
        input_schema: &t.parameters,
    }
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: &'a Value,
}

/// Appends a block to the last turn if it has the same role, else starts a turn at
/// message `at`.
fn push<'a>(out: &mut Vec<(usize, Turn<'a>)>, at: usize, role: &'static str, block: Block<'a>) {
    match out.last_mut() {
        Some((_, t)) if t.role == role => t.content.push(block),
        _ => out.push((
            at,
            Turn {
                role,
                content: vec![block],
            },
        )),
    }
}

/// Folds the neutral history into alternating user/assistant turns, each with the index
/// of the message it starts at. System messages are left out (see [`system_text`]). A
/// turn is only ever extended by the messages right after it, so in a longer history
/// every turn but the last comes out the same.
fn turns(messages: &[Message]) -> Vec<(usize, Turn<'_>)> {
    let mut out = Vec::new();
    for (at, m) in messages.iter().enumerate() {
        match m {
            Message::System { .. } => {}
            Message::User { content } => push(&mut out, at, "user", Block::Text { text: content }),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                if let Some(text) = content.as_deref().filter(|t| !t.is_empty()) {
                    push(&mut out, at, "assistant", Block::Text { text });
                }
                for c in tool_calls.iter() {
                    // The history holds the raw text the model produced; if it was not JSON
                    // (the call was refused), keep it visible rather than dropping the call.
                    push(
                        &mut out,
                        at,
                        "assistant",
                        Block::ToolUse {
                            id: &c.id,
                            name: &c.name,
                            input: input(&c.arguments),
                        },
                    );
                }
            }
            Message::Tool {
                call_id,
                content,
                is_error,
            } => push(
                &mut out,
                at,
                "user",
                Block::ToolResult {
                    tool_use_id: call_id,
                    content,
                    is_error: *is_error,
                },
            ),
        }
    }
    out
}

/// The system messages, joined, for the top-level `system`.
fn system_text(messages: &[Message]) -> Option<String> {
    let sys: Vec<&str> = (messages.iter())
        .filter_map(|m| match m {
            Message::System { content } => Some(&**content),
            _ => None,
        })
        .collect();
    (!sys.is_empty()).then(|| sys.join("\n\n"))
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Option<Vec<ResponseBlock>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// One content block. A flat struct rather than a tagged enum: serde buffers a tagged enum's
/// content as a tree, and a tool's `input` is kept as raw text, never parsed into one here.
#[derive(Deserialize)]
struct ResponseBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Anthropic's `input_tokens` excludes cached input: add it back so `input_tokens` is
    /// the whole prompt, as with OpenAI.
    fn to_usage(&self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let input = self.input_tokens.unwrap_or(0);
        let input = if input == 0 && cached == 0 {
            0
        } else {
            // Saturating: a server's absurd counts must not overflow.
            input
                .saturating_add(cached)
                .saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
        };
        Usage {
            input_tokens: input,
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_tokens: cached,
        }
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A tool call's arguments from its raw `input` (absent or null: no arguments).
fn arguments_text(input: Option<&serde_json::value::RawValue>) -> String {
    match input.map(|raw| raw.get().trim()) {
        None | Some("null") => "{}".to_string(),
        Some(text) => text.to_string(),
    }
}

impl Wire for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn url(&self, base: &str) -> String {
        format!("{base}/v1/messages")
    }

    fn headers(&self, key: &ApiKey) -> Result<HeaderMap, LlmError> {
        let mut h = HeaderMap::new();
        let mut value = HeaderValue::from_str(key.expose()).map_err(|_| {
            LlmError::Config("the API key contains characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        h.insert(HeaderName::from_static("x-api-key"), value);
        h.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(h)
    }

    fn body(&self, req: &ChatRequest, model: &str, stream: bool) -> Result<Vec<u8>, LlmError> {
        let encode_turns = |messages: &[Message], out: &mut Turns<'_>| {
            (turns(messages).iter()).try_for_each(|(at, turn)| out.push(*at, turn))
        };
        history::encode(
            req,
            ProviderKind::Anthropic,
            model,
            encode_turns,
            wire_tool,
            |tools, out| {
                let s = &req.settings;
                let tool_choice = tools.is_some().then(|| {
                    let mut choice = match &s.tool_choice {
                        ToolChoice::Auto => json!({"type": "auto"}),
                        ToolChoice::None => return json!({"type": "none"}),
                        ToolChoice::Required => json!({"type": "any"}),
                        ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
                    };
                    if !s.parallel_tool_calls {
                        choice["disable_parallel_tool_use"] = json!(true);
                    }
                    choice
                });
                out.write(&Rest {
                    max_tokens: s.max_tokens,
                    system: system_text(&req.messages),
                    temperature: s.temperature,
                    top_p: s.options.top_p,
                    stop_sequences: &s.options.stop,
                    thinking: s.options.thinking_budget.map(|budget_tokens| Thinking {
                        kind: "enabled",
                        budget_tokens,
                    }),
                    tools,
                    tool_choice,
                    stream,
                    extra: &s.options.extra_body,
                })
            },
        )
    }

    fn parse_response(&self, body: &[u8], ep: &Endpoint) -> Result<ChatResponse, LlmError> {
        let r: Response = parse_json(body, ep, "messages body")?;
        let Some(reason) = r.stop_reason else {
            return Err(LlmError::Truncated {
                detail: "the response has no stop_reason".into(),
            });
        };
        let Some(content) = r.content else {
            return Err(ep.invalid("messages body", "the response has no content"));
        };
        let mut text: Option<String> = None;
        let mut tool_calls = Vec::new();
        for block in content {
            match block.kind.as_str() {
                "text" => {
                    let Some(t) = block.text else {
                        return Err(ep.invalid("messages body", "a text block has no text"));
                    };
                    text.get_or_insert_with(String::new).push_str(&t);
                }
                "tool_use" => {
                    let (Some(id), Some(name)) = (block.id, block.name) else {
                        return Err(
                            ep.invalid("messages body", "a tool_use block has no id or name")
                        );
                    };
                    let arguments = arguments_text(block.input.as_deref());
                    tool_calls.push(ToolCall::new(id, name, arguments));
                }
                _ => {}
            }
        }
        Ok(ChatResponse {
            text,
            tool_calls,
            finish_reason: anthropic_finish(&reason),
            usage: r.usage.unwrap_or_default().to_usage(),
            model: r.model.unwrap_or_default(),
            refusal: None,
        })
    }

    fn decoder(&self, ep: Endpoint) -> Box<dyn StreamDecoder> {
        Box::new(Decoder {
            ep,
            tools: HashMap::new(),
            next_tool: 0,
            finished: false,
        })
    }

    fn error_body(&self, body: &[u8]) -> Option<(String, String)> {
        let e = serde_json::from_slice::<ErrorEnvelope>(body).ok()?.error;
        Some((e.kind.unwrap_or_default(), e.message.unwrap_or_default()))
    }
}

/// One stream event, read in a single pass: the fields any event type carries, dispatched on
/// `type` afterwards. (Internally tagged enums would first buffer every event into serde's
/// generic content tree, which doubled the decoding cost.) Unknown types and fields are
/// ignored.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    message: Option<StartMessage>,
    /// `content_block_start`'s block.
    #[serde(default, borrow)]
    content_block: Option<Part<'a>>,
    /// A block delta, or `message_delta`'s delta (which carries `stop_reason`).
    #[serde(default, borrow)]
    delta: Option<Part<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A content block or a delta; `type` says which fields matter (`text`, `tool_use`,
/// `text_delta`, `input_json_delta`; thinking blocks and deltas are skipped).
#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

impl Part<'_> {
    fn is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }
}

/// A tool-use block in progress: its tool-call index and whether any JSON arrived.
struct OpenTool {
    index: usize,
    got_json: bool,
}

struct Decoder {
    ep: Endpoint,
    /// Content-block index → tool call.
    tools: HashMap<usize, OpenTool>,
    next_tool: usize,
    finished: bool,
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<Step, LlmError> {
        if data.trim().is_empty() {
            return Ok(Step::Continue);
        }
        let ev: Event = parse_json(data.as_bytes(), &self.ep, "stream event")?;
        let index = || {
            ev.index.ok_or_else(|| {
                self.ep
                    .invalid("stream event", format!("{} without an index", ev.kind))
            })
        };
        match ev.kind.as_ref() {
            "message_start" => {
                if let Some(u) = ev.message.as_ref().and_then(|m| m.usage.as_ref()) {
                    out.push(StreamEvent::Usage {
                        usage: u.to_usage(),
                    });
                }
            }
            "content_block_start" => {
                let index = index()?;
                let Some(block) = ev.content_block else {
                    return Err(self.ep.invalid(
                        "stream event",
                        "content_block_start without a content_block",
                    ));
                };
                if block.is("text") {
                    if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                        out.push(StreamEvent::TextDelta { text });
                    }
                } else if block.is("tool_use") {
                    let (Some(id), Some(name)) = (block.id, block.name) else {
                        return Err(self
                            .ep
                            .invalid("stream event", "a tool_use block without its id or name"));
                    };
                    let tool = self.next_tool;
                    self.next_tool += 1;
                    self.tools.insert(
                        index,
                        OpenTool {
                            index: tool,
                            got_json: false,
                        },
                    );
                    out.push(StreamEvent::ToolCallStart {
                        index: tool,
                        id,
                        name,
                    });
                }
            }
            "content_block_delta" => {
                let index = index()?;
                let Some(delta) = ev.delta else {
                    return Err(self
                        .ep
                        .invalid("stream event", "content_block_delta without a delta"));
                };
                match delta.kind.as_deref() {
                    Some("text_delta") => {
                        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::TextDelta { text });
                        }
                    }
                    Some("input_json_delta") => {
                        if let Some(partial_json) = delta.partial_json.filter(|j| !j.is_empty()) {
                            let Some(tool) = self.tools.get_mut(&index) else {
                                return Err(self.ep.invalid("stream event", format!("input_json_delta for block {index}, which is not a tool_use block")));
                            };
                            tool.got_json = true;
                            out.push(StreamEvent::ToolCallDelta {
                                index: tool.index,
                                arguments: partial_json,
                            });
                        }
                    }
                    // Thinking and signature deltas, and kinds added later.
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(tool) = self.tools.remove(&index()?) {
                    // A tool without parameters streams no JSON at all: its input is {}.
                    if !tool.got_json {
                        out.push(StreamEvent::ToolCallDelta {
                            index: tool.index,
                            arguments: "{}".into(),
                        });
                    }
                    out.push(StreamEvent::ToolCallEnd { index: tool.index });
                }
            }
            "message_delta" => {
                if let Some(u) = &ev.usage {
                    out.push(StreamEvent::Usage {
                        usage: u.to_usage(),
                    });
                }
                if let Some(reason) = ev.delta.and_then(|d| d.stop_reason) {
                    out.push(StreamEvent::Finish {
                        reason: anthropic_finish(&reason),
                    });
                    self.finished = true;
                }
            }
            "message_stop" => return Ok(Step::Done),
            "error" => {
                let error = ev.error.unwrap_or_default();
                return Err(self.ep.provider_error(
                    error.kind.as_deref().unwrap_or(""),
                    error.message.as_deref().unwrap_or(""),
                ));
            }
            // ping, and event types added after this was written.
            _ => {}
        }
        Ok(Step::Continue)
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
