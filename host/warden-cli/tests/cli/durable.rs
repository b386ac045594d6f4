//! Durable runs through the binary: sessions across processes, `warden runs`, and runs
//! killed with SIGKILL at each crash point (`WARDEN_FAILPOINT`) then resumed.

use std::os::unix::process::ExitStatusExt;

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, calc_tool, messages, text};

fn script() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("first answer"),
        Turn::text("second answer"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_continues_its_history_in_a_new_process() {
    let fx = Fixture::new(script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let agent = agent.to_str().unwrap();
    let first = fx
        .run(&["run", "--session", "s1", agent, "what is 6*7?"])
        .await;
    assert_code(&first, 0);
    assert_eq!(text(&first.stdout), "first answer\n");
    let second = fx
        .run(&["run", "--session", "s1", agent, "what did I ask?"])
        .await;
    assert_code(&second, 0);
    assert_eq!(text(&second.stdout), "second answer\n");
    let history = messages(&fx.requests()[2]);
    let users: Vec<&str> = (history.iter())
        .filter(|(role, _)| role == "user")
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(users.first(), Some(&"what is 6*7?"), "{history:?}");
    assert_eq!(users.last(), Some(&"what did I ask?"), "{history:?}");
    let list = fx.run(&["runs", "list"]).await;
    assert_eq!(text(&list.stdout).lines().count(), 1, "one run per session");
    assert!(
        text(&list.stdout).contains("[s1]"),
        "{}",
        text(&list.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_show_and_prune_a_recorded_run() {
    let fx = Fixture::new(script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    assert_code(
        &fx.run(&["run", agent.to_str().unwrap(), "what is 6*7?"])
            .await,
        0,
    );
    let list = fx.run(&["runs", "list"]).await;
    assert_code(&list, 0);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("finished") && listed.contains("cli"),
        "{listed}"
    );
    let show = fx.run(&["runs", "show", "last"]).await;
    assert_code(&show, 0);
    let shown = text(&show.stdout);
    // The tree `warden trace` draws: the model calls, the tool call under the first.
    assert!(shown.contains("chat #1 turn"), "{shown}");
    assert!(shown.contains("tool_calls"), "{shown}");
    assert!(shown.contains("│  └─ calc "), "{shown}");
    assert!(shown.contains("chat #2 turn"), "{shown}");
    assert!(shown.contains("answer: first answer"), "{shown}");
    let resume = fx.run(&["runs", "resume", "last"]).await;
    assert_code(&resume, 1);
    assert!(
        text(&resume.stderr).contains("is finished"),
        "{}",
        text(&resume.stderr)
    );
    let prune = fx.run(&["runs", "prune", "--keep", "0"]).await;
    assert_code(&prune, 0);
    assert!(
        text(&prune.stderr).contains("removed 1 run"),
        "{}",
        text(&prune.stderr)
    );
    let gone = fx.run(&["runs", "show", "last"]).await;
    assert_code(&gone, 1);
    assert!(
        text(&gone.stderr).contains("no run `last`"),
        "{}",
        text(&gone.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_each_crash_point_resumes_to_the_same_answer() {
    let points = [
        "before_tool:1",
        "after_tool:1",
        "after_checkpoint:1",
        "after_checkpoint:2",
        "after_checkpoint:3",
    ];
    for point in points {
        let fx = Fixture::new(script()).await;
        let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
        let mut cmd = fx.command(&["run", agent.to_str().unwrap(), "what is 6*7?"]);
        let killed = cmd.env("WARDEN_FAILPOINT", point).output().await.unwrap();
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: {}",
            text(&killed.stderr)
        );
        let resumed = fx.run(&["runs", "resume", "last"]).await;
        assert_code(&resumed, 0);
        assert_eq!(text(&resumed.stdout), "first answer\n", "{point}");
        let requests = fx.requests();
        let last = messages(requests.last().unwrap());
        let results: Vec<&str> = (last.iter())
            .filter(|(role, _)| role == "tool")
            .map(|(_, text)| text.as_str())
            .collect();
        assert_eq!(
            results.len(),
            1,
            "{point}: one tool result per call: {last:?}"
        );
        let result = results[0];
        // A call journaled as started without a recorded result is not repeated (calc is
        // not declared idempotent): the model is told its outcome is unknown.
        if point.ends_with("tool:1") {
            assert!(result.contains("interrupted"), "{point}: {last:?}");
        } else {
            assert!(result.contains("42"), "{point}: {last:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_trace_draws_a_recorded_run_by_id_or_last() {
    let fx = Fixture::new(script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let run = fx
        .run(&["run", agent.to_str().unwrap(), "what is 6*7?"])
        .await;
    assert_code(&run, 0);
    let traced = fx.run(&["trace", "last"]).await;
    assert_code(&traced, 0);
    let tree = text(&traced.stdout);
    assert!(tree.starts_with("run "), "{tree}");
    assert!(tree.contains("│  └─ calc "), "{tree}");
    assert!(tree.contains("chat #2 turn"), "{tree}");
    let unknown = fx.run(&["trace", "no-such-run"]).await;
    assert_code(&unknown, 1);
    assert!(
        text(&unknown.stderr).contains("an events file"),
        "{}",
        text(&unknown.stderr)
    );
}
