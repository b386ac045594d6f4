//! What each event does to the spans of one agent ([`Frame`]): the builder's state machine.
//!
//! Invariant: an event touches only its own frame, except where a nested run meets its
//! caller: a tool call that ends closes the nested runs under it, and a nested run that
//! ends adds its totals to its caller's.

use warden_core::events::RunEvent;

use super::attrs::{self, RunTotals, failure_name, finish_response, finish_run, finish_tool};
use super::{Frame, MAX_CONTENT_CHARS, Open, SpanBuilder};
use crate::keys;
use crate::span::{Span, SpanKind};

impl SpanBuilder {
    /// Applies one event to `frame`, pushing the spans it ended onto `done`.
    pub(super) fn apply(
        &mut self,
        frame: &mut Frame,
        event: &RunEvent,
        step: usize,
        now: u64,
        done: &mut Vec<Span>,
    ) {
        match event {
            RunEvent::RunStarted {
                agent,
                model,
                input,
                provider,
                priced,
                ..
            } => {
                frame.agent.clone_from(agent);
                frame.model.clone_from(model);
                frame.provider.clone_from(provider);
                frame.priced = *priced;
                self.open_run(frame, now);
                if self.options.capture_content {
                    let messages = self.messages("user", input, None);
                    if let Some((run, _)) = &mut frame.run {
                        run.span
                            .attributes
                            .insert(keys::INPUT_MESSAGES.into(), messages.into());
                    }
                }
            }
            RunEvent::ModelRequest {
                step,
                kind,
                messages,
                tools,
                estimated_input_tokens,
                ..
            } => {
                self.ensure_run(frame, now);
                if let Some(open) = frame.chat.take() {
                    done.push(self.abandon(open, now, "the next model call started first"));
                }
                let key = format!("chat:{}", self.model_calls);
                self.model_calls += 1;
                let name = format!("chat {}", frame.model);
                let mut span = self.child(frame, &key, name, SpanKind::Client, now);
                let a = &mut span.attributes;
                a.insert(keys::OPERATION_NAME.into(), keys::OP_CHAT.into());
                self.common(frame, a);
                a.insert(keys::STEP.into(), (*step).into());
                a.insert(keys::MODEL_CALL_KIND.into(), attrs::serde_name(kind).into());
                a.insert(keys::REQUEST_MESSAGES.into(), (*messages).into());
                a.insert(keys::REQUEST_TOOLS.into(), (*tools).into());
                a.insert(
                    keys::REQUEST_ESTIMATED_TOKENS.into(),
                    (*estimated_input_tokens).into(),
                );
                frame.chat = Some(Open::new(span));
                frame.chat_text.clear();
            }
            // The model's text is content: kept only when asked, up to a bound.
            RunEvent::TextDelta { text }
                if self.options.capture_content
                    && frame.chat_text.len() < MAX_CONTENT_CHARS * 4 =>
            {
                frame.chat_text.push_str(text);
            }
            // The call's full messages: content, kept only when asked.
            RunEvent::ModelContent {
                input,
                dropped,
                output,
            } if self.options.capture_content => {
                let input = self.content_json(input);
                let output = self.content_json(output);
                if let Some(chat) = &mut frame.chat {
                    let a = &mut chat.span.attributes;
                    a.insert(keys::INPUT_MESSAGES.into(), input.into());
                    a.insert(keys::OUTPUT_MESSAGES.into(), output.into());
                    if *dropped > 0 {
                        a.insert(keys::CONTENT_DROPPED_MESSAGES.into(), (*dropped).into());
                    }
                }
            }
            RunEvent::ModelResponse {
                finish_reason,
                tool_calls,
                usage,
                usage_estimated,
                cost_usd,
                ..
            } => {
                self.ensure_run(frame, now);
                if let Some(mut open) = frame.chat.take() {
                    let cost = frame.priced.then_some(*cost_usd);
                    finish_response(
                        &mut open.span.attributes,
                        finish_reason,
                        *tool_calls,
                        usage,
                        *usage_estimated,
                        cost,
                    );
                    let a = &open.span.attributes;
                    if self.options.capture_content
                        && !frame.chat_text.is_empty()
                        && !a.contains_key(keys::OUTPUT_MESSAGES)
                    {
                        let text = std::mem::take(&mut frame.chat_text);
                        let reason = finish_reason.to_string();
                        let messages = self.messages("assistant", &text, Some(&reason));
                        open.span
                            .attributes
                            .insert(keys::OUTPUT_MESSAGES.into(), messages.into());
                    }
                    done.push(self.close(open, now));
                }
                frame.totals(|t| t.model_call(usage, *cost_usd));
            }
            RunEvent::ToolCallStarted {
                call_id,
                name,
                arguments,
                attempt,
                trusted,
                ..
            } => {
                self.ensure_run(frame, now);
                let key = format!("tool:{}:{call_id}:{attempt}", self.model_calls);
                let mut span = self.tool_span(frame, &key, name, call_id, now);
                let a = &mut span.attributes;
                a.insert(keys::TOOL_TYPE.into(), "function".into());
                a.insert(keys::TOOL_ATTEMPT.into(), (*attempt).into());
                a.insert(keys::STEP.into(), step.into());
                if *trusted {
                    a.insert(keys::TOOL_TRUSTED.into(), true.into());
                }
                if self.options.capture_content {
                    let args = self.capped(&arguments.to_string());
                    span.attributes
                        .insert(keys::TOOL_CALL_ARGUMENTS.into(), args.into());
                }
                frame.tools.push(Open {
                    call_id: call_id.clone(),
                    name: name.clone(),
                    ..Open::new(span)
                });
            }
            RunEvent::ToolCallFinished {
                call_id,
                name,
                ok,
                error_kind,
                preview,
                usage,
                ..
            } => {
                self.ensure_run(frame, now);
                // The latest attempt of the call; a finish without a start gets a span of
                // its own (zero length) so its usage is not lost.
                let mut open = match frame.tools.iter().rposition(|t| t.call_id == *call_id) {
                    Some(at) => frame.tools.remove(at),
                    None => {
                        let key = format!("tool:{}:{call_id}:orphan", self.model_calls);
                        let span = self.tool_span(frame, &key, name, call_id, now);
                        Open {
                            call_id: call_id.clone(),
                            name: name.clone(),
                            ..Open::new(span)
                        }
                    }
                };
                let failure = error_kind.map(|kind| (kind, self.clean(preview)));
                finish_tool(&mut open.span, usage, failure);
                if *ok && self.options.capture_content {
                    let result = self.capped(preview);
                    open.span
                        .attributes
                        .insert(keys::TOOL_CALL_RESULT.into(), result.into());
                }
                frame.totals(|t| t.tool_call(usage, *error_kind));
                // A nested run of this call that did not say it ended, ends with it.
                let why = "the call that ran this agent ended first";
                self.close_hosted(&open.span.span_id, now, why, done);
                done.push(self.close(open, now));
            }
            RunEvent::Handoff {
                from,
                to,
                reason,
                model,
                provider,
                messages,
            } => self.handoff(
                frame,
                (from, to, reason),
                (model, provider),
                *messages,
                step,
                now,
                done,
            ),
            RunEvent::RunFinished {
                stop_reason,
                forced,
                output,
                ..
            } => {
                self.ensure_run(frame, now);
                let failure =
                    failure_name(stop_reason).map(|_| self.clean(&stop_reason.describe()));
                if let Some(open) = frame.chat.take() {
                    let why = failure
                        .clone()
                        .unwrap_or_else(|| "the run ended before the model answered".into());
                    done.push(self.abandon(open, now, &why));
                }
                for open in std::mem::take(&mut frame.tools) {
                    let why = "the run ended before the call finished";
                    self.close_hosted(&open.span.span_id, now, why, done);
                    done.push(self.abandon(open, now, why));
                }
                if let Some((mut open, totals)) = frame.handoff.take() {
                    let failure = failure.clone();
                    finish_run(
                        &mut open.span,
                        stop_reason,
                        *forced,
                        failure,
                        &totals,
                        frame.priced,
                    );
                    done.push(self.close(open, now));
                }
                if let Some((mut open, totals)) = frame.run.take() {
                    finish_run(
                        &mut open.span,
                        stop_reason,
                        *forced,
                        failure,
                        &totals,
                        frame.priced,
                    );
                    if self.options.capture_content
                        && let Some(output) = output
                    {
                        let messages = self.messages("assistant", &output.text, None);
                        open.span
                            .attributes
                            .insert(keys::OUTPUT_MESSAGES.into(), messages.into());
                    }
                    done.push(self.close(open, now));
                    self.charge_caller(&frame.path, &frame.calls, &totals);
                }
            }
            other => self.note(frame, other, step, now),
        }
    }

    /// A handoff: an event on the agent that hands over, then a new agent span (a child
    /// of the run's) for the one taking over.
    #[expect(
        clippy::too_many_arguments,
        reason = "the handoff event's fields, borrowed"
    )]
    fn handoff(
        &mut self,
        frame: &mut Frame,
        (from, to, reason): (&str, &str, &str),
        (model, provider): (&str, &Option<String>),
        messages: usize,
        step: usize,
        now: u64,
        done: &mut Vec<Span>,
    ) {
        let attributes = [
            (keys::HANDOFF_FROM, self.clean(from).into()),
            ("warden.handoff.to", self.clean(to).into()),
            ("warden.reason", self.clean(reason).into()),
            ("warden.handoff.messages", messages.into()),
        ];
        self.run_event(frame, keys::EVENT_HANDOFF, now, step, attributes);
        if let Some(open) = frame.chat.take() {
            done.push(self.abandon(open, now, "the run was handed to another agent"));
        }
        if let Some((mut open, totals)) = frame.handoff.take() {
            let a = &mut open.span.attributes;
            a.insert(keys::STOP_REASON.into(), "handoff".into());
            totals.write(a, frame.priced);
            done.push(self.close(open, now));
        }
        frame.agent = to.to_owned();
        frame.model = model.to_owned();
        frame.provider.clone_from(provider);
        let key = format!("{}handoff:{}", frame.prefix, self.agents);
        self.agents += 1;
        let parent = frame.run.as_ref().map(|(run, _)| run.span.span_id.clone());
        let mut span = self.agent_span(frame, &key, parent, now);
        span.attributes
            .insert(keys::HANDOFF_FROM.into(), self.clean(from).into());
        frame.handoff = Some((Open::new(span), RunTotals::default()));
    }

    /// Adds a nested run's totals to its caller's (the run's totals cover the whole tree).
    fn charge_caller(&mut self, path: &[String], calls: &[String], totals: &RunTotals) {
        let Some((_, caller)) = path.split_last() else {
            return;
        };
        let outer = calls.split_last().map_or(&[][..], |(_, outer)| outer);
        self.caller_frame(caller, outer)
            .totals(|t| t.absorb(totals));
    }

    /// The events that become span events and counters.
    fn note(&mut self, frame: &mut Frame, event: &RunEvent, step: usize, now: u64) {
        match event {
            RunEvent::ToolCallRejected {
                call_id,
                name,
                reason,
                ..
            } => {
                let attributes = [
                    (keys::TOOL_CALL_ID, self.clean(call_id)),
                    (keys::TOOL_NAME, self.clean(name)),
                    ("warden.reason", self.clean(reason)),
                ];
                self.run_event(
                    frame,
                    keys::EVENT_TOOL_CALL_REJECTED,
                    now,
                    step,
                    attributes.into_iter().map(|(k, v)| (k, v.into())),
                );
            }
            RunEvent::OutputRejected {
                reason,
                attempt,
                will_retry,
                ..
            } => {
                let attributes = [
                    ("warden.reason", self.clean(reason).into()),
                    ("warden.attempt", (*attempt).into()),
                    ("warden.will_retry", (*will_retry).into()),
                ];
                self.run_event(frame, keys::EVENT_OUTPUT_REJECTED, now, step, attributes);
            }
            RunEvent::Compaction {
                summarized,
                messages_replaced,
                tool_outputs_shrunk,
                tokens_before,
                tokens_after,
            } => {
                let attributes = [
                    ("warden.summarized", (*summarized).into()),
                    ("warden.messages_replaced", (*messages_replaced).into()),
                    ("warden.tool_outputs_shrunk", (*tool_outputs_shrunk).into()),
                    ("warden.tokens_before", (*tokens_before).into()),
                    ("warden.tokens_after", (*tokens_after).into()),
                ];
                self.run_event(frame, keys::EVENT_COMPACTION, now, step, attributes);
                frame.totals(|t| t.compactions += 1);
            }
            RunEvent::BudgetWarning {
                resource,
                used,
                limit,
            } => {
                let attributes = [
                    ("warden.resource", attrs::serde_name(resource).into()),
                    ("warden.used", (*used).into()),
                    ("warden.limit", (*limit).into()),
                ];
                self.run_event(frame, keys::EVENT_BUDGET_WARNING, now, step, attributes);
            }
            RunEvent::RateLimitWait {
                wait_ms, message, ..
            } => {
                let attributes = [
                    ("warden.wait_ms", (*wait_ms).into()),
                    ("warden.reason", self.clean(message).into()),
                ];
                let (name, counter) = (keys::EVENT_RATE_LIMIT_WAIT, keys::RATE_LIMIT_WAIT_MS);
                self.call_event(frame, name, now, attributes, counter, *wait_ms);
                frame.totals(|t| {
                    t.rate_limit_wait_ms = t.rate_limit_wait_ms.saturating_add(*wait_ms)
                });
            }
            RunEvent::Retry {
                attempt,
                wait_ms,
                reason,
            } => {
                let attributes = [
                    ("warden.attempt", (*attempt).into()),
                    ("warden.wait_ms", (*wait_ms).into()),
                    ("warden.reason", self.clean(reason).into()),
                ];
                let (name, counter) = (keys::EVENT_RETRY, keys::RETRY_WAIT_MS);
                self.call_event(frame, name, now, attributes, counter, *wait_ms);
                if let Some(chat) = &mut frame.chat {
                    attrs::add_int(&mut chat.span.attributes, keys::RETRIES, 1);
                }
                frame.totals(|t| t.retries += 1);
            }
            // Event kinds added later are skipped: their spans come with a newer builder.
            _ => {}
        }
    }
}
