//! Builds spans from a run's stamped events, one event at a time: the run is an
//! `invoke_agent` span, each model call a `chat` span and each tool call (each attempt) an
//! `execute_tool` span, both children of the run's span (a tool runs after the model call
//! that asked for it has ended; `warden.step` ties them together).
//!
//! Invariants: the same records give the same spans, ids included (see [`crate::span`]);
//! a span is handed out once, when it ends; [`SpanBuilder::finish`] closes whatever a cut
//! log left open, marked `warden.incomplete`; every text passes the redactor, and message
//! content is recorded only when [`TraceOptions::capture_content`] is on. Chat sessions,
//! whose later turns have no `run_started`, get one `invoke_agent` span per turn.

mod attrs;
mod parts;

use warden_core::events::{EventRecord, RunEvent};

use crate::keys;
use crate::redact::Redactor;
use crate::span::{Attributes, Span, SpanKind, SpanStatus, span_id_for, trace_id_for};
use attrs::{RunTotals, failure_name, finish_response, finish_run, finish_tool};

/// Longest message content kept in one attribute, in characters (cut with `…`).
pub const MAX_CONTENT_CHARS: usize = 16 * 1024;

/// The environment variable that turns message content on (`true`), as OpenTelemetry's
/// GenAI instrumentations name it.
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// What a trace records.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Record message content: the task, the model's text, tool arguments and results.
    /// Off by default; keys are redacted either way.
    pub capture_content: bool,
    /// What is redacted from every recorded text.
    pub redactor: Redactor,
}

impl TraceOptions {
    /// Options from the environment: content when [`CAPTURE_CONTENT_ENV`] is `true` (or
    /// `1`), the environment's keys redacted ([`Redactor::from_env`]).
    pub fn from_env() -> Self {
        let capture_content = std::env::var(CAPTURE_CONTENT_ENV)
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
        TraceOptions {
            capture_content,
            redactor: Redactor::from_env(),
        }
    }
}

/// A span being built.
#[derive(Debug)]
struct Open {
    span: Span,
    /// For a tool call: the model's call id, to match its end.
    call_id: String,
}

/// Turns records into spans. See the module docs.
#[derive(Debug)]
pub struct SpanBuilder {
    run_id: String,
    trace_id: String,
    options: TraceOptions,
    /// From the last `run_started`.
    agent: String,
    model: String,
    provider: Option<String>,
    priced: bool,
    runs: usize,
    model_calls: usize,
    run: Option<(Open, RunTotals)>,
    chat: Option<Open>,
    /// Text of the open model call (content capture only), capped.
    chat_text: String,
    tools: Vec<Open>,
    /// Time of the latest record, in ns since the epoch (records without a valid time get it).
    last_ns: u64,
}

impl SpanBuilder {
    /// A builder for the run `run_id`.
    pub fn new(run_id: impl Into<String>, options: TraceOptions) -> Self {
        let run_id = run_id.into();
        SpanBuilder {
            trace_id: trace_id_for(&run_id),
            run_id,
            options,
            agent: String::new(),
            model: String::new(),
            provider: None,
            priced: false,
            runs: 0,
            model_calls: 0,
            run: None,
            chat: None,
            chat_text: String::new(),
            tools: Vec::new(),
            last_ns: 0,
        }
    }

    /// The trace id of every span.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// Spans of `records` (one run): what [`SpanBuilder::push`] gives for each, then
    /// [`SpanBuilder::finish`]. The run id is the first record's.
    pub fn build(records: &[EventRecord], options: TraceOptions) -> Vec<Span> {
        let run_id = records
            .first()
            .map(|r| r.run_id.clone())
            .unwrap_or_default();
        let mut builder = SpanBuilder::new(run_id, options);
        let mut spans: Vec<Span> = records.iter().flat_map(|r| builder.push(r)).collect();
        spans.extend(builder.finish());
        spans
    }

    /// Takes one record; returns the spans it ended (children before their parent).
    pub fn push(&mut self, record: &EventRecord) -> Vec<Span> {
        let now = parse_ts(&record.ts)
            .unwrap_or(self.last_ns)
            .max(self.last_ns);
        self.last_ns = now;
        let mut done = Vec::new();
        match &record.event {
            RunEvent::RunStarted {
                agent,
                model,
                input,
                provider,
                priced,
                ..
            } => {
                done.extend(self.close_all(now, "a new run started before this one ended"));
                self.agent.clone_from(agent);
                self.model.clone_from(model);
                self.provider.clone_from(provider);
                self.priced = *priced;
                self.open_run(now);
                if self.options.capture_content {
                    let messages = self.messages("user", input, None);
                    if let Some((run, _)) = &mut self.run {
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
                self.ensure_run(now);
                if let Some(open) = self.chat.take() {
                    done.push(self.abandon(open, now, "the next model call started first"));
                }
                let key = format!("chat:{}", self.model_calls);
                self.model_calls += 1;
                let mut span =
                    self.child(&key, format!("chat {}", self.model), SpanKind::Client, now);
                let a = &mut span.attributes;
                a.insert(keys::OPERATION_NAME.into(), keys::OP_CHAT.into());
                self.common(a);
                a.insert(keys::STEP.into(), (*step).into());
                a.insert(keys::MODEL_CALL_KIND.into(), attrs::serde_name(kind).into());
                a.insert(keys::REQUEST_MESSAGES.into(), (*messages).into());
                a.insert(keys::REQUEST_TOOLS.into(), (*tools).into());
                a.insert(
                    keys::REQUEST_ESTIMATED_TOKENS.into(),
                    (*estimated_input_tokens).into(),
                );
                self.chat = Some(Open {
                    span,
                    call_id: String::new(),
                });
                self.chat_text.clear();
            }
            // The model's text is content: kept only when asked, up to a bound.
            RunEvent::TextDelta { text }
                if self.options.capture_content && self.chat_text.len() < MAX_CONTENT_CHARS * 4 =>
            {
                self.chat_text.push_str(text);
            }
            RunEvent::ModelResponse {
                finish_reason,
                tool_calls,
                usage,
                usage_estimated,
                cost_usd,
                ..
            } => {
                self.ensure_run(now);
                if let Some(mut open) = self.chat.take() {
                    let cost = self.priced.then_some(*cost_usd);
                    finish_response(
                        &mut open.span.attributes,
                        finish_reason,
                        *tool_calls,
                        usage,
                        *usage_estimated,
                        cost,
                    );
                    if self.options.capture_content && !self.chat_text.is_empty() {
                        let text = std::mem::take(&mut self.chat_text);
                        let reason = finish_reason.to_string();
                        let messages = self.messages("assistant", &text, Some(&reason));
                        open.span
                            .attributes
                            .insert(keys::OUTPUT_MESSAGES.into(), messages.into());
                    }
                    done.push(self.close(open, now));
                }
                if let Some((_, totals)) = &mut self.run {
                    totals.model_call(usage, *cost_usd);
                }
            }
            RunEvent::ToolCallStarted {
                call_id,
                name,
                arguments,
                attempt,
                trusted,
                ..
            } => {
                self.ensure_run(now);
                let key = format!("tool:{}:{call_id}:{attempt}", self.model_calls);
                let mut span = self.child(
                    &key,
                    format!("execute_tool {name}"),
                    SpanKind::Internal,
                    now,
                );
                let a = &mut span.attributes;
                a.insert(keys::OPERATION_NAME.into(), keys::OP_EXECUTE_TOOL.into());
                a.insert(keys::TOOL_NAME.into(), self.clean(name).into());
                a.insert(keys::TOOL_CALL_ID.into(), self.clean(call_id).into());
                a.insert(keys::TOOL_TYPE.into(), "function".into());
                a.insert(keys::TOOL_ATTEMPT.into(), (*attempt).into());
                a.insert(keys::STEP.into(), record.step.into());
                if *trusted {
                    a.insert(keys::TOOL_TRUSTED.into(), true.into());
                }
                if self.options.capture_content {
                    let args = self.capped(&arguments.to_string());
                    span.attributes
                        .insert(keys::TOOL_CALL_ARGUMENTS.into(), args.into());
                }
                self.tools.push(Open {
                    span,
                    call_id: call_id.clone(),
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
                self.ensure_run(now);
                // The latest attempt of the call; a finish without a start gets a span of
                // its own (zero length) so its usage is not lost.
                let open = match self.tools.iter().rposition(|t| t.call_id == *call_id) {
                    Some(at) => self.tools.remove(at),
                    None => {
                        let key = format!("tool:{}:{call_id}:orphan", self.model_calls);
                        let mut span = self.child(
                            &key,
                            format!("execute_tool {name}"),
                            SpanKind::Internal,
                            now,
                        );
                        span.attributes
                            .insert(keys::OPERATION_NAME.into(), keys::OP_EXECUTE_TOOL.into());
                        span.attributes
                            .insert(keys::TOOL_NAME.into(), self.clean(name).into());
                        span.attributes
                            .insert(keys::TOOL_CALL_ID.into(), self.clean(call_id).into());
                        Open {
                            span,
                            call_id: call_id.clone(),
                        }
                    }
                };
                let mut open = open;
                let failure = error_kind.map(|kind| (kind, self.clean(preview)));
                finish_tool(&mut open.span, usage, failure);
                if *ok && self.options.capture_content {
                    let result = self.capped(preview);
                    open.span
                        .attributes
                        .insert(keys::TOOL_CALL_RESULT.into(), result.into());
                }
                if let Some((_, totals)) = &mut self.run {
                    totals.tool_call(usage, *error_kind);
                }
                done.push(self.close(open, now));
            }
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
                    keys::EVENT_TOOL_CALL_REJECTED,
                    now,
                    record.step,
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
                self.run_event(keys::EVENT_OUTPUT_REJECTED, now, record.step, attributes);
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
                self.run_event(keys::EVENT_COMPACTION, now, record.step, attributes);
                if let Some((_, totals)) = &mut self.run {
                    totals.compactions += 1;
                }
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
                self.run_event(keys::EVENT_BUDGET_WARNING, now, record.step, attributes);
            }
            RunEvent::RateLimitWait {
                wait_ms, message, ..
            } => {
                let attributes = [
                    ("warden.wait_ms", (*wait_ms).into()),
                    ("warden.reason", self.clean(message).into()),
                ];
                self.call_event(
                    keys::EVENT_RATE_LIMIT_WAIT,
                    now,
                    attributes,
                    keys::RATE_LIMIT_WAIT_MS,
                    *wait_ms,
                );
                if let Some((_, totals)) = &mut self.run {
                    totals.rate_limit_wait_ms = totals.rate_limit_wait_ms.saturating_add(*wait_ms);
                }
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
                self.call_event(
                    keys::EVENT_RETRY,
                    now,
                    attributes,
                    keys::RETRY_WAIT_MS,
                    *wait_ms,
                );
                if let Some(chat) = &mut self.chat {
                    attrs::add_int(&mut chat.span.attributes, keys::RETRIES, 1);
                }
                if let Some((_, totals)) = &mut self.run {
                    totals.retries += 1;
                }
            }
            RunEvent::RunFinished {
                stop_reason,
                forced,
                output,
                ..
            } => {
                self.ensure_run(now);
                let failure =
                    failure_name(stop_reason).map(|_| self.clean(&stop_reason.describe()));
                if let Some(open) = self.chat.take() {
                    let why = failure
                        .clone()
                        .unwrap_or_else(|| "the run ended before the model answered".into());
                    done.push(self.abandon(open, now, &why));
                }
                for open in std::mem::take(&mut self.tools) {
                    done.push(self.abandon(open, now, "the run ended before the call finished"));
                }
                if let Some((mut open, totals)) = self.run.take() {
                    finish_run(
                        &mut open.span,
                        stop_reason,
                        *forced,
                        failure,
                        &totals,
                        self.priced,
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
                }
            }
            // Event kinds added later are skipped: their spans come with a newer builder.
            _ => {}
        }
        done
    }

    /// Closes every span still open (the events ended first: a crash, a cut log), marked
    /// `warden.incomplete`, at the time of the last record.
    pub fn finish(&mut self) -> Vec<Span> {
        self.close_all(self.last_ns, "the events end before this span did")
    }

    fn close_all(&mut self, now: u64, why: &str) -> Vec<Span> {
        let mut done = Vec::new();
        if let Some(open) = self.chat.take() {
            done.push(self.abandon(open, now, why));
        }
        for open in std::mem::take(&mut self.tools) {
            done.push(self.abandon(open, now, why));
        }
        if let Some((mut open, totals)) = self.run.take() {
            totals.write(&mut open.span.attributes, self.priced);
            done.push(self.abandon(open, now, why));
        }
        done
    }

    fn open_run(&mut self, now: u64) {
        let key = format!("run:{}", self.runs);
        self.runs += 1;
        let mut span = Span {
            trace_id: self.trace_id.clone(),
            span_id: span_id_for(&self.run_id, &key),
            parent_span_id: None,
            name: match self.agent.as_str() {
                "" => keys::OP_INVOKE_AGENT.to_owned(),
                agent => self.clean(&format!("invoke_agent {agent}")),
            },
            kind: SpanKind::Internal,
            start_unix_nano: now,
            end_unix_nano: now,
            attributes: Attributes::new(),
            events: Vec::new(),
            status: SpanStatus::Unset,
        };
        let a = &mut span.attributes;
        a.insert(keys::OPERATION_NAME.into(), keys::OP_INVOKE_AGENT.into());
        if !self.agent.is_empty() {
            a.insert(keys::AGENT_NAME.into(), self.clean(&self.agent).into());
        }
        self.common(a);
        a.insert(keys::CONVERSATION_ID.into(), self.run_id.clone().into());
        a.insert(keys::RUN_ID.into(), self.run_id.clone().into());
        self.run = Some((
            Open {
                span,
                call_id: String::new(),
            },
            RunTotals::default(),
        ));
    }

    /// Opens a run span for events that come without `run_started` (a chat's later turns).
    fn ensure_run(&mut self, now: u64) {
        if self.run.is_none() {
            self.open_run(now);
        }
    }
}

/// An RFC 3339 time in ns since the epoch; `None` when it does not parse.
fn parse_ts(ts: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(ts).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

#[cfg(test)]
mod tests;
