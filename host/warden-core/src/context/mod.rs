//! The context assembler: builds the messages of each request from the run's history so
//! that they fit the model's context window and have a shape the provider accepts.
//!
//! Order of measures when a history is too large: (1) shrink tool outputs above the
//! per-output cap (head and tail kept, marker between), (2) drop the oldest turns after the
//! task message, a whole turn at a time, so an assistant tool-call message is never parted
//! from its results. Summarising old turns is the controller's job (it needs a model call);
//! [`ContextAssembler::compaction_range`] tells it what to summarise. The assembler works on
//! a copy: the run state keeps every original message.
//! Invariant: [`ContextAssembler::assemble`] returns only histories that pass
//! [`validate::validate`] and fit the input budget, or an error.

mod bpe;
mod memo;
pub mod models;
mod shape;
pub mod shrink;
mod tokens;
pub mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_memo;

use std::ops::Range;
use std::sync::Arc;

use crate::chat::{Message, ToolSpec};
pub use tokens::TokenCounter;
use validate::{InvalidHistory, Repair};

/// Tokens kept free besides the output reserve, for the estimate's error.
const SAFETY_MARGIN_RATIO: f64 = 0.05;
/// The smallest per-output cap the assembler falls back to before giving up.
const MIN_TOOL_OUTPUT_CAP: u64 = 64;
/// Default per-output cap for tool results, in tokens.
pub const DEFAULT_TOOL_OUTPUT_CAP: u64 = 4_000;

/// Why no request could be assembled.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContextError {
    /// Even with every measure taken the request is larger than the window allows.
    #[error(
        "the request needs about {needed} input tokens but the context window leaves {available}; \
         raise context_window, lower max_tokens, or shorten the instructions or task"
    )]
    DoesNotFit {
        /// Estimated input tokens of the smallest request the assembler could build.
        needed: u64,
        /// Input tokens the window leaves after the output reserve and the safety margin.
        available: u64,
    },
    /// The history could not be repaired into a shape the provider accepts.
    #[error(transparent)]
    Invalid(#[from] InvalidHistory),
}

/// Messages ready to send, and what it took to get them.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    /// The messages to send, system prompt first.
    pub messages: Vec<Message>,
    /// Estimated input tokens of messages plus tool specs.
    pub estimated_tokens: u64,
    /// Tool outputs cut to the cap.
    pub shrunk_outputs: usize,
    /// History messages left out (oldest turns).
    pub dropped_messages: usize,
    /// Repairs the validator made.
    pub repairs: Vec<Repair>,
}

/// Builds requests for one model. See the module docs.
#[derive(Debug, Clone)]
pub struct ContextAssembler {
    counter: TokenCounter,
    /// The last request's messages and what was measured of them (see `memo`).
    memo: memo::MemoCell,
    window: u32,
    reserve_output: u32,
    tool_output_cap: u64,
}

impl ContextAssembler {
    /// An assembler for `model`, with the window from the table unless overridden, keeping
    /// `max_tokens` free for the answer.
    pub fn new(model: &str, window_override: Option<u32>, max_tokens: u32) -> Self {
        Self {
            counter: TokenCounter::for_model(model),
            memo: memo::MemoCell::default(),
            window: models::context_window(model, window_override),
            reserve_output: max_tokens,
            tool_output_cap: DEFAULT_TOOL_OUTPUT_CAP,
        }
    }

    /// Sets the per-output token cap for tool results (at least 64).
    pub fn with_tool_output_cap(mut self, cap: u64) -> Self {
        self.tool_output_cap = cap.max(MIN_TOOL_OUTPUT_CAP);
        self
    }

    /// Uses `counter` instead of the model's default one.
    pub fn with_counter(mut self, counter: TokenCounter) -> Self {
        self.counter = counter;
        self
    }

    /// The context window in tokens.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Input tokens a request may use: window minus output reserve minus a safety margin.
    pub fn available_input(&self) -> u64 {
        let window = u64::from(self.window);
        let margin = (window as f64 * SAFETY_MARGIN_RATIO) as u64;
        window
            .saturating_sub(u64::from(self.reserve_output))
            .saturating_sub(margin)
    }

    /// The token counter.
    pub fn counter(&self) -> &TokenCounter {
        &self.counter
    }

    /// The token counter, to calibrate it with reported usage.
    pub fn counter_mut(&mut self) -> &mut TokenCounter {
        &mut self.counter
    }

    /// Estimated input tokens of `system` + `history` + `tools`, without any measure taken.
    pub fn estimate(&self, system: &str, history: &[Message], tools: &Arc<[ToolSpec]>) -> u64 {
        let system_tokens = if system.is_empty() {
            0
        } else {
            self.counter.count_message(&Message::system(system))
        };
        system_tokens + self.counter.count_messages(history) + self.counter.count_tool_set(tools)
    }

    /// Whether the counts must be exact before `system` + `history` + `tools` can be held
    /// against `limit` tokens: their counts are the estimate (an OpenAI model whose table
    /// is not loaded) and their bound passes the limit. Past half the limit the table starts
    /// loading in the background, so it is usually there by the time it is needed.
    pub fn needs_exact(
        &self,
        limit: u64,
        system: &str,
        history: &[Message],
        tools: &Arc<[ToolSpec]>,
    ) -> bool {
        let bound = || {
            let system = if system.is_empty() {
                0
            } else {
                self.counter.bound_message(&Message::system(system))
            };
            (history.iter())
                .map(|m| self.counter.bound_message(m))
                .sum::<u64>()
                + system
                + self.counter.bound_tool_set(tools)
        };
        self.near(limit, bound)
    }

    /// [`ContextAssembler::needs_exact`], given how to take the bound of the whole request.
    fn near(&self, limit: u64, bound: impl FnOnce() -> u64) -> bool {
        if !self.counter.is_provisional() {
            return false;
        }
        let bound = bound();
        if bound > limit / 2 {
            self.counter.prepare_exact();
        }
        bound > limit
    }

    /// Makes the counts exact where [`ContextAssembler::needs_exact`] says so. This blocks
    /// while the table loads: an async caller awaits [`TokenCounter::until_exact`] first.
    fn exact_if_near(
        &self,
        limit: u64,
        system: &str,
        history: &[Message],
        tools: &Arc<[ToolSpec]>,
    ) {
        if self.needs_exact(limit, system, history, tools) {
            self.counter.wait_until_exact();
        }
    }

    /// Builds the messages to send: the system prompt, then `history` repaired and fitted
    /// to the window. `history` itself is not changed.
    pub fn assemble(
        &self,
        system: &str,
        history: &[Message],
        tools: &Arc<[ToolSpec]>,
    ) -> Result<Assembled, ContextError> {
        let mut messages = Vec::with_capacity(history.len() + 1);
        if !system.is_empty() {
            messages.push(Message::system(system));
        }
        messages.extend(history.iter().cloned());
        // A history already in shape (the usual case) is checked and counted only in the
        // messages the last request did not have (see `memo`).
        let mut memo = self.memo.lock();
        memo.sync(messages.iter());
        let canonical = memo.is_canonical();
        let available = self.available_input();
        // Exact counts where the bound says the request might not fit (OpenAI models: the
        // bound is the length in bytes; see `tokens`).
        let (mut messages, repairs, mut counts) = if canonical {
            let bound = || memo.bound(&self.counter) + self.counter.bound_tool_set(tools);
            if self.near(available, bound) {
                self.counter.wait_until_exact();
            }
            let counts = memo.counts(&self.counter);
            (messages, Vec::new(), counts)
        } else {
            let (messages, repairs) = validate::repair_all(messages);
            self.exact_if_near(available, "", &messages, tools);
            let counts: Vec<u64> = (messages.iter())
                .map(|m| self.counter.count_message(m))
                .collect();
            (messages, repairs, counts)
        };
        drop(memo);
        let tools_tokens = self.counter.count_tool_set(tools);
        let total = |counts: &[u64]| counts.iter().sum::<u64>() + tools_tokens;
        let mut shrunk_outputs = 0;
        let mut dropped_messages = 0;

        let mut cap = self.tool_output_cap;
        while total(&counts) > available {
            shrunk_outputs += self.shrink_outputs(&mut messages, &mut counts, cap);
            if total(&counts) <= available {
                break;
            }
            let excess = total(&counts) - available;
            let dropped = self.drop_oldest(&mut messages, &mut counts, excess);
            dropped_messages += dropped;
            if dropped == 0 && cap == MIN_TOOL_OUTPUT_CAP {
                return Err(ContextError::DoesNotFit {
                    needed: total(&counts),
                    available,
                });
            }
            cap = (cap / 2).max(MIN_TOOL_OUTPUT_CAP);
        }
        // Shrinking changes only tool outputs' text, never the shape: a canonical history
        // left whole needs no second check.
        if !canonical || dropped_messages > 0 {
            validate::validate(&messages)?;
        }
        Ok(Assembled {
            estimated_tokens: total(&counts),
            messages,
            shrunk_outputs,
            dropped_messages,
            repairs,
        })
    }

    fn shrink_outputs(&self, messages: &mut [Message], counts: &mut [u64], cap: u64) -> usize {
        let mut shrunk = 0;
        for (message, count) in messages.iter_mut().zip(counts.iter_mut()) {
            if let Message::Tool { content, .. } = message
                && let Some(smaller) = shrink::shrink_text(content, cap, &self.counter)
            {
                *content = smaller.into();
                *count = self.counter.count_message(message);
                shrunk += 1;
            }
        }
        shrunk
    }

    /// Drops whole turns after the pinned prefix (system prompt and task message), oldest
    /// first, until `excess` tokens are freed or only the latest turn is left. Returns the
    /// number of messages dropped; a note saying so replaces them.
    fn drop_oldest(
        &self,
        messages: &mut Vec<Message>,
        counts: &mut Vec<u64>,
        excess: u64,
    ) -> usize {
        let pinned = pinned_prefix(messages);
        let units = turn_starts(messages, pinned);
        // `units` ends with the history length; the last real turn is never dropped.
        if units.len() < 3 {
            return 0;
        }
        let mut freed = 0;
        let mut end = pinned;
        for pair in units[..units.len() - 1].windows(2) {
            freed += counts[pair[0]..pair[1]].iter().sum::<u64>();
            end = pair[1];
            if freed >= excess {
                break;
            }
        }
        let dropped = end - pinned;
        messages.drain(pinned..end);
        let note = format!("[{dropped} earlier messages were omitted to fit the context window]");
        messages.insert(pinned, Message::user(note));
        // The note may now follow or precede another user message: repair merges them.
        let (repaired, _) = validate::repair(std::mem::take(messages));
        *messages = repaired;
        *counts = messages
            .iter()
            .map(|m| self.counter.count_message(m))
            .collect();
        dropped
    }

    /// The history range (indices into `history`, which starts after the system prompt)
    /// worth summarising when the history uses more than `ratio` of the input budget: every
    /// whole turn after the task message except the latest `keep_recent`. `None` when the
    /// history is small enough or there is not enough to summarise.
    pub fn compaction_range(
        &self,
        system: &str,
        history: &[Message],
        tools: &Arc<[ToolSpec]>,
        ratio: f64,
        keep_recent: usize,
    ) -> Option<Range<usize>> {
        let threshold = (self.available_input() as f64 * ratio) as u64;
        // Measured through the memo: the request assembled next shares these messages.
        let system = (!system.is_empty()).then(|| Message::system(system));
        let mut memo = self.memo.lock();
        memo.sync(system.iter().chain(history));
        let bound = || memo.bound(&self.counter) + self.counter.bound_tool_set(tools);
        if self.near(threshold, bound) {
            self.counter.wait_until_exact();
        }
        let estimate = memo.total(&self.counter) + self.counter.count_tool_set(tools);
        drop(memo);
        if estimate <= threshold {
            return None;
        }
        let pinned = pinned_prefix(history);
        let units = turn_starts(history, pinned);
        // `units` ends with the history length, so the kept turns start `keep_recent + 1`
        // entries from the end.
        let end = units[units.len().checked_sub(keep_recent.max(1) + 1)?];
        (end > pinned + 1).then_some(pinned..end)
    }
}

/// Number of leading messages never dropped: system messages and the first user message.
fn pinned_prefix(messages: &[Message]) -> usize {
    let systems = messages
        .iter()
        .take_while(|m| matches!(m, Message::System { .. }))
        .count();
    match messages.get(systems) {
        Some(Message::User { .. }) => systems + 1,
        _ => systems,
    }
}

/// Start indices of the turns from `from` on, plus `messages.len()` as the final end. A
/// turn is one message, or an assistant message with its tool results.
fn turn_starts(messages: &[Message], from: usize) -> Vec<usize> {
    let mut starts: Vec<usize> = (from..messages.len())
        .filter(|&i| !matches!(messages[i], Message::Tool { .. }) || i == from)
        .collect();
    starts.push(messages.len());
    starts
}
