//! Human approval through the binary: a run whose tool needs approval, without a terminal,
//! ends paused (exit code 4); `warden runs approve|reject` in another process resumes it.

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, calc_tool, messages, text};

async fn paused_run() -> Fixture {
    let fx = Fixture::new(vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("first answer"),
    ])
    .await;
    let agent = fx.agent(&format!(
        "{}{}approval = \"always\"\n",
        fx.openai(),
        calc_tool()
    ));
    let out = fx
        .run(&["run", agent.to_str().unwrap(), "what is 6*7?"])
        .await;
    assert_code(&out, 4);
    let err = text(&out.stderr);
    assert!(err.contains("approval needed: calc"), "{err}");
    assert!(err.contains("warden runs approve"), "{err}");
    assert_eq!(fx.requests().len(), 1, "nothing after the pause");
    let list = text(&fx.run(&["runs", "list"]).await.stdout);
    assert!(list.contains("paused"), "{list}");
    fx
}

/// The tool results of the last request the model got.
fn results(fx: &Fixture) -> Vec<String> {
    let requests = fx.requests();
    (messages(requests.last().unwrap()).into_iter())
        .filter(|(role, _)| role == "tool")
        .map(|(_, text)| text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_from_another_process_runs_the_call() {
    let fx = paused_run().await;
    let out = fx.run(&["runs", "approve", "last"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "first answer\n");
    let results = results(&fx);
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("42"), "{results:?}");
    let again = fx.run(&["runs", "approve", "last"]).await;
    assert_code(&again, 1);
    assert!(
        text(&again.stderr).contains("not paused"),
        "{}",
        text(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_reaches_the_model_with_its_reason() {
    let fx = paused_run().await;
    let out = fx
        .run(&["runs", "reject", "last", "--reason", "not on a Sunday"])
        .await;
    assert_code(&out, 0);
    let results = results(&fx);
    assert_eq!(results.len(), 1);
    assert!(
        results[0].contains("rejected this call: not on a Sunday"),
        "{results:?}"
    );
    assert!(
        !results[0].contains("42"),
        "the call did not run: {results:?}"
    );
}
