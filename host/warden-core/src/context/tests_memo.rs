//! The assembler's memo of the last request: a request planned after others is exactly the
//! one a fresh assembler plans, and only its new messages are read again.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use proptest::prelude::*;

use super::tests::{arb_message, task_with_tool_turns};
use super::*;

fn tools() -> Arc<[ToolSpec]> {
    Arc::new([ToolSpec {
        name: "calc".into(),
        description: "Evaluates an expression".into(),
        parameters: serde_json::json!({"type": "object"}),
    }])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any history after any other, kept in part or not at all, with the estimate
    /// recalibrated in between: the same compaction range, messages, counts, repairs and
    /// errors as fresh.
    #[test]
    fn a_request_planned_after_another_is_the_one_planned_fresh(
        first in prop::collection::vec(arb_message(), 0..30),
        keep in 0usize..30,
        tail in prop::collection::vec(arb_message(), 0..12),
        window in 1500u32..8000,
        calibrations in prop::collection::vec((1u64..5000, 1u64..5000), 0..3),
    ) {
        let mut used = ContextAssembler::new("local", Some(window), 256).with_tool_output_cap(200);
        let _ = used.assemble("system prompt", &first, &tools());
        for (estimated, reported) in calibrations {
            used.counter_mut().calibrate(estimated, reported);
        }
        let mut second = first[..keep.min(first.len())].to_vec();
        second.extend(tail);
        let fresh = ContextAssembler::new("local", Some(window), 256)
            .with_tool_output_cap(200)
            .with_counter(used.counter().clone());
        // What to summarise is measured through the memo too, before the request.
        prop_assert_eq!(
            used.compaction_range("system prompt", &second, &tools(), 0.3, 1),
            fresh.compaction_range("system prompt", &second, &tools(), 0.3, 1)
        );
        prop_assert_eq!(
            used.assemble("system prompt", &second, &tools()),
            fresh.assemble("system prompt", &second, &tools())
        );
    }
}

/// The loop's case: each request is the last one plus a turn. Only the turn's two messages
/// are read again, and the counts match a fresh count, estimated and exact alike.
#[test]
fn a_growing_history_is_read_only_in_its_new_messages() {
    for model in ["claude-haiku-4-5", "gpt-4o-mini"] {
        let assembler = ContextAssembler::new(model, None, 1024);
        if model.starts_with("gpt") {
            assembler.counter().wait_until_exact();
        }
        let output = "x".repeat(10_000);
        for turns in 0..6 {
            let history = task_with_tool_turns("add things", turns, &output);
            let before = assembler.memo.lock().tallied;
            let out = assembler.assemble("be brief", &history, &tools()).unwrap();
            let read = assembler.memo.lock().tallied - before;
            // The first request reads the system prompt and the task; each later one the
            // turn it adds (an assistant call and its result).
            assert_eq!(read, 2, "{model}: messages read again at {turns} turns");
            let fresh = ContextAssembler::new(model, None, 1024)
                .with_counter(assembler.counter().clone())
                .assemble("be brief", &history, &tools())
                .unwrap();
            assert_eq!(out, fresh, "{model}, {turns} turns");
        }
    }
}

/// A history that changes in the middle (a summary replaced old turns) is read again from
/// the change on, and a broken one is repaired as before, memo or not.
#[test]
fn a_history_changed_in_the_middle_is_read_again_from_the_change() {
    let assembler = ContextAssembler::new("local", None, 1024);
    let history = task_with_tool_turns("task", 4, "out");
    assembler.assemble("", &history, &tools()).unwrap();
    let mut changed = history.clone();
    changed[4] = Message::tool_result("c1", "another output", false);
    let before = assembler.memo.lock().tallied;
    let out = assembler.assemble("", &changed, &tools()).unwrap();
    assert_eq!(assembler.memo.lock().tallied - before, changed.len() - 4);
    assert_eq!(out.messages, changed);
    // A result for a call that does not exist: repaired (dropped), as a fresh assembler does.
    let mut broken = changed.clone();
    broken.push(Message::tool_result("nope", "orphan", false));
    let out = assembler.assemble("", &broken, &tools()).unwrap();
    assert_eq!(out.messages, changed);
    assert!(!out.repairs.is_empty());
}
