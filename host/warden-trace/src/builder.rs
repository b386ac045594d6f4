//! Builds spans from a run's stamped events, one event at a time: the run is an
//! `invoke_agent` span, each model call a `chat` span and each tool call (each attempt) an
//! `execute_tool` span, both children of the run's span (a tool runs after the model call
//! that asked for it has ended; `warden.step` ties them together).
//!
//! Several agents: a handoff is a `warden.handoff` event on the agent span that hands over,
//! then a new `invoke_agent <to>` span (a child of the run's) that holds the new agent's
//! model and tool calls. A nested run (an agent called as a tool, its events wrapped in
//! `RunEvent::Nested`) is an `invoke_agent <callee>` span under the caller's `execute_tool`
//! span, with its own calls below it and `warden.agent.path` on each. Each agent is a
//! [`Frame`]; the run's totals add up the whole tree.
//!
//! A nested event names its agent path and the tool calls that started each level
//! (`calls`): a nested run goes under the `execute_tool` span of its own call, so two calls
//! of the same agent in one turn, running side by side, are two separate subtrees. Logs
//! written before call ids (or with a count that does not match the path) fall back to the
//! agent path: a call of a tool named like the callee not yet holding a run, latest first.
//!
//! Invariants: the same records give the same spans, ids included (see [`crate::span`]);
//! a span is handed out once, when it ends; [`SpanBuilder::finish`] closes whatever a cut
//! log left open, marked `warden.incomplete`; every text passes the redactor, and message
//! content is recorded only when [`TraceOptions::capture_content`] is on. Chat sessions,
//! whose later turns have no `run_started`, get one `invoke_agent` span per turn.

mod apply;
mod attrs;
mod parts;

use warden_core::events::{EventRecord, RunEvent};

use crate::keys;
use crate::redact::Redactor;
use crate::span::{Attributes, Span, SpanKind, SpanStatus, span_id_for, trace_id_for};
use attrs::RunTotals;

/// Longest message content kept in one attribute, in characters (cut with `…`).
pub const MAX_CONTENT_CHARS: usize = 16 * 1024;

/// The environment variable that turns message content on (`true`), as OpenTelemetry's
/// GenAI instrumentations name it.
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// What a trace records.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Record message content: the task, the model's text, tool arguments and results,
    /// and each model call's full request and response messages
    /// (`gen_ai.input.messages` / `gen_ai.output.messages` on its `chat` span) when the
    /// runner emits them (`warden::Runner::capture_content`). Every string is capped at
    /// [`MAX_CONTENT_CHARS`] characters, a request's messages at
    /// `warden_core::events::content::MAX_CONTENT_CHARS` (newest kept). Off by default;
    /// keys are redacted either way.
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
    /// For a tool call: the tool's name (as the events give it).
    name: String,
    /// For a tool call: a nested run was placed under it.
    hosts: bool,
}

impl Open {
    fn new(span: Span) -> Self {
        Open {
            span,
            call_id: String::new(),
            name: String::new(),
            hosts: false,
        }
    }
}

/// One agent's spans being built: the run's own agent (the root frame) or a nested run.
#[derive(Debug, Default)]
struct Frame {
    /// The agent path of a nested run (`[caller, callee, ...]`); empty for the root.
    path: Vec<String>,
    /// The ids of the calls that started each level of a nested run (one fewer than
    /// `path`), or empty when the events did not say.
    calls: Vec<String>,
    /// Prefix of the span keys (empty for the root, so its ids stay as they were).
    prefix: String,
    /// A nested run's parent: the caller's tool span.
    parent: Option<String>,
    /// The active agent, its model and provider (from `run_started`, then handoffs).
    agent: String,
    model: String,
    provider: Option<String>,
    priced: bool,
    run: Option<(Open, RunTotals)>,
    /// The agent span the last handoff opened: later calls go under it.
    handoff: Option<(Open, RunTotals)>,
    chat: Option<Open>,
    /// Text of the open model call (content capture only), capped.
    chat_text: String,
    tools: Vec<Open>,
}

impl Frame {
    /// Applies `f` to the totals of the run and of the current handoff's agent.
    fn totals(&mut self, mut f: impl FnMut(&mut RunTotals)) {
        if let Some((_, totals)) = &mut self.run {
            f(totals);
        }
        if let Some((_, totals)) = &mut self.handoff {
            f(totals);
        }
    }

    /// The span new calls go under: the last handoff's agent, else the run.
    fn agent_span(&mut self) -> Option<&mut Span> {
        match (&mut self.handoff, &mut self.run) {
            (Some((open, _)), _) | (None, Some((open, _))) => Some(&mut open.span),
            (None, None) => None,
        }
    }
}

/// Turns records into spans. See the module docs.
#[derive(Debug)]
pub struct SpanBuilder {
    run_id: String,
    trace_id: String,
    options: TraceOptions,
    runs: usize,
    model_calls: usize,
    /// Agent spans opened by handoffs and nested runs (their keys).
    agents: usize,
    root: Frame,
    /// Nested runs still open, in the order they started.
    nested: Vec<Frame>,
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
            runs: 0,
            model_calls: 0,
            agents: 0,
            root: Frame::default(),
            nested: Vec::new(),
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
            RunEvent::Nested { path, calls, event } => {
                self.push_nested((path, calls), event, record.step, now, &mut done);
            }
            event => {
                if matches!(event, RunEvent::RunStarted { .. }) {
                    done.extend(self.close_all(now, "a new run started before this one ended"));
                }
                let mut frame = std::mem::take(&mut self.root);
                self.apply(&mut frame, event, record.step, now, &mut done);
                self.root = frame;
            }
        }
        done
    }

    /// An event of the nested run `path` started by the calls `calls`: to its open
    /// frame, or a new one (a run that starts, or events whose start was not seen).
    fn push_nested(
        &mut self,
        (path, calls): (&[String], &[String]),
        event: &RunEvent,
        step: usize,
        now: u64,
        done: &mut Vec<Span>,
    ) {
        // `nested_in` flattens deeper runs into one path: anything else is not warden's.
        if path.len() < 2 || matches!(event, RunEvent::Nested { .. }) {
            return;
        }
        // One call id per level, or none to go by (an older log, or not warden's).
        let calls = if calls.len() + 1 == path.len() {
            calls
        } else {
            &[]
        };
        let open = (self.nested.iter()).rposition(|f| f.path == path && f.calls == calls);
        let at = match open {
            Some(at) if !matches!(event, RunEvent::RunStarted { .. }) => at,
            _ => {
                let frame = self.open_frame(path, calls);
                self.nested.push(frame);
                self.nested.len() - 1
            }
        };
        let mut frame = std::mem::take(&mut self.nested[at]);
        self.apply(&mut frame, event, step, now, done);
        // Applying may have closed other frames (moving this one's slot): the slot is the
        // one frame with an empty path.
        let slot = self.nested.iter().position(|f| f.path.is_empty());
        match (slot, matches!(event, RunEvent::RunFinished { .. })) {
            (Some(at), false) => self.nested[at] = frame,
            (Some(at), true) => drop(self.nested.remove(at)),
            (None, _) => {}
        }
    }

    /// A frame for the nested run `path` (started by `calls`), under the caller's tool
    /// call that runs it.
    fn open_frame(&mut self, path: &[String], calls: &[String]) -> Frame {
        let key = self.agents;
        self.agents += 1;
        let (caller, callee) = path.split_at(path.len() - 1);
        let callee = callee.first().cloned().unwrap_or_default();
        let parent = match calls.split_last() {
            Some((call, outer)) => self.claim_call(caller, outer, call),
            None => self.claim_tool(caller, &callee),
        };
        Frame {
            path: path.to_vec(),
            calls: calls.to_vec(),
            prefix: format!("agent:{key}/"),
            parent,
            agent: callee,
            ..Frame::default()
        }
    }

    /// The frame of the agent `caller` (a path) whose run the calls `calls` started: an
    /// open nested run, else the root.
    fn caller_frame(&mut self, caller: &[String], calls: &[String]) -> &mut Frame {
        let at = (self.nested.iter()).rposition(|f| f.path == caller && f.calls == calls);
        match at {
            Some(at) if caller.len() > 1 => &mut self.nested[at],
            _ => &mut self.root,
        }
    }

    /// The caller's tool span a nested run started by the call `call` goes under: that
    /// call's (its latest attempt), else the caller's agent span — never another call's.
    fn claim_call(&mut self, caller: &[String], outer: &[String], call: &str) -> Option<String> {
        let frame = self.caller_frame(caller, outer);
        match frame.tools.iter_mut().rev().find(|t| t.call_id == call) {
            Some(tool) => {
                tool.hosts = true;
                Some(tool.span.span_id.clone())
            }
            None => frame.agent_span().map(|s| s.span_id.clone()),
        }
    }

    /// The caller's tool span a nested run of `callee` goes under when its events do not
    /// name the call: an open call of a tool named like it, else the latest open call not
    /// yet holding a nested run, else the caller's agent span.
    fn claim_tool(&mut self, caller: &[String], callee: &str) -> Option<String> {
        let frame = self.caller_frame(caller, &[]);
        let free = |t: &&mut Open| !t.hosts;
        let named = frame
            .tools
            .iter_mut()
            .rev()
            .filter(free)
            .find(|t| t.name == callee);
        let tool = match named {
            Some(tool) => Some(tool),
            None => frame.tools.iter_mut().rev().find(|t| !t.hosts),
        };
        match tool {
            Some(tool) => {
                tool.hosts = true;
                Some(tool.span.span_id.clone())
            }
            None => frame.agent_span().map(|s| s.span_id.clone()),
        }
    }

    /// Closes every span still open (the events ended first: a crash, a cut log), marked
    /// `warden.incomplete`, at the time of the last record.
    pub fn finish(&mut self) -> Vec<Span> {
        self.close_all(self.last_ns, "the events end before this span did")
    }

    /// Closes the nested runs (latest first), then the root.
    fn close_all(&mut self, now: u64, why: &str) -> Vec<Span> {
        let mut done = Vec::new();
        while let Some(frame) = self.nested.pop() {
            self.close_frame(frame, now, why, &mut done);
        }
        let root = std::mem::take(&mut self.root);
        self.close_frame(root, now, why, &mut done);
        done
    }

    /// Closes the nested runs under the tool span `tool` (theirs first, deepest first).
    fn close_hosted(&mut self, tool: &str, now: u64, why: &str, done: &mut Vec<Span>) {
        let mut parents = vec![tool.to_owned()];
        let mut closing = Vec::new();
        while let Some(id) = parents.pop() {
            while let Some(at) = (self.nested.iter()).position(|f| f.parent.as_deref() == Some(&id))
            {
                let frame = self.nested.remove(at);
                parents.extend(frame.tools.iter().map(|t| t.span.span_id.clone()));
                closing.push(frame);
            }
        }
        while let Some(frame) = closing.pop() {
            self.close_frame(frame, now, why, done);
        }
    }

    /// Ends whatever `frame` has open, as incomplete.
    fn close_frame(&mut self, mut frame: Frame, now: u64, why: &str, done: &mut Vec<Span>) {
        if let Some(open) = frame.chat.take() {
            done.push(self.abandon(open, now, why));
        }
        for open in std::mem::take(&mut frame.tools) {
            done.push(self.abandon(open, now, why));
        }
        for (mut open, totals) in [frame.handoff.take(), frame.run.take()]
            .into_iter()
            .flatten()
        {
            totals.write(&mut open.span.attributes, frame.priced);
            done.push(self.abandon(open, now, why));
        }
    }

    fn open_run(&mut self, frame: &mut Frame, now: u64) {
        let key = format!("{}run:{}", frame.prefix, self.runs);
        self.runs += 1;
        let mut span = self.agent_span(frame, &key, frame.parent.clone(), now);
        let a = &mut span.attributes;
        a.insert(keys::CONVERSATION_ID.into(), self.run_id.clone().into());
        a.insert(keys::RUN_ID.into(), self.run_id.clone().into());
        frame.run = Some((Open::new(span), RunTotals::default()));
    }

    /// An `invoke_agent` span for `frame`'s active agent.
    fn agent_span(&self, frame: &Frame, key: &str, parent: Option<String>, now: u64) -> Span {
        let mut span = Span {
            trace_id: self.trace_id.clone(),
            span_id: span_id_for(&self.run_id, key),
            parent_span_id: parent,
            name: match frame.agent.as_str() {
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
        if !frame.agent.is_empty() {
            a.insert(keys::AGENT_NAME.into(), self.clean(&frame.agent).into());
        }
        self.common(frame, a);
        span
    }

    /// Opens a run span for events that come without `run_started` (a chat's later turns).
    fn ensure_run(&mut self, frame: &mut Frame, now: u64) {
        if frame.run.is_none() {
            self.open_run(frame, now);
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
#[cfg(test)]
mod tests_parallel;
