//! Turns the provider paused before their end (Anthropic `pause_turn`, [`FinishReason::Paused`]):
//! the partial answer is held aside, sent back as-is as the last (assistant) message of the
//! next request so the model goes on from it, and joined with what comes next into one
//! response, handled as any other.
//!
//! Invariants: a paused response is never taken for a final answer; each continuation is a
//! normal turn, counted against `max_turns` and the other budgets like any model call, and
//! after [`MAX_CONSECUTIVE_PAUSES`] pauses in a row the run ends, so a server that pauses
//! forever cannot hold it. A partial answer still held when the run ends goes into the
//! history, never lost.

use std::borrow::Cow;

use super::Controller;
use crate::chat::{ChatResponse, FinishReason, Message};
use crate::run::StopReason;

/// Most pauses in a row followed before the run ends.
pub(super) const MAX_CONSECUTIVE_PAUSES: u32 = 8;

impl Controller {
    /// Holds a paused response's partial answer for the next request, if it is one
    /// (a pause beside tool calls or a refusal is handled as those); `false` otherwise.
    pub(super) fn on_paused(&mut self, response: &mut ChatResponse) -> bool {
        let paused = response.finish_reason == FinishReason::Paused
            && response.tool_calls.is_empty()
            && response.refusal.is_none();
        if !paused {
            self.pauses = 0;
            return false;
        }
        self.pauses += 1;
        let mut text = response.text.take().unwrap_or_default();
        // Anthropic refuses a last assistant message that ends with whitespace; the model
        // goes on from the trimmed text, so that is what is kept.
        text.truncate(text.trim_end().len());
        self.paused = Some(text);
        if self.pauses > MAX_CONSECUTIVE_PAUSES {
            self.finish(
                StopReason::InvalidResponses {
                    detail: format!(
                        "the model server paused the turn {} times in a row (finish reason `paused`) without finishing it",
                        self.pauses
                    ),
                },
                None,
                false,
            );
        }
        true
    }

    /// Puts the held partial answer in front of the response that continues it.
    pub(super) fn resume_paused(&mut self, response: &mut ChatResponse) {
        let Some(prefix) = self.paused.take().filter(|p| !p.is_empty()) else {
            return;
        };
        response.text = Some(match response.text.take() {
            Some(rest) => prefix + &rest,
            None => prefix,
        });
    }

    /// `history` with the held partial answer as its last message, to be continued.
    pub(super) fn with_paused<'a>(&self, history: Cow<'a, [Message]>) -> Cow<'a, [Message]> {
        match self.paused.as_deref().filter(|p| !p.is_empty()) {
            Some(partial) => {
                let mut history = history.into_owned();
                history.push(Message::assistant_text(partial));
                Cow::Owned(history)
            }
            None => history,
        }
    }

    /// Moves a held partial answer into the history (a forced answer or the end of the
    /// run comes instead of its continuation).
    pub(super) fn commit_paused(&mut self) {
        if let Some(partial) = self.paused.take().filter(|p| !p.is_empty()) {
            self.state.push(Message::assistant_text(partial));
        }
    }
}
