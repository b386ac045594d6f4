//! The small steps the builder's state machine is made of: making, closing and abandoning
//! spans, adding events, and cleaning text (redaction, content caps).
//!
//! Invariant: every text that becomes part of a span passes `SpanBuilder::clean`.

use super::{MAX_CONTENT_CHARS, Open, SpanBuilder, attrs};
use crate::keys;
use crate::span::{Attributes, Span, SpanEvent, SpanKind, SpanStatus, span_id_for};

impl SpanBuilder {
    /// The attributes the run and its model calls share.
    pub(super) fn common(&self, a: &mut Attributes) {
        if let Some(provider) = &self.provider {
            a.insert(keys::PROVIDER_NAME.into(), self.clean(provider).into());
        }
        a.insert(keys::REQUEST_MODEL.into(), self.clean(&self.model).into());
    }

    /// A new child span of the run's span.
    pub(super) fn child(&self, key: &str, name: String, kind: SpanKind, now: u64) -> Span {
        Span {
            trace_id: self.trace_id.clone(),
            span_id: span_id_for(&self.run_id, key),
            parent_span_id: self.run.as_ref().map(|(run, _)| run.span.span_id.clone()),
            name: self.clean(&name),
            kind,
            start_unix_nano: now,
            end_unix_nano: now,
            attributes: Attributes::new(),
            events: Vec::new(),
            status: SpanStatus::Unset,
        }
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

    /// An event on the run's span.
    pub(super) fn run_event(
        &mut self,
        name: &str,
        now: u64,
        step: usize,
        attributes: impl IntoIterator<Item = (&'static str, crate::span::AttrValue)>,
    ) {
        self.ensure_run(now);
        if let Some((run, _)) = &mut self.run {
            let mut attrs: Attributes = attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            attrs.insert(keys::STEP.into(), step.into());
            run.span.events.push(SpanEvent {
                name: name.into(),
                time_unix_nano: now,
                attributes: attrs,
            });
        }
    }

    /// An event on the open model call's span (the run's when none is open), adding
    /// `wait_ms` to the span's `counter`.
    pub(super) fn call_event(
        &mut self,
        name: &str,
        now: u64,
        attributes: impl IntoIterator<Item = (&'static str, crate::span::AttrValue)>,
        counter: &str,
        wait_ms: u64,
    ) {
        self.ensure_run(now);
        let event = SpanEvent {
            name: name.into(),
            time_unix_nano: now,
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        };
        let span = match (&mut self.chat, &mut self.run) {
            (Some(chat), _) => &mut chat.span,
            (None, Some((run, _))) => &mut run.span,
            (None, None) => return,
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

    /// One message as content (redacted before it is encoded, so an escape cannot hide a key).
    pub(super) fn messages(&self, role: &str, text: &str, finish_reason: Option<&str>) -> String {
        attrs::messages(role, &self.capped(text), finish_reason)
    }
}
