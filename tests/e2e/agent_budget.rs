//! Budgets end to end: the turn limit, token and cost budgets end the run with one last
//! model call (tools disabled) whose answer is marked forced, or with an error when the
//! budget says so; rate-limit answers from the server surface as retry events.

use mock_llm::Turn;
use warden_core::budget::BudgetResource;
use warden_core::events::RunEvent;
use warden_core::run::StopReason;

use crate::agent_support::{
    Wire, assert_valid_histories, each_wire, hostile_tool, run_events, start, with_usage,
};

each_wire!(
    max_turns_forces_a_final_answer,
    token_budget_forces_a_final_answer,
    usage_the_server_does_not_report_is_estimated,
);

fn echo() -> Turn {
    Turn::call("echo", r#"{"text":"again"}"#)
}

fn budget_resource(reason: &StopReason) -> BudgetResource {
    match reason {
        StopReason::Budget { resource, .. } => *resource,
        other => panic!("expected a budget stop, got {other:?}"),
    }
}

async fn max_turns_forces_a_final_answer(w: Wire) {
    let turns = vec![echo(), echo(), Turn::text("best effort")];
    let tail = format!("{}\n[budget]\nmax_turns = 2\n", hostile_tool(""));
    let env = start(w, turns, &tail).await;
    let (result, events) = run_events(&env, "loop").await;
    assert_eq!(budget_resource(&result.stop_reason), BudgetResource::Turns);
    assert!(result.forced);
    assert_eq!(result.output.unwrap().text, "best effort");
    assert_eq!(result.stop_reason.exit_code(), 3);
    assert_eq!(result.usage.tool_calls, 2);
    // The tools stay declared (the history refers to them) but the model may not call one.
    let last_request = env.mock.requests().pop().unwrap();
    let choice = last_request.body["tool_choice"].to_string();
    assert!(choice.contains("none"), "{choice}");
    assert!(matches!(
        events.last(),
        Some(RunEvent::RunFinished { forced: true, .. })
    ));
    assert_valid_histories(&env.mock, 3);
}

async fn token_budget_forces_a_final_answer(w: Wire) {
    // The budget leaves room for the first request (the hostile component declares many
    // tools), not for what the first response reports.
    let turns = vec![with_usage(echo(), 3500, 600), Turn::text("what I know")];
    let tail = format!("{}\n[budget]\nmax_total_tokens = 4000\n", hostile_tool(""));
    let env = start(w, turns, &tail).await;
    let (result, _) = run_events(&env, "x").await;
    assert_eq!(
        budget_resource(&result.stop_reason),
        BudgetResource::TotalTokens
    );
    assert!(result.forced);
    assert_eq!(result.output.unwrap().text, "what I know");
    // The budget is checked right after the response: its tool call is not run.
    assert_eq!(result.usage.tool_calls, 0);
    assert_valid_histories(&env.mock, 2);
}

async fn usage_the_server_does_not_report_is_estimated(w: Wire) {
    // Usage reported as zero, as from a server that leaves it out: warden counts its own
    // estimate (so budgets hold) and marks it.
    let turns = vec![
        with_usage(echo(), 0, 0),
        with_usage(Turn::text("done"), 0, 0),
    ];
    let env = start(w, turns, &hostile_tool("")).await;
    let (result, events) = run_events(&env, "x").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.estimated_usage_calls, 2);
    assert!(result.usage.input_tokens > 0 && result.usage.output_tokens > 0);
    let flagged = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                RunEvent::ModelResponse {
                    usage_estimated: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(flagged, 2);
    assert!(result.steps.iter().all(|s| s.usage_estimated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_budget_forces_a_final_answer() {
    let turns = vec![
        with_usage(echo(), 100_000, 1_000),
        Turn::text("cheap answer"),
    ];
    // $10 per million input tokens: the first turn costs $1 of the $0.50 allowed.
    let tail = format!("{}\n[budget]\nmax_cost_usd = 0.5\n", hostile_tool(""));
    let w = Wire {
        kind: warden_llm::ProviderKind::Openai,
        streaming: false,
    };
    let env = start_priced(w, turns, &tail).await;
    let (result, events) = run_events(&env, "x").await;
    assert_eq!(
        budget_resource(&result.stop_reason),
        BudgetResource::CostUsd
    );
    assert!(result.forced);
    assert!(result.usage.cost_usd >= 1.0, "{:?}", result.usage);
    assert!(events.iter().any(|e| matches!(
        e,
        RunEvent::BudgetWarning {
            resource: BudgetResource::CostUsd,
            ..
        }
    )));
    assert_valid_histories(&env.mock, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_error_policy_stops_without_a_final_call() {
    let turns = vec![echo(), echo(), Turn::text("unused")];
    let tail = format!(
        "{}\n[budget]\nmax_turns = 1\non_exhaustion = \"error\"\n",
        hostile_tool("")
    );
    let w = Wire {
        kind: warden_llm::ProviderKind::Anthropic,
        streaming: false,
    };
    let env = start(w, turns, &tail).await;
    let (result, _) = run_events(&env, "x").await;
    assert_eq!(budget_resource(&result.stop_reason), BudgetResource::Turns);
    assert!(!result.forced);
    assert!(result.output.is_none());
    assert_valid_histories(&env.mock, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_become_retry_events() {
    let w = Wire {
        kind: warden_llm::ProviderKind::Openai,
        streaming: true,
    };
    let env = start(w, vec![Turn::text("after the wait")], "").await;
    env.mock
        .push_faults(["status:429:retry-after-ms=20".parse().unwrap()]);
    let (result, events) = run_events(&env, "x").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::Retry { attempt: 1, .. })),
        "{events:?}"
    );
    assert_eq!(env.mock.stats().faults.get("status:429"), Some(&1));
}

/// `start` with a price override in the agent file ($10 in, $30 out per million tokens).
async fn start_priced(w: Wire, turns: Vec<Turn>, tail: &str) -> crate::agent_support::Env {
    let price = "[model.price]\ninput_per_mtok = 10.0\noutput_per_mtok = 30.0\ncached_input_per_mtok = 1.0\n";
    start(w, turns, &format!("{price}{tail}")).await
}
