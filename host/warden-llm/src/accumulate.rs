//! Folding a stream of [`StreamEvent`]s into the [`ChatResponse`] it describes.
//!
//! Invariant: a response is only handed out as complete if the stream carried a finish
//! event, and never with tool-call arguments cut by the token limit: both cases become
//! [`LlmError::Truncated`]. Tool calls are assembled per index, so interleaved argument
//! deltas of parallel calls land in the right call. A call's argument text is kept only up
//! to the cap (default [`DEFAULT_MAX_TOOL_ARGS_BYTES`]): past it the text is freed and only
//! counted, and the call comes out with [`ToolCall::dropped`] set. A call the provider
//! sent without an id gets one unique within the response; a streamed refusal comes out
//! as [`ChatResponse::refusal`], as a non-streamed one does.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::error::LlmError;
use warden_core::chat::{
    ChatResponse, DEFAULT_MAX_TOOL_ARGS_BYTES, FinishReason, StreamEvent, ToolCall, Usage,
    cut_label,
};

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
    /// Bytes of argument text received, kept or not.
    size: u64,
}

/// Accumulates stream events; call [`StreamAccumulator::finish`] at the end of the stream.
#[derive(Debug)]
pub struct StreamAccumulator {
    text: String,
    saw_text: bool,
    refusal: Option<String>,
    calls: BTreeMap<usize, PartialCall>,
    usage: Usage,
    finish: Option<FinishReason>,
    model: String,
    max_tool_args: u64,
}

impl StreamAccumulator {
    /// An empty accumulator; `model` is reported in the response. Tool-call arguments are
    /// capped at [`DEFAULT_MAX_TOOL_ARGS_BYTES`].
    pub fn new(model: impl Into<String>) -> Self {
        StreamAccumulator {
            text: String::new(),
            saw_text: false,
            refusal: None,
            calls: BTreeMap::new(),
            usage: Usage::default(),
            finish: None,
            model: model.into(),
            max_tool_args: DEFAULT_MAX_TOOL_ARGS_BYTES,
        }
    }

    /// Caps each tool call's argument text at `limit` bytes instead of the default.
    #[must_use]
    pub fn with_max_tool_args(mut self, limit: u64) -> Self {
        self.max_tool_args = limit;
        self
    }

    /// Adds one event.
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextDelta { text } => {
                self.saw_text = true;
                self.text.push_str(text);
            }
            StreamEvent::RefusalDelta { text } => {
                self.refusal.get_or_insert_with(String::new).push_str(text);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                let call = self.calls.entry(*index).or_default();
                if !id.is_empty() {
                    call.id.clone_from(id);
                    cut_label(&mut call.id);
                }
                if !name.is_empty() {
                    call.name.clone_from(name);
                    cut_label(&mut call.name);
                }
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let call = self.calls.entry(*index).or_default();
                call.size = call.size.saturating_add(arguments.len() as u64);
                if call.size <= self.max_tool_args {
                    call.arguments.push_str(arguments);
                } else if !call.arguments.is_empty() {
                    // Over the cap: free what was kept; only the count goes on.
                    call.arguments = String::new();
                }
            }
            StreamEvent::ToolCallEnd { .. } => {}
            // Usage events are cumulative snapshots (Anthropic sends input tokens first,
            // output tokens at the end): keep the largest value seen per field.
            StreamEvent::Usage { usage } => {
                self.usage.input_tokens = self.usage.input_tokens.max(usage.input_tokens);
                self.usage.output_tokens = self.usage.output_tokens.max(usage.output_tokens);
                self.usage.cached_tokens = self.usage.cached_tokens.max(usage.cached_tokens);
            }
            StreamEvent::Finish { reason } => self.finish = Some(reason.clone()),
        }
    }

    /// The response, or `Truncated` if the stream never finished or cut a tool call.
    pub fn finish(self) -> Result<ChatResponse, LlmError> {
        let Some(finish_reason) = self.finish else {
            return Err(LlmError::Truncated {
                detail: "the stream ended without a finish event".into(),
            });
        };
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (index, call) in self.calls {
            if call.name.is_empty() {
                return Err(LlmError::Truncated {
                    detail: format!("tool call #{index} never received its name"),
                });
            }
            let mut tool_call = ToolCall::new(call.id, call.name, call.arguments);
            if call.size > self.max_tool_args {
                tool_call.arguments = "{}".into();
                tool_call.dropped = Some(warden_core::chat::DroppedArguments {
                    size_bytes: call.size,
                    limit_bytes: self.max_tool_args,
                });
            }
            tool_calls.push(tool_call);
        }
        let mut response = ChatResponse {
            text: self.saw_text.then_some(self.text),
            tool_calls,
            finish_reason,
            usage: self.usage,
            model: self.model,
            refusal: self.refusal,
        };
        response.fill_missing_call_ids();
        check_truncation(&response)?;
        Ok(response)
    }
}

/// Refuses a response whose token limit cut a tool call's arguments (they are not a JSON
/// object). Applies to streamed and non-streamed responses alike. Empty arguments count as
/// an empty object, which some servers send for tools without parameters; dropped
/// (over-size) arguments are left to the parser, which rejects them. The check builds no
/// JSON tree.
pub fn check_truncation(response: &ChatResponse) -> Result<(), LlmError> {
    if response.finish_reason != FinishReason::Length {
        return Ok(());
    }
    for call in response.tool_calls.iter().filter(|c| c.dropped.is_none()) {
        let args = call.arguments.trim();
        let is_object = args.is_empty()
            || serde_json::from_str::<&RawValue>(args).is_ok_and(|v| v.get().starts_with('{'));
        if !is_object {
            return Err(LlmError::Truncated {
                detail: format!(
                    "the model hit max_tokens while writing the arguments of tool call {:?} ({}); \
                     raise max_tokens",
                    call.id, call.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn start(index: usize, id: &str, name: &str) -> StreamEvent {
        StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: name.into(),
        }
    }
    fn delta(index: usize, a: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            arguments: a.into(),
        }
    }
    fn finish(reason: FinishReason) -> StreamEvent {
        StreamEvent::Finish { reason }
    }

    #[test]
    fn interleaved_tool_calls_are_assembled_per_index() {
        let mut acc = StreamAccumulator::new("m");
        for e in [
            start(0, "a", "add"),
            start(1, "b", "mul"),
            delta(1, "{\"x\":"),
            delta(0, "{\"y\":"),
            delta(0, "1}"),
            delta(1, "2}"),
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallEnd { index: 1 },
            finish(FinishReason::ToolCalls),
        ] {
            acc.push(&e);
        }
        let r = acc.finish().unwrap();
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0], ToolCall::new("a", "add", "{\"y\":1}"));
        assert_eq!(&*r.tool_calls[1].arguments, "{\"x\":2}");
        assert_eq!(r.text, None);
    }

    #[test]
    fn text_and_usage_snapshots() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&StreamEvent::Usage {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 1,
                cached_tokens: 4,
            },
        });
        acc.push(&StreamEvent::TextDelta { text: "Hel".into() });
        acc.push(&StreamEvent::TextDelta { text: "lo".into() });
        acc.push(&finish(FinishReason::Stop));
        acc.push(&StreamEvent::Usage {
            usage: Usage {
                input_tokens: 0,
                output_tokens: 7,
                cached_tokens: 0,
            },
        });
        let r = acc.finish().unwrap();
        assert_eq!(r.text.as_deref(), Some("Hello"));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 7,
                cached_tokens: 4
            }
        );
        assert_eq!(r.model, "m");
    }

    #[test]
    fn no_finish_event_is_truncated() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&StreamEvent::TextDelta {
            text: "partial".into(),
        });
        assert!(matches!(acc.finish(), Err(LlmError::Truncated { .. })));
    }

    #[test]
    fn length_with_cut_arguments_is_truncated() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&start(0, "a", "write"));
        acc.push(&delta(0, "{\"text\": \"abc"));
        acc.push(&finish(FinishReason::Length));
        let err = acc.finish().unwrap_err();
        assert!(err.to_string().contains("max_tokens"), "{err}");
    }

    #[test]
    fn length_with_complete_arguments_or_text_only_is_passed_on() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&start(0, "a", "write"));
        acc.push(&delta(0, "{}"));
        acc.push(&finish(FinishReason::Length));
        assert_eq!(acc.finish().unwrap().finish_reason, FinishReason::Length);
        let mut acc = StreamAccumulator::new("m");
        acc.push(&StreamEvent::TextDelta {
            text: "cut mid-sent".into(),
        });
        acc.push(&finish(FinishReason::Length));
        assert_eq!(acc.finish().unwrap().finish_reason, FinishReason::Length);
    }

    #[test]
    fn arguments_over_the_cap_are_dropped_and_only_counted() {
        let mut acc = StreamAccumulator::new("m").with_max_tool_args(10);
        acc.push(&start(0, "a", "write"));
        acc.push(&start(1, "b", "write"));
        acc.push(&delta(0, "{\"text\":"));
        acc.push(&delta(1, "{}"));
        acc.push(&delta(0, "\"0123456789\"}"));
        acc.push(&delta(0, &"x".repeat(1000)));
        acc.push(&finish(FinishReason::Length));
        let r = acc.finish().unwrap();
        assert_eq!(&*r.tool_calls[0].arguments, "{}");
        assert_eq!(
            r.tool_calls[0].dropped,
            Some(warden_core::chat::DroppedArguments {
                size_bytes: 1021,
                limit_bytes: 10
            })
        );
        assert_eq!(r.tool_calls[1], ToolCall::new("b", "write", "{}"));
    }

    #[test]
    fn over_long_names_and_ids_are_cut() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&start(0, &"i".repeat(10_000), &"é".repeat(10_000)));
        acc.push(&finish(FinishReason::ToolCalls));
        let call = &acc.finish().unwrap().tool_calls[0];
        assert_eq!(call.id.len(), 256);
        assert_eq!(call.name.len(), 256);
    }

    #[test]
    fn a_call_without_a_name_is_refused() {
        let mut acc = StreamAccumulator::new("m");
        acc.push(&delta(0, "{}"));
        acc.push(&finish(FinishReason::ToolCalls));
        assert!(acc.finish().is_err());
    }
}
