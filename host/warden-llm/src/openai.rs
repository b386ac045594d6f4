//! OpenAI Chat Completions wire mapping (also any OpenAI-compatible server).
//!
//! Only mapping lives here: request body, response body, stream chunks, error bodies.
//! Unknown fields are ignored everywhere; `null` is accepted wherever the API documents it
//! (e.g. `content: null` beside tool calls, `choices: []` in the usage-only final chunk).
//! Compatible servers' habits are taken as they come: tool-call `arguments` sent as a JSON
//! object rather than a string, calls without an `id` (one is made up, see
//! [`ChatResponse::fill_missing_call_ids`]), streamed calls without `index` (a new `id`
//! starts a new call), and a stream whose last chunk has `finish_reason: null` before
//! `[DONE]` (complete: `stop`, or `tool_calls` if calls were streamed).

use std::borrow::Cow;
use std::collections::BTreeSet;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::config::{ApiKey, ProviderKind};
use super::error::LlmError;
use super::history::{self, Turns};
use super::wire::{
    Endpoint, Step, StreamDecoder, Wire, error_result_text, openai_finish, parse_json,
};
use warden_core::chat::{
    ChatRequest, ChatResponse, FinishReason, Message, StreamEvent, ToolCall, ToolChoice, ToolSpec,
    Usage, cut_label,
};
use warden_core::options::ReasoningEffort;

/// The OpenAI wire format.
pub(crate) struct OpenAi {
    /// The official endpoint (api.openai.com) wants `max_completion_tokens` (reasoning
    /// models reject `max_tokens`); compatible servers (Ollama, vLLM...) know `max_tokens`.
    pub official: bool,
}

/// Every top-level field a body may have: `extra_body` may not set them.
pub(crate) const BODY_KEYS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "reasoning_effort",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "stream",
    "stream_options",
];

/// The body's fields after `model` and `messages` (which [`history::encode`] writes).
#[derive(Serialize)]
struct Rest<'a> {
    /// The official API wants `max_completion_tokens`; compatible servers know `max_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<ReasoningEffort>,
    /// The tool list, encoded once per run.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    /// Only allowed when tools are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
    /// Last: a server's own fields (none of [`BODY_KEYS`], checked before encoding).
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: &'a str,
    },
    User {
        content: &'a str,
    },
    Assistant {
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: Cow<'a, str>,
    },
}

/// `{"type": "function", "function": ...}`: a tool. Tools and calls are typed and borrowed
/// rather than built with `json!`: no copy of the history or the schemas per request.
#[derive(Serialize)]
struct Typed<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: T,
}

#[derive(Serialize)]
struct WireCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: CallFunction<'a>,
}

#[derive(Serialize)]
struct CallFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

fn wire_tool(t: &ToolSpec) -> Typed<WireFunction<'_>> {
    Typed {
        kind: "function",
        function: WireFunction {
            name: &t.name,
            description: &t.description,
            parameters: &t.parameters,
        },
    }
}

fn wire_message(m: &Message) -> WireMessage<'_> {
    match m {
        Message::System { content } => WireMessage::System { content },
        Message::User { content } => WireMessage::User { content },
        Message::Assistant {
            content,
            tool_calls,
        } => WireMessage::Assistant {
            content: content.as_deref(),
            tool_calls: tool_calls
                .iter()
                .map(|c| WireCall {
                    id: &c.id,
                    kind: "function",
                    function: CallFunction {
                        name: &c.name,
                        arguments: &c.arguments,
                    },
                })
                .collect(),
        },
        // Chat Completions has no error flag on tool results: say it in the content, once
        // (the controller's texts already start with `Error:`).
        Message::Tool {
            call_id,
            content,
            is_error,
        } => WireMessage::Tool {
            tool_call_id: call_id,
            content: if *is_error {
                error_result_text(content)
            } else {
                Cow::Borrowed(content)
            },
        },
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ResponseMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ResponseCall>>,
}

#[derive(Deserialize)]
struct ResponseCall {
    /// Missing on some compatible servers: one is made up.
    #[serde(default)]
    id: Option<String>,
    function: ResponseFunction,
}

#[derive(Deserialize)]
struct ResponseFunction {
    name: String,
    #[serde(default, deserialize_with = "arguments")]
    arguments: Option<String>,
}

/// Tool-call arguments: the JSON text in a string, as OpenAI sends them, or (some compatible
/// servers) the arguments themselves, kept as the JSON text they were sent as.
fn arguments<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(raw) = Option::<Box<RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    match raw.get() {
        "null" => Ok(None),
        text if text.starts_with('"') => {
            serde_json::from_str(text).map_err(serde::de::Error::custom)
        }
        text => Ok(Some(text.to_string())),
    }
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl WireUsage {
    fn to_usage(&self) -> Usage {
        Usage {
            input_tokens: self.prompt_tokens.unwrap_or(0),
            output_tokens: self.completion_tokens.unwrap_or(0),
            cached_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<Value>,
}

impl ErrorBody {
    fn kind_and_message(self) -> (String, String) {
        // `code` is more specific than `type` when it is a string (e.g. "invalid_api_key").
        let kind = match self.code {
            Some(Value::String(c)) if !c.is_empty() => c,
            _ => self.kind.unwrap_or_default(),
        };
        (kind, self.message.unwrap_or_default())
    }
}

impl Wire for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    fn url(&self, base: &str) -> String {
        format!("{base}/chat/completions")
    }

    fn headers(&self, key: &ApiKey) -> Result<HeaderMap, LlmError> {
        let mut h = HeaderMap::new();
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                LlmError::Config("the API key contains characters not allowed in a header".into())
            })?;
        value.set_sensitive(true);
        h.insert(AUTHORIZATION, value);
        Ok(h)
    }

    fn body(&self, req: &ChatRequest, model: &str, stream: bool) -> Result<Vec<u8>, LlmError> {
        let encode_turns = |messages: &[Message], out: &mut Turns<'_>| {
            (messages.iter().enumerate()).try_for_each(|(i, m)| out.push(i, &wire_message(m)))
        };
        history::encode(
            req,
            ProviderKind::Openai,
            model,
            encode_turns,
            wire_tool,
            |tools, out| {
                let s = &req.settings;
                let has_tools = tools.is_some();
                let official = self.official;
                out.write(&Rest {
                    max_tokens: (!official).then_some(s.max_tokens),
                    max_completion_tokens: official.then_some(s.max_tokens),
                    temperature: s.temperature,
                    top_p: s.options.top_p,
                    seed: s.options.seed,
                    stop: &s.options.stop,
                    reasoning_effort: s.options.reasoning_effort,
                    tools,
                    tool_choice: has_tools.then(|| match &s.tool_choice {
                        ToolChoice::Auto => json!("auto"),
                        ToolChoice::None => json!("none"),
                        ToolChoice::Required => json!("required"),
                        ToolChoice::Tool(name) => {
                            json!({"type": "function", "function": {"name": name}})
                        }
                    }),
                    parallel_tool_calls: has_tools.then_some(s.parallel_tool_calls),
                    stream,
                    stream_options: stream.then(|| json!({"include_usage": true})),
                    extra: &s.options.extra_body,
                })
            },
        )
    }

    fn parse_response(&self, body: &[u8], ep: &Endpoint) -> Result<ChatResponse, LlmError> {
        let r: Response = parse_json(body, ep, "chat completion body")?;
        let usage = r
            .usage
            .as_ref()
            .map(WireUsage::to_usage)
            .unwrap_or_default();
        let Some(choice) = r.choices.and_then(|c| c.into_iter().next()) else {
            return Err(ep.invalid("chat completion body", "the response has no choices"));
        };
        let m = choice.message;
        let tool_calls = m
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                ToolCall::new(
                    c.id.unwrap_or_default(),
                    c.function.name,
                    c.function.arguments.unwrap_or_default(),
                )
            })
            .collect();
        let Some(reason) = choice.finish_reason else {
            return Err(LlmError::Truncated {
                detail: "the response has no finish_reason".into(),
            });
        };
        Ok(ChatResponse {
            text: m.content,
            tool_calls,
            finish_reason: openai_finish(&reason),
            usage,
            model: r.model.unwrap_or_default(),
            refusal: m.refusal,
        })
    }

    fn decoder(&self, ep: Endpoint) -> Box<dyn StreamDecoder> {
        Box::new(Decoder {
            ep,
            started: BTreeSet::new(),
            finished: false,
            content: false,
            calls: false,
            current: None,
            current_id: String::new(),
            next_index: 0,
        })
    }

    fn error_body(&self, body: &[u8]) -> Option<(String, String)> {
        serde_json::from_slice::<ErrorEnvelope>(body)
            .ok()
            .map(|e| e.error.kind_and_message())
    }
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    delta: Option<Delta>,
    /// Borrowed: read once, not kept.
    #[serde(default, borrow)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaCall>>,
}

#[derive(Deserialize)]
struct DeltaCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "arguments")]
    arguments: Option<String>,
}

struct Decoder {
    ep: Endpoint,
    /// Calls started and not yet ended.
    started: BTreeSet<usize>,
    finished: bool,
    /// Text, a refusal or a tool call arrived: a `[DONE]` without a finish reason ends a
    /// complete answer rather than an empty one.
    content: bool,
    /// A tool call arrived.
    calls: bool,
    /// The call the last tool-call delta went to, and its id (cut to a label's length).
    current: Option<usize>,
    current_id: String,
    /// The index a call sent without one gets.
    next_index: usize,
}

impl Decoder {
    /// The index of a tool-call delta: its own, else (servers that send none) a new call
    /// when it brings a new id or is not the first call of its delta, else the current one.
    fn call_index(&mut self, index: Option<usize>, id: Option<&str>, position: usize) -> usize {
        let id = id.filter(|id| !id.is_empty()).map(|id| {
            let mut id = id.to_string();
            cut_label(&mut id);
            id
        });
        let index = match (index, &id, self.current) {
            (Some(index), _, _) => index,
            (None, Some(id), Some(current)) if *id == self.current_id => current,
            (None, None, Some(current)) if position == 0 => current,
            (None, _, _) => self.next_index,
        };
        if self.current != Some(index) {
            self.current_id.clear();
        }
        if let Some(id) = id {
            self.current_id = id;
        }
        self.current = Some(index);
        self.next_index = self.next_index.max(index.saturating_add(1));
        index
    }

    /// Ends the started calls and the response with `reason`.
    fn finish(&mut self, reason: FinishReason, out: &mut Vec<StreamEvent>) {
        for index in std::mem::take(&mut self.started) {
            out.push(StreamEvent::ToolCallEnd { index });
        }
        out.push(StreamEvent::Finish { reason });
        self.finished = true;
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<Step, LlmError> {
        let data = data.trim();
        if data == "[DONE]" {
            // Some servers leave `finish_reason` null in the last chunk: the end marker
            // after content still says the answer is complete.
            if !self.finished && self.content {
                let reason = if self.calls {
                    FinishReason::ToolCalls
                } else {
                    FinishReason::Stop
                };
                self.finish(reason, out);
            }
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Continue);
        }
        let chunk: Chunk = parse_json(data.as_bytes(), &self.ep, "stream chunk")?;
        if let Some(err) = chunk.error {
            let (kind, message) = err.kind_and_message();
            return Err(self.ep.provider_error(&kind, &message));
        }
        // Only the first choice is used (n = 1); others would be other completions.
        for choice in chunk
            .choices
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.index.unwrap_or(0) == 0)
        {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    self.content = true;
                    out.push(StreamEvent::TextDelta { text });
                }
                if let Some(text) = delta.refusal.filter(|t| !t.is_empty()) {
                    self.content = true;
                    out.push(StreamEvent::RefusalDelta { text });
                }
                for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    self.content = true;
                    self.calls = true;
                    let index = self.call_index(call.index, call.id.as_deref(), position);
                    let (name, arguments) = match call.function {
                        Some(f) => (f.name, f.arguments),
                        None => (None, None),
                    };
                    if self.started.insert(index) {
                        out.push(StreamEvent::ToolCallStart {
                            index,
                            id: call.id.unwrap_or_default(),
                            name: name.unwrap_or_default(),
                        });
                    }
                    if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
                        out.push(StreamEvent::ToolCallDelta { index, arguments });
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish(openai_finish(&reason), out);
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(StreamEvent::Usage {
                usage: usage.to_usage(),
            });
        }
        Ok(Step::Continue)
    }

    fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "openai_compat_tests.rs"]
mod compat_tests;
