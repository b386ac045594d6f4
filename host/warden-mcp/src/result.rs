//! The MCP shapes of warden's tools and call outcomes: a [`Tool`] per tool (input schema,
//! output schema where known), and a [`CallToolResult`] per call (text, `structuredContent`,
//! `isError`, and the usage in `_meta`).
//!
//! Invariant: `structuredContent` is always a JSON object that validates against the listed
//! output schema: a tool whose output is not an object is listed with `{"result": …}` as
//! its output schema and its output is wrapped the same way.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, MetaObject, Tool};
use serde_json::{Value, json};
use warden_sandbox::{CallOutcome, ToolInfo};

/// The tool as MCP lists it, and whether its output is wrapped in `{"result": …}`.
pub(crate) fn listed_tool(info: &ToolInfo) -> (Tool, bool) {
    let input = info.args_schema.as_object().cloned().unwrap_or_default();
    let mut tool = Tool::new(info.name.clone(), info.description.clone(), Arc::new(input));
    let mut wrap = false;
    if let Some(schema) = &info.output_schema {
        let object = match schema.get("type") {
            Some(Value::String(t)) if t == "object" => schema.as_object().cloned(),
            _ => None,
        };
        let output = object.unwrap_or_else(|| {
            wrap = true;
            as_object(json!({
                "type": "object",
                "properties": {"result": schema},
                "required": ["result"],
                "additionalProperties": false,
            }))
        });
        tool = tool.with_raw_output_schema(Arc::new(output));
    }
    (tool, wrap)
}

/// The MCP result of a call: its output or model-facing error, and its usage in `_meta`.
pub(crate) fn call_result(outcome: &CallOutcome, wrap: bool) -> CallToolResult {
    let mut meta = JsonObject::new();
    meta.insert("warden/usage".into(), usage(outcome));
    let mut result = match &outcome.result {
        Ok(output) => {
            let value: Value = serde_json::from_str(output).unwrap_or(Value::Null);
            let structured = match value {
                Value::Object(_) if !wrap => Some(value),
                _ if wrap => Some(json!({"result": value})),
                _ => None,
            };
            let mut r = CallToolResult::success(vec![ContentBlock::text(output.clone())]);
            r.structured_content = structured;
            r
        }
        Err(e) => {
            meta.insert(
                "warden/error".into(),
                json!({"kind": e.kind(), "transient": e.is_transient()}),
            );
            CallToolResult::error(vec![ContentBlock::text(e.message_for_model())])
        }
    };
    result.meta = Some(MetaObject(meta));
    result
}

/// The counters of a call's usage (not its captured logs and stdio).
fn usage(outcome: &CallOutcome) -> Value {
    let u = &outcome.usage;
    json!({
        "fuel": u.fuel_consumed,
        "wall_time_us": u.wall_time.as_micros() as u64,
        "queue_time_us": u.queue_time.as_micros() as u64,
        "peak_memory_bytes": u.peak_memory_bytes,
        "bytes_in": u.bytes_in,
        "bytes_out": u.bytes_out,
        "http_requests": u.http_requests,
        "http_denied": u.http_denied,
    })
}

fn as_object(v: Value) -> JsonObject {
    match v {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}
