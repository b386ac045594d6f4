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

/// Takes one step: the model's answer or the first call's result fed; the result once done.
fn feed(c: &mut Controller, model: &mut ScriptedModel) -> Option<RunResult> {
    match c.next_step() {
        Step::CallModel(request) | Step::Summarize(request) => {
            c.on_model_response(model.respond(&request).unwrap())
                .unwrap();
        }
        Step::RunTools(plan) => {
            let first = plan.calls.first().unwrap();
            c.on_tool_results(vec![run_tool(first)]).unwrap();
        }
        Step::Done(result) => return Some(result),
    }
    None
}

/// Drives to the end; after feed number `restart_at` the controller is replaced by one
/// restored from its JSON snapshot. Tool calls are fed one at a time.
fn run(restart_at: Option<usize>) -> (RunResult, Vec<Message>) {
    let schemas = Schemas::compile(&config(), vec![add_tool()]).unwrap();
    let mut c = Controller::with_schemas(config(), &schemas, "Add things.");
    let mut model = script();
    let mut feeds = 0;
    loop {
        if let Some(result) = feed(&mut c, &mut model) {
            return (result, c.state().live().to_vec());
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

/// What a durable writer relies on: between steps the lists only grow at their ends on one
/// lineage (the last step record excepted), and the head plus the lists is the snapshot.
#[test]
fn the_lists_grow_at_their_ends_on_one_lineage_and_the_head_is_the_rest() {
    let schemas = Schemas::compile(&config(), vec![add_tool()]).unwrap();
    let mut c = Controller::with_schemas(config(), &schemas, "Add things.");
    let mut model = script();
    let lineage = c.state().lineage();
    let mut before = c.snapshot();
    while feed(&mut c, &mut model).is_none() {
        let now = c.snapshot();
        assert_eq!(c.state().lineage(), lineage);
        let (old, new) = (&before.state, &now.state);
        assert!(new.live().starts_with(old.live()));
        assert!(new.transcript().starts_with(old.transcript()));
        assert!(new.compactions().starts_with(old.compactions()));
        let kept = old.steps().len().saturating_sub(1);
        assert_eq!(new.steps()[..kept], old.steps()[..kept]);
        assert!(c.call_ids_in_order().starts_with(&before.call_ids));
        let mut ids = c.call_ids_in_order().to_vec();
        ids.sort();
        assert_eq!(ids, now.call_ids);
        let head = c.snapshot_head();
        assert!(head.state.live().is_empty() && head.state.steps().is_empty());
        assert!(head.call_ids.is_empty());
        assert_eq!(head.state.usage(), now.state.usage());
        assert_eq!((head.phase, head.turns), (now.phase.clone(), now.turns));
        before = now;
    }
    assert_eq!(c.call_ids_in_order(), ["c1", "c2", "c3"]);
}

#[test]
fn a_restored_compacted_or_replaced_state_is_on_a_new_lineage() {
    let mut state = RunState::new();
    for text in ["task", "a", "b", "c"] {
        state.push(Message::user(text));
    }
    let first = state.lineage();
    state.begin_step(crate::state::ModelCallKind::Turn, 1);
    assert_eq!(state.lineage(), first, "appends stay on the line");
    assert_ne!(state.clone().lineage(), first, "a clone goes its own way");
    state.compact(1..3, "x".into()).unwrap();
    let compacted = state.lineage();
    assert_ne!(compacted, first);
    state.replace_live(vec![Message::user("y")]);
    assert_ne!(state.lineage(), compacted);
    let json = serde_json::to_string(&state).unwrap();
    let back: RunState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state, "the lineage is not part of the value");
    assert_ne!(back.lineage(), state.lineage());
}
