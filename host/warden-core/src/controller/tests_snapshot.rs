//! Snapshots: a run restored from a snapshot after any feed (through JSON, as a store keeps
//! it) ends exactly as the uninterrupted run.
#![allow(clippy::unwrap_used)]

use super::tests::{add_tool, config, run_tool};
use super::*;
use crate::testing::ScriptedModel;

fn script() -> ScriptedModel {
    ScriptedModel::new([
        ScriptedModel::calls(&[
            ("c1", "add", r#"{"a": 1, "b": 2}"#),
            ("c2", "add", r#"{"a": 3, "b": 4}"#),
        ]),
        ScriptedModel::calls(&[("c3", "add", r#"{"a": 5, "b": 6}"#)]),
        ScriptedModel::text("done: 3, 7, 11"),
    ])
}

/// Drives to the end; after feed number `restart_at` the controller is replaced by one
/// restored from its JSON snapshot. Tool calls are fed one at a time.
fn run(restart_at: Option<usize>) -> (RunResult, Vec<Message>) {
    let schemas = Schemas::compile(&config(), vec![add_tool()]).unwrap();
    let mut c = Controller::with_schemas(config(), &schemas, "Add things.");
    let mut model = script();
    let mut feeds = 0;
    loop {
        match c.next_step() {
            Step::CallModel(request) | Step::Summarize(request) => {
                c.on_model_response(model.respond(&request).unwrap())
                    .unwrap();
            }
            Step::RunTools(plan) => {
                let first = plan.calls.first().unwrap();
                c.on_tool_results(vec![run_tool(first)]).unwrap();
            }
            Step::Done(result) => return (result, c.state().live().to_vec()),
        }
        feeds += 1;
        if Some(feeds) == restart_at {
            let json = serde_json::to_string(&c.snapshot()).unwrap();
            let snapshot: ControllerSnapshot = serde_json::from_str(&json).unwrap();
            c = Controller::restore(config(), &schemas, snapshot);
        }
    }
}

#[test]
fn a_run_restored_after_any_feed_ends_as_the_uninterrupted_run() {
    let (expected, history) = run(None);
    assert_eq!(expected.stop_reason, StopReason::Completed);
    // 3 model responses + 3 tool results.
    for at in 1..=6 {
        let (result, live) = run(Some(at));
        assert_eq!(result.stop_reason, expected.stop_reason, "restart at {at}");
        assert_eq!(result.output, expected.output, "restart at {at}");
        assert_eq!(result.usage.tool_calls, 3, "restart at {at}");
        assert_eq!(result.usage.model_calls, 3, "restart at {at}");
        assert_eq!(live, history, "restart at {at}");
    }
}

#[test]
fn a_snapshot_mid_turn_lists_the_calls_without_a_result() {
    let schemas = Schemas::compile(&config(), vec![add_tool()]).unwrap();
    let mut c = Controller::with_schemas(config(), &schemas, "Add things.");
    let mut model = script();
    let Step::CallModel(request) = c.next_step() else {
        panic!("expected a model call")
    };
    c.on_model_response(model.respond(&request).unwrap())
        .unwrap();
    let Step::RunTools(plan) = c.next_step() else {
        panic!("expected tools")
    };
    c.on_tool_results(vec![run_tool(&plan.calls[0])]).unwrap();
    let restored = Controller::restore(config(), &schemas, c.snapshot());
    let pending: Vec<String> = (restored.pending_calls().into_iter())
        .map(|call| call.call_id)
        .collect();
    assert_eq!(pending, vec!["c2".to_string()]);
}
