//! Approval set outside the agent file's own tool entry: in the operator's policy file
//! (`[defaults]` or `[tools.<name>]`, the stricter of it and the agent file wins), and per
//! tool of an installed pack (`[[tools]] pack = … tools.<name>.approval`).

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, calc_tool, messages, text};

fn script() -> Vec<Turn> {
    vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("The answer is 42."),
    ]
}

/// Runs `agent` and asserts it paused before `calc`, nothing sent after the pause.
async fn assert_paused(fx: &Fixture, agent: &std::path::Path) {
    let out = fx
        .run(&["run", agent.to_str().unwrap(), "what is 6*7?"])
        .await;
    assert_code(&out, 4);
    let err = text(&out.stderr);
    assert!(err.contains("approval needed: calc"), "{err}");
    assert_eq!(fx.requests().len(), 1, "nothing after the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_file_section_requires_approval_the_agent_file_does_not_ask_for() {
    let fx = Fixture::new(script()).await;
    let policy = fx.dir.path().join("policy.toml");
    std::fs::write(&policy, "[tools.calc]\napproval = \"always\"\n").unwrap();
    let agent = fx.agent(&format!(
        "{}{}approval = \"never\"\npolicy = {:?}\n",
        fx.openai(),
        calc_tool(),
        policy
    ));
    assert_paused(&fx, &agent).await;
    let out = fx.run(&["runs", "approve", "last"]).await;
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "The answer is 42.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_defaults_apply_to_every_tool_and_a_bad_value_is_refused_by_key() {
    let fx = Fixture::new(script()).await;
    let policy = fx.dir.path().join("policy.toml");
    std::fs::write(&policy, "[defaults]\napproval = \"first\"\n").unwrap();
    let agent = fx.agent(&format!(
        "{}{}policy = {:?}\n",
        fx.openai(),
        calc_tool(),
        policy
    ));
    assert_paused(&fx, &agent).await;

    std::fs::write(&policy, "[defaults]\napproval = \"sometimes\"\n").unwrap();
    let out = fx.run(&["run", agent.to_str().unwrap(), "again"]).await;
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("sometimes"), "{err}");
    assert!(err.contains("approval"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tool_of_an_installed_pack_needs_approval_and_a_rejection_reaches_the_model() {
    let fx = Fixture::new(script()).await;
    crate::pack::install_calc(&fx).await;
    let agent = fx.agent(&format!(
        "{}[[tools]]\npack = \"calc@^1\"\ntools.calc.approval = \"always\"\n",
        fx.openai()
    ));
    assert_paused(&fx, &agent).await;
    let out = fx
        .run(&["runs", "reject", "last", "--reason", "use your head"])
        .await;
    assert_code(&out, 0);
    let requests = fx.requests();
    let results: Vec<String> = (messages(requests.last().unwrap()).into_iter())
        .filter(|(role, _)| role == "tool")
        .map(|(_, text)| text)
        .collect();
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("use your head"), "{results:?}");
    assert!(
        !results[0].contains("42"),
        "the call did not run: {results:?}"
    );
}
