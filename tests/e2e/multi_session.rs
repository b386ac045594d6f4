//! Handoffs in durable sessions over real HTTP, in both wire formats: the agent handed to in
//! one turn answers the next — after the store is re-opened and the team rebuilt, as a new
//! process would — with its own tools and grants, never the entry agent's.

use std::path::Path;
use std::sync::Arc;

use mock_llm::{MockHandle, Turn};
use warden::store::{SqliteStore, Store};
use warden::{Handoff, RunHandle, Runner, StopReason, Team};
use warden_llm::ProviderKind;

use crate::agent_support::calls;
use crate::multi_support::{agent, each_format, finished, runner, script, with_fs};

each_format!(a_session_goes_on_with_the_agent_it_was_handed_to_and_its_grants);

/// Triage (reads `/a`) hands off to billing (reads `/b`); each on its own mock.
async fn team(kind: ProviderKind, (a, b): (&MockHandle, &MockHandle), dirs: &Path) -> Team {
    let triage = with_fs(
        agent("triage", "You route.", kind, a),
        &dirs.join("a"),
        "/a",
    )
    .await;
    let triage = triage
        .with_handoff(Handoff::to("billing", "files"))
        .unwrap();
    let billing = with_fs(
        agent("billing", "You bill.", kind, b),
        &dirs.join("b"),
        "/b",
    )
    .await;
    Team::builder(triage).agent(billing).build().unwrap()
}

fn store(dirs: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dirs.join("runs.db")).unwrap())
}

fn session_runner(team: &Team, dirs: &Path) -> Runner {
    runner(team.entry())
        .with_team(team.clone())
        .with_store(store(dirs))
}

async fn a_session_goes_on_with_the_agent_it_was_handed_to_and_its_grants(kind: ProviderKind) {
    let dirs = tempfile::tempdir().unwrap();
    for (dir, file) in [("a", "a.txt"), ("b", "b.txt")] {
        std::fs::create_dir_all(dirs.path().join(dir)).unwrap();
        std::fs::write(dirs.path().join(dir).join(file), format!("secret-{dir}")).unwrap();
    }
    let read = |path: &str| calls(&[("fs_read", &format!(r#"{{"path":"{path}"}}"#))]);
    let a = script(vec![Turn::call(
        "transfer_to_billing",
        r#"{"reason":"files"}"#,
    )])
    .await;
    // Billing's turns count the assistant messages it is handed (the transfer call first).
    let b = script(vec![
        Turn::text("unused"),
        Turn::text("Which file?"),
        read("/b/b.txt"),
        read("/a/a.txt"),
        Turn::text("done"),
    ])
    .await;
    let handle = RunHandle::new();
    let first = {
        let team = team(kind, (&a, &b), dirs.path()).await;
        let runner = session_runner(&team, dirs.path());
        let turn = runner.run_session(team.entry(), "desk", "help", &handle, |_| {});
        turn.await.unwrap()
    };
    let answer = first.result.unwrap().output.map(|o| o.text);
    assert_eq!(answer.as_deref(), Some("Which file?"));
    // A new process: the team built again, the store opened again.
    let team = team(kind, (&a, &b), dirs.path()).await;
    let runner = session_runner(&team, dirs.path());
    let mut events = Vec::new();
    let second = runner
        .run_session(team.entry(), "desk", "read both", &handle, |e| {
            events.push(e)
        })
        .await
        .unwrap();
    assert_eq!(second.run_id, first.run_id);
    let result = second.result.unwrap();
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.output.map(|o| o.text).as_deref(), Some("done"));
    let oks: Vec<bool> = finished(&events, "fs_read").iter().map(|f| f.0).collect();
    // Billing's own /b yes; triage's /a no: its grant stayed with triage.
    assert_eq!(oks, vec![true, false], "{events:?}");
    assert_eq!(
        a.stats().requests,
        1,
        "triage is not asked in the second turn"
    );
}
