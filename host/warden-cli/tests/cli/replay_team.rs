//! `warden replay` of runs started from a multi-agent file (`[agents.<name>]` tables): the
//! replay loads the file as `warden run` does and follows its handoffs; agents called as
//! tools answer from the recorded tool results, and `--live-tools` refuses such a team
//! (their own model calls are not recorded). A handoff cycle stopped by `max_handoffs` is
//! stored with its stop reason, shown, replayed, and finished for `runs resume`; resuming a
//! team run after a non-entry agent changed is refused naming it.

use std::path::PathBuf;

use mock_llm::Turn;

use crate::support::{Fixture, KEY_VAR, assert_code, text};

/// The inline `model` of an agent at the fixture's mock (OpenAI wire format).
fn model(fx: &Fixture) -> String {
    format!(
        "model = {{ provider = \"openai\", name = \"gpt-4o-mini\", base_url = \"{}\", api_key_env = \"{KEY_VAR}\" }}",
        fx.mock.openai_base_url()
    )
}

/// `team.toml`: its top lines, then one `[agents.<name>]` table per `(name, extra keys)`.
fn team_file(fx: &Fixture, top: &str, agents: &[(&str, &str)]) -> PathBuf {
    let mut text = format!("{top}\n");
    for (name, extra) in agents {
        text.push_str(&format!(
            "\n[agents.{name}]\ninstructions = \"You are {name}.\"\n{}\n{extra}\n",
            model(fx)
        ));
    }
    let path = fx.dir.path().join("team.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn hands_off_to(agent: &str) -> String {
    format!("handoffs = [{{ agent = \"{agent}\", description = \"Hand over\" }}]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_file_run_replays_through_its_handoff_with_and_without_live_tools() {
    let fx = Fixture::new(vec![
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
        Turn::text("Refunded order 7."),
    ])
    .await;
    let to_billing = hands_off_to("billing");
    let team = team_file(
        &fx,
        "entry = \"triage\"",
        &[("triage", &to_billing), ("billing", "")],
    );
    let run = fx
        .run(&["run", team.to_str().unwrap(), "refund order 7"])
        .await;
    assert_code(&run, 0);
    assert!(text(&run.stdout).contains("Refunded order 7."));
    for args in [&["replay", "last"][..], &["replay", "last", "--live-tools"]] {
        let replay = fx.run(args).await;
        assert_code(&replay, 0);
        let err = text(&replay.stderr);
        assert!(err.contains("replay matches the record"), "{args:?}: {err}");
    }
    assert_eq!(fx.requests().len(), 2, "no replay called the model");
    // The team file changed: triage no longer hands off, so the recorded call is refused.
    team_file(
        &fx,
        "entry = \"triage\"",
        &[("triage", ""), ("billing", "")],
    );
    let changed = fx.run(&["replay", "last"]).await;
    assert_code(&changed, 1);
    let err = text(&changed.stderr);
    assert!(err.contains("replay diverges at step 0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_whose_agent_calls_another_as_a_tool_replays_from_the_recorded_answer() {
    let fx = Fixture::new(vec![
        Turn::call("researcher", r#"{"input":"refund policy?"}"#),
        Turn::text("Refunds within 30 days."),
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
        Turn::text("Refunded order 7."),
    ])
    .await;
    let triage = format!(
        "{}\nagent_tools = [{{ agent = \"researcher\", description = \"Knows the policies\" }}]",
        hands_off_to("billing")
    );
    let team = team_file(
        &fx,
        "entry = \"triage\"",
        &[("triage", &triage), ("researcher", ""), ("billing", "")],
    );
    let run = fx
        .run(&["run", team.to_str().unwrap(), "refund order 7"])
        .await;
    assert_code(&run, 0);
    let replay = fx.run(&["replay", "last"]).await;
    assert_code(&replay, 0);
    assert!(text(&replay.stderr).contains("replay matches the record"));
    let live = fx.run(&["replay", "last", "--live-tools"]).await;
    assert_ne!(live.status.code(), Some(0));
    let err = text(&live.stderr);
    assert!(err.contains("--live-tools cannot replay"), "{err}");
    assert!(err.contains("not recorded"), "{err}");
    assert_eq!(fx.requests().len(), 4, "no replay called the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_cycle_stopped_by_the_limit_is_shown_replayed_and_finished() {
    let fx = Fixture::new(vec![
        Turn::call("transfer_to_billing", r#"{"reason":"a refund"}"#),
        Turn::call("transfer_to_triage", r#"{"reason":"not mine"}"#),
    ])
    .await;
    let (to_billing, to_triage) = (hands_off_to("billing"), hands_off_to("triage"));
    let team = team_file(
        &fx,
        "entry = \"triage\"\nmax_handoffs = 1",
        &[("triage", &to_billing), ("billing", &to_triage)],
    );
    let run = fx
        .run(&["run", team.to_str().unwrap(), "refund order 7"])
        .await;
    // A handoff loop ends like a budget (exit code 3).
    assert_code(&run, 3);
    let show = fx.run(&["runs", "show", "last"]).await;
    assert_code(&show, 0);
    let out = text(&show.stdout);
    assert!(out.contains("finished"), "{out}");
    assert!(
        out.contains("stopped: handoff limit (1) reached: `billing` asked to hand off to `triage`"),
        "{out}"
    );
    let replay = fx.run(&["replay", "last"]).await;
    assert_code(&replay, 0);
    assert!(text(&replay.stderr).contains("replay matches the record"));
    let resume = fx.run(&["runs", "resume", "last"]).await;
    assert_ne!(resume.status.code(), Some(0));
    let err = text(&resume.stderr);
    assert!(err.contains("is finished"), "{err}");
    assert!(err.contains("nothing to resume"), "{err}");
    assert_eq!(
        fx.requests().len(),
        2,
        "neither replay nor resume called the model"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_a_team_run_after_another_agent_changed_is_refused_naming_it() {
    // Killed at its first checkpoint, before triage's model is asked.
    let fx = Fixture::new(vec![Turn::text("Routed.")]).await;
    let to_billing = hands_off_to("billing");
    let agents = [("triage", to_billing.as_str()), ("billing", "")];
    let team = team_file(&fx, "entry = \"triage\"", &agents);
    let killed = fx
        .command(&["run", team.to_str().unwrap(), "refund order 7"])
        .env("WARDEN_FAILPOINT", "after_checkpoint:1")
        .output()
        .await
        .unwrap();
    assert_ne!(killed.status.code(), Some(0), "{}", text(&killed.stderr));
    // Billing, never run so far, gets other instructions.
    let changed = std::fs::read_to_string(&team)
        .unwrap()
        .replace("You are billing.", "You refund everything.");
    std::fs::write(&team, changed).unwrap();
    let refused = fx.run(&["runs", "resume", "last"]).await;
    assert_ne!(refused.status.code(), Some(0));
    let err = text(&refused.stderr);
    assert!(err.contains("agent `billing`"), "{err}");
    assert!(!err.contains("agent `triage`"), "{err}");
    assert!(err.contains("--accept-agent-change"), "{err}");
    assert!(fx.requests().is_empty(), "refused before any model call");
    let accepted = fx
        .run(&["runs", "resume", "last", "--accept-agent-change"])
        .await;
    assert_code(&accepted, 0);
    assert!(text(&accepted.stdout).contains("Routed."));
}
