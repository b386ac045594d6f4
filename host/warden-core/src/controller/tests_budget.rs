//! Controller tests for budgets, the forced final answer, cancellation and compaction.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::tests::{add_tool, assert_requests_valid, config, run_tool, tool};
use super::*;
use crate::budget::{Budget, BudgetResource, OnExhaustion};
use crate::chat::{ChatResponse, Message, ToolChoice, Usage};
use crate::context::models::Price;
use crate::context::validate::validate;
use crate::events::RunEvent;
use crate::run::*;
use crate::testing::{ScriptedModel, drive};
use crate::tool::*;

/// `n` responses that each call `add`, then `last` if given.
fn looping_model(n: usize, last: Option<&str>) -> ScriptedModel {
    let calls =
        (0..n).map(|i| ScriptedModel::calls(&[(&format!("c{i}"), "add", r#"{"a":1,"b":1}"#)]));
    ScriptedModel::new(calls.chain(last.map(ScriptedModel::text)))
}

fn with_budget(budget: Budget) -> LoopConfig {
    LoopConfig { budget, ..config() }
}

/// A controller with the `add` tool and `budget`, asked to "go".
fn budgeted(budget: Budget) -> Controller {
    Controller::new(with_budget(budget), vec![add_tool()], "go").unwrap()
}

/// Whether the run stopped because `resource` ran out.
fn stopped_by(result: &RunResult, resource: BudgetResource) -> bool {
    matches!(&result.stop_reason, StopReason::Budget { resource: r, .. } if *r == resource)
}

#[test]
fn max_turns_leads_to_one_forced_final_answer_without_tools() {
    let mut c = budgeted(Budget {
        max_turns: Some(2),
        ..Budget::default()
    });
    let mut model = looping_model(2, Some("best guess: 2"));
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(result.forced);
    assert!(
        stopped_by(&result, BudgetResource::Turns),
        "{:?}",
        result.stop_reason
    );
    assert_eq!(result.stop_reason.exit_code(), 3);
    assert_eq!(result.output.unwrap().text, "best guess: 2");
    let last = model.requests().last().unwrap();
    assert_eq!(last.settings.tool_choice, ToolChoice::None);
    assert!(!last.settings.parallel_tool_calls);
    assert!(
        matches!(last.messages.last(), Some(Message::User { content }) if content.contains("turn limit"))
    );
    assert_eq!(
        result.steps.last().unwrap().kind,
        crate::state::ModelCallKind::ForcedFinal
    );
    assert_requests_valid(&model);
}

#[test]
fn error_policy_stops_without_a_forced_call() {
    let budget = Budget {
        max_turns: Some(1),
        on_exhaustion: OnExhaustion::Error,
        ..Budget::default()
    };
    let mut c = budgeted(budget);
    let mut model = looping_model(1, None);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(!result.forced && result.output.is_none());
    assert!(
        stopped_by(&result, BudgetResource::Turns),
        "{:?}",
        result.stop_reason
    );
}

#[test]
fn token_budget_is_checked_before_each_call_with_the_estimate() {
    // The first response reports 120 tokens; the next request alone is estimated above the
    // remaining 80, so no second turn is sent: the forced answer comes instead.
    let mut c = budgeted(Budget {
        max_total_tokens: Some(200),
        ..Budget::default()
    });
    let mut model = looping_model(1, Some("partial"));
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(result.forced);
    assert!(
        stopped_by(&result, BudgetResource::TotalTokens),
        "{:?}",
        result.stop_reason
    );
    assert_eq!(result.usage.model_calls, 2);
}

#[test]
fn token_budget_is_checked_after_a_response_and_skips_its_tools() {
    let mut c = budgeted(Budget {
        max_total_tokens: Some(400),
        ..Budget::default()
    });
    let mut expensive = ScriptedModel::calls(&[("b", "add", r#"{"a":2,"b":2}"#)]);
    expensive.usage.input_tokens = 500;
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("a", "add", r#"{"a":1,"b":1}"#)]),
        expensive,
        ScriptedModel::text("partial"),
    ]);
    let mut ran = 0;
    let result = drive(&mut c, &mut model, |call| {
        ran += 1;
        run_tool(call)
    })
    .unwrap();
    model.assert_all_used().unwrap();
    assert_eq!(
        ran, 1,
        "the tools of the response that broke the budget must not run"
    );
    assert!(result.forced);
    assert!(
        stopped_by(&result, BudgetResource::TotalTokens),
        "{:?}",
        result.stop_reason
    );
    assert!(
        matches!(&c.state().live()[4], Message::Tool { content, .. } if content.contains("total-token budget ran out"))
    );
    assert_requests_valid(&model);
}

#[test]
fn cost_budget_uses_the_price_override_and_warns_first() {
    // 100 input + 20 output tokens at $1000/$5000 per Mtok = $0.2 per call.
    let price = Price {
        input_per_mtok: 1000.0,
        output_per_mtok: 5000.0,
        cached_input_per_mtok: 0.0,
    };
    let cfg = LoopConfig {
        price: Some(price),
        ..with_budget(Budget {
            max_cost_usd: Some(0.5),
            ..Budget::default()
        })
    };
    let mut c = Controller::new(cfg, vec![add_tool()], "go").unwrap();
    let mut model = looping_model(2, Some("done"));
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert!(
        stopped_by(&result, BudgetResource::CostUsd),
        "{:?}",
        result.stop_reason
    );
    assert!(result.forced);
    assert!(
        (result.usage.cost_usd - 0.6).abs() < 1e-9,
        "{}",
        result.usage.cost_usd
    );
    let warnings: Vec<_> = c
        .take_events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RunEvent::BudgetWarning {
                    resource: BudgetResource::CostUsd,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(warnings.len(), 1);
}

#[test]
fn wall_time_budget_uses_the_injected_clock() {
    let now = Arc::new(AtomicU64::new(0));
    let clock = now.clone();
    let cfg = with_budget(Budget {
        max_wall_time_secs: Some(10.0),
        ..Budget::default()
    });
    let mut c = Controller::new(cfg, vec![add_tool()], "go")
        .unwrap()
        .with_clock(move || Duration::from_secs(clock.load(Ordering::SeqCst)));
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[("a", "add", r#"{"a":1,"b":1}"#)]),
        ScriptedModel::text("late answer"),
    ]);
    let result = drive(&mut c, &mut model, |call| {
        now.store(11, Ordering::SeqCst);
        run_tool(call)
    })
    .unwrap();
    assert!(
        stopped_by(&result, BudgetResource::WallTime),
        "{:?}",
        result.stop_reason
    );
    assert!(result.forced);
}

#[test]
fn tool_call_budget_skips_calls_beyond_it() {
    let mut c = budgeted(Budget {
        max_tool_calls: Some(1),
        ..Budget::default()
    });
    let mut model = ScriptedModel::new([
        ScriptedModel::calls(&[
            ("a", "add", r#"{"a":1,"b":1}"#),
            ("b", "add", r#"{"a":2,"b":2}"#),
        ]),
        ScriptedModel::text("one sum only"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.usage.tool_calls, 1);
    assert!(
        stopped_by(&result, BudgetResource::ToolCalls),
        "{:?}",
        result.stop_reason
    );
    assert!(
        matches!(&c.state().live()[3], Message::Tool { content, .. } if content.contains("tool-call budget"))
    );
}

#[test]
fn immediate_cancel_keeps_partial_results_and_usage() {
    let mut c = Controller::new(
        config(),
        vec![add_tool(), tool("slow", ErrorPolicy::ToModel)],
        "go",
    )
    .unwrap();
    c.next_step();
    c.on_model_response(ScriptedModel::calls(&[
        ("a", "add", r#"{"a":1,"b":1}"#),
        ("s", "slow", "{}"),
    ]))
    .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!()
    };
    c.on_tool_results(vec![run_tool(&plan.calls[0])]).unwrap();
    c.cancel(CancelMode::Immediate);
    let Step::Done(result) = c.next_step() else {
        panic!()
    };
    assert_eq!(
        result.stop_reason,
        StopReason::Cancelled {
            mode: CancelMode::Immediate
        }
    );
    assert_eq!(
        (
            result.usage.tool_calls,
            result.usage.fuel,
            result.usage.model_calls
        ),
        (1, 10, 1)
    );
    let live = c.state().live();
    assert_eq!(validate(live), Ok(()));
    assert_eq!(live[2], Message::tool_result("a", "2", false));
    assert!(
        matches!(&live[3], Message::Tool { content, is_error: true, .. } if content.contains("cancelled"))
    );
}

#[test]
fn cancel_after_turn_finishes_the_turn_then_stops() {
    let mut c = Controller::new(config(), vec![add_tool()], "go").unwrap();
    let Step::CallModel(_) = c.next_step() else {
        panic!()
    };
    c.cancel(CancelMode::AfterTurn);
    c.on_model_response(ScriptedModel::calls(&[("a", "add", r#"{"a":1,"b":1}"#)]))
        .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!("the turn's tools still run")
    };
    c.on_tool_results(vec![run_tool(&plan.calls[0])]).unwrap();
    let Step::Done(result) = c.next_step() else {
        panic!("no model call after the turn")
    };
    assert_eq!(
        result.stop_reason,
        StopReason::Cancelled {
            mode: CancelMode::AfterTurn
        }
    );
    assert_eq!(result.usage.tool_calls, 1);
}

fn compaction_config() -> LoopConfig {
    let mut cfg = LoopConfig {
        context_window: Some(6000),
        max_tokens: 500,
        ..config()
    };
    cfg.compaction.keep_recent_turns = 1;
    cfg.budget.max_turns = Some(50);
    cfg
}

fn big_output(call: &PlannedCall) -> ToolOutcome {
    ToolOutcome {
        result: Ok(format!("{} rows: {}", call.call_id, "data ".repeat(600))),
        ..run_tool(call)
    }
}

#[test]
fn long_tool_loops_are_summarised_and_originals_kept() {
    let mut c = Controller::new(compaction_config(), vec![add_tool()], "crunch the data").unwrap();
    let mut summarized_at = None;
    for i in 0..12 {
        match c.next_step() {
            Step::Summarize(request) => {
                assert!(
                    request.tools.is_empty() && request.settings.tool_choice == ToolChoice::None
                );
                assert!(
                    matches!(&request.messages[1], Message::User { content } if content.contains("TOOL RESULT"))
                );
                summarized_at = Some(i);
                c.on_model_response(ScriptedModel::text("rows c0..cN were loaded"))
                    .unwrap();
                break;
            }
            Step::CallModel(_) => c
                .on_model_response(ScriptedModel::calls(&[(
                    &format!("c{i}"),
                    "add",
                    r#"{"a":1,"b":1}"#,
                )]))
                .unwrap(),
            other => panic!("{other:?}"),
        }
        let Step::RunTools(plan) = c.next_step() else {
            panic!()
        };
        c.on_tool_results(plan.calls.iter().map(big_output).collect())
            .unwrap();
    }
    assert!(summarized_at.is_some(), "no summary was requested");
    let compaction = &c.state().compactions()[0];
    assert!(compaction.originals.len() >= 2);
    assert!(c.take_events().iter().any(|e| matches!(
        e,
        RunEvent::Compaction {
            summarized: true,
            ..
        }
    )));
    let Step::CallModel(request) = c.next_step() else {
        panic!()
    };
    assert_eq!(validate(&request.messages), Ok(()));
    assert!(
        request
            .messages
            .iter()
            .any(|m| matches!(m, Message::User { content } if content.contains("rows c0..cN")))
    );
    assert!(c.state().transcript().len() > c.state().live().len());
}

#[test]
fn a_failed_summary_falls_back_to_dropping_old_turns() {
    let mut c = Controller::new(compaction_config(), vec![add_tool()], "crunch").unwrap();
    let mut failed = false;
    for i in 0..20 {
        match c.next_step() {
            Step::Summarize(_) => {
                c.on_model_error(ModelFailure::new(
                    ModelFailureKind::Server,
                    "503 from provider",
                ))
                .unwrap();
                failed = true;
                continue;
            }
            Step::CallModel(request) => {
                assert_eq!(validate(&request.messages), Ok(()));
                c.on_model_response(ScriptedModel::calls(&[(
                    &format!("c{i}"),
                    "add",
                    r#"{"a":1,"b":1}"#,
                )]))
                .unwrap();
            }
            other => panic!("{other:?}"),
        }
        let Step::RunTools(plan) = c.next_step() else {
            panic!()
        };
        c.on_tool_results(plan.calls.iter().map(big_output).collect())
            .unwrap();
    }
    assert!(failed);
    assert!(c.take_events().iter().any(|e| matches!(
        e,
        RunEvent::Compaction {
            summarized: false,
            ..
        }
    )));
    assert!(c.state().compactions().is_empty());
}

/// A server that reports no usage (some OpenAI-compatible ones leave it out) must not turn
/// token budgets off: warden counts its own estimate instead and says so.
#[test]
fn token_budgets_hold_when_the_server_reports_no_usage() {
    let mut c = budgeted(Budget {
        max_total_tokens: Some(150),
        ..Budget::default()
    });
    let unreported = |mut r: ChatResponse| {
        r.usage = Usage::default();
        r
    };
    let mut model = ScriptedModel::new(
        (0..5)
            .map(|i| ScriptedModel::calls(&[(&format!("c{i}"), "add", r#"{"a":1,"b":1}"#)]))
            .chain([ScriptedModel::text("partial")])
            .map(unreported),
    );
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert!(
        stopped_by(&result, BudgetResource::TotalTokens),
        "{:?}",
        result.stop_reason
    );
    assert!(result.usage.model_calls < 6, "{:?}", result.usage);
    assert_eq!(result.usage.estimated_usage_calls, result.usage.model_calls);
    let first = &result.steps[0];
    assert!(first.usage_estimated);
    assert_eq!(first.usage.input_tokens, first.estimated_input_tokens);
    assert!(first.usage.output_tokens > 0);
    assert!(c.take_events().iter().any(|e| matches!(
        e,
        RunEvent::ModelResponse {
            usage_estimated: true,
            ..
        }
    )));
}

#[test]
fn reported_usage_is_counted_as_reported() {
    let mut c = budgeted(Budget::default());
    let mut model = looping_model(1, Some("2"));
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.usage.estimated_usage_calls, 0);
    assert_eq!(result.usage.input_tokens, 200);
    assert!(result.steps.iter().all(|s| !s.usage_estimated));
}
