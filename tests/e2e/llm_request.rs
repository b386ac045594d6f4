//! What reaches the model server, through the agent loop and the real adapters (both wire
//! formats, streamed or not), as the mock recorded it: a rejected tool call's result with
//! one error prefix, and the optional `[model]` settings on each wire.

use mock_llm::Turn;
use serde_json::{Value, json};
use warden_core::run::StopReason;
use warden_llm::ProviderKind;

use crate::agent_support::{
    Wire, assert_valid_histories, calc_tool, each_wire, run_events, start, tool_results,
};

each_wire!(
    a_rejected_call_reaches_the_model_with_one_error_prefix,
    the_model_table_options_reach_the_wire,
);

async fn a_rejected_call_reaches_the_model_with_one_error_prefix(w: Wire) {
    let turns = vec![Turn::call("nope", "{}"), Turn::text("done")];
    let env = start(w, turns, &calc_tool()).await;
    let (result, _) = run_events(&env, "use a tool").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    let requests = env.mock.requests();
    let results = tool_results(&requests[1]);
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(
        results[0].starts_with("Error: there is no tool named `nope`"),
        "{}",
        results[0]
    );
    assert_eq!(results[0].matches("Error").count(), 1, "{}", results[0]);
    if w.kind == ProviderKind::Anthropic {
        let last = requests[1].body["messages"]
            .as_array()
            .unwrap()
            .last()
            .unwrap();
        assert_eq!(last["content"][0]["is_error"], true, "{last}");
    }
    assert_valid_histories(&env.mock, 2);
}

async fn the_model_table_options_reach_the_wire(w: Wire) {
    let (settings, expected) = match w.kind {
        ProviderKind::Openai => (
            "top_p = 0.5\nseed = 42\nstop = [\"END\"]\nreasoning_effort = \"low\"\n",
            json!({"top_p": 0.5, "seed": 42, "stop": ["END"], "reasoning_effort": "low"}),
        ),
        ProviderKind::Anthropic => (
            "max_tokens = 4096\ntop_p = 0.96875\nstop = [\"END\"]\nthinking_budget = 2048\n",
            json!({"top_p": 0.96875, "stop_sequences": ["END"],
                   "thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ),
        other => panic!("no fixture for {}", other.as_str()),
    };
    let tail = format!("{settings}[model.extra_body]\nnum_ctx = 8192\n");
    let env = start(w, vec![Turn::text("hi")], &tail).await;
    let (result, _) = run_events(&env, "hello").await;
    assert_eq!(result.output.unwrap().text, "hi");
    let body = &env.mock.requests()[0].body;
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&body[key], value, "{key} in {body}");
    }
    assert_eq!(body["num_ctx"], 8192, "{body}");
    assert_eq!(body["stream"].as_bool().unwrap_or(false), w.streaming);
    let absent: &[&str] = match w.kind {
        ProviderKind::Openai => &["stop_sequences", "thinking"],
        ProviderKind::Anthropic => &["seed", "stop", "reasoning_effort"],
        other => panic!("no fixture for {}", other.as_str()),
    };
    for key in absent {
        assert_eq!(body.get(*key), None::<&Value>, "{key} in {body}");
    }
    assert_valid_histories(&env.mock, 1);
}
