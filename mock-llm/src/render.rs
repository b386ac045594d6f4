//! Rendering a scripted turn in either wire format, as a JSON body or SSE events.
//!
//! Invariant: what is rendered here is what the real API would send for that turn (same
//! field names, event order, usage placement); faults are applied by the caller by
//! editing the turn or the event list, never by special cases in here.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::script::{ScriptUsage, Turn};

/// Which wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
}

/// Splits text into stream pieces: words for text, short slices for JSON arguments.
fn pieces(s: &str, max_chars: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, c) in s.char_indices() {
        count += 1;
        let end = i + c.len_utf8();
        if count >= max_chars || c == ' ' {
            out.push(&s[start..end]);
            start = end;
            count = 0;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn sse_data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn sse_event(name: &str, v: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {v}\n\n"))
}

fn openai_finish(neutral: &str) -> &str {
    neutral
}

pub(crate) fn anthropic_finish(neutral: &str) -> &str {
    match neutral {
        "stop" => "end_turn",
        "tool_calls" => "tool_use",
        "length" => "max_tokens",
        other => other,
    }
}

/// The id of the i-th tool call of turn `t`.
pub fn call_id(format: Format, turn_index: usize, i: usize) -> String {
    match format {
        Format::OpenAi => format!("call_{turn_index}_{i}"),
        Format::Anthropic => format!("toolu_{turn_index}_{i}"),
    }
}

fn openai_usage(u: &ScriptUsage) -> Value {
    json!({"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
           "total_tokens": u.input_tokens + u.output_tokens,
           "prompt_tokens_details": {"cached_tokens": u.cached_tokens}})
}

fn anthropic_usage(u: &ScriptUsage) -> Value {
    json!({"input_tokens": u.input_tokens - u.cached_tokens.min(u.input_tokens), "output_tokens": u.output_tokens,
           "cache_read_input_tokens": u.cached_tokens, "cache_creation_input_tokens": 0})
}

/// Everything needed to render one answer.
pub struct Answer<'a> {
    pub format: Format,
    pub turn: &'a Turn,
    pub turn_index: usize,
    pub model: &'a str,
    pub usage: ScriptUsage,
    /// Serial number for response ids.
    pub serial: u64,
    /// OpenAI: send the usage-only final chunk.
    pub include_usage: bool,
    /// OpenAI: answer with no choice at all.
    pub empty_choices: bool,
}

impl Answer<'_> {
    /// The stream, one SSE event per element.
    pub fn events(&self) -> Vec<Bytes> {
        match self.format {
            Format::OpenAi => self.openai_events(),
            Format::Anthropic => self.anthropic_events(),
        }
    }

    fn openai_events(&self) -> Vec<Bytes> {
        let t = self.turn;
        let id = format!("chatcmpl-mock-{}", self.serial);
        let chunk = |choices: Value, usage: Value| {
            sse_data(
                &json!({"id": id, "object": "chat.completion.chunk", "created": 1_730_000_000, "model": self.model,
                             "system_fingerprint": "fp_mock", "choices": choices, "usage": usage}),
            )
        };
        let delta = |d: Value, finish: Value| json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": finish}]);
        let mut out = Vec::new();
        if !self.empty_choices {
            out.push(chunk(delta(json!({"role": "assistant", "content": if t.tool_calls.is_empty() { json!("") } else { Value::Null }, "refusal": null}), Value::Null), Value::Null));
            for piece in t.text.as_deref().map(|s| pieces(s, 16)).unwrap_or_default() {
                out.push(chunk(
                    delta(json!({"content": piece}), Value::Null),
                    Value::Null,
                ));
            }
            for (i, c) in t.tool_calls.iter().enumerate() {
                let head = json!({"tool_calls": [{"index": i, "id": call_id(self.format, self.turn_index, i), "type": "function", "function": {"name": c.name, "arguments": ""}}]});
                out.push(chunk(delta(head, Value::Null), Value::Null));
                for piece in pieces(&c.arguments, 10) {
                    out.push(chunk(
                        delta(
                            json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                            Value::Null,
                        ),
                        Value::Null,
                    ));
                }
            }
            out.push(chunk(
                delta(json!({}), json!(openai_finish(t.finish_reason()))),
                Value::Null,
            ));
        }
        if self.include_usage {
            out.push(chunk(json!([]), openai_usage(&self.usage)));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }

    fn anthropic_events(&self) -> Vec<Bytes> {
        let t = self.turn;
        let mut start_usage = anthropic_usage(&self.usage);
        start_usage["output_tokens"] = json!(1);
        let mut out = vec![sse_event(
            "message_start",
            &json!({"type": "message_start", "message": {
            "id": format!("msg_mock_{}", self.serial), "type": "message", "role": "assistant", "content": [],
            "model": self.model, "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
        )];
        let mut index = 0;
        if let Some(text) = t.text.as_deref().filter(|_| !self.empty_choices) {
            out.push(sse_event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
            out.push(sse_event("ping", &json!({"type": "ping"})));
            for piece in pieces(text, 16) {
                out.push(sse_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})));
            }
            out.push(sse_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
            index += 1;
        }
        for (i, c) in t
            .tool_calls
            .iter()
            .enumerate()
            .filter(|_| !self.empty_choices)
        {
            out.push(sse_event("content_block_start", &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call_id(self.format, self.turn_index, i), "name": c.name, "input": {}}})));
            for piece in pieces(&c.arguments, 10) {
                out.push(sse_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
            }
            out.push(sse_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
            index += 1;
        }
        out.push(sse_event(
            "message_delta",
            &json!({"type": "message_delta",
            "delta": {"stop_reason": anthropic_finish(t.finish_reason()), "stop_sequence": null},
            "usage": {"output_tokens": self.usage.output_tokens}}),
        ));
        out.push(sse_event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

/// A mid-stream provider error event of this type.
pub fn error_event(format: Format, kind: &str) -> Bytes {
    match format {
        Format::OpenAi => sse_data(
            &json!({"error": {"message": format!("mock-llm injected {kind}"), "type": kind, "param": null, "code": null}}),
        ),
        Format::Anthropic => sse_event(
            "error",
            &json!({"type": "error", "error": {"type": kind, "message": format!("mock-llm injected {kind}")}}),
        ),
    }
}

/// A provider error body.
pub fn error_body(format: Format, status: u16, message: &str, param: Option<&str>) -> Value {
    match format {
        Format::OpenAi => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                429 => ("requests", json!("rate_limit_exceeded")),
                s if s >= 500 => ("server_error", Value::Null),
                _ => ("invalid_request_error", Value::Null),
            };
            json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
        }
        Format::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"})
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_and_respect_char_boundaries() {
        let s = "héllo wörld, this is ✓ a test";
        assert_eq!(pieces(s, 4).concat(), s);
        assert_eq!(pieces("{\"a\":1}", 3), vec!["{\"a", "\":1", "}"]);
    }

    #[test]
    fn openai_stream_ends_with_usage_then_done() {
        let turn = Turn::text("hi there");
        let a = Answer {
            format: Format::OpenAi,
            turn: &turn,
            turn_index: 0,
            model: "m",
            usage: ScriptUsage {
                input_tokens: 3,
                output_tokens: 2,
                cached_tokens: 0,
            },
            serial: 1,
            include_usage: true,
            empty_choices: false,
        };
        let ev = a.events();
        assert!(
            std::str::from_utf8(&ev[ev.len() - 2])
                .unwrap()
                .contains("\"choices\":[]")
        );
        assert_eq!(&ev[ev.len() - 1][..], b"data: [DONE]\n\n");
    }
}
