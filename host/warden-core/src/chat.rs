//! Provider-neutral request, response and streaming types.
//!
//! Everything above the LLM interface (context assembler, parser, controller) speaks only
//! these types; the OpenAI and Anthropic adapters map them to and from their wire formats.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::options::ModelOptions;
pub use crate::wire_cache::WireCache;

/// One message of the conversation history. Texts are shared (`Arc<str>`), so building a
/// request from the history clones pointers, not the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// Instructions. Adapters that take the system prompt out of band (Anthropic) lift it out.
    System {
        /// The instructions.
        content: Arc<str>,
    },
    /// Input from the user.
    User {
        /// The user's text.
        content: Arc<str>,
    },
    /// A model turn: text, tool calls, or both.
    Assistant {
        /// The text of the turn, if it had any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Arc<str>>,
        /// The tool calls the model requested, in order (shared: a history is copied into
        /// every request, and a copy must not copy each call's id, name and arguments).
        #[serde(default, skip_serializing_if = "calls_are_empty")]
        tool_calls: Arc<[ToolCall]>,
    },
    /// The result of one tool call, answering the call with the same id.
    Tool {
        /// The [`ToolCall::id`] this answers.
        call_id: String,
        /// The tool's output, or the error the model is told.
        content: Arc<str>,
        /// Whether `content` is an error rather than the tool's output.
        #[serde(default)]
        is_error: bool,
    },
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<Arc<str>>) -> Self {
        Message::User {
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<Arc<str>>) -> Self {
        Message::System {
            content: content.into(),
        }
    }

    /// An assistant message with text only.
    pub fn assistant_text(content: impl Into<Arc<str>>) -> Self {
        Message::Assistant {
            content: Some(content.into()),
            tool_calls: Arc::new([]),
        }
    }

    /// A tool result.
    pub fn tool_result(
        call_id: impl Into<String>,
        content: impl Into<Arc<str>>,
        is_error: bool,
    ) -> Self {
        Message::Tool {
            call_id: call_id.into(),
            content: content.into(),
            is_error,
        }
    }
}

/// Default cap on one tool call's argument text (1 MiB); see [`ToolCall::dropped`].
pub const DEFAULT_MAX_TOOL_ARGS_BYTES: u64 = 1 << 20;

/// Longest tool name or call id kept from a model (longer ones are cut on a character
/// boundary; no valid tool name comes close).
const MAX_CALL_LABEL_BYTES: usize = 256;

/// A tool call requested by the model. `arguments` is the raw JSON text the model produced:
/// it is validated by the response parser, never trusted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call, echoed by the tool result (at most 256 bytes after
    /// [`ToolCall::cap`]).
    pub id: String,
    /// The tool's name (at most 256 bytes after [`ToolCall::cap`]).
    pub name: String,
    /// The arguments object as JSON text, unparsed.
    pub arguments: Arc<str>,
    /// Set when the arguments were over the cap and dropped unread (`arguments` is then
    /// `{}`, which every provider accepts in a history): the call is rejected to the model,
    /// saying the size and the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<DroppedArguments>,
}

impl ToolCall {
    /// A call with its arguments kept.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<Arc<str>>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            dropped: None,
        }
    }

    /// Drops arguments longer than `limit` bytes (recording their size) and cuts an
    /// over-long name or id, so nothing the model sent grows past a bound from here on.
    pub fn cap(&mut self, limit: u64) {
        let size = self.arguments.len() as u64;
        if size > limit {
            self.arguments = "{}".into();
            self.dropped = Some(DroppedArguments {
                size_bytes: size,
                limit_bytes: limit,
            });
        }
        cut_label(&mut self.name);
        cut_label(&mut self.id);
    }
}

/// Cuts `text` to 256 bytes (the longest tool name or call id kept) on a character
/// boundary.
pub fn cut_label(text: &mut String) {
    if text.len() > MAX_CALL_LABEL_BYTES {
        let mut end = MAX_CALL_LABEL_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// Arguments of a tool call that were over the cap and never kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedArguments {
    /// How many bytes of argument text the model sent.
    pub size_bytes: u64,
    /// The cap in force (`max_tool_args` of the agent's `[run]` settings).
    pub limit_bytes: u64,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// How the model may use the tools.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// No tool calls (tools may still be listed).
    None,
    /// At least one tool call.
    Required,
    /// This tool must be called.
    Tool(String),
}

/// Per-request settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSettings {
    /// The provider's model name.
    pub model: String,
    /// Cap on the output tokens of the response.
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// How the model may use the tools (default: it decides).
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Whether the model may request several tool calls in one turn (default: true).
    #[serde(default = "default_true")]
    pub parallel_tool_calls: bool,
    /// `top_p`, `seed`, stop sequences, reasoning or thinking, `extra_body`.
    #[serde(default, skip_serializing_if = "ModelOptions::is_empty")]
    pub options: ModelOptions,
}

/// Whether an assistant message has no calls (then they are not serialised).
fn calls_are_empty(calls: &Arc<[ToolCall]>) -> bool {
    calls.is_empty()
}

fn default_true() -> bool {
    true
}

/// A complete request to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model, output cap and tool settings.
    pub settings: RequestSettings,
    /// The conversation, system prompt first when there is one.
    pub messages: Vec<Message>,
    /// The tools offered to the model.
    ///
    /// Shared, not copied: an agent offers the same specs (schemas included) on every call.
    pub tools: Arc<[ToolSpec]>,
    /// Where the adapter keeps its encoding of the run's history between requests (see
    /// [`WireCache`]). `WireCache::default()` for a request on its own; the controller
    /// gives all the requests of a run one cache.
    #[serde(skip)]
    pub cache: WireCache,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end: the answer is complete.
    Stop,
    /// The model wants tool calls run.
    ToolCalls,
    /// The output hit the token limit: text or tool arguments may be cut.
    Length,
    /// The provider filtered the content (or the model refused).
    ContentFilter,
    /// The provider paused a long turn before its end (Anthropic `pause_turn`): the answer
    /// is not complete. Send the partial content back as the last assistant message and
    /// ask again to let the model go on (the loop controller does).
    Paused,
    /// Anything else the provider reported, kept verbatim.
    Other(String),
}

impl std::fmt::Display for FinishReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stop => "stop",
            Self::ToolCalls => "tool_calls",
            Self::Length => "length",
            Self::ContentFilter => "content_filter",
            Self::Paused => "paused",
            Self::Other(reason) => reason,
        })
    }
}

/// Token usage as reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the request (prompt and history).
    pub input_tokens: u64,
    /// Tokens the model generated.
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (a subset of `input_tokens`).
    pub cached_tokens: u64,
}

/// Saturating: the counts come from a server and may be absurd; they must not overflow.
impl Usage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Adds `other` to each count.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
    }
}

/// A complete model response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Text of the answer, if any.
    pub text: Option<String>,
    /// The tool calls the model requested, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why the model stopped.
    pub finish_reason: FinishReason,
    /// Tokens the call used, as the provider reported them.
    pub usage: Usage,
    /// The model that answered, as reported by the provider.
    #[serde(default)]
    pub model: String,
    /// Set when the model refused (OpenAI's `refusal`), with its explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

impl ChatResponse {
    /// The events a provider would stream for this response: the text and each call's
    /// arguments cut into pieces by `split`, then the usage and the finish reason. Used for
    /// servers that answer a streaming request with plain JSON, and by scripted models.
    pub fn to_stream_events(&self, split: impl Fn(&str) -> Vec<String>) -> Vec<StreamEvent> {
        let mut events: Vec<StreamEvent> = self
            .text
            .iter()
            .flat_map(|text| split(text))
            .map(|text| StreamEvent::TextDelta { text })
            .collect();
        events.extend(
            (self.refusal.iter())
                .flat_map(|text| split(text))
                .map(|text| StreamEvent::RefusalDelta { text }),
        );
        for (index, call) in self.tool_calls.iter().enumerate() {
            events.push(StreamEvent::ToolCallStart {
                index,
                id: call.id.clone(),
                name: call.name.clone(),
            });
            for arguments in split(&call.arguments) {
                events.push(StreamEvent::ToolCallDelta { index, arguments });
            }
            events.push(StreamEvent::ToolCallEnd { index });
        }
        events.push(StreamEvent::Usage { usage: self.usage });
        events.push(StreamEvent::Finish {
            reason: self.finish_reason.clone(),
        });
        events
    }

    /// Applies [`ToolCall::cap`] to every tool call: arguments over `limit` bytes are
    /// dropped before anything parses, copies or reports them.
    pub fn cap_tool_calls(&mut self, limit: u64) {
        for call in &mut self.tool_calls {
            call.cap(limit);
        }
    }

    /// Gives each tool call the provider sent without an id (some OpenAI-compatible
    /// servers do) one that is unique within this response, so its result can be paired
    /// with it. Ids the provider sent are kept.
    pub fn fill_missing_call_ids(&mut self) {
        if self.tool_calls.iter().all(|c| !c.id.is_empty()) {
            return;
        }
        // A set, not a scan per call: a hostile stream may hold very many calls.
        let mut taken: std::collections::HashSet<String> =
            self.tool_calls.iter().map(|c| c.id.clone()).collect();
        let count = self.tool_calls.len();
        for (i, call) in self.tool_calls.iter_mut().enumerate() {
            if !call.id.is_empty() {
                continue;
            }
            let mut n = i;
            while taken.contains(&format!("call_{n}")) {
                n = n.saturating_add(count);
            }
            call.id = format!("call_{n}");
            taken.insert(call.id.clone());
        }
    }

    /// The assistant message to append to the history for this response.
    pub fn to_message(&self) -> Message {
        Message::Assistant {
            content: self.text.as_deref().map(Arc::from),
            tool_calls: self.tool_calls.as_slice().into(),
        }
    }
}

/// One event of a streamed response. Tool calls are identified by `index` (their position in
/// the response); several calls may interleave their argument deltas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// A piece of the answer's text.
    TextDelta {
        /// The piece, to append.
        text: String,
    },
    /// A piece of the model's refusal (OpenAI `refusal`): the answer is a refusal, not text.
    RefusalDelta {
        /// The piece, to append.
        text: String,
    },
    /// A tool call begins.
    ToolCallStart {
        /// The call's position in the response.
        index: usize,
        /// The provider's id of the call.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// A piece of a tool call's argument text.
    ToolCallDelta {
        /// The call's position in the response.
        index: usize,
        /// The piece of JSON text, to append.
        arguments: String,
    },
    /// A tool call's arguments are complete.
    ToolCallEnd {
        /// The call's position in the response.
        index: usize,
    },
    /// The token usage of the call: a cumulative snapshot (providers may send several; the
    /// largest value of each count holds).
    Usage {
        /// The usage so far.
        usage: Usage,
    },
    /// The model stopped; the last event of a complete response.
    Finish {
        /// Why it stopped.
        reason: FinishReason,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request is built from clones of the history: a clone shares the text, not a copy.
    #[test]
    fn cloning_a_message_shares_its_text() {
        let big = "x".repeat(1 << 20);
        for message in [
            Message::user(big.as_str()),
            Message::system(big.as_str()),
            Message::assistant_text(big.as_str()),
            Message::tool_result("c1", big.as_str(), false),
        ] {
            let copy = message.clone();
            let text = |m: &Message| match m {
                Message::System { content }
                | Message::User { content }
                | Message::Tool { content, .. } => content.clone(),
                Message::Assistant { content, .. } => content.clone().unwrap_or_default(),
            };
            assert!(Arc::ptr_eq(&text(&message), &text(&copy)));
        }
        let call = Message::Assistant {
            content: None,
            tool_calls: vec![ToolCall::new("c1", "write", big.as_str())].into(),
        };
        let copy = call.clone();
        let (Message::Assistant { tool_calls: a, .. }, Message::Assistant { tool_calls: b, .. }) =
            (&call, &copy)
        else {
            unreachable!()
        };
        // The calls themselves are shared, not copied one by one: no allocation per call.
        assert!(Arc::ptr_eq(a, b));
        assert!(Arc::ptr_eq(&a[0].arguments, &b[0].arguments));
    }

    /// The shared calls serialise as a plain list, and none as no field, as before.
    #[test]
    fn shared_calls_round_trip_as_a_plain_list() {
        let call = Message::Assistant {
            content: None,
            tool_calls: vec![ToolCall::new("c1", "calc", "{}")].into(),
        };
        let json = serde_json::to_value(&call).unwrap_or_default();
        assert_eq!(json["tool_calls"][0]["id"], "c1");
        let back: Message = serde_json::from_value(json).unwrap_or_else(|_| Message::user("?"));
        assert_eq!(back, call);
        let text = serde_json::to_value(Message::assistant_text("hi")).unwrap_or_default();
        assert!(text.get("tool_calls").is_none(), "{text}");
    }

    /// The shared text serialises as a plain string, as before.
    #[test]
    fn shared_text_round_trips_as_a_plain_string() {
        let message = Message::tool_result("c1", "ok", true);
        let json = serde_json::to_string(&message).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"role":"tool","call_id":"c1","content":"ok","is_error":true}"#
        );
        let back: Message = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, message);
    }
}
