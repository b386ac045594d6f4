//! Controller tests driven by scripted responses (no network, no sandbox): tool use,
//! ordering, invalid calls, error policies, stop tools, garbage answers, structured output.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::json;

use super::*;
use crate::chat::{FinishReason, Message};
use crate::context::validate::validate;
use crate::events::RunEvent;
use crate::run::*;
use crate::testing::{ScriptedModel, drive};
use crate::tool::*;

pub(super) fn add_tool() -> ToolCatalogEntry {
    ToolCatalogEntry::new(
        "add",
        "Adds two integers",
        json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}),
    )
}

pub(super) fn tool(name: &str, policy: ErrorPolicy) -> ToolCatalogEntry {
    ToolCatalogEntry {
        error_policy: policy,
        ..ToolCatalogEntry::new(name, "a tool", json!({"type": "object"}))
    }
}

pub(super) fn config() -> LoopConfig {
    LoopConfig {
        instructions: "You are a calculator.".into(),
        ..LoopConfig::new("test-model")
    }
}

/// Runs `add` for real; any other tool answers "ok".
pub(super) fn run_tool(call: &PlannedCall) -> ToolOutcome {
    let output = match call.name.as_str() {
        "add" => (call.arguments["a"].as_i64().unwrap() + call.arguments["b"].as_i64().unwrap())
            .to_string(),
        _ => "ok".into(),
    };
    ToolOutcome {
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        result: Ok(output),
        usage: ToolUsage {
            fuel: 10,
            ..Default::default()
        },
    }
}

pub(super) fn failure(kind: ToolFailureKind, transient: bool) -> ToolFailure {
    ToolFailure {
        kind,
        message: format!("{kind} happened"),
        transient,
    }
}

/// Every request the model saw had a valid history.
pub(super) fn assert_requests_valid(model: &ScriptedModel) {
    for (i, request) in model.requests().iter().enumerate() {
        assert_eq!(validate(&request.messages), Ok(()), "request {i}");
    }
}

#[test]
fn multi_step_tool_use_reaches_the_answer() {
    let mut c = Controller::new(config(), vec![add_tool()], "What is (1+2)+4?").unwrap();
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("c1", "add", r#"{"a":1,"b":2}"#)]),
        ScriptedModel::calls(&[("c2", "add", r#"{"a":3,"b":4}"#)]),
        ScriptedModel::text("7"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "7");
    assert_eq!(
        (
            result.usage.model_calls,
            result.usage.tool_calls,
            result.usage.fuel
        ),
        (3, 2, 20)
    );
    assert_eq!(result.steps.len(), 3);
    assert_eq!(result.steps[0].tool_calls[0].name, "add");
    assert_requests_valid(&model);
    let second = &model.requests()[1].messages;
    assert_eq!(second[0], Message::system("You are a calculator."));
    assert_eq!(second.last(), Some(&Message::tool_result("c1", "3", false)));
    assert_eq!(model.requests()[0].tools[0].name, "add");
}

#[test]
fn parallel_calls_are_planned_together_and_results_kept_in_call_order() {
    let mut c = Controller::new(
        LoopConfig {
            max_parallel_tools: 2,
            ..config()
        },
        vec![add_tool()],
        "sums",
    )
    .unwrap();
    let Step::CallModel(_) = c.next_step() else {
        panic!()
    };
    c.on_model_response(ScriptedModel::calls(&[
        ("x", "add", r#"{"a":1,"b":1}"#),
        ("y", "add", r#"{"a":2,"b":2}"#),
        ("z", "add", r#"{"a":3,"b":3}"#),
    ]))
    .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!()
    };
    assert_eq!(plan.max_concurrency, 2);
    assert_eq!(
        plan.calls
            .iter()
            .map(|p| p.call_id.as_str())
            .collect::<Vec<_>>(),
        ["x", "y", "z"]
    );
    // Outcomes arrive in completion order, two batches.
    c.on_tool_results(vec![run_tool(&plan.calls[2])]).unwrap();
    let Step::RunTools(rest) = c.next_step() else {
        panic!("calls still pending")
    };
    assert_eq!(rest.calls.len(), 2);
    c.on_tool_results(vec![run_tool(&plan.calls[1]), run_tool(&plan.calls[0])])
        .unwrap();
    let live = c.state().live();
    let results: Vec<_> = live[2..]
        .iter()
        .map(|m| match m {
            Message::Tool {
                call_id, content, ..
            } => (call_id.as_str(), &**content),
            _ => panic!(),
        })
        .collect();
    assert_eq!(results, [("x", "2"), ("y", "4"), ("z", "6")]);
    assert!(matches!(c.next_step(), Step::CallModel(_)));
}

#[test]
fn invalid_arguments_are_explained_and_the_model_fixes_them() {
    let mut c = Controller::new(config(), vec![add_tool()], "1+2").unwrap();
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("c1", "add", r#"{"a":"one","b":2}"#), ("c2", "mul", "{}")]),
        ScriptedModel::calls(&[("c3", "add", r#"{"a":1,"b":2}"#)]),
        ScriptedModel::text("3"),
    ]);
    let mut ran = Vec::new();
    let result = drive(&mut c, &mut model, |call| {
        ran.push(call.call_id.clone());
        run_tool(call)
    })
    .unwrap();
    assert_eq!(ran, ["c3"], "invalid calls must never run");
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.invalid_tool_calls, 2);
    assert_eq!(result.steps[0].invalid_calls.len(), 2);
    let second = &model.requests()[1].messages;
    let Message::Tool {
        content,
        is_error: true,
        ..
    } = &second[second.len() - 2]
    else {
        panic!("{second:?}")
    };
    assert!(
        content.contains("at `/a`") && content.contains("integer"),
        "{content}"
    );
    let Message::Tool { content, .. } = second.last().unwrap() else {
        panic!()
    };
    assert!(
        content.contains("no tool named `mul`") && content.contains("add"),
        "{content}"
    );
    let events = c.take_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, RunEvent::ToolCallRejected { .. }))
            .count(),
        2
    );
    assert_requests_valid(&model);
}

#[test]
fn abort_policy_ends_the_run_with_the_error_and_a_valid_history() {
    let tools = vec![
        tool("fetch", ErrorPolicy::Abort),
        tool("other", ErrorPolicy::ToModel),
    ];
    let mut c = Controller::new(config(), tools, "go").unwrap();
    c.next_step();
    c.on_model_response(ScriptedModel::calls(&[
        ("a", "fetch", "{}"),
        ("b", "other", "{}"),
    ]))
    .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!()
    };
    let fail = ToolOutcome {
        result: Err(failure(ToolFailureKind::CapabilityDenied, false)),
        ..run_tool(&plan.calls[0])
    };
    c.on_tool_results(vec![fail]).unwrap();
    let Step::Done(result) = c.next_step() else {
        panic!()
    };
    assert_eq!(
        result.stop_reason,
        StopReason::ToolAborted {
            tool: "fetch".into(),
            kind: ToolFailureKind::CapabilityDenied,
            message: "capability_denied happened".into()
        }
    );
    assert_eq!(result.stop_reason.exit_code(), 1);
    assert_eq!(validate(c.state().live()), Ok(()));
    assert!(
        matches!(&c.state().live()[3], Message::Tool { call_id, content, .. } if call_id == "b" && content.contains("aborted"))
    );
}

#[test]
fn to_model_policy_turns_failures_into_results() {
    let mut c = Controller::new(config(), vec![tool("slow", ErrorPolicy::ToModel)], "go").unwrap();
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("a", "slow", "{}")]),
        ScriptedModel::text("gave up on slow"),
    ]);
    let result = drive(&mut c, &mut model, |call| ToolOutcome {
        result: Err(failure(ToolFailureKind::Timeout, true)),
        ..run_tool(call)
    })
    .unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(
        model.requests()[1].messages.last(),
        Some(&Message::tool_result(
            "a",
            "Error (timeout): timeout happened",
            true
        ))
    );
    assert_eq!(
        result.steps[0].tool_calls[0].error_kind,
        Some(ToolFailureKind::Timeout)
    );
}

#[test]
fn retry_policy_retries_transient_failures_only() {
    let tools = vec![
        tool("flaky", ErrorPolicy::Retry { max_retries: 2 }),
        tool("broken", ErrorPolicy::Retry { max_retries: 2 }),
    ];
    let mut c = Controller::new(config(), tools, "go").unwrap();
    c.next_step();
    c.on_model_response(ScriptedModel::calls(&[
        ("f", "flaky", "{}"),
        ("b", "broken", "{}"),
    ]))
    .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!()
    };
    c.on_tool_results(vec![
        ToolOutcome {
            result: Err(failure(ToolFailureKind::Timeout, true)),
            ..run_tool(&plan.calls[0])
        },
        ToolOutcome {
            result: Err(failure(ToolFailureKind::InvalidArguments, false)),
            ..run_tool(&plan.calls[1])
        },
    ])
    .unwrap();
    let Step::RunTools(retry) = c.next_step() else {
        panic!("transient failure must be retried")
    };
    assert_eq!(retry.calls.len(), 1);
    assert_eq!(
        (retry.calls[0].call_id.as_str(), retry.calls[0].attempt),
        ("f", 2)
    );
    c.on_tool_results(vec![run_tool(&retry.calls[0])]).unwrap();
    assert!(matches!(c.next_step(), Step::CallModel(_)));
    let live = c.state().live();
    assert_eq!(live[2], Message::tool_result("f", "ok", false));
    assert!(matches!(&live[3], Message::Tool { is_error: true, .. }));
    let record = &c.state().steps()[0].tool_calls[0];
    assert_eq!(
        (record.attempts, record.error_kind, record.usage.fuel),
        (2, None, 20)
    );
    assert_eq!(c.state().usage().tool_calls, 3);
}

#[test]
fn retries_end_after_the_configured_number() {
    let mut c = Controller::new(
        config(),
        vec![tool("flaky", ErrorPolicy::Retry { max_retries: 1 })],
        "go",
    )
    .unwrap();
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("f", "flaky", "{}")]),
        ScriptedModel::text("no luck"),
    ]);
    let mut attempts = 0;
    drive(&mut c, &mut model, |call| {
        attempts += 1;
        ToolOutcome {
            result: Err(failure(ToolFailureKind::Timeout, true)),
            ..run_tool(call)
        }
    })
    .unwrap();
    assert_eq!(attempts, 2);
}

#[test]
fn stop_on_tools_ends_with_the_tool_output() {
    let cfg = LoopConfig {
        stop_on_tools: vec!["submit".into()],
        ..config()
    };
    let mut c = Controller::new(
        cfg,
        vec![add_tool(), tool("submit", ErrorPolicy::ToModel)],
        "go",
    )
    .unwrap();
    let mut model = ScriptedModel::new([ScriptedModel::calls(&[
        ("a", "add", r#"{"a":1,"b":1}"#),
        ("s", "submit", "{}"),
    ])]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert_eq!(
        result.stop_reason,
        StopReason::StopTool {
            name: "submit".into()
        }
    );
    assert_eq!(result.output.unwrap().text, "ok");
    assert!(
        Controller::new(
            LoopConfig {
                stop_on_tools: vec!["nope".into()],
                ..config()
            },
            vec![],
            "x"
        )
        .is_err()
    );
}

#[test]
fn empty_answers_end_with_a_clear_reason_once_the_retry_budget_is_spent() {
    let cfg = LoopConfig {
        max_invalid_turns: 2,
        ..config()
    };
    let mut c = Controller::new(cfg, vec![add_tool()], "go").unwrap();
    let empty = ChatResponse {
        text: None,
        ..ScriptedModel::text("")
    };
    let mut model = ScriptedModel::new(vec![empty; 3]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    let StopReason::InvalidResponses { detail } = &result.stop_reason else {
        panic!("{:?}", result.stop_reason)
    };
    assert!(
        detail.contains("neither text nor tool calls") && detail.contains("retry budget of 2"),
        "{detail}"
    );
    assert_requests_valid(&model);
}

#[test]
fn the_same_invalid_call_again_and_again_ends_the_run() {
    let mut c = Controller::new(config(), vec![add_tool()], "go").unwrap();
    let bad = ScriptedModel::calls(&[("", "add", r#"{"a":1}"#)]);
    let mut model = ScriptedModel::new(vec![bad; 4]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(
        matches!(&result.stop_reason, StopReason::InvalidResponses { detail } if detail.contains("`add`"))
    );
    // Empty ids were replaced by unique ones, so every call is answered exactly once.
    assert_eq!(validate(c.state().live()), Ok(()));
}

#[test]
fn structured_output_is_validated_and_retried() {
    let schema =
        json!({"type": "object", "required": ["sum"], "properties": {"sum": {"type": "integer"}}});
    let cfg = LoopConfig {
        output_schema: Some(schema),
        ..config()
    };
    let mut c = Controller::new(cfg.clone(), vec![], "1+2 as JSON").unwrap();
    assert!(c.system_prompt().contains("JSON Schema"));
    let mut model = ScriptedModel::new([
        ScriptedModel::text("three"),
        ScriptedModel::text("{\"sum\": 3}"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.output.unwrap().json, Some(json!({"sum": 3})));
    let feedback = model.requests()[1].messages.last().unwrap();
    assert!(
        matches!(feedback, Message::User { content } if content.contains("rejected") && content.contains("not valid JSON"))
    );

    let mut c = Controller::new(
        LoopConfig {
            max_output_retries: 1,
            ..cfg
        },
        vec![],
        "x",
    )
    .unwrap();
    let mut model = ScriptedModel::new(vec![ScriptedModel::text("{\"sum\": \"3\"}"); 2]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert!(
        matches!(&result.stop_reason, StopReason::InvalidOutput { detail } if detail.contains("/sum"))
    );
}

#[test]
fn refusal_and_content_filter_are_surfaced() {
    let mut c = Controller::new(config(), vec![], "x").unwrap();
    let refusal = ChatResponse {
        refusal: Some("not allowed".into()),
        text: None,
        ..ScriptedModel::text("")
    };
    let result = drive(&mut c, &mut ScriptedModel::new([refusal]), run_tool).unwrap();
    assert_eq!(
        result.stop_reason,
        StopReason::Refused {
            message: "not allowed".into()
        }
    );

    let mut c = Controller::new(config(), vec![], "x").unwrap();
    let filtered = ChatResponse {
        finish_reason: FinishReason::ContentFilter,
        ..ScriptedModel::text("part")
    };
    let result = drive(&mut c, &mut ScriptedModel::new([filtered]), run_tool).unwrap();
    assert_eq!(result.stop_reason, StopReason::ContentFiltered);
}

#[test]
fn events_come_in_run_order_and_feeds_in_the_wrong_phase_are_errors() {
    let mut c = Controller::new(config(), vec![add_tool()], "go").unwrap();
    assert!(c.on_tool_results(vec![]).is_err());
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("a", "add", r#"{"a":1,"b":1}"#)]),
        ScriptedModel::text("2"),
    ]);
    // next_step is idempotent while the model call is pending.
    assert_eq!(c.next_step(), c.next_step());
    let Step::CallModel(request) = c.next_step() else {
        panic!()
    };
    c.on_model_response(model.respond(&request).unwrap())
        .unwrap();
    assert!(c.on_model_response(ScriptedModel::text("late")).is_err());
    drive(&mut c, &mut model, run_tool).unwrap();
    let kinds: Vec<&str> = c
        .take_events()
        .iter()
        .map(|e| match e {
            RunEvent::RunStarted { .. } => "started",
            RunEvent::ModelRequest { .. } => "request",
            RunEvent::ModelResponse { .. } => "response",
            RunEvent::RunFinished { .. } => "finished",
            _ => "other",
        })
        .collect();
    // Tool events are the driver's; the controller's own come in this order.
    assert_eq!(
        kinds,
        [
            "started", "request", "response", "request", "response", "finished"
        ]
    );
}

#[test]
fn controller_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Controller>();
    assert_send::<RunResult>();
}

#[test]
fn stop_reasons_map_to_exit_codes_and_read_well() {
    let budget = StopReason::Budget {
        resource: crate::budget::BudgetResource::Turns,
        used: 5.0,
        limit: 5.0,
    };
    assert_eq!(
        (budget.exit_code(), budget.describe().as_str()),
        (3, "turn limit (5 of 5) reached")
    );
    assert_eq!(StopReason::Completed.exit_code(), 0);
    assert_eq!(StopReason::ContentFiltered.exit_code(), 1);
    let cancelled = StopReason::Cancelled {
        mode: CancelMode::Immediate,
    };
    assert_eq!(
        (cancelled.exit_code(), cancelled.describe().as_str()),
        (130, "cancelled")
    );
}

#[test]
fn chat_continues_with_the_history() {
    let mut c = Controller::new(config(), vec![], "hi").unwrap();
    let mut model = ScriptedModel::new([ScriptedModel::text("hello"), ScriptedModel::text("bye")]);
    drive(&mut c, &mut model, run_tool).unwrap();
    assert!(c.continue_with("again").is_ok());
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.output.unwrap().text, "bye");
    assert_eq!(model.requests()[1].messages.len(), 4);
    assert_eq!(result.usage.model_calls, 2);
}
