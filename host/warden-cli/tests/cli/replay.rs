//! `warden replay`: a recorded run re-run offline matches its record; with `--live-tools`
//! a tool that now answers differently is reported at its step, with exit code 1.

use mock_llm::Turn;

use crate::support::{Fixture, assert_code, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_matches_until_a_live_tool_answers_differently() {
    let fx = Fixture::new(vec![
        Turn::call("fs_read", r#"{"path":"/data/note.txt"}"#),
        Turn::text("the note says hello"),
    ])
    .await;
    let data = fx.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("note.txt"), "hello").unwrap();
    let agent = fx.agent(&format!(
        "{}[[tools]]\ncomponent = \"builtin:fs\"\npolicy = {{ defaults = {{ dirs = [{{ host = {:?}, guest = \"/data\", mode = \"ro\" }}] }} }}\n",
        fx.openai(),
        data.to_str().unwrap()
    ));
    assert_code(
        &fx.run(&["run", agent.to_str().unwrap(), "read the note"])
            .await,
        0,
    );
    let requests = fx.requests().len();
    let same = fx.run(&["replay", "last"]).await;
    assert_code(&same, 0);
    assert!(
        text(&same.stderr).contains("matches the record"),
        "{}",
        text(&same.stderr)
    );
    let live = fx.run(&["replay", "last", "--live-tools"]).await;
    assert_code(&live, 0);
    std::fs::write(data.join("note.txt"), "goodbye").unwrap();
    let changed = fx.run(&["replay", "last", "--live-tools"]).await;
    assert_code(&changed, 1);
    let err = text(&changed.stderr);
    assert!(err.contains("replay diverges at step 0"), "{err}");
    assert!(err.contains("goodbye"), "{err}");
    // The recorded tool results still replay cleanly; no replay called the model.
    assert_code(&fx.run(&["replay", "last"]).await, 0);
    assert_eq!(fx.requests().len(), requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_demo_scenes_are_recorded_and_replay_right_after_it() {
    let fx = Fixture::new(vec![]).await;
    let demo = fx.run(&["demo"]).await;
    assert_code(&demo, 0);
    let shown = text(&demo.stderr);
    assert!(shown.contains("1 message passed on"), "{shown}");
    // The last run is the second scene: the team, its handoff and the writer's answer.
    let show = fx.run(&["runs", "show", "last"]).await;
    assert_code(&show, 0);
    let out = text(&show.stdout);
    assert!(out.contains("agent triage"), "{out}");
    assert!(out.contains("answer: Note for the project lead"), "{out}");
    let replay = fx.run(&["replay", "last"]).await;
    assert_code(&replay, 0);
    assert!(
        text(&replay.stderr).contains("matches the record"),
        "{}",
        text(&replay.stderr)
    );
    let live = fx.run(&["replay", "last", "--live-tools"]).await;
    assert_code(&live, 1);
    assert!(text(&live.stderr).contains("replay it without the flag"));
    // The first scene is recorded before it, and replays with its tools live.
    let list = text(&fx.run(&["runs", "list"]).await.stdout);
    let first = (list.lines())
        .find(|l| l.contains("notes-analyst"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{list}"))
        .to_owned();
    let show = fx.run(&["runs", "show", &first]).await;
    assert!(text(&show.stdout).contains("agent notes-analyst"));
    assert_code(&fx.run(&["replay", &first]).await, 0);
    assert_code(&fx.run(&["replay", &first, "--live-tools"]).await, 0);
}
