//! The history validator: the shape check run before every send, and its repair.
//!
//! A valid history is: system messages only at the start; then a user message first; no two
//! user or two assistant messages in a row (Anthropic rejects them; the adapters lift the
//! system prompt out); no empty assistant or blank user message; every tool call id unique;
//! and directly after an assistant message with tool calls, exactly one result per call, in
//! call order.
//! Invariant: the output of [`repair`] always passes [`validate`] unless it has no message
//! besides the system prompt.

use std::collections::{HashMap, HashSet, VecDeque};

use super::shape::ShapeCheck;

use serde::Serialize;

use crate::chat::Message;

/// Text of the error result added for a call whose result is missing.
pub const MISSING_RESULT_TEXT: &str = "no result was recorded for this call";
/// Text of the user message inserted when a history does not start with one.
pub const OMITTED_START_TEXT: &str = "(the start of this conversation was omitted)";

/// One thing wrong with a history. Positions are indices into the checked slice.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "issue", rename_all = "snake_case")]
pub enum HistoryIssue {
    /// Nothing to send besides the system prompt.
    #[error("the history has no message besides the system prompt")]
    Empty,
    /// A system message after the first non-system message.
    #[error("message {index}: a system message after the conversation started")]
    SystemNotFirst {
        /// Position of the offending message.
        index: usize,
    },
    /// The conversation starts with an assistant or tool message.
    #[error("message {index}: the first message after the system prompt must be from the user")]
    FirstNotUser {
        /// Position of the offending message.
        index: usize,
    },
    /// Two user or two assistant messages in a row.
    #[error("message {index}: two {role} messages in a row")]
    ConsecutiveRole {
        /// Position of the offending message.
        index: usize,
        /// The role of both messages.
        role: &'static str,
    },
    /// A user message with blank text.
    #[error("message {index}: a user message without text")]
    EmptyUser {
        /// Position of the offending message.
        index: usize,
    },
    /// An assistant message with neither text nor tool calls.
    #[error("message {index}: an assistant message with neither text nor tool calls")]
    EmptyAssistant {
        /// Position of the offending message.
        index: usize,
    },
    /// A tool call id used by an earlier call.
    #[error("message {index}: tool call id `{call_id}` is used twice")]
    DuplicateCallId {
        /// Position of the offending message.
        index: usize,
        /// The tool call concerned.
        call_id: String,
    },
    /// A tool result that answers no call of the preceding assistant message.
    #[error(
        "message {index}: result for `{call_id}` answers no call of the preceding assistant message"
    )]
    OrphanResult {
        /// Position of the offending message.
        index: usize,
        /// The tool call concerned.
        call_id: String,
    },
    /// A second result for the same call.
    #[error("message {index}: a second result for call `{call_id}`")]
    DuplicateResult {
        /// Position of the offending message.
        index: usize,
        /// The tool call concerned.
        call_id: String,
    },
    /// Results not in the order of their calls.
    #[error("message {index}: result for `{call_id}` is not in call order")]
    ResultOutOfOrder {
        /// Position of the offending message.
        index: usize,
        /// The tool call concerned.
        call_id: String,
    },
    /// A call whose result does not follow its assistant message.
    #[error("message {index}: call `{call_id}` has no result before the next message")]
    MissingResult {
        /// Position of the offending message.
        index: usize,
        /// The tool call concerned.
        call_id: String,
    },
}

/// A history that failed validation, with every issue found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid conversation history: {}", .issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidHistory {
    /// Every issue found, in message order.
    pub issues: Vec<HistoryIssue>,
}

/// One change [`repair`] made.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "repair", rename_all = "snake_case")]
pub enum Repair {
    /// System messages were merged into one at the start.
    MergedSystemMessages {
        /// How many there were before.
        count: usize,
    },
    /// An assistant message with neither text nor tool calls was dropped.
    DroppedEmptyAssistant,
    /// A tool call reusing an earlier id was dropped.
    DroppedDuplicateCall {
        /// The tool call concerned.
        call_id: String,
    },
    /// A result answering no call was dropped.
    DroppedOrphanResult {
        /// The tool call concerned.
        call_id: String,
    },
    /// A result was moved into call order.
    MovedResult {
        /// The tool call concerned.
        call_id: String,
    },
    /// An error result ([`MISSING_RESULT_TEXT`]) was added for a call without one.
    AddedMissingResult {
        /// The tool call concerned.
        call_id: String,
    },
    /// Two messages in a row of the same `role` were merged.
    MergedConsecutive {
        /// The role of both messages.
        role: &'static str,
    },
    /// A user message ([`OMITTED_START_TEXT`]) was put before a history that did not start
    /// with one.
    InsertedUserStart,
    /// A blank user message was given [`EMPTY_USER_TEXT`].
    FilledEmptyUser,
}

/// Text put into a user message that has none (Anthropic rejects empty text blocks).
pub const EMPTY_USER_TEXT: &str = "(no text)";

/// The role name of a message, as used in issues.
pub fn role(message: &Message) -> &'static str {
    match message {
        Message::System { .. } => "system",
        Message::User { .. } => "user",
        Message::Assistant { .. } => "assistant",
        Message::Tool { .. } => "tool",
    }
}

pub(super) fn is_empty_assistant(message: &Message) -> bool {
    matches!(message, Message::Assistant { content, tool_calls }
        if tool_calls.is_empty() && content.as_deref().is_none_or(str::is_empty))
}

/// Checks the shape of `messages`; returns every issue found.
pub fn validate(messages: &[Message]) -> Result<(), InvalidHistory> {
    ShapeCheck::of(messages).finish()
}

/// Repairs `messages` into a valid history: system messages merged at the front, orphan
/// and duplicate results dropped, misplaced results moved after their call, an error result
/// added for each call without one, consecutive user/assistant messages merged, empty
/// assistant messages dropped, a user message inserted if the history does not start with one,
/// blank user messages given a placeholder text.
pub fn repair(messages: Vec<Message>) -> (Vec<Message>, Vec<Repair>) {
    // Every request goes through here and almost every history is already in shape:
    // checking costs a fraction of rebuilding it.
    if is_canonical(&messages) {
        return (messages, Vec::new());
    }
    repair_all(messages)
}

/// Whether [`repair`] would leave `messages` as they are: valid, at most one system
/// message, and no assistant message with empty text beside its calls.
pub(super) fn is_canonical(messages: &[Message]) -> bool {
    ShapeCheck::of(messages).is_canonical()
}

/// [`repair`] without the shortcut for histories already in shape.
pub(super) fn repair_all(messages: Vec<Message>) -> (Vec<Message>, Vec<Repair>) {
    let mut repairs = Vec::new();
    let mut system_parts = Vec::new();
    let mut rest = Vec::with_capacity(messages.len());
    for message in messages {
        match message {
            Message::System { content } => system_parts.push(content),
            other => rest.push(Some(other)),
        }
    }
    let paired = pair_results(&mut rest, &mut repairs);
    let mut out: Vec<Message> = Vec::with_capacity(paired.len() + 1);
    if system_parts.len() > 1 {
        repairs.push(Repair::MergedSystemMessages {
            count: system_parts.len(),
        });
    }
    if !system_parts.is_empty() {
        out.push(Message::System {
            content: system_parts.join("\n\n").into(),
        });
    }
    let mut started = false;
    for message in paired {
        if !started && !matches!(message, Message::User { .. }) {
            repairs.push(Repair::InsertedUserStart);
            out.push(Message::user(OMITTED_START_TEXT));
        }
        started = true;
        match (out.last_mut(), message) {
            (Some(Message::User { content: a }), Message::User { content: b }) => {
                repairs.push(Repair::MergedConsecutive { role: "user" });
                *a = format!("{a}\n\n{b}").into();
            }
            (
                Some(Message::Assistant {
                    content: a,
                    tool_calls: calls_a,
                }),
                Message::Assistant {
                    content: b,
                    tool_calls: calls_b,
                },
            ) => {
                // After pairing, an assistant message directly followed by another has no calls.
                repairs.push(Repair::MergedConsecutive { role: "assistant" });
                *a = match (a.take(), b) {
                    (Some(x), Some(y)) => Some(format!("{x}\n\n{y}").into()),
                    (x, y) => x.or(y),
                };
                if !calls_b.is_empty() {
                    *calls_a = calls_a.iter().chain(calls_b.iter()).cloned().collect();
                }
            }
            (_, message) => out.push(message),
        }
    }
    for message in &mut out {
        if let Message::User { content } = message
            && content.trim().is_empty()
        {
            *content = EMPTY_USER_TEXT.into();
            repairs.push(Repair::FilledEmptyUser);
        }
    }
    (out, repairs)
}

/// Walks the non-system messages: drops empty assistants, duplicate calls and orphan
/// results, and puts exactly one result after each call, in call order.
fn pair_results(rest: &mut [Option<Message>], repairs: &mut Vec<Repair>) -> Vec<Message> {
    let mut positions: HashMap<String, VecDeque<usize>> = HashMap::new();
    for (i, m) in rest.iter().enumerate() {
        if let Some(Message::Tool { call_id, .. }) = m {
            positions.entry(call_id.clone()).or_default().push_back(i);
        }
    }
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(rest.len());
    for i in 0..rest.len() {
        let Some(message) = rest[i].take() else {
            continue;
        };
        match message {
            Message::Tool { call_id, .. } => repairs.push(Repair::DroppedOrphanResult { call_id }),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let content = content.filter(|c| !c.is_empty());
                let mut calls = Vec::with_capacity(tool_calls.len());
                for call in tool_calls.iter() {
                    if seen_ids.insert(call.id.clone()) {
                        calls.push(call.clone());
                    } else {
                        let call_id = call.id.clone();
                        repairs.push(Repair::DroppedDuplicateCall { call_id });
                    }
                }
                if content.is_none() && calls.is_empty() {
                    repairs.push(Repair::DroppedEmptyAssistant);
                    continue;
                }
                let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
                out.push(Message::Assistant {
                    content,
                    tool_calls: calls.into(),
                });
                for (k, id) in ids.into_iter().enumerate() {
                    let queue = positions.get_mut(&id);
                    let found = queue.and_then(|q| {
                        while let Some(j) = q.pop_front() {
                            if j > i && rest[j].is_some() {
                                return Some(j);
                            }
                        }
                        None
                    });
                    match found.and_then(|j| rest[j].take().map(|m| (j, m))) {
                        Some((j, result)) => {
                            if j != i + 1 + k {
                                repairs.push(Repair::MovedResult { call_id: id });
                            }
                            out.push(result);
                        }
                        None => {
                            out.push(Message::tool_result(&id, MISSING_RESULT_TEXT, true));
                            repairs.push(Repair::AddedMissingResult { call_id: id });
                        }
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}
