//! The small steps the builder's state machine is made of: making, closing and abandoning
//! spans, adding events, and cleaning text (redaction, content caps).
//!
//! Invariant: every text that becomes part of a span passes `SpanBuilder::clean`.

use super::{Frame, MAX_CONTENT_CHARS, Open, SpanBuilder, attrs};
use crate::keys;
use crate::span::{Attributes, Span, SpanEvent, SpanKind, SpanStatus, span_id_for};

impl SpanBuilder {
    /// The attributes an agent's span and its model calls share (and, in a nested run,
    /// the agent path on every span).
    pub(super) fn common(&self, frame: &Frame, a: &mut Attributes) {
        if let Some(provider) = &frame.provider {
            a.insert(keys::PROVIDER_NAME.into(), self.clean(provider).into());
        }
        a.insert(keys::REQUEST_MODEL.into(), self.clean(&frame.model).into());
        self.path(frame, a);
    }

    /// `warden.agent.path` for the spans of a nested run.
    pub(super) fn path(&self, frame: &Frame, a: &mut Attributes) {
        if !frame.path.is_empty() {
            let path = frame.path.iter().map(|p| self.clean(p)).collect();
            a.insert(
                keys::AGENT_PATH.into(),
                crate::span::AttrValue::StrList(path),
            );
        }
    }

    /// A new child span of `frame`'s agent span (the last handoff's, else the run's).
    pub(super) fn child(
        &self,
        frame: &mut Frame,
        key: &str,
        name: String,
        kind: SpanKind,
        now: u64,
    ) -> Span {
        let mut span = Span {
            trace_id: self.trace_id.clone(),
            span_id: span_id_for(&self.run_id, &format!("{}{key}", frame.prefix)),
            parent_span_id: frame.agent_span().map(|s| s.span_id.clone()),
            name: self.clean(&name),
            kind,
            start_unix_nano: now,
            end_unix_nano: now,
            attributes: Attributes::new(),
            events: Vec::new(),
            status: SpanStatus::Unset,
        };
        self.path(frame, &mut span.attributes);
        span
    }

    /// A new `execute_tool` span of `frame` for the call `call_id` of tool `name`, keyed
    /// by `key` (started, or a finish whose start was not seen).
    pub(super) fn tool_span(
        &self,
        frame: &mut Frame,
        key: &str,
        name: &str,
        call_id: &str,
        now: u64,
    ) -> Span {
        let span_name = format!("execute_tool {name}");
        let mut span = self.child(frame, key, span_name, SpanKind::Internal, now);
        let a = &mut span.attributes;
        a.insert(keys::OPERATION_NAME.into(), keys::OP_EXECUTE_TOOL.into());
        a.insert(keys::TOOL_NAME.into(), self.clean(name).into());
        a.insert(keys::TOOL_CALL_ID.into(), self.clean(call_id).into());
        span
    }

    pub(super) fn close(&self, open: Open, now: u64) -> Span {
        let mut span = open.span;
        span.end_unix_nano = now.max(span.start_unix_nano);
        span
    }

    /// Ends `open` unfinished: an error saying why, `warden.incomplete`.
    pub(super) fn abandon(&self, mut open: Open, now: u64, why: &str) -> Span {
        open.span
            .attributes
            .insert(keys::INCOMPLETE.into(), true.into());
        if open.span.status == SpanStatus::Unset {
            open.span.status = SpanStatus::Error {
                description: why.to_owned(),
            };
        }
        self.close(open, now)
    }

    /// An event on `frame`'s agent span (the last handoff's, else the run's).
    pub(super) fn run_event(
        &mut self,
        frame: &mut Frame,
        name: &str,
        now: u64,
        step: usize,
        attributes: impl IntoIterator<Item = (&'static str, crate::span::AttrValue)>,
    ) {
        self.ensure_run(frame, now);
        if let Some(span) = frame.agent_span() {
            let mut attrs: Attributes = attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            attrs.insert(keys::STEP.into(), step.into());
            span.events.push(SpanEvent {
                name: name.into(),
                time_unix_nano: now,
                attributes: attrs,
            });
        }
    }

    /// An event on the open model call's span (the agent's when none is open), adding
    /// `wait_ms` to the span's `counter`.
    pub(super) fn call_event(
        &mut self,
        frame: &mut Frame,
        name: &str,
        now: u64,
        attributes: impl IntoIterator<Item = (&'static str, crate::span::AttrValue)>,
        counter: &str,
        wait_ms: u64,
    ) {
        self.ensure_run(frame, now);
        let event = SpanEvent {
            name: name.into(),
            time_unix_nano: now,
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        };
        let span = match &mut frame.chat {
            Some(chat) => &mut chat.span,
            None => match frame.agent_span() {
                Some(span) => span,
                None => return,
            },
        };
        attrs::add_int(&mut span.attributes, counter, wait_ms);
        span.events.push(event);
    }

    /// `text` redacted, as an owned string.
    pub(super) fn clean(&self, text: &str) -> String {
        self.options.redactor.redact(text).into_owned()
    }

    /// Content: redacted, then capped at [`MAX_CONTENT_CHARS`].
    pub(super) fn capped(&self, text: &str) -> String {
        let mut text = self.clean(text);
        if let Some((cut, _)) = text.char_indices().nth(MAX_CONTENT_CHARS) {
            text.truncate(cut);
            text.push('…');
        }
        text
    }

    /// Messages as the GenAI conventions' JSON, every string redacted and then capped
    /// (redacted before it is encoded, so an escape cannot hide a key).
    pub(super) fn content_json(
        &self,
        messages: &[warden_core::events::content::ContentMessage],
    ) -> String {
        let clean: Vec<_> = (messages.iter())
            .map(|m| warden_core::events::content::ContentMessage {
                role: self.clean(&m.role),
                parts: m
                    .parts
                    .iter()
                    .map(|p| p.map_text(|t| self.capped(t)))
                    .collect(),
                finish_reason: m.finish_reason.as_deref().map(|r| self.clean(r)),
            })
            .collect();
        serde_json::to_string(&clean).unwrap_or_else(|_| "[]".into())
    }

    /// One message as content (redacted before it is encoded, so an escape cannot hide a key).
    pub(super) fn messages(&self, role: &str, text: &str, finish_reason: Option<&str>) -> String {
        attrs::messages(role, &self.capped(text), finish_reason)
    }
}
