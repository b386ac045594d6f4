//! A trusted host tool's call is marked on its span; a sandboxed tool's is not.

use warden_core::events::{EventStamper, RunEvent};
use warden_core::tool::{PlannedCall, ToolOutcome, ToolUsage};

use crate::{SpanBuilder, TraceOptions, keys};

fn call(id: &str, name: &str) -> PlannedCall {
    PlannedCall {
        call_id: id.into(),
        name: name.into(),
        arguments: serde_json::json!({}),
        sequential: false,
        attempt: 1,
    }
}

fn finished(id: &str, name: &str) -> RunEvent {
    RunEvent::tool_finished(&ToolOutcome {
        call_id: id.into(),
        name: name.into(),
        result: Ok("ok".into()),
        usage: ToolUsage::default(),
    })
}

#[test]
fn a_trusted_host_tools_span_says_so_and_a_sandboxed_ones_does_not() {
    let mut stamper = EventStamper::new("r1");
    let events = [
        RunEvent::tool_started(&call("h", "lookup")).trusted(),
        finished("h", "lookup").trusted(),
        RunEvent::tool_started(&call("s", "calc")),
        finished("s", "calc"),
    ];
    let records: Vec<_> = events.into_iter().map(|e| stamper.record(e)).collect();
    let spans = SpanBuilder::build(&records, TraceOptions::default());
    let tool = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == format!("execute_tool {name}"))
            .map(|s| s.attr(keys::TOOL_TRUSTED).cloned())
    };
    assert_eq!(tool("lookup"), Some(Some(true.into())));
    assert_eq!(tool("calc"), Some(None));
}
