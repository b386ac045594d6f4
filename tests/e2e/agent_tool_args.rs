//! Tool arguments from a model server over the agent's `max_tool_args`, through the real
//! adapters (both wire formats, streamed or not) against the mock LLM: the call is rejected
//! to the model with the size and the limit, the run goes on, no event and no later request
//! carries the arguments, and a call within the limit is shown in events as a bounded preview.

use mock_llm::Turn;
use warden_core::events::RunEvent;
use warden_core::run::StopReason;

use crate::agent_support::{
    Wire, assert_valid_histories, each_wire, hostile_tool, run_events, start, tool_results,
};

each_wire!(
    over_size_arguments_are_rejected_and_the_run_goes_on,
    events_show_a_bounded_preview_of_large_arguments,
);

/// Longest event line allowed here: previews are about 1 KiB.
const MAX_EVENT_LINE: usize = 4096;

fn assert_events_bounded(events: &[RunEvent]) {
    for event in events {
        let line = event.to_json_line();
        assert!(
            line.len() < MAX_EVENT_LINE,
            "{} bytes: {:.200}",
            line.len(),
            line
        );
    }
}

async fn over_size_arguments_are_rejected_and_the_run_goes_on(w: Wire) {
    let huge = format!(r#"{{"text":"{}"}}"#, "x".repeat(2 << 20));
    let turns = vec![Turn::call("echo", huge.as_str()), Turn::text("done")];
    let tail = format!("[run]\nmax_tool_args = \"64KiB\"\n{}", hostile_tool(""));
    let env = start(w, turns, &tail).await;
    let (result, events) = run_events(&env, "echo this").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "done");
    assert_eq!(
        (result.usage.invalid_tool_calls, result.usage.tool_calls),
        (1, 0)
    );
    let expected = format!("{} bytes, over the limit of 65536 bytes", huge.len());
    let requests = env.mock.requests();
    let results = tool_results(&requests[1]);
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(results[0].contains(&expected), "{}", results[0]);
    // The history sent back holds the call without its arguments.
    let sent = requests[1].body.to_string().len();
    assert!(sent < 20_000, "the second request is {sent} bytes");
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::ToolCallRejected { reason, .. } if reason.contains(&expected)
    )));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallStarted { .. }))
    );
    assert_events_bounded(&events);
    assert_valid_histories(&env.mock, 2);
}

async fn events_show_a_bounded_preview_of_large_arguments(w: Wire) {
    let text = "y".repeat(40_000);
    let args = format!(r#"{{"text":"{text}"}}"#);
    let turns = vec![Turn::call("echo", args.as_str()), Turn::text("done")];
    let env = start(w, turns, &hostile_tool("")).await;
    let (result, events) = run_events(&env, "echo this").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.tool_calls, 1);
    // The tool got the arguments whole; the event shows a preview.
    let echoed = &tool_results(&env.mock.requests()[1])[0];
    assert!(
        echoed.contains(&text),
        "the tool did not get the whole text"
    );
    let shown = events
        .iter()
        .find_map(|e| match e {
            RunEvent::ToolCallStarted { arguments, .. } => arguments["text"].as_str(),
            _ => None,
        })
        .unwrap();
    assert!(shown.ends_with("… (40000 bytes)"), "{shown:.80}");
    assert_events_bounded(&events);
}
