//! The terminal approval prompt through a real pseudo-terminal: `warden run` with a tool
//! marked `approval = "always"` asks on the terminal; the person's `y` runs the call and
//! the run goes on, a reason rejects it and reaches the model as the call's result, a bare
//! `n` rejects it without one.

use mock_llm::Turn;

use crate::pty::{Mode, Pty};
use crate::support::{Fixture, calc_tool, messages};

const PROMPT: &str = "approve? [y/N";

/// A fixture whose model calls `calc` once, then answers; an agent that asks first.
async fn asking() -> (Fixture, std::path::PathBuf) {
    let fx = Fixture::new(vec![
        Turn::call("calc", r#"{"expression":"6*7"}"#),
        Turn::text("The model is done."),
    ])
    .await;
    let agent = fx.agent(&format!(
        "{}{}approval = \"always\"\n",
        fx.openai(),
        calc_tool()
    ));
    (fx, agent)
}

/// Runs the agent in a terminal, answers the prompt with `answer`; the exit code and the
/// tool results the model got next.
fn answer_with(fx: &Fixture, agent: &std::path::Path, answer: &str) -> (u32, Vec<String>) {
    let mut pty = Pty::spawn(fx, Mode::NoColor, &["run", agent.to_str().unwrap(), "6*7?"]);
    pty.wait_for("the approval prompt", |s| s.contains(PROMPT));
    let screen = pty.screen();
    assert!(screen.contains("approval needed: calc"), "{screen}");
    assert_eq!(fx.requests().len(), 1, "the run waits while it asks");
    pty.send(&format!("{answer}\r"));
    let code = pty.exit_code();
    let screen = pty.screen();
    assert!(screen.contains("The model is done."), "{screen}");
    let requests = fx.requests();
    assert_eq!(requests.len(), 2, "{screen}");
    let results = (messages(requests.last().unwrap()).into_iter())
        .filter(|(role, _)| role == "tool")
        .map(|(_, text)| text)
        .collect();
    (code, results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_at_the_terminal_prompt_runs_the_call_and_the_run_goes_on() {
    let (fx, agent) = asking().await;
    let (code, results) = answer_with(&fx, &agent, "y");
    assert_eq!(code, 0);
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("42"), "the call ran: {results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reason_at_the_terminal_prompt_rejects_the_call_and_the_model_reads_it() {
    let (fx, agent) = asking().await;
    let (code, results) = answer_with(&fx, &agent, "not on a Sunday");
    assert_eq!(code, 0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_at_the_terminal_prompt_rejects_the_call_without_a_reason() {
    let (fx, agent) = asking().await;
    let (code, results) = answer_with(&fx, &agent, "n");
    assert_eq!(code, 0);
    assert_eq!(results.len(), 1);
    assert!(results[0].contains("rejected"), "{results:?}");
    assert!(
        !results[0].contains("42"),
        "the call did not run: {results:?}"
    );
}
