//! The agent loop end to end: the Runner against the mock LLM server (both wire formats,
//! streaming and not) with the real guest tools. Every test also checks that the mock
//! accepted every history it was sent (it validates as strictly as the real APIs).

use mock_llm::Turn;
use serde_json::Value;
use warden_core::events::RunEvent;
use warden_core::run::StopReason;
use warden_core::tool::ToolFailureKind;

use crate::agent_support::{
    Wire, assert_valid_histories, calc_tool, calls, each_wire, hostile_tool, run_events, start,
    tool_results,
};

each_wire!(
    multi_step_tool_use,
    parallel_calls_keep_call_order,
    invalid_arguments_are_explained_and_fixed,
    unknown_tool_is_rejected_with_the_tool_list,
    tool_timeout_goes_to_the_model_and_the_run_continues,
    abort_policy_ends_the_run,
);

async fn multi_step_tool_use(w: Wire) {
    let turns = vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::call("calc", r#"{"expression":"42+58"}"#),
        Turn::text("The answer is 100."),
    ];
    let env = start(w, turns, &calc_tool()).await;
    let (result, events) = run_events(&env, "What is 6*7+58?").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "The answer is 100.");
    assert_eq!(result.usage.tool_calls, 2);
    assert_eq!(result.usage.model_calls, 3);
    assert!(result.usage.fuel > 0, "tool usage is recorded");
    let requests = env.mock.requests();
    assert_eq!(tool_results(&requests[1]).len(), 1);
    let first: Value = serde_json::from_str(&tool_results(&requests[1])[0]).unwrap();
    assert_eq!(first["value"], 42.0);
    let second: Value = serde_json::from_str(&tool_results(&requests[2])[0]).unwrap();
    assert_eq!(second["value"], 100.0);
    let finished = events
        .iter()
        .filter(|e| matches!(e, RunEvent::ToolCallFinished { ok: true, .. }))
        .count();
    assert_eq!(finished, 2);
    if w.streaming {
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "The answer is 100.");
    }
    assert_valid_histories(&env.mock, 3);
}

async fn parallel_calls_keep_call_order(w: Wire) {
    // The first call is the slowest: completion order differs from call order.
    let turns = vec![
        calls(&[
            ("sleep", r#"{"ms":300}"#),
            ("echo", r#"{"text":"second"}"#),
            ("echo", r#"{"text":"third"}"#),
        ]),
        Turn::text("done"),
    ];
    let env = start(w, turns, &hostile_tool("")).await;
    let (result, _) = run_events(&env, "go").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.tool_calls, 3);
    let results = tool_results(&env.mock.requests()[1]);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].contains("slept_ms"), "{results:?}");
    assert!(results[1].contains("second"), "{results:?}");
    assert!(results[2].contains("third"), "{results:?}");
    assert_valid_histories(&env.mock, 2);
}

async fn invalid_arguments_are_explained_and_fixed(w: Wire) {
    let turns = vec![
        Turn::call("calc", r#"{"expr":"1+1"}"#),
        Turn::call("calc", r#"{"expression":"1+1"}"#),
        Turn::text("2"),
    ];
    let env = start(w, turns, &calc_tool()).await;
    let (result, events) = run_events(&env, "1+1?").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.invalid_tool_calls, 1);
    assert_eq!(result.usage.tool_calls, 1, "the invalid call never ran");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::ToolCallRejected { name, .. } if name == "calc"))
    );
    let explanation = &tool_results(&env.mock.requests()[1])[0];
    assert!(explanation.contains("expression"), "{explanation}");
    let fixed: Value = serde_json::from_str(&tool_results(&env.mock.requests()[2])[0]).unwrap();
    assert_eq!(fixed["value"], 2.0);
    assert_valid_histories(&env.mock, 3);
}

async fn unknown_tool_is_rejected_with_the_tool_list(w: Wire) {
    let turns = vec![Turn::call("nope", "{}"), Turn::text("sorry")];
    let env = start(w, turns, &calc_tool()).await;
    let (result, _) = run_events(&env, "x").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.tool_calls, 0);
    let explanation = &tool_results(&env.mock.requests()[1])[0];
    assert!(
        explanation.contains("nope") && explanation.contains("calc"),
        "{explanation}"
    );
    assert_valid_histories(&env.mock, 2);
}

async fn tool_timeout_goes_to_the_model_and_the_run_continues(w: Wire) {
    let turns = vec![
        Turn::call("sleep", r#"{"ms":20000}"#),
        Turn::call("echo", r#"{"text":"after"}"#),
        Turn::text("recovered"),
    ];
    let tail = hostile_tool("[tools.policy.tools.sleep]\ntimeout = \"300ms\"");
    let env = start(w, turns, &tail).await;
    let (result, events) = run_events(&env, "x").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::ToolCallFinished { ok: false, error_kind: Some(k), .. } if *k == ToolFailureKind::Timeout
    )));
    let told = &tool_results(&env.mock.requests()[1])[0];
    assert!(told.to_lowercase().contains("time"), "{told}");
    assert!(tool_results(&env.mock.requests()[2])[0].contains("after"));
    assert_valid_histories(&env.mock, 3);
}

async fn abort_policy_ends_the_run(w: Wire) {
    let turns = vec![
        Turn::call("read_file", r#"{"path":"/no/such/file"}"#),
        Turn::text("never asked"),
    ];
    let env = start(w, turns, &hostile_tool("error_policy = \"abort\"")).await;
    let (result, _) = run_events(&env, "x").await;
    let StopReason::ToolAborted { tool, .. } = &result.stop_reason else {
        panic!("{:?}", result.stop_reason);
    };
    assert_eq!(tool, "read_file");
    assert_eq!(result.stop_reason.exit_code(), 1);
    assert_valid_histories(&env.mock, 1);
}

/// Anthropic's `pause_turn` (streamed or not): the run sends the partial answer back as-is
/// (the last, assistant message) and the model's continuation completes one answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_turn_is_continued_to_one_answer() {
    for streaming in [false, true] {
        let w = Wire {
            kind: warden_llm::ProviderKind::Anthropic,
            streaming,
        };
        let paused = Turn {
            finish: Some("pause_turn".into()),
            ..Turn::text("The answer is ")
        };
        let env = start(w, vec![paused, Turn::text(" 42.")], &calc_tool()).await;
        let (result, _) = run_events(&env, "What is 6*7?").await;
        assert_eq!(result.stop_reason, StopReason::Completed, "{w:?}");
        assert_eq!(result.output.unwrap().text, "The answer is 42.", "{w:?}");
        assert_eq!(result.usage.model_calls, 2);
        let requests = env.mock.requests();
        let messages = requests[1].body["messages"].as_array().unwrap();
        let last = messages.last().unwrap();
        assert_eq!(last["role"], "assistant", "{w:?}: {last}");
        assert_eq!(last["content"][0]["text"], "The answer is", "{w:?}: {last}");
        assert_valid_histories(&env.mock, 2);
    }
}
