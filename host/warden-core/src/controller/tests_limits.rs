//! Tool arguments over the agent's `max_tool_args`: rejected to the model with the size and
//! the limit before anything parses or copies them, the run going on, and no event or later
//! request carrying them.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use super::tests::{add_tool, assert_requests_valid, config, run_tool};
use super::*;
use crate::chat::Message;
use crate::events::RunEvent;
use crate::run::*;
use crate::testing::{ScriptedModel, drive};

/// Longest event line a run may produce here (a bounded preview, never the arguments).
const MAX_EVENT_LINE: usize = 4096;

#[test]
fn over_size_arguments_are_rejected_to_the_model_and_the_run_goes_on() {
    let cfg = LoopConfig {
        max_tool_args_bytes: 1024,
        ..config()
    };
    let mut c = Controller::new(cfg, vec![add_tool()], "What is 1+2?").unwrap();
    let huge = format!(r#"{{"a":1,"b":2,"pad":"{}"}}"#, "x".repeat(10 << 20));
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("c1", "add", &huge)]),
        ScriptedModel::calls(&[("c2", "add", r#"{"a":1,"b":2}"#)]),
        ScriptedModel::text("3"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "3");
    assert_eq!(
        (result.usage.invalid_tool_calls, result.usage.tool_calls),
        (1, 1)
    );
    assert_requests_valid(&model);

    // The model was told the size and the limit, as an error result of its call.
    let second = &model.requests()[1];
    let Some(Message::Tool {
        call_id,
        content,
        is_error,
    }) = second.messages.last()
    else {
        panic!("no tool result in {:?}", second.messages.last());
    };
    assert_eq!((call_id.as_str(), *is_error), ("c1", true));
    let size = huge.len();
    assert!(
        content.contains(&format!("{size} bytes, over the limit of 1024 bytes")),
        "{content}"
    );
    // No later request carries the arguments: the history holds the call without them.
    let sent = serde_json::to_string(second).unwrap().len();
    assert!(sent < 10_000, "the second request is {sent} bytes");

    let events = c.take_events();
    let rejected: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ToolCallRejected { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        rejected,
        [format!("arguments are {size} bytes, over the limit of 1024 bytes").as_str()]
    );
    for event in &events {
        let line = event.to_json_line();
        assert!(line.len() < MAX_EVENT_LINE, "{:.200}", line);
    }
}

#[test]
fn arguments_at_the_limit_are_kept() {
    let args = r#"{"a":1,"b":2}"#;
    let cfg = LoopConfig {
        max_tool_args_bytes: args.len() as u64,
        ..config()
    };
    let mut c = Controller::new(cfg, vec![add_tool()], "What is 1+2?").unwrap();
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("c1", "add", args)]),
        ScriptedModel::text("3"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(
        (result.usage.invalid_tool_calls, result.usage.tool_calls),
        (0, 1)
    );
}
