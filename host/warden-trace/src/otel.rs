//! Conversion of warden's spans to OpenTelemetry SDK spans ([`SpanData`]), the type every
//! OpenTelemetry exporter takes.
//!
//! Invariant: the conversion keeps ids, parentage, times, attributes, events and status as
//! they are; a span whose ids are not valid hex (a hand-edited store) is refused with a
//! typed error rather than exported with made-up ids.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind as OtelKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::span::{AttrValue, Attributes, Span, SpanKind, SpanStatus};

/// The instrumentation scope warden's spans are reported under.
pub const SCOPE_NAME: &str = "warden";

/// A span's id is not what the span model promises.
#[derive(Debug, thiserror::Error)]
#[error(
    "span `{name}` has an invalid {what} id `{id}` (expected lowercase hex of the right length)"
)]
pub struct InvalidSpanId {
    /// The span's name.
    pub name: String,
    /// Which id: `trace`, `span` or `parent`.
    pub what: &'static str,
    /// The id as found.
    pub id: String,
}

/// The instrumentation scope of warden's spans (name `warden`, warden's version).
pub fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// `span` as an SDK span, reported under `scope`.
pub fn to_span_data(span: &Span, scope: &InstrumentationScope) -> Result<SpanData, InvalidSpanId> {
    let invalid = |what: &'static str, id: &str| InvalidSpanId {
        name: span.name.clone(),
        what,
        id: id.to_owned(),
    };
    let trace_id =
        parse_trace_id(&span.trace_id).ok_or_else(|| invalid("trace", &span.trace_id))?;
    let span_id = parse_span_id(&span.span_id).ok_or_else(|| invalid("span", &span.span_id))?;
    let parent_span_id = match &span.parent_span_id {
        Some(parent) => parse_span_id(parent).ok_or_else(|| invalid("parent", parent))?,
        None => SpanId::INVALID,
    };
    let mut events = SpanEvents::default();
    events.events = span
        .events
        .iter()
        .map(|e| {
            Event::new(
                e.name.clone(),
                time(e.time_unix_nano),
                key_values(&e.attributes),
                0,
            )
        })
        .collect();
    Ok(SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id,
        parent_span_is_remote: false,
        span_kind: match span.kind {
            SpanKind::Client => OtelKind::Client,
            _ => OtelKind::Internal,
        },
        name: Cow::Owned(span.name.clone()),
        start_time: time(span.start_unix_nano),
        end_time: time(span.end_unix_nano.max(span.start_unix_nano)),
        attributes: key_values(&span.attributes),
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: match &span.status {
            SpanStatus::Error { description } => Status::error(description.clone()),
            _ => Status::Unset,
        },
        instrumentation_scope: scope.clone(),
    })
}

fn parse_trace_id(hex: &str) -> Option<TraceId> {
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| TraceId::from_hex(hex).ok())
        .flatten()
        .filter(|id| *id != TraceId::INVALID)
}

fn parse_span_id(hex: &str) -> Option<SpanId> {
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| SpanId::from_hex(hex).ok())
        .flatten()
        .filter(|id| *id != SpanId::INVALID)
}

fn time(unix_nano: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_nano)
}

fn key_values(attributes: &Attributes) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|(key, value)| KeyValue::new(key.clone(), otel_value(value)))
        .collect()
}

fn otel_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::Int(i) => Value::I64(*i),
        AttrValue::Float(f) => Value::F64(*f),
        AttrValue::Str(s) => Value::String(s.clone().into()),
        AttrValue::StrList(list) => Value::Array(Array::String(
            list.iter().map(|s| s.clone().into()).collect(),
        )),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use crate::span::{SpanEvent, span_id_for, trace_id_for};

    fn span() -> Span {
        Span {
            trace_id: trace_id_for("r"),
            span_id: span_id_for("r", "chat:0"),
            parent_span_id: Some(span_id_for("r", "run:0")),
            name: "chat m".into(),
            kind: SpanKind::Client,
            start_unix_nano: 1_000,
            end_unix_nano: 5_000,
            attributes: [("gen_ai.usage.input_tokens".to_string(), AttrValue::Int(7))].into(),
            events: vec![SpanEvent {
                name: "warden.retry".into(),
                time_unix_nano: 2_000,
                attributes: Attributes::new(),
            }],
            status: SpanStatus::Error {
                description: "boom".into(),
            },
        }
    }

    #[test]
    fn a_span_keeps_ids_times_attributes_and_status() {
        let s = span();
        let data = to_span_data(&s, &scope()).unwrap();
        assert_eq!(data.span_context.trace_id().to_string(), s.trace_id);
        assert_eq!(data.span_context.span_id().to_string(), s.span_id);
        assert_eq!(Some(data.parent_span_id.to_string()), s.parent_span_id);
        assert_eq!(data.span_kind, OtelKind::Client);
        assert_eq!(
            data.end_time
                .duration_since(data.start_time)
                .unwrap()
                .as_nanos(),
            4_000
        );
        assert_eq!(
            data.attributes,
            vec![KeyValue::new("gen_ai.usage.input_tokens", 7_i64)]
        );
        assert_eq!(data.events.events[0].name, "warden.retry");
        assert_eq!(data.status, Status::error("boom"));
    }

    #[test]
    fn an_invalid_id_is_refused_by_name() {
        let mut s = span();
        s.parent_span_id = Some("not-hex".into());
        let error = to_span_data(&s, &scope()).unwrap_err();
        assert_eq!(error.what, "parent");
        assert!(error.to_string().contains("not-hex"), "{error}");
    }
}
