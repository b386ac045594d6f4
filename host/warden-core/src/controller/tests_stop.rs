//! `Controller::stop`: a driver's own decision (a tripped guardrail) ends the run at any
//! phase, and overrules a finished run's answer.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use super::tests::{add_tool, config};
use super::*;
use crate::events::RunEvent;
use crate::guardrail::GuardrailStage;
use crate::run::*;
use crate::testing::ScriptedModel;

fn tripped(stage: GuardrailStage) -> StopReason {
    StopReason::GuardrailTripped {
        guardrail: "g".into(),
        stage,
        message: "no".into(),
    }
}

#[test]
fn stop_while_the_model_is_awaited_ends_the_run_without_output() {
    let mut c = Controller::new(config(), vec![add_tool()], "hi").unwrap();
    assert!(matches!(c.next_step(), Step::CallModel(_)));
    c.stop(tripped(GuardrailStage::Input));
    let Step::Done(result) = c.next_step() else {
        panic!("the run goes on after stop");
    };
    assert_eq!(result.stop_reason, tripped(GuardrailStage::Input));
    assert_eq!(result.output, None);
    // A late model response is refused, not applied to the stopped run.
    assert!(c.on_model_response(ScriptedModel::text("late")).is_err());
}

#[test]
fn stop_with_calls_pending_closes_them_so_the_history_stays_paired() {
    let mut c = Controller::new(config(), vec![add_tool()], "hi").unwrap();
    let _ = c.next_step();
    c.on_model_response(ScriptedModel::calls(&[("c1", "add", r#"{"a":1,"b":2}"#)]))
        .unwrap();
    assert!(matches!(c.next_step(), Step::RunTools(_)));
    c.stop(tripped(GuardrailStage::Input));
    let last = c.state().transcript().last().unwrap();
    assert!(
        matches!(last, crate::chat::Message::Tool { call_id, is_error: true, .. } if call_id == "c1"),
        "{last:?}"
    );
    assert_eq!(
        c.result().unwrap().stop_reason,
        tripped(GuardrailStage::Input)
    );
}

#[test]
fn stop_after_the_answer_replaces_the_reason_withdraws_the_output_and_queues_one_more_finish() {
    let mut c = Controller::new(config(), vec![add_tool()], "hi").unwrap();
    let _ = c.next_step();
    c.on_model_response(ScriptedModel::text("secret")).unwrap();
    assert_eq!(c.result().unwrap().stop_reason, StopReason::Completed);
    let before = c.take_events();
    assert!(matches!(before.last(), Some(RunEvent::RunFinished { .. })));
    c.stop(tripped(GuardrailStage::Output));
    let result = c.result().unwrap();
    assert_eq!(result.stop_reason, tripped(GuardrailStage::Output));
    assert_eq!(result.output, None);
    let after = c.take_events();
    assert!(
        matches!(after.as_slice(), [RunEvent::RunFinished { stop_reason, output: None, .. }] if *stop_reason == tripped(GuardrailStage::Output)),
        "{after:?}"
    );
}

#[test]
fn the_tripped_reason_serialises_with_its_fields_and_is_a_failure() {
    let reason = tripped(GuardrailStage::ToolCall);
    let json = serde_json::to_value(&reason).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"reason": "guardrail_tripped", "guardrail": "g", "stage": "tool_call", "message": "no"})
    );
    assert_eq!(reason.exit_code(), EXIT_FAILED);
    assert_eq!(
        reason.describe(),
        "guardrail `g` tripped on a tool call: no"
    );
}
