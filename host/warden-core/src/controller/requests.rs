//! Building the next model request: a summary when the history grows too large, the normal
//! turn with tools, or the forced final answer with tools disabled after a budget ran out.
//!
//! Invariant: every request goes through the assembler, so its messages validate and fit.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::{Controller, Phase, Step};
use crate::chat::{
    ChatRequest, ChatResponse, Message, RequestSettings, ToolChoice, ToolSpec, WireCache,
};
use crate::context::shrink::shrink_text;
use crate::context::{Assembled, TokenCounter};
use crate::events::RunEvent;
use crate::run::{FinalOutput, StopReason};
use crate::state::ModelCallKind;

const SUMMARY_SYSTEM: &str = "You compress conversations between a user, an assistant and its tools. \
Summarise the conversation below so the assistant can continue the task without it: keep facts, numbers, \
names, file paths, tool results that matter, decisions taken and open questions. Be concise; no preamble.";

/// Token cap for one tool output inside the text given to the summariser.
const SUMMARY_TOOL_OUTPUT_CAP: u64 = 500;

/// Room left in the tokenizer check for the note a forced final call adds (bytes, as the
/// bound counts them).
const FORCED_NOTE_BOUND: u64 = 1024;

impl Controller {
    /// The token counter an async driver should await ([`TokenCounter::until_exact`])
    /// before calling [`Controller::next_step`]: `Some` when planning the next request
    /// needs exact counts and the tokenizer's table is still loading (~0.4 s, once per
    /// process). `next_step` would otherwise block its thread until the table is there.
    pub fn exact_counts_pending(&self) -> Option<TokenCounter> {
        if !matches!(self.phase, Phase::Ready) {
            return None;
        }
        // The lowest limit the plan may measure the history against: the summary trigger,
        // or the input budget.
        let available = self.assembler.available_input();
        let cfg = &self.config.compaction;
        let limit = if cfg.summarize && !self.summary_failed && !self.summarized_since_turn {
            available.min((available as f64 * cfg.trigger_ratio) as u64)
        } else {
            available
        };
        let limit = limit.saturating_sub(FORCED_NOTE_BOUND);
        self.assembler
            .needs_exact(limit, &self.system, self.state.live(), &self.specs)
            .then(|| self.assembler.counter().clone())
    }

    /// Decides the next model call (phase is `Ready`).
    pub(super) fn plan_model_call(&mut self) -> Step {
        if self.cancel_after_turn {
            self.finish(
                StopReason::Cancelled {
                    mode: crate::run::CancelMode::AfterTurn,
                },
                None,
                false,
            );
            return self.next_step();
        }
        if self.exhausted.is_none() {
            if let Some(step) = self.maybe_summarize() {
                return step;
            }
            let Some((assembled, tools)) = self.assemble(false) else {
                return self.next_step();
            };
            match self
                .budget
                .check_before(self.consumption(), assembled.estimated_tokens)
            {
                Ok(()) => return self.send(false, assembled, tools),
                Err(exhausted) => {
                    self.on_exhausted(exhausted);
                    if matches!(self.phase, Phase::Finished(_)) {
                        return self.next_step();
                    }
                }
            }
        }
        let Some((assembled, tools)) = self.assemble(true) else {
            return self.next_step();
        };
        self.send(true, assembled, tools)
    }

    /// Assembles the history (plus the forced-answer note if `forced`); ends the run on a
    /// context error and returns `None`.
    fn assemble(&mut self, forced: bool) -> Option<(Assembled, Arc<[ToolSpec]>)> {
        if forced {
            // The forced answer comes instead of the paused turn's continuation.
            self.commit_paused();
        }
        // Only the forced call adds a message: the normal turn sends the live history as is.
        let history: Cow<'_, [Message]> = match self.exhausted.filter(|_| forced) {
            Some(ex) => {
                let mut h = self.state.live().to_vec();
                h.push(Message::user(format!(
                    "You have reached the {}. You cannot call tools any more. Using only what you know \
                     from this conversation, give your best final answer now, and say briefly what remains uncertain.",
                    ex.describe()
                )));
                Cow::Owned(h)
            }
            None => self.with_paused(Cow::Borrowed(self.state.live())),
        };
        // Anthropic rejects tool blocks in a history without tool definitions, so a forced call
        // keeps the specs when the history has tool calls and disables them by tool_choice.
        let has_calls = history
            .iter()
            .any(|m| matches!(m, Message::Assistant { tool_calls, .. } if !tool_calls.is_empty()));
        let tools: Arc<[ToolSpec]> = if forced && !has_calls {
            Arc::new([])
        } else {
            self.specs.clone()
        };
        let assembled = self.assembler.assemble(&self.system, &history, &tools);
        let fit = assembled
            .as_ref()
            .map_or((0, 0), |a| (a.dropped_messages, a.shrunk_outputs));
        let tokens_before = (fit != (0, 0) && fit != self.last_fit)
            .then(|| self.assembler.estimate(&self.system, &history, &tools));
        drop(history);
        let assembled = match assembled {
            Ok(a) => a,
            Err(e) => {
                self.finish(
                    StopReason::Context {
                        message: e.to_string(),
                    },
                    None,
                    false,
                );
                return None;
            }
        };
        if let Some(tokens_before) = tokens_before {
            self.events.push(RunEvent::Compaction {
                summarized: false,
                messages_replaced: assembled.dropped_messages,
                tool_outputs_shrunk: assembled.shrunk_outputs,
                tokens_before,
                tokens_after: assembled.estimated_tokens,
            });
        }
        self.last_fit = fit;
        Some((assembled, tools))
    }

    /// Issues the `CallModel` step for an assembled request.
    fn send(&mut self, forced: bool, assembled: Assembled, tools: Arc<[ToolSpec]>) -> Step {
        let kind = if forced {
            ModelCallKind::ForcedFinal
        } else {
            ModelCallKind::Turn
        };
        let request = ChatRequest {
            settings: RequestSettings {
                model: self.config.model.clone(),
                max_tokens: self.config.max_tokens,
                temperature: self.config.temperature,
                tool_choice: if forced {
                    ToolChoice::None
                } else {
                    ToolChoice::Auto
                },
                parallel_tool_calls: self.config.parallel_tool_calls && !forced,
                options: self.config.options.clone(),
            },
            messages: assembled.messages,
            tools,
            cache: self.wire_cache.clone(),
        };
        if !forced {
            self.turns += 1;
        }
        self.summarized_since_turn = false;
        self.await_model(kind, request, assembled.estimated_tokens, None)
    }

    fn await_model(
        &mut self,
        kind: ModelCallKind,
        request: ChatRequest,
        estimate: u64,
        range: Option<Range<usize>>,
    ) -> Step {
        let step = self.state.begin_step(kind, estimate);
        self.events.push(RunEvent::ModelRequest {
            step,
            kind,
            messages: request.messages.len(),
            tools: request.tools.len(),
            estimated_input_tokens: estimate,
        });
        self.phase = Phase::AwaitingModel {
            kind,
            request: Arc::new(request),
            estimate,
            summary_range: range,
        };
        self.next_step()
    }

    /// A `Summarize` step when the history is past the trigger and summaries are on.
    fn maybe_summarize(&mut self) -> Option<Step> {
        let cfg = &self.config.compaction;
        if !cfg.summarize || self.summary_failed || self.summarized_since_turn {
            return None;
        }
        let range = self.assembler.compaction_range(
            &self.system,
            self.state.live(),
            &self.specs,
            cfg.trigger_ratio,
            cfg.keep_recent_turns,
        )?;
        let mut transcript = String::new();
        for message in &self.state.live()[range.clone()] {
            render(message, self.assembler.counter(), &mut transcript);
        }
        // The text to summarise must itself fit: keep its head and tail if it does not.
        let cap = self.assembler.available_input().saturating_sub(200) / 2;
        if let Some(shorter) = shrink_text(&transcript, cap.max(64), self.assembler.counter()) {
            transcript = shorter;
        }
        let messages = vec![Message::system(SUMMARY_SYSTEM), Message::user(transcript)];
        let estimate = self.assembler.counter().count_messages(&messages);
        let request = ChatRequest {
            settings: RequestSettings {
                model: self.config.model.clone(),
                max_tokens: self
                    .config
                    .max_tokens
                    .min(self.config.compaction.summary_max_tokens),
                temperature: None,
                tool_choice: ToolChoice::None,
                parallel_tool_calls: false,
                options: self.config.options.for_summary(),
            },
            messages,
            tools: Arc::new([]),
            // Not the run's history: its own encoding, not one the run's requests build on.
            cache: WireCache::default(),
        };
        Some(self.await_model(ModelCallKind::Summary, request, estimate, Some(range)))
    }

    /// Replaces the summarised range by the summary (an empty summary only disables them).
    pub(super) fn apply_summary(&mut self, response: ChatResponse, range: Range<usize>) {
        let summary = response.text.unwrap_or_default();
        if summary.trim().is_empty() {
            self.summary_failed = true;
            return;
        }
        let before = self
            .assembler
            .estimate(&self.system, self.state.live(), &self.specs);
        let replaced = range.len();
        self.summarized_since_turn = true;
        if self.state.compact(range, summary).is_none() {
            self.summary_failed = true;
            return;
        }
        let after = self
            .assembler
            .estimate(&self.system, self.state.live(), &self.specs);
        self.events.push(RunEvent::Compaction {
            summarized: true,
            messages_replaced: replaced,
            tool_outputs_shrunk: 0,
            tokens_before: before,
            tokens_after: after,
        });
    }

    /// Ends the run with the forced answer; its tool calls, if any, are ignored.
    pub(super) fn finish_forced(&mut self, response: ChatResponse) {
        let text = response.text.clone().unwrap_or_default();
        if !text.trim().is_empty() {
            self.state.push(Message::assistant_text(text.clone()));
        }
        let json = self
            .output_schema
            .as_ref()
            .and_then(|s| s.check(&text).ok());
        let output = (!text.trim().is_empty()).then(|| FinalOutput {
            text,
            json,
            truncated: response.finish_reason == crate::chat::FinishReason::Length,
        });
        let reason = match self.exhausted {
            Some(ex) => StopReason::Budget {
                resource: ex.resource,
                used: ex.used,
                limit: ex.limit,
            },
            None => StopReason::Completed,
        };
        self.finish(reason, output, true);
    }
}

/// Appends one message as plain text for the summariser.
fn render(message: &Message, counter: &crate::context::TokenCounter, out: &mut String) {
    match message {
        Message::System { content } => out.push_str(&format!("SYSTEM: {content}\n\n")),
        Message::User { content } => out.push_str(&format!("USER: {content}\n\n")),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            if let Some(text) = content {
                out.push_str(&format!("ASSISTANT: {text}\n\n"));
            }
            for call in tool_calls.iter() {
                out.push_str(&format!(
                    "ASSISTANT called `{}` ({}) with {}\n\n",
                    call.name, call.id, call.arguments
                ));
            }
        }
        Message::Tool {
            call_id,
            content,
            is_error,
        } => {
            let body = shrink_text(content, SUMMARY_TOOL_OUTPUT_CAP, counter)
                .unwrap_or_else(|| content.to_string());
            let label = if *is_error {
                "TOOL ERROR"
            } else {
                "TOOL RESULT"
            };
            out.push_str(&format!("{label} ({call_id}): {body}\n\n"));
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::context::models::Tokenizer;
    use crate::controller::LoopConfig;

    /// A gpt-4o controller with an 8k window whose tokenizer table is its own (unloaded).
    fn controller(input: String) -> Controller {
        let mut config = LoopConfig::new("gpt-4o");
        config.context_window = Some(8_000);
        let mut c = Controller::new(config, vec![], input).unwrap();
        let counter = TokenCounter::with_private_table(Tokenizer::O200k);
        c.assembler = c.assembler.clone().with_counter(counter);
        c
    }

    #[tokio::test]
    async fn a_request_that_may_not_fit_awaits_exact_counts_before_planning() {
        let small = controller("hello".into());
        assert!(small.exact_counts_pending().is_none());
        assert!(!small.assembler.counter().table_requested());
        // ~7.5 KB: the bound (its bytes) passes the summary trigger, the ~1,500 tokens do not.
        let mut big = controller("word ".repeat(1_500));
        let counter = big.exact_counts_pending().unwrap();
        assert!(big.assembler.counter().table_requested());
        counter.until_exact().await;
        assert!(!big.assembler.counter().is_provisional());
        assert!(big.exact_counts_pending().is_none());
        assert!(matches!(big.next_step(), Step::CallModel(_)));
    }
}
