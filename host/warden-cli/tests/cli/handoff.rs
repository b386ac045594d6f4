//! Handoffs across processes: an agent file that hands off to another agent file, run as a
//! session over two `warden run`s, and killed (SIGKILL) at each checkpoint around its
//! handoff then resumed with `warden runs resume`: the agent handed to carries on.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use mock_llm::{RecordedRequest, Turn};

use crate::support::{Fixture, assert_code, messages, text};

/// `triage.toml` (hands off to `billing.toml`) and `billing.toml`, both at the mock.
fn agents(fx: &Fixture) -> PathBuf {
    let dir = fx.agent("").parent().unwrap().to_path_buf();
    let triage = format!(
        "name = \"triage\"\ninstructions = \"You route.\"\n\
         handoffs = [{{ agent = \"billing.toml\", description = \"Refunds\" }}]\n{}",
        fx.openai()
    );
    let billing = format!(
        "name = \"billing\"\ninstructions = \"You are billing.\"\n{}",
        fx.openai()
    );
    std::fs::write(dir.join("triage.toml"), triage).unwrap();
    std::fs::write(dir.join("billing.toml"), billing).unwrap();
    dir.join("triage.toml")
}

/// The system prompt and tool names of a request.
fn seen_by(request: &RecordedRequest) -> (String, Vec<String>) {
    let system = messages(request)
        .first()
        .map(|m| m.1.clone())
        .unwrap_or_default();
    let tools = (request.body["tools"].as_array().into_iter().flatten())
        .filter_map(|t| t["function"]["name"].as_str().map(String::from))
        .collect();
    (system, tools)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_handed_off_continues_with_the_target_in_the_next_process() {
    let fx = Fixture::new(vec![
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
        Turn::text("Which order?"),
        Turn::text("Refunded order 7."),
    ])
    .await;
    let triage = agents(&fx);
    let triage = triage.to_str().unwrap();
    let first = fx
        .run(&["run", triage, "--session", "desk", "refund please"])
        .await;
    assert_code(&first, 0);
    assert!(text(&first.stdout).contains("Which order?"));
    let second = fx
        .run(&["run", triage, "--session", "desk", "order 7"])
        .await;
    assert_code(&second, 0);
    assert!(text(&second.stdout).contains("Refunded order 7."));
    let requests = fx.requests();
    assert_eq!(requests.len(), 3, "triage once, billing twice");
    let (system, tools) = seen_by(&requests[2]);
    assert_eq!(system, "You are billing.");
    assert!(
        tools.is_empty(),
        "billing's tools, not triage's handoff: {tools:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_around_its_handoff_resumes_with_the_target() {
    // Checkpoints: 1 start, 2 triage's response, 3 the handoff call's result and 4 triage's
    // end (the run stays `running`: the handoff is pending, so resuming makes it), 5 the
    // switch to billing (resuming goes on with billing). The 6th is billing's answer.
    for point in 1..=5 {
        let fx = Fixture::new(vec![
            Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
            Turn::text("Refunded."),
        ])
        .await;
        let triage = agents(&fx);
        let killed = fx
            .command(&["run", triage.to_str().unwrap(), "refund please"])
            .env("WARDEN_FAILPOINT", format!("after_checkpoint:{point}"))
            .output()
            .await
            .unwrap();
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: {}",
            text(&killed.stderr)
        );
        let stored = text(&fx.run(&["runs", "list"]).await.stdout);
        assert!(stored.contains("running"), "{point}: {stored}");
        let resumed = fx.run(&["runs", "resume", "last"]).await;
        assert_code(&resumed, 0);
        assert!(text(&resumed.stdout).contains("Refunded."), "{point}");
        let mut requests = fx.requests();
        if point >= 2 {
            // Triage's response was stored: it is not asked again.
            assert_eq!(requests.len(), 2, "{point}");
        }
        let last = requests.pop().unwrap();
        assert_eq!(seen_by(&last).0, "You are billing.", "{point}");
        let show = text(&fx.run(&["runs", "show", "last"]).await.stdout);
        assert!(show.contains("finished"), "{point}: {show}");
    }
}
