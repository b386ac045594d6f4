//! The attributes a span gets when it ends (usage, outcome, totals) and the shape of
//! recorded message content: kept apart from the builder's state machine.
//!
//! Invariant: a count is never negative and never wraps (saturating adds, clamped to
//! `i64::MAX` as OpenTelemetry integers are signed).

use serde::Serialize;
use warden_core::chat::{FinishReason, Usage};
use warden_core::run::StopReason;
use warden_core::tool::{ToolFailureKind, ToolUsage};

use crate::keys;
use crate::span::{AttrValue, Attributes, Span, SpanStatus};

/// What a run's span adds up from its children and events.
#[derive(Debug, Default)]
pub(super) struct RunTotals {
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    cost_usd: f64,
    model_calls: u64,
    tool_calls: u64,
    denials: u64,
    fuel: u64,
    wall_ms: u64,
    peak_memory: u64,
    bytes_in: u64,
    bytes_out: u64,
    http_requests: u64,
    pub(super) retries: u64,
    pub(super) rate_limit_wait_ms: u64,
    pub(super) compactions: u64,
}

impl RunTotals {
    pub(super) fn model_call(&mut self, usage: &Usage, cost_usd: f64) {
        self.model_calls += 1;
        self.input_tokens = self.input_tokens.saturating_add(usage.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(usage.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(usage.cached_tokens);
        if cost_usd.is_finite() && cost_usd > 0.0 {
            self.cost_usd += cost_usd;
        }
    }

    /// Adds a nested run's totals (its calls are part of this run's).
    pub(super) fn absorb(&mut self, other: &RunTotals) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.cost_usd += other.cost_usd;
        self.model_calls = self.model_calls.saturating_add(other.model_calls);
        self.tool_calls = self.tool_calls.saturating_add(other.tool_calls);
        self.denials = self.denials.saturating_add(other.denials);
        self.fuel = self.fuel.saturating_add(other.fuel);
        self.wall_ms = self.wall_ms.saturating_add(other.wall_ms);
        self.peak_memory = self.peak_memory.max(other.peak_memory);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.http_requests = self.http_requests.saturating_add(other.http_requests);
        self.retries = self.retries.saturating_add(other.retries);
        self.rate_limit_wait_ms = self
            .rate_limit_wait_ms
            .saturating_add(other.rate_limit_wait_ms);
        self.compactions = self.compactions.saturating_add(other.compactions);
    }

    pub(super) fn tool_call(&mut self, usage: &ToolUsage, failure: Option<ToolFailureKind>) {
        self.tool_calls += 1;
        if failure == Some(ToolFailureKind::CapabilityDenied) {
            self.denials += 1;
        }
        self.fuel = self.fuel.saturating_add(usage.fuel);
        self.wall_ms = self.wall_ms.saturating_add(usage.wall_ms);
        self.peak_memory = self.peak_memory.max(usage.peak_memory);
        self.bytes_in = self.bytes_in.saturating_add(usage.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(usage.bytes_out);
        self.http_requests = self.http_requests.saturating_add(usage.http_requests);
    }

    /// Writes the totals on the run's attributes (cost only when a price is known).
    pub(super) fn write(&self, a: &mut Attributes, priced: bool) {
        let counts = [
            (keys::USAGE_INPUT_TOKENS, self.input_tokens),
            (keys::USAGE_OUTPUT_TOKENS, self.output_tokens),
            (keys::USAGE_CACHE_READ_TOKENS, self.cached_tokens),
            (keys::MODEL_CALLS, self.model_calls),
            (keys::TOOL_CALLS, self.tool_calls),
            (keys::DENIALS, self.denials),
            (keys::FUEL, self.fuel),
            (keys::WALL_MS, self.wall_ms),
            (keys::PEAK_MEMORY, self.peak_memory),
            (keys::BYTES_IN, self.bytes_in),
            (keys::BYTES_OUT, self.bytes_out),
            (keys::HTTP_REQUESTS, self.http_requests),
            (keys::RETRIES, self.retries),
            (keys::RATE_LIMIT_WAIT_MS, self.rate_limit_wait_ms),
            (keys::COMPACTIONS, self.compactions),
        ];
        for (key, value) in counts {
            a.insert(key.into(), value.into());
        }
        if priced {
            a.insert(keys::COST_USD.into(), self.cost_usd.into());
        }
    }
}

/// The attributes of a model call's answer.
pub(super) fn finish_response(
    a: &mut Attributes,
    finish_reason: &FinishReason,
    tool_calls: usize,
    usage: &Usage,
    usage_estimated: bool,
    cost_usd: Option<f64>,
) {
    a.insert(keys::USAGE_INPUT_TOKENS.into(), usage.input_tokens.into());
    a.insert(keys::USAGE_OUTPUT_TOKENS.into(), usage.output_tokens.into());
    a.insert(
        keys::USAGE_CACHE_READ_TOKENS.into(),
        usage.cached_tokens.into(),
    );
    a.insert(
        keys::RESPONSE_FINISH_REASONS.into(),
        AttrValue::StrList(vec![finish_reason.to_string()]),
    );
    a.insert(keys::RESPONSE_TOOL_CALLS.into(), tool_calls.into());
    a.insert(keys::USAGE_ESTIMATED.into(), usage_estimated.into());
    if let Some(cost) = cost_usd.filter(|c| c.is_finite()) {
        a.insert(keys::COST_USD.into(), cost.into());
    }
}

/// The attributes and status of a finished tool call (`failure`: its kind and message).
pub(super) fn finish_tool(
    span: &mut Span,
    usage: &ToolUsage,
    failure: Option<(ToolFailureKind, String)>,
) {
    let a = &mut span.attributes;
    let counts = [
        (keys::FUEL, usage.fuel),
        (keys::WALL_MS, usage.wall_ms),
        (keys::PEAK_MEMORY, usage.peak_memory),
        (keys::BYTES_IN, usage.bytes_in),
        (keys::BYTES_OUT, usage.bytes_out),
        (keys::HTTP_REQUESTS, usage.http_requests),
        (keys::HTTP_BYTES_SENT, usage.http_bytes_sent),
        (keys::HTTP_BYTES_RECEIVED, usage.http_bytes_received),
    ];
    for (key, value) in counts {
        a.insert(key.into(), value.into());
    }
    let denied = failure
        .as_ref()
        .is_some_and(|(kind, _)| *kind == ToolFailureKind::CapabilityDenied);
    a.insert(keys::DENIED.into(), denied.into());
    if let Some((kind, message)) = failure {
        a.insert(keys::ERROR_TYPE.into(), kind.as_str().into());
        span.status = SpanStatus::Error {
            description: format!("{}: {message}", kind.as_str()),
        };
    }
}

/// The attributes and status of the run's end. `failure`: the description when the stop
/// reason is a failure.
pub(super) fn finish_run(
    span: &mut Span,
    stop_reason: &StopReason,
    forced: bool,
    failure: Option<String>,
    totals: &RunTotals,
    priced: bool,
) {
    let a = &mut span.attributes;
    a.insert(keys::STOP_REASON.into(), stop_name(stop_reason).into());
    a.insert(keys::FORCED.into(), forced.into());
    totals.write(a, priced);
    if let (Some(kind), Some(description)) = (failure_name(stop_reason), failure) {
        a.insert(keys::ERROR_TYPE.into(), kind.into());
        span.status = SpanStatus::Error { description };
    }
}

/// The `reason` tag of a stop reason (`completed`, `budget`, ...).
pub(super) fn stop_name(stop_reason: &StopReason) -> String {
    serde_json::to_value(stop_reason)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The error type of a stop reason that is a failure; `None` for an answer, a stop tool,
/// a budget (its own exit code, not an error) or a cancellation.
pub(super) fn failure_name(stop_reason: &StopReason) -> Option<String> {
    match stop_reason {
        StopReason::Completed
        | StopReason::StopTool { .. }
        | StopReason::Budget { .. }
        | StopReason::Cancelled { .. } => None,
        StopReason::ModelError { failure } => Some(serde_name(&failure.kind)),
        other => Some(stop_name(other)),
    }
}

/// The serde name of a unit-variant enum value (`turn`, `cost_usd`, ...).
pub(super) fn serde_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "unknown".into(),
    }
}

/// Adds `n` to the integer attribute `key` (0 when absent).
pub(super) fn add_int(a: &mut Attributes, key: &str, n: u64) {
    let old = a.get(key).and_then(AttrValue::as_int).unwrap_or(0);
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    a.insert(key.into(), AttrValue::Int(old.saturating_add(n)));
}

/// One message as the GenAI conventions' `gen_ai.*.messages` JSON: a role, one text part,
/// and the finish reason of an answer.
pub(super) fn messages(role: &str, text: &str, finish_reason: Option<&str>) -> String {
    let mut message = serde_json::json!({
        "role": role,
        "parts": [{"type": "text", "content": text}],
    });
    if let Some(reason) = finish_reason {
        message["finish_reason"] = reason.into();
    }
    serde_json::Value::Array(vec![message]).to_string()
}
