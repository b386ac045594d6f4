//! The span model: plain, serialisable data that a store keeps with a run and that converts
//! to OpenTelemetry SDK spans ([`crate::otel`]) or a readable tree ([`crate::render`]).
//!
//! Invariant: ids are lowercase hex (32 digits for a trace, 16 for a span) and derived from
//! the run id and the span's place in the run, so the same events always give the same
//! spans, ids included: a trace rebuilt from a stored run matches the one exported live.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a span stands for, as OpenTelemetry's span kinds name it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Work inside warden (the run, a tool call).
    Internal,
    /// A call to a remote service (a model call).
    Client,
}

/// One attribute value (the OpenTelemetry value types warden uses).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrValue {
    /// A boolean.
    Bool(bool),
    /// A signed integer (counts above `i64::MAX` are clamped).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list of strings.
    StrList(Vec<String>),
}

impl AttrValue {
    /// The string, for a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, for an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<u64> for AttrValue {
    fn from(v: u64) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<usize> for AttrValue {
    fn from(v: usize) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u32> for AttrValue {
    fn from(v: u32) -> Self {
        AttrValue::Int(i64::from(v))
    }
}

impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}

impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_owned())
    }
}

/// Attributes by key (sorted, so serialised traces compare byte for byte).
pub type Attributes = BTreeMap<String, AttrValue>;

/// How a span ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SpanStatus {
    /// Nothing to report (OpenTelemetry's `Unset`).
    Unset,
    /// The operation failed.
    Error {
        /// What went wrong, for a person.
        description: String,
    },
}

/// Something that happened at a moment inside a span (a retry, a compaction, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// The event's name (`warden.retry`, ...).
    pub name: String,
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Its attributes.
    pub attributes: Attributes,
}

/// One finished span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The trace (the run) it belongs to: 32 hex digits.
    pub trace_id: String,
    /// Its id: 16 hex digits.
    pub span_id: String,
    /// Its parent's id; `None` for the run's span.
    pub parent_span_id: Option<String>,
    /// The span's name (`invoke_agent NAME`, `chat MODEL`, `execute_tool NAME`).
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch (never before the start).
    pub end_unix_nano: u64,
    /// Its attributes (GenAI semantic conventions and `warden.*`).
    pub attributes: Attributes,
    /// What happened inside it, in order.
    pub events: Vec<SpanEvent>,
    /// How it ended.
    pub status: SpanStatus,
}

impl Span {
    /// The attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// The span's duration in nanoseconds.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }
}

/// The trace id of a run: its id when that is 32 hex digits (warden's run ids are), else a
/// hash of it.
pub fn trace_id_for(run_id: &str) -> String {
    let lower = run_id.to_ascii_lowercase();
    if lower.len() == 32 && lower.bytes().all(|b| b.is_ascii_hexdigit()) && !is_zero(&lower) {
        return lower;
    }
    let digest = Sha256::digest(run_id.as_bytes());
    nonzero_hex(&digest[..16])
}

/// The span id of the span `key` of run `run_id` (deterministic, never all zeros).
pub fn span_id_for(run_id: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(run_id.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    nonzero_hex(&hasher.finalize()[..8])
}

fn is_zero(hex: &str) -> bool {
    hex.bytes().all(|b| b == b'0')
}

/// `bytes` in hex; all zeros (an invalid id in OpenTelemetry) becomes ...01.
fn nonzero_hex(bytes: &[u8]) -> String {
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if is_zero(&hex) {
        hex.pop();
        hex.push('1');
    }
    hex
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn a_warden_run_id_is_its_own_trace_id_and_others_are_hashed() {
        let id = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(trace_id_for(id), id.to_ascii_lowercase());
        let hashed = trace_id_for("session-7");
        assert_eq!(hashed.len(), 32);
        assert_eq!(hashed, trace_id_for("session-7"));
        assert_ne!(trace_id_for(&"0".repeat(32)), "0".repeat(32));
    }

    #[test]
    fn span_ids_are_stable_and_distinct_per_key() {
        let a = span_id_for("r", "chat:0");
        assert_eq!(a.len(), 16);
        assert_eq!(a, span_id_for("r", "chat:0"));
        assert_ne!(a, span_id_for("r", "chat:1"));
        assert_ne!(a, span_id_for("r2", "chat:0"));
    }

    #[test]
    fn spans_round_trip_through_json() {
        let span = Span {
            trace_id: trace_id_for("r"),
            span_id: span_id_for("r", "run:0"),
            parent_span_id: None,
            name: "invoke_agent a".into(),
            kind: SpanKind::Internal,
            start_unix_nano: 1,
            end_unix_nano: 2,
            attributes: [
                ("a".to_string(), AttrValue::Int(3)),
                ("b".to_string(), AttrValue::Float(3.0)),
                ("c".to_string(), AttrValue::StrList(vec!["stop".into()])),
            ]
            .into(),
            events: vec![],
            status: SpanStatus::Error {
                description: "x".into(),
            },
        };
        let json = serde_json::to_string(&span).unwrap();
        assert_eq!(serde_json::from_str::<Span>(&json).unwrap(), span);
    }
}
