//! Message content for traces, in the shape of the OpenTelemetry GenAI conventions'
//! `gen_ai.input.messages` / `gen_ai.output.messages`: a role and typed parts (`text`,
//! `tool_call`, `tool_call_response`). Only made when content capture is on
//! ([`super::RunEvent::ModelContent`]).
//!
//! Invariant: bounded. Each text part keeps at most [`MAX_PART_CHARS`] characters (cut
//! with `…`); a request keeps its newest messages up to [`MAX_CONTENT_CHARS`] characters
//! in all, the older ones counted in `dropped` (the system prompt is an older one too).

use serde::{Deserialize, Serialize};

use crate::chat::{ChatResponse, Message};

/// Longest text part kept, in characters.
pub const MAX_PART_CHARS: usize = 16 * 1024;
/// Most characters of text kept for one request's messages (or one response).
pub const MAX_CONTENT_CHARS: usize = 64 * 1024;

/// One message: a role (`system`, `user`, `assistant`, `tool`) and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentMessage {
    /// Who said it.
    pub role: String,
    /// What was said.
    pub parts: Vec<ContentPart>,
    /// Why the model stopped (a response only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// One part of a message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        content: String,
    },
    /// A tool call the model made.
    ToolCall {
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// Its arguments (JSON text).
        arguments: String,
    },
    /// A tool's result.
    ToolCallResponse {
        /// The call it answers.
        id: String,
        /// The output or error the model was given.
        response: String,
    },
}

impl ContentPart {
    fn chars(&self) -> usize {
        match self {
            ContentPart::Text { content } => content.chars().count(),
            ContentPart::ToolCall {
                name, arguments, ..
            } => name.chars().count() + arguments.chars().count(),
            ContentPart::ToolCallResponse { response, .. } => response.chars().count(),
        }
    }

    /// The part with every string passed through `f` (redaction).
    pub fn map_text(&self, mut f: impl FnMut(&str) -> String) -> ContentPart {
        match self {
            ContentPart::Text { content } => ContentPart::Text {
                content: f(content),
            },
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => ContentPart::ToolCall {
                id: f(id),
                name: f(name),
                arguments: f(arguments),
            },
            ContentPart::ToolCallResponse { id, response } => ContentPart::ToolCallResponse {
                id: f(id),
                response: f(response),
            },
        }
    }
}

/// `text` cut to [`MAX_PART_CHARS`].
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_PART_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn text(role: &str, content: &str) -> ContentMessage {
    ContentMessage {
        role: role.into(),
        parts: vec![ContentPart::Text {
            content: cut(content),
        }],
        finish_reason: None,
    }
}

fn message(m: &Message) -> ContentMessage {
    match m {
        Message::System { content } => text("system", content),
        Message::User { content } => text("user", content),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let mut parts: Vec<ContentPart> = (content.iter())
                .map(|c| ContentPart::Text { content: cut(c) })
                .collect();
            parts.extend(tool_calls.iter().map(|call| ContentPart::ToolCall {
                id: cut(&call.id),
                name: cut(&call.name),
                arguments: cut(&call.arguments),
            }));
            ContentMessage {
                role: "assistant".into(),
                parts,
                finish_reason: None,
            }
        }
        Message::Tool {
            call_id, content, ..
        } => ContentMessage {
            role: "tool".into(),
            parts: vec![ContentPart::ToolCallResponse {
                id: cut(call_id),
                response: cut(content),
            }],
            finish_reason: None,
        },
    }
}

/// A request's messages, newest kept within [`MAX_CONTENT_CHARS`]; returns them (oldest
/// first) and how many older ones were dropped.
pub fn request_content(messages: &[Message]) -> (Vec<ContentMessage>, usize) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    for m in messages.iter().rev() {
        let converted = message(m);
        let size: usize = converted.parts.iter().map(ContentPart::chars).sum();
        if total.saturating_add(size) > MAX_CONTENT_CHARS {
            break;
        }
        total += size;
        kept.push(converted);
    }
    let dropped = messages.len() - kept.len();
    kept.reverse();
    (kept, dropped)
}

/// A response as one assistant message with its finish reason.
pub fn response_content(response: &ChatResponse) -> Vec<ContentMessage> {
    let mut parts: Vec<ContentPart> = (response.text.iter())
        .map(|t| ContentPart::Text { content: cut(t) })
        .collect();
    parts.extend(
        response
            .tool_calls
            .iter()
            .map(|call| ContentPart::ToolCall {
                id: cut(&call.id),
                name: cut(&call.name),
                arguments: cut(&call.arguments),
            }),
    );
    vec![ContentMessage {
        role: "assistant".into(),
        parts,
        finish_reason: Some(response.finish_reason.to_string()),
    }]
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn a_long_history_keeps_its_newest_messages_within_the_cap_and_counts_the_rest() {
        let big = "x".repeat(MAX_PART_CHARS * 2);
        let mut messages = vec![Message::system("be brief")];
        messages.extend((0..10).map(|_| Message::user(big.as_str())));
        messages.push(Message::user("the last question"));
        let (kept, dropped) = request_content(&messages);
        let total: usize = kept
            .iter()
            .flat_map(|m| &m.parts)
            .map(ContentPart::chars)
            .sum();
        assert!(total <= MAX_CONTENT_CHARS, "{total}");
        assert_eq!(kept.len() + dropped, messages.len());
        assert!(dropped >= 1, "the system prompt is among the dropped");
        assert_eq!(
            kept.last().unwrap().parts[0],
            ContentPart::Text {
                content: "the last question".into()
            }
        );
        // Each long part is cut to the part cap, marked.
        let ContentPart::Text { content } = &kept[0].parts[0] else {
            panic!("{kept:?}");
        };
        assert_eq!(content.chars().count(), MAX_PART_CHARS + 1);
        assert!(content.ends_with('…'));
    }
}
