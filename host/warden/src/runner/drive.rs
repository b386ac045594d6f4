//! The drive loop: ask the controller for the next step, do its IO, feed the outcome back,
//! forward events. Model calls live here (streamed or not, with notices turned into events);
//! tool calls are in `tools`.
//!
//! Invariant: the controller's queued events are forwarded before each step is executed
//! and once more at the end, so the order of events is the order of decisions; an
//! immediate cancellation is fed to the controller as soon as it is seen; a tool call's
//! argument text is capped (`max_tool_args`) as it arrives, before anything else sees it.

use std::sync::Arc;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::guard;
use super::record::Recorder;
use super::tools::run_tools;
use super::{Agent, RunError, RunHandle, Runner};
use warden_core::budget::Budget;
use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};
use warden_core::controller::{Controller, Step};
use warden_core::events::RunEvent;
use warden_core::run::{CancelMode, RunResult, StopReason};
use warden_core::state::UsageTotals;
use warden_llm::{LlmError, LlmNotice, Model, NoticeQueue, Notices, StreamAccumulator};

/// Drives `controller` to `Done`; `None` when the run paused for an approval (only a
/// recorded run pauses: see `approval`).
pub(super) async fn drive<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    agent: &Agent,
    controller: &mut Controller,
    handle: &RunHandle,
    sink: &mut S,
    streaming: bool,
    rec: &mut Recorder,
) -> Result<Option<RunResult>, RunError> {
    let mut after_turn_sent = false;
    let max_tool_args = agent.config().max_tool_args_bytes;
    // The agent's own model, if it has one (an agent of a team may use another provider).
    let model = agent.model().unwrap_or(&runner.model).as_ref();
    // Only the driver knows which provider the model is reached through.
    let provider = model.provider();
    // The output guardrails decide before `RunFinished` leaves (see `guard`).
    let gate = guard::FinishGate::new(agent);
    let sink = &mut |event: RunEvent| {
        if let Some(event) = gate.pass(event) {
            sink(with_provider(event, provider));
        }
    };
    let mut input = guard::pending_input(agent, controller);
    loop {
        forward(controller, sink);
        if handle.is_cancelled() && controller.result().is_none() {
            controller.cancel(CancelMode::Immediate);
            continue;
        }
        if !after_turn_sent && handle.after_turn_requested() {
            controller.cancel(CancelMode::AfterTurn);
            after_turn_sent = true;
        }
        // Exact token counts may be needed to plan: their table loads on its own thread,
        // awaited here so that planning does not block this worker (other runs share it).
        if let Some(counter) = controller.exact_counts_pending() {
            counter.until_exact().await;
        }
        let step = controller.next_step();
        // Planning queues events (model request, compaction): they precede the step's IO.
        forward(controller, sink);
        match step {
            Step::Done(result) => {
                // Boxed, as the tool step is: the run's future does not hold its state.
                let review = gate.review(agent, controller, result, handle.token(), sink);
                let result = Box::pin(review).await;
                // The end (and its `run_finished` event) is recorded however the run ended.
                rec.checkpoint(controller).await?;
                return Ok(Some(result));
            }
            Step::CallModel(request) => {
                let call = call_model(
                    model,
                    &request,
                    streaming,
                    true,
                    max_tool_args,
                    handle.token(),
                    sink,
                );
                let outcome = match input.take() {
                    None => call.await,
                    Some(text) => {
                        let cap = controller.remaining_budget();
                        let guarded = guarded_call(agent, &text, call, handle.token(), cap);
                        match Box::pin(guarded).await {
                            Ok(GuardedCall {
                                outcome,
                                events,
                                usage,
                            }) => {
                                events.into_iter().for_each(&mut *sink);
                                controller.charge(&usage);
                                outcome
                            }
                            Err(Tripped {
                                events,
                                reason,
                                usage,
                            }) => {
                                events.into_iter().for_each(&mut *sink);
                                controller.charge(&usage);
                                controller.stop(reason);
                                continue;
                            }
                        }
                    }
                };
                if let ModelOutcome::Response(response) = &outcome {
                    rec.note_response(response);
                    content(runner, &request, response, sink);
                }
                feed_model(controller, outcome)?;
                forward(controller, sink);
                rec.checkpoint(controller).await?;
            }
            Step::Summarize(request) => {
                let outcome = call_model(
                    model,
                    &request,
                    streaming,
                    false,
                    max_tool_args,
                    handle.token(),
                    sink,
                )
                .await;
                if let ModelOutcome::Response(response) = &outcome {
                    rec.note_response(response);
                    content(runner, &request, response, sink);
                }
                feed_model(controller, outcome)?;
                forward(controller, sink);
                rec.checkpoint(controller).await?;
            }
            Step::RunTools(plan) => {
                // Boxed: the tool step's state (sandbox call, task set) is most of a run's
                // future, and a run spends most of its life waiting on the model, when
                // that space would be held for nothing (~3.5 KiB per in-flight run).
                Box::pin(run_tools(
                    runner,
                    agent,
                    plan,
                    controller,
                    handle.token(),
                    sink,
                    rec,
                ))
                .await?;
                if rec.is_paused() {
                    return Ok(None);
                }
            }
        }
    }
}

/// The call's full content, when the runner captures it (before its `ModelResponse`).
fn content<S: FnMut(RunEvent) + ?Sized>(
    runner: &Runner,
    request: &ChatRequest,
    response: &ChatResponse,
    sink: &mut S,
) {
    if runner.captures_content() {
        sink(RunEvent::model_content(&request.messages, response));
    }
}

/// The first model call of a user turn, with the input guardrails: those marked
/// `before_model` first, the others while `call` runs. A trip drops the call (or discards
/// its response) and gives the guardrails' events and the stop reason.
async fn guarded_call(
    agent: &Agent,
    input: &str,
    call: impl Future<Output = ModelOutcome>,
    cancel: &CancellationToken,
    cap: Budget,
) -> Result<GuardedCall, Tripped> {
    let (before, beside) = guard::input_guards(agent);
    let (mut events, checked, mut usage) = tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            let (events, usage) = (Vec::new(), UsageTotals::default());
            return Ok(GuardedCall { outcome: ModelOutcome::Cancelled, events, usage });
        }
        checked = guard::check_input(&before, input, &cap) => checked,
    };
    if let Some(reason) = checked {
        return Err(Tripped {
            events,
            reason,
            usage,
        });
    }
    let check = guard::check_input(&beside, input, &cap);
    tokio::pin!(call, check);
    let mut outcome = None;
    let mut checked = false;
    while !checked || outcome.is_none() {
        tokio::select! {
            // A trip needs no response: the call is dropped at once.
            (beside_events, reason, used) = &mut check, if !checked => {
                events.extend(beside_events);
                usage.add_totals(&used);
                if let Some(reason) = reason {
                    return Err(Tripped { events, reason, usage });
                }
                checked = true;
            }
            done = &mut call, if outcome.is_none() => outcome = Some(done),
        }
    }
    let outcome = outcome.unwrap_or(ModelOutcome::Cancelled);
    Ok(GuardedCall {
        outcome,
        events,
        usage,
    })
}

/// A model call whose input passed its guardrails, their events and usage.
struct GuardedCall {
    outcome: ModelOutcome,
    events: Vec<RunEvent>,
    usage: UsageTotals,
}

/// An input guardrail tripped: the events, the stop reason, what the checks used.
struct Tripped {
    events: Vec<RunEvent>,
    reason: StopReason,
    usage: UsageTotals,
}

/// `event`, with the provider filled in when it is the run's start.
fn with_provider(mut event: RunEvent, name: &str) -> RunEvent {
    if let RunEvent::RunStarted {
        provider: provider @ None,
        ..
    } = &mut event
    {
        *provider = Some(name.to_owned());
    }
    event
}

/// The result of a drive that cannot pause (an unrecorded run never does).
pub(super) fn finished(driven: Option<RunResult>) -> Result<RunResult, RunError> {
    driven.ok_or(RunError::Durable(super::DurableError::NoStore))
}

/// Sends the controller's queued events to the sink.
pub(super) fn forward<S: FnMut(RunEvent) + ?Sized>(controller: &mut Controller, sink: &mut S) {
    for event in controller.drain_events() {
        sink(event);
    }
}

/// How a model call ended.
enum ModelOutcome {
    Response(ChatResponse),
    Failed(LlmError),
    Cancelled,
}

fn feed_model(controller: &mut Controller, outcome: ModelOutcome) -> Result<(), RunError> {
    match outcome {
        ModelOutcome::Response(response) => controller.on_model_response(response)?,
        ModelOutcome::Failed(error) => controller.on_model_error(error.failure())?,
        // The next loop iteration sees the cancelled handle and stops the controller.
        ModelOutcome::Cancelled => {}
    }
    Ok(())
}

/// One model call. Notices (rate-limit waits, retries) become events while it runs; its
/// text becomes `TextDelta`s (only for `answer` calls, not summaries): as it streams, or in
/// one piece once a non-streamed call returns. Tool-call arguments over `max_tool_args`
/// bytes are dropped as they arrive (streamed) or as soon as the response is parsed.
async fn call_model<S: FnMut(RunEvent) + ?Sized>(
    model: &dyn Model,
    request: &ChatRequest,
    streaming: bool,
    answer: bool,
    max_tool_args: u64,
    cancel: &CancellationToken,
    sink: &mut S,
) -> ModelOutcome {
    let queue = Arc::new(NoticeQueue::default());
    let notices = Notices::queue(queue.clone());
    if !streaming {
        let call = model.complete(request, &notices);
        tokio::pin!(call);
        let result = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return ModelOutcome::Cancelled,
                () = queue.pushed() => drain_notices(&queue, sink),
                result = &mut call => break result,
            }
        };
        drain_notices(&queue, sink);
        return match result {
            Ok(mut response) => {
                response.cap_tool_calls(max_tool_args);
                // The text in one piece: what a streamed call delivers in deltas, so text the
                // model writes beside tool calls is seen without streaming too.
                if answer && let Some(text) = response.text.as_ref().filter(|t| !t.is_empty()) {
                    sink(RunEvent::TextDelta { text: text.clone() });
                }
                ModelOutcome::Response(response)
            }
            Err(e) => ModelOutcome::Failed(e),
        };
    }
    let open = model.stream(request, &notices);
    tokio::pin!(open);
    let opened = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return ModelOutcome::Cancelled,
            () = queue.pushed() => drain_notices(&queue, sink),
            opened = &mut open => break opened,
        }
    };
    drain_notices(&queue, sink);
    let mut stream = match opened {
        Ok(stream) => stream,
        Err(e) => return ModelOutcome::Failed(e),
    };
    let mut acc = StreamAccumulator::new(model.model_name()).with_max_tool_args(max_tool_args);
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return ModelOutcome::Cancelled,
            next = stream.next() => next,
        };
        match next {
            None => break,
            Some(Err(e)) => return ModelOutcome::Failed(e),
            Some(Ok(event)) => {
                if answer
                    && let StreamEvent::TextDelta { text } = &event
                    && !text.is_empty()
                {
                    sink(RunEvent::TextDelta { text: text.clone() });
                }
                acc.push(&event);
            }
        }
    }
    match acc.finish() {
        Ok(response) => ModelOutcome::Response(response),
        Err(e) => ModelOutcome::Failed(e),
    }
}

fn drain_notices<S: FnMut(RunEvent) + ?Sized>(queue: &NoticeQueue, sink: &mut S) {
    for notice in queue.take() {
        if let Some(event) = notice_event(notice) {
            sink(event);
        }
    }
}

/// The run event for an LLM notice; `None` for a kind this runner does not show.
fn notice_event(notice: LlmNotice) -> Option<RunEvent> {
    Some(match notice {
        LlmNotice::RateLimitWait { waited, reason } => RunEvent::RateLimitWait {
            wait_ms: duration_ms(waited),
            attempt: 1,
            message: reason,
        },
        LlmNotice::Retry {
            attempt,
            delay,
            cause,
        } => RunEvent::Retry {
            attempt,
            wait_ms: duration_ms(delay),
            reason: cause,
        },
        // LlmNotice is non_exhaustive: a new kind is skipped until the runner maps it.
        _ => return None,
    })
}

pub(crate) fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
