//! Tests of the validator, the assembler and (property) their combination.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use proptest::prelude::*;

use super::models::Tokenizer;
use super::validate::{HistoryIssue, MISSING_RESULT_TEXT, Repair, repair, validate};
use super::*;
use crate::chat::ToolCall;

/// A request without tools.
fn no_tools() -> Arc<[ToolSpec]> {
    Arc::new([])
}

fn call(id: &str) -> ToolCall {
    ToolCall::new(id, "calc", "{}")
}

fn assistant_calls(ids: &[&str]) -> Message {
    Message::Assistant {
        content: None,
        tool_calls: ids.iter().map(|id| call(id)).collect(),
    }
}

/// `task`, then `turns` turns of one tool call each with `output` as its result.
pub(super) fn task_with_tool_turns(task: &str, turns: usize, output: &str) -> Vec<Message> {
    let mut history = vec![Message::user(task)];
    for i in 0..turns {
        let id = format!("c{i}");
        history.push(assistant_calls(&[&id]));
        history.push(Message::tool_result(&id, output, false));
    }
    history
}

fn issues(messages: &[Message]) -> Vec<HistoryIssue> {
    validate(messages)
        .err()
        .map(|e| e.issues)
        .unwrap_or_default()
}

#[test]
fn valid_history_passes() {
    let history = vec![
        Message::system("be brief"),
        Message::user("task"),
        assistant_calls(&["a", "b"]),
        Message::tool_result("a", "1", false),
        Message::tool_result("b", "2", false),
        Message::assistant_text("done"),
    ];
    assert_eq!(validate(&history), Ok(()));
}

#[test]
fn orphan_result_is_detected_and_dropped() {
    let history = vec![
        Message::user("task"),
        Message::tool_result("ghost", "x", false),
        Message::assistant_text("ok"),
    ];
    assert!(matches!(
        issues(&history)[0],
        HistoryIssue::OrphanResult { .. }
    ));
    let (fixed, repairs) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(fixed.len(), 2);
    assert!(repairs.contains(&Repair::DroppedOrphanResult {
        call_id: "ghost".into()
    }));
}

#[test]
fn missing_result_gets_an_error_result() {
    let history = vec![
        Message::user("task"),
        assistant_calls(&["a", "b"]),
        Message::tool_result("a", "1", false),
    ];
    assert!(
        issues(&history)
            .iter()
            .any(|i| matches!(i, HistoryIssue::MissingResult { call_id, .. } if call_id == "b"))
    );
    let (fixed, _) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(
        fixed[3],
        Message::tool_result("b", MISSING_RESULT_TEXT, true)
    );
}

#[test]
fn results_out_of_order_or_misplaced_are_moved_after_their_call() {
    let history = vec![
        Message::user("task"),
        assistant_calls(&["a", "b"]),
        Message::tool_result("b", "2", false),
        Message::tool_result("a", "1", false),
    ];
    assert!(
        issues(&history)
            .iter()
            .any(|i| matches!(i, HistoryIssue::ResultOutOfOrder { .. }))
    );
    let (fixed, _) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(fixed[2], Message::tool_result("a", "1", false));
    assert_eq!(fixed[3], Message::tool_result("b", "2", false));

    // A result separated from its call by a user message is moved back, not lost.
    let split = vec![
        Message::user("task"),
        assistant_calls(&["a"]),
        Message::user("hurry"),
        Message::tool_result("a", "1", false),
    ];
    let (fixed, repairs) = repair(split);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(fixed[2], Message::tool_result("a", "1", false));
    assert!(repairs.contains(&Repair::MovedResult {
        call_id: "a".into()
    }));
}

#[test]
fn duplicate_results_and_call_ids_are_removed() {
    let history = vec![
        Message::user("task"),
        assistant_calls(&["a"]),
        Message::tool_result("a", "1", false),
        Message::tool_result("a", "again", false),
        assistant_calls(&["a"]),
    ];
    let found = issues(&history);
    assert!(
        found
            .iter()
            .any(|i| matches!(i, HistoryIssue::DuplicateResult { .. }))
    );
    assert!(
        found
            .iter()
            .any(|i| matches!(i, HistoryIssue::DuplicateCallId { .. }))
    );
    let (fixed, _) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(fixed.len(), 3);
}

#[test]
fn consecutive_roles_are_merged_and_system_lifted() {
    let history = vec![
        Message::user("one"),
        Message::user("two"),
        Message::assistant_text("a"),
        Message::assistant_text("b"),
        Message::system("late rule"),
        Message::Assistant {
            content: Some("".into()),
            tool_calls: vec![].into(),
        },
    ];
    let found = issues(&history);
    assert!(found.contains(&HistoryIssue::ConsecutiveRole {
        index: 1,
        role: "user"
    }));
    assert!(found.contains(&HistoryIssue::SystemNotFirst { index: 4 }));
    assert!(
        found
            .iter()
            .any(|i| matches!(i, HistoryIssue::EmptyAssistant { .. }))
    );
    let (fixed, _) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(
        fixed,
        vec![
            Message::system("late rule"),
            Message::user("one\n\ntwo"),
            Message::assistant_text("a\n\nb")
        ]
    );
}

#[test]
fn blank_user_messages_get_placeholder_text() {
    let history = vec![Message::user("  "), Message::assistant_text("hm")];
    assert_eq!(issues(&history), vec![HistoryIssue::EmptyUser { index: 0 }]);
    let (fixed, repairs) = repair(history);
    assert_eq!(fixed[0], Message::user(validate::EMPTY_USER_TEXT));
    assert_eq!(repairs, vec![Repair::FilledEmptyUser]);
}

#[test]
fn history_not_starting_with_user_gets_a_start() {
    let history = vec![Message::assistant_text("hello")];
    assert_eq!(
        issues(&history),
        vec![HistoryIssue::FirstNotUser { index: 0 }]
    );
    let (fixed, repairs) = repair(history);
    assert_eq!(validate(&fixed), Ok(()));
    assert_eq!(repairs, vec![Repair::InsertedUserStart]);
    assert!(validate(&[Message::system("x")]).is_err());
}

#[test]
fn assembler_shrinks_tool_outputs_before_dropping_turns() {
    let assembler = ContextAssembler::new("local", Some(3000), 500).with_tool_output_cap(300);
    let history = vec![
        Message::user("task"),
        assistant_calls(&["a"]),
        Message::tool_result("a", format!("HEAD{}TAIL", "y".repeat(20_000)), false),
        Message::assistant_text("noted"),
    ];
    let out = assembler.assemble("sys", &history, &no_tools()).unwrap();
    assert_eq!(out.shrunk_outputs, 1);
    assert_eq!(out.dropped_messages, 0);
    assert!(out.estimated_tokens <= assembler.available_input());
    let Message::Tool { content, .. } = &out.messages[3] else {
        panic!("tool result moved")
    };
    assert!(
        content.starts_with("HEAD") && content.ends_with("TAIL") && content.contains("omitted")
    );
    // The state's history is untouched.
    assert!(matches!(&history[2], Message::Tool { content, .. } if content.len() > 20_000));
}

#[test]
fn assembler_drops_whole_oldest_turns_and_keeps_the_task() {
    let assembler = ContextAssembler::new("local", Some(2000), 200);
    let mut history = task_with_tool_turns("the task", 30, &"z".repeat(300));
    history.push(Message::assistant_text("last"));
    let out = assembler.assemble("", &history, &no_tools()).unwrap();
    assert!(out.dropped_messages > 0);
    assert_eq!(validate(&out.messages), Ok(()));
    assert!(
        matches!(&out.messages[0], Message::User { content } if content.starts_with("the task") && content.contains("omitted"))
    );
    assert_eq!(out.messages.last(), Some(&Message::assistant_text("last")));
}

#[test]
fn assembler_reports_what_cannot_fit() {
    let assembler = ContextAssembler::new("local", Some(1000), 500);
    let history = vec![Message::user("w ".repeat(5_000))];
    assert!(matches!(
        assembler.assemble("", &history, &no_tools()),
        Err(ContextError::DoesNotFit { .. })
    ));
}

#[test]
fn compaction_range_spares_task_and_recent_turns() {
    let assembler = ContextAssembler::new("local", Some(4000), 200);
    let history = task_with_tool_turns("task", 10, &"r".repeat(1000));
    let range = assembler
        .compaction_range("", &history, &no_tools(), 0.8, 2)
        .unwrap();
    assert_eq!(range, 1..17);
    assert!(
        assembler
            .compaction_range("", &history[..3], &no_tools(), 0.8, 2)
            .is_none()
    );
}

/// A random, possibly broken history: messages of every role, calls with ids from a small
/// pool (so duplicates, orphans and misplaced results happen), outputs of random size.
pub(super) fn arb_message() -> impl Strategy<Value = Message> {
    let id = prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]);
    prop_oneof![
        1 => "[a-z ]{0,40}".prop_map(Message::system),
        4 => "[a-z ]{0,200}".prop_map(Message::user),
        3 => "[a-z ]{0,200}".prop_map(Message::assistant_text),
        4 => prop::collection::vec(id.clone(), 1..4)
            .prop_map(|ids| Message::Assistant { content: None, tool_calls: ids.iter().map(|i| call(i)).collect() }),
        6 => (id, 0usize..6000, any::<bool>())
            .prop_map(|(i, len, err)| Message::tool_result(i, "o".repeat(len), err)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn assembled_history_always_validates_and_fits(
        history in prop::collection::vec(arb_message(), 1..40),
        window in 1500u32..6000,
    ) {
        let assembler = ContextAssembler::new("local", Some(window), 256).with_tool_output_cap(200);
        match assembler.assemble("system prompt", &history, &no_tools()) {
            Ok(out) => {
                prop_assert_eq!(validate(&out.messages), Ok(()));
                prop_assert!(out.estimated_tokens <= assembler.available_input());
                prop_assert_eq!(out.estimated_tokens, assembler.counter().count_messages(&out.messages));
                // Every call is answered exactly once, right after it, in call order.
                for (i, m) in out.messages.iter().enumerate() {
                    if let Message::Assistant { tool_calls, .. } = m {
                        for (k, c) in tool_calls.iter().enumerate() {
                            let is_match = matches!(out.messages.get(i + 1 + k), Some(Message::Tool { call_id, .. }) if *call_id == c.id);
                            prop_assert!(is_match);
                        }
                    }
                }
            }
            // Only histories without any user/assistant content can be refused.
            Err(ContextError::Invalid(e)) => prop_assert_eq!(e.issues, vec![HistoryIssue::Empty]),
            Err(ContextError::DoesNotFit { .. }) => {
                // Allowed only when the pinned task message alone is too large; this
                // generator's user messages are small, so it must not happen.
                prop_assert!(false, "history of small messages did not fit");
            }
        }
    }

    #[test]
    fn repair_is_idempotent_and_valid(history in prop::collection::vec(arb_message(), 1..30)) {
        let (fixed, _) = repair(history);
        if fixed.iter().any(|m| !matches!(m, Message::System { .. })) {
            prop_assert_eq!(validate(&fixed), Ok(()));
            let (again, repairs) = validate::repair_all(fixed.clone());
            prop_assert_eq!(again, fixed);
            prop_assert!(repairs.is_empty());
        }
    }

    /// `repair` returns a history already in shape as it is; the full repair must agree,
    /// also for the near misses the shortcut has to refuse (a second system message, an
    /// empty text beside tool calls).
    #[test]
    fn the_shortcut_for_histories_in_shape_changes_nothing(
        history in prop::collection::vec(arb_message(), 1..30),
        second_system in any::<bool>(),
        empty_text in any::<bool>(),
    ) {
        let (mut history, _) = validate::repair_all(history);
        if second_system {
            history.insert(0, Message::system("more rules"));
        }
        if empty_text
            && let Some(Message::Assistant { content, .. }) = history
                .iter_mut()
                .find(|m| matches!(m, Message::Assistant { tool_calls, .. } if !tool_calls.is_empty()))
        {
            *content = Some("".into());
        }
        prop_assert_eq!(repair(history.clone()), validate::repair_all(history));
    }
}

/// An OpenAI model's counter starts without its table; a request whose estimate fits but
/// whose exact count does not (CJK text, which the characters-per-token estimate
/// undercounts about threefold) must be caught by the bound and fitted by the exact count.
#[test]
fn a_request_near_the_window_fits_by_the_exact_count() {
    let assembler = ContextAssembler::new("gpt-4", Some(3000), 200)
        .with_counter(TokenCounter::with_private_table(Tokenizer::Cl100k));
    // ~3,400 tokens exactly, ~1,400 by the estimate: only exact counts see it does not fit.
    let output = "数据处理结果正常，没有发现错误。".repeat(30);
    let history = task_with_tool_turns("总结这些结果。", 10, &output);
    let out = assembler.assemble("", &history, &no_tools()).unwrap();
    let exact = TokenCounter::for_model("gpt-4");
    exact.wait_until_exact();
    assert!(exact.count_messages(&out.messages) <= assembler.available_input());
    assert!(out.shrunk_outputs + out.dropped_messages > 0, "{out:?}");
    assert!(!assembler.counter().is_provisional());
}

/// Far from the window the exact count changes nothing: an OpenAI model's request is
/// assembled from the estimate, and the 45 MB table is never asked for.
#[test]
fn a_request_far_from_the_window_leaves_the_table_unloaded() {
    let assembler = ContextAssembler::new("gpt-4o", None, 4096)
        .with_counter(TokenCounter::with_private_table(Tokenizer::O200k));
    let history = task_with_tool_turns("Add the numbers.", 20, "{\"result\": 42}");
    let out = assembler
        .assemble("Be brief.", &history, &no_tools())
        .unwrap();
    assert_eq!(
        out.estimated_tokens,
        assembler.counter().count_messages(&out.messages)
    );
    assert!(assembler.counter().is_provisional());
    assert!(!assembler.counter().table_requested());
    assert_eq!(
        assembler.compaction_range("Be brief.", &history, &no_tools(), 0.8, 2),
        None
    );
    assert!(!assembler.counter().table_requested());
}

/// Past half the window (by the bound) the table starts loading in the background, before
/// an exact count is needed.
#[test]
fn a_request_past_half_the_window_starts_loading_the_table() {
    let assembler = ContextAssembler::new("gpt-4o", Some(8000), 1000)
        .with_counter(TokenCounter::with_private_table(Tokenizer::O200k));
    let history = task_with_tool_turns("Summarise.", 4, &"word ".repeat(200));
    let out = assembler.assemble("", &history, &no_tools()).unwrap();
    assert_eq!((out.shrunk_outputs, out.dropped_messages), (0, 0));
    assert!(assembler.counter().table_requested());
}
