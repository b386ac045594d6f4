//! `warden chat`: one user turn per line of stdin, the history carried from turn to turn.

use mock_llm::Turn;

use crate::support::{
    Fixture, assert_code, calc_tool, chat, hello, messages, no_escape_codes, text,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_answers_each_line_and_carries_the_history() {
    // The mock picks its turn by the number of assistant messages in the history, so the
    // second user turn gets "second answer" only if the first turn's history was sent.
    let turns = vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("first answer"),
        Turn::text("second answer"),
    ];
    let fx = Fixture::new(turns).await;
    let agent = fx.agent(&format!("{}{}", fx.anthropic(), calc_tool()));
    let input = "what is 6*7?\nwhat did I ask?\n/exit\nnot sent\n";
    let out = chat(&fx, &agent, input).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "first answer\nsecond answer\n");
    let err = text(&out.stderr);
    assert!(err.contains("calc"), "{err}");
    no_escape_codes(&out);

    let requests = fx.requests();
    assert_eq!(requests.len(), 3, "/exit ends the session");
    let second_turn = messages(&requests[2]);
    let roles: Vec<&str> = second_turn.iter().map(|(r, _)| r.as_str()).collect();
    // user, assistant (tool call), user (tool result), assistant, user.
    assert_eq!(
        roles,
        ["user", "assistant", "user", "assistant", "user"],
        "{second_turn:?}"
    );
    assert_eq!(second_turn[0].1, "what is 6*7?");
    assert!(second_turn[2].1.contains("42"), "{second_turn:?}");
    assert!(second_turn[3].1.contains("first answer"), "{second_turn:?}");
    assert!(
        second_turn[4].1.contains("what did I ask?"),
        "{second_turn:?}"
    );
    assert_eq!(fx.mock.stats().validation_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reports_a_failed_turn_and_goes_on() {
    let fx = Fixture::new(vec![Turn::text("recovered")]).await;
    // The first request is refused (not retried); the second is answered from the script.
    fx.mock.push_faults(["status:400".parse().unwrap()]);
    let agent = fx.agent(&fx.anthropic());
    let out = chat(&fx, &agent, "first\nsecond\n").await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "recovered\n");
    let err = text(&out.stderr);
    assert!(err.contains("model call failed"), "{err}");
    let requests = fx.requests();
    assert_eq!(requests.len(), 2);
    // Both user messages are in the history the mock accepted.
    let sent = requests[1].body["messages"].to_string();
    assert!(sent.contains("first") && sent.contains("second"), "{sent}");
    assert_eq!(fx.mock.stats().validation_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_refuses_a_bad_agent_file_before_reading_input() {
    let fx = Fixture::new(hello()).await;
    let agent = fx.agent(&format!("{}[budget]\nmax_turn = 2\n", fx.openai()));
    let out = chat(&fx, &agent, "hello\n").await;
    assert_code(&out, 1);
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("max_turn"));
    assert_eq!(fx.mock.stats().requests, 0);
}
