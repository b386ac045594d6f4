//! `warden run` names the active agent: on stderr when the run starts, and on every
//! `--json` event as `agent`.

use serde_json::Value;

use crate::support::{Fixture, assert_code, calc_tool, multiply_json_run, multiply_script, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_agent_is_shown_and_carried_by_every_json_event() {
    let (_fx, out) = multiply_json_run().await;
    let events: Vec<Value> = (text(&out.stdout).lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let name = events[0]["agent"].as_str().unwrap().to_owned();
    assert!(!name.is_empty());
    assert!(
        events.iter().all(|e| e["agent"] == name.as_str()),
        "{events:?}"
    );

    let fx = Fixture::new(multiply_script()).await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let out = fx
        .run(&["run", agent.to_str().unwrap(), "What is 6*7?"])
        .await;
    assert_code(&out, 0);
    let err = text(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("agent {name} ("))),
        "{err}"
    );
}
