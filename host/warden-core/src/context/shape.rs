//! The history's shape check, fed one message at a time: [`validate`](super::validate::validate)
//! runs it over a whole history, and the assembler keeps its state after the last request's
//! messages, so that a history extending them is checked only in its new messages.
//!
//! Invariant: feeding messages one by one finds exactly the issues, in the same order, that
//! checking them together finds; the state holds nothing borrowed, so it can be kept.

use std::collections::{HashSet, VecDeque};

use super::validate::{HistoryIssue, InvalidHistory, is_empty_assistant, role};
use crate::chat::Message;

/// The check's state after the messages fed so far.
#[derive(Debug, Clone, Default)]
pub(super) struct ShapeCheck {
    /// Messages fed so far (the index of the next one).
    index: usize,
    /// Whether a non-system message has been seen.
    started: bool,
    /// The role of the last message.
    prev: Option<&'static str>,
    /// Every tool call id seen.
    all_ids: HashSet<String>,
    /// Every call id answered by its result.
    answered: HashSet<String>,
    /// Calls of the latest assistant message still waiting for their result, in order.
    expected: VecDeque<String>,
    /// Issues found so far, in message order (those of the end excepted).
    issues: Vec<HistoryIssue>,
    /// Leading system messages (a valid history may have several; repair merges them).
    leading_systems: usize,
    /// Whether an assistant message has empty text beside its calls (repair drops it).
    empty_text: bool,
}

impl ShapeCheck {
    /// The state after `messages`.
    pub(super) fn of<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Self {
        let mut check = Self::default();
        messages.into_iter().for_each(|m| check.push(m));
        check
    }

    /// Checks the next message.
    pub(super) fn push(&mut self, message: &Message) {
        let index = self.index;
        self.index += 1;
        if !matches!(message, Message::Tool { .. }) {
            for call_id in self.expected.drain(..) {
                self.issues
                    .push(HistoryIssue::MissingResult { index, call_id });
            }
        }
        let this = role(message);
        match message {
            Message::System { .. } if self.started => {
                self.issues.push(HistoryIssue::SystemNotFirst { index })
            }
            Message::System { .. } => self.leading_systems += 1,
            _ if !self.started && this != "user" => {
                self.issues.push(HistoryIssue::FirstNotUser { index })
            }
            _ => {}
        }
        if this != "system" {
            self.started = true;
        }
        if (this == "user" || this == "assistant") && self.prev == Some(this) {
            self.issues
                .push(HistoryIssue::ConsecutiveRole { index, role: this });
        }
        self.prev = Some(this);
        match message {
            Message::User { content } if content.trim().is_empty() => {
                self.issues.push(HistoryIssue::EmptyUser { index });
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                if is_empty_assistant(message) {
                    self.issues.push(HistoryIssue::EmptyAssistant { index });
                }
                self.empty_text |= content.as_deref().is_some_and(str::is_empty);
                for call in tool_calls.iter() {
                    if !self.all_ids.insert(call.id.clone()) {
                        self.issues.push(HistoryIssue::DuplicateCallId {
                            index,
                            call_id: call.id.clone(),
                        });
                    }
                    self.expected.push_back(call.id.clone());
                }
            }
            Message::Tool { call_id, .. } => self.result(index, call_id),
            _ => {}
        }
    }

    /// Checks a tool result against the calls waiting for one.
    fn result(&mut self, index: usize, call_id: &str) {
        if self.expected.front().is_some_and(|id| id == call_id) {
            if let Some(id) = self.expected.pop_front() {
                self.answered.insert(id);
            }
            return;
        }
        let call_id = call_id.to_string();
        let issue = if self.answered.contains(&call_id) {
            HistoryIssue::DuplicateResult { index, call_id }
        } else if self.expected.contains(&call_id) || self.all_ids.contains(&call_id) {
            // Answers a call, but not the next one due (or one of an earlier turn).
            HistoryIssue::ResultOutOfOrder { index, call_id }
        } else {
            HistoryIssue::OrphanResult { index, call_id }
        };
        self.issues.push(issue);
    }

    /// Whether the messages fed so far have no issue yet, their end aside (calls may still
    /// wait for results that later messages bring).
    pub(super) fn clean_so_far(&self) -> bool {
        self.issues.is_empty()
    }

    /// Whether `repair` would leave the messages fed so far as they are: valid as they end,
    /// at most one system message, and no assistant message with empty text.
    pub(super) fn is_canonical(&self) -> bool {
        self.issues.is_empty()
            && self.expected.is_empty()
            && self.started
            && self.leading_systems <= 1
            && !self.empty_text
    }

    /// The verdict on the messages fed, ending where they end.
    pub(super) fn finish(mut self) -> Result<(), InvalidHistory> {
        let index = self.index;
        for call_id in self.expected.drain(..) {
            self.issues
                .push(HistoryIssue::MissingResult { index, call_id });
        }
        if !self.started {
            self.issues.push(HistoryIssue::Empty);
        }
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(InvalidHistory {
                issues: self.issues,
            })
        }
    }
}
