//! Turns the provider pauses (Anthropic `pause_turn`): continued with the partial answer
//! sent back as the last assistant message, joined into one answer, and bounded.
#![allow(clippy::unwrap_used)]

use super::pause::MAX_CONSECUTIVE_PAUSES;
use super::tests::{add_tool, assert_requests_valid, config, run_tool};
use super::*;
use crate::budget::{Budget, BudgetResource};
use crate::chat::{FinishReason, Message};
use crate::testing::{ScriptedModel, drive};

fn paused(text: &str) -> ChatResponse {
    ChatResponse {
        finish_reason: FinishReason::Paused,
        ..ScriptedModel::text(text)
    }
}

fn with_turns(max_turns: u32) -> LoopConfig {
    LoopConfig {
        budget: Budget {
            max_turns: Some(max_turns),
            ..Budget::default()
        },
        ..config()
    }
}

fn last_message(request: &ChatRequest) -> &Message {
    request.messages.last().unwrap()
}

#[test]
fn a_paused_turn_is_continued_from_its_partial_answer_and_joined() {
    let mut c = Controller::new(config(), vec![add_tool()], "Tell me.").unwrap();
    let mut model = ScriptedModel::new([
        paused("The answer is   \n"),
        paused(" forty"),
        ScriptedModel::text("-two."),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.unwrap().text, "The answer is forty-two.");
    assert_eq!(result.usage.model_calls, 3);
    // Each continuation sends the partial answer back, trailing whitespace trimmed (the
    // API refuses it), as the last message; the tools stay offered.
    let requests = model.requests();
    assert_eq!(
        last_message(&requests[1]),
        &Message::assistant_text("The answer is")
    );
    assert_eq!(
        last_message(&requests[2]),
        &Message::assistant_text("The answer is forty")
    );
    assert_eq!(requests[2].tools.len(), 1);
    assert_requests_valid(&model);
    // The history holds the whole answer once.
    let assistants: Vec<&Message> = (c.state().live().iter())
        .filter(|m| matches!(m, Message::Assistant { .. }))
        .collect();
    assert_eq!(
        assistants,
        [&Message::assistant_text("The answer is forty-two.")]
    );
}

#[test]
fn a_pause_without_text_asks_again_with_the_same_history() {
    let mut c = Controller::new(config(), vec![], "Tell me.").unwrap();
    let mut model = ScriptedModel::new([paused(""), ScriptedModel::text("Done.")]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.output.unwrap().text, "Done.");
    let requests = model.requests();
    assert_eq!(requests[0].messages, requests[1].messages);
}

#[test]
fn a_pause_followed_by_tool_calls_keeps_the_text_beside_the_calls() {
    let mut c = Controller::new(config(), vec![add_tool()], "1+2?").unwrap();
    let calls = ChatResponse {
        text: Some(" then I add.".into()),
        ..ScriptedModel::calls(&[("c1", "add", r#"{"a":1,"b":2}"#)])
    };
    let mut model = ScriptedModel::new([paused("Let me think"), calls, ScriptedModel::text("3")]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.tool_calls, 1);
    let third = &model.requests()[2];
    assert!(
        third.messages.iter().any(|m| matches!(m,
            Message::Assistant { content: Some(t), tool_calls } if &**t == "Let me think then I add." && tool_calls.len() == 1)),
        "{:?}",
        third.messages
    );
    assert_requests_valid(&model);
}

#[test]
fn a_server_that_keeps_pausing_ends_the_run() {
    let mut c = Controller::new(with_turns(100), vec![], "Tell me.").unwrap();
    let n = MAX_CONSECUTIVE_PAUSES as usize + 1;
    let mut model = ScriptedModel::new((0..n).map(|i| paused(&format!(" part{i}"))));
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(
        matches!(&result.stop_reason, StopReason::InvalidResponses { detail } if detail.contains("paused the turn 9 times in a row")),
        "{:?}",
        result.stop_reason
    );
    assert!(result.output.is_none(), "a paused answer is not final");
    assert_eq!(result.usage.model_calls, n as u32);
    // The partial answer is kept in the history, not lost.
    assert!(matches!(c.state().live().last(),
        Some(Message::Assistant { content: Some(t), .. }) if t.starts_with(" part0 part1") && t.ends_with("part8")));
}

#[test]
fn pauses_count_against_the_turn_budget() {
    let mut c = Controller::new(with_turns(3), vec![], "Tell me.").unwrap();
    let mut model = ScriptedModel::new([
        paused("a"),
        paused("b"),
        paused("c"),
        ScriptedModel::text("best guess"),
    ]);
    let result = drive(&mut c, &mut model, run_tool).unwrap();
    model.assert_all_used().unwrap();
    assert!(
        matches!(
            &result.stop_reason,
            StopReason::Budget {
                resource: BudgetResource::Turns,
                ..
            }
        ),
        "{:?}",
        result.stop_reason
    );
    assert!(result.forced);
    assert_eq!(result.output.unwrap().text, "best guess");
    // The forced call sees the partial answer in the history, then the budget note.
    let forced = model.requests().last().unwrap();
    let n = forced.messages.len();
    assert_eq!(forced.messages[n - 2], Message::assistant_text("abc"));
    assert!(matches!(&forced.messages[n - 1], Message::User { .. }));
    assert_requests_valid(&model);
}
