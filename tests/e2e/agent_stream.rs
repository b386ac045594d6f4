//! `run_streamed`, cancellation and `run_sync` end to end.

use futures::StreamExt;
use mock_llm::Turn;
use warden::RunError;
use warden_core::chat::FinishReason;
use warden_core::events::RunEvent;
use warden_core::run::{CancelMode, StopReason};
use warden_llm::ProviderKind;

use crate::agent_support::{
    Wire, assert_valid_histories, calc_tool, each_wire, event_types, hostile_tool, start,
};

each_wire!(streamed_events_come_in_run_order);

async fn streamed_events_come_in_run_order(w: Wire) {
    // `run_streamed` always streams the model; `w.streaming` only changes the runner's default.
    let turns = vec![
        Turn::call("calc", r#"{"expression":"2^10"}"#),
        Turn::text("It is 1024."),
    ];
    let env = start(w, turns, &calc_tool()).await;
    let (mut stream, _handle) = env.runner.run_streamed(&env.agent, "2^10?");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event);
    }
    let result = stream.result().await.unwrap();
    assert_eq!(
        event_types(&events),
        [
            "run_started",
            "model_request",
            "model_response",
            "tool_call_started",
            "tool_call_finished",
            "model_request",
            "text_delta",
            "model_response",
            "run_finished"
        ]
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, result.output.unwrap().text);
    let deltas = events
        .iter()
        .filter(|e| matches!(e, RunEvent::TextDelta { .. }))
        .count();
    assert!(deltas >= 1);
    let RunEvent::ToolCallFinished { usage, ok, .. } = &events[4] else {
        panic!("{:?}", events[4])
    };
    // Each model call reports what it cost and how it ended; together, the run's usage.
    let responses: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ModelResponse {
                step,
                finish_reason,
                tool_calls,
                usage,
                ..
            } => Some((*step, finish_reason.clone(), *tool_calls, *usage)),
            _ => None,
        })
        .collect();
    assert_eq!(
        responses
            .iter()
            .map(|r| (r.0, r.1.clone(), r.2))
            .collect::<Vec<_>>(),
        [(0, FinishReason::ToolCalls, 1), (1, FinishReason::Stop, 0)]
    );
    let input: u64 = responses.iter().map(|r| r.3.input_tokens).sum();
    assert!(input > 0);
    assert_eq!(input, result.usage.input_tokens);
    assert!(*ok);
    assert!(usage.fuel > 0 && usage.bytes_out > 0, "{usage:?}");
    assert_valid_histories(&env.mock, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_tool_call_stops_at_once_and_keeps_usage() {
    let w = Wire {
        kind: ProviderKind::Anthropic,
        streaming: true,
    };
    let turns = vec![
        crate::agent_support::calls(&[
            ("echo", r#"{"text":"quick"}"#),
            ("sleep", r#"{"ms":30000}"#),
        ]),
        Turn::text("never asked"),
    ];
    let tail = hostile_tool("sequential = true\n[tools.policy.defaults]\ntimeout = \"60s\"");
    let env = start(w, turns, &tail).await;
    let (mut stream, handle) = env.runner.run_streamed(&env.agent, "x");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        // The echo finished and the sleep has started: cancel in the middle of the sleep.
        if matches!(&event, RunEvent::ToolCallStarted { name, .. } if name == "sleep") {
            handle.cancel();
        }
        events.push(event);
    }
    let result = stream.result().await.unwrap();
    assert_eq!(
        result.stop_reason,
        StopReason::Cancelled {
            mode: CancelMode::Immediate
        }
    );
    assert_eq!(result.usage.model_calls, 1);
    assert_eq!(
        result.usage.tool_calls, 1,
        "the finished echo keeps its usage"
    );
    assert!(result.usage.fuel > 0);
    let finished: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ToolCallFinished { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(finished, ["echo"]);
    assert!(matches!(events.last(), Some(RunEvent::RunFinished { .. })));
    assert_valid_histories(&env.mock, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_after_the_turn_lets_its_tools_finish() {
    let w = Wire {
        kind: ProviderKind::Openai,
        streaming: false,
    };
    let turns = vec![
        Turn::call("sleep", r#"{"ms":1000}"#),
        Turn::text("never asked"),
    ];
    let env = start(w, turns, &hostile_tool("")).await;
    let (mut stream, handle) = env.runner.run_streamed(&env.agent, "x");
    while let Some(event) = stream.next().await {
        // Asked while the turn's tool runs: the tool completes, no further model call.
        if matches!(event, RunEvent::ToolCallStarted { .. }) {
            handle.cancel_after_turn();
        }
    }
    let result = stream.result().await.unwrap();
    assert_eq!(
        result.stop_reason,
        StopReason::Cancelled {
            mode: CancelMode::AfterTurn
        }
    );
    assert_eq!(result.usage.tool_calls, 1);
    assert_valid_histories(&env.mock, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sync_works_outside_a_runtime_and_refuses_inside() {
    let w = Wire {
        kind: ProviderKind::Openai,
        streaming: false,
    };
    let turns = vec![
        Turn::call("calc", r#"{"expression":"3*3"}"#),
        Turn::text("9"),
    ];
    let env = start(w, turns, &calc_tool()).await;
    let inside = env.runner.run_sync(&env.agent, "x");
    assert!(matches!(inside, Err(RunError::InsideRuntime)), "{inside:?}");
    let (runner, agent) = (env.runner.clone(), env.agent.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(runner.run_sync(&agent, "3*3?"));
    });
    let result = rx.await.unwrap().unwrap();
    assert_eq!(result.output.unwrap().text, "9");
    assert_eq!(result.usage.tool_calls, 1);
    assert_valid_histories(&env.mock, 2);
}
