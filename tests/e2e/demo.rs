//! `warden demo`'s logic end to end: the scripted model drives the real fs, text, calc and
//! http components; the report must show what the demo promises.

use warden_core::budget::BudgetResource;
use warden_core::events::RunEvent;

use warden_e2e::sandbox::executor;

#[tokio::test]
async fn demo_runs_parallel_calls_recovers_from_refusals_and_is_forced_to_answer() {
    let mut events = Vec::new();
    let report = warden_cli::demo::run(executor(), |e| events.push(e.clone()))
        .await
        .unwrap();

    // Parallel: the four files were read in one turn, all in flight together.
    assert!(report.max_parallel >= 4, "{report:#?}");
    assert!(report.parallel_turns >= 2, "{report:#?}");

    // Refused by the sandbox: the file outside the grant (by the fs tool) and the web host
    // (by the host's egress policy: no allowed host, so no DNS lookup or connection).
    // The two calls ran concurrently, so they may finish in either order.
    let mut refused = report.refused.clone();
    refused.sort_by(|a, b| a.tool.cmp(&b.tool));
    let kinds: Vec<(&str, &str)> = refused
        .iter()
        .map(|r| (r.tool.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fs_read", "tool_failed"),
            ("http_fetch", "capability_denied")
        ],
        "{report:#?}"
    );
    assert!(
        refused[0]
            .message
            .contains("outside every directory granted")
    );
    assert!(
        refused[1]
            .message
            .contains("HTTP to wiki.lighthouse.example was denied"),
        "{report:#?}"
    );
    assert!(report.recovered());

    // The budget stop and the forced answer, built from the real tool results.
    assert_eq!(
        report.budget_stop().map(|(r, _, limit)| (r, limit)),
        Some((
            BudgetResource::ToolCalls,
            f64::from(warden_cli::demo::MAX_TOOL_CALLS)
        ))
    );
    assert!(report.result.forced);
    let answer = &report.result.output.as_ref().unwrap().text;
    assert!(answer.contains("Open action items (5)"), "{answer}");
    assert!(
        answer.contains("12 + 6 + 4.5 + 3 + 2.5 = 28 hours"),
        "{answer}"
    );
    assert!(
        answer.contains("Triage the flaky login test (owner: chloe)"),
        "{answer}"
    );

    // The sandbox measured every call.
    assert_eq!(report.tool_calls, warden_cli::demo::MAX_TOOL_CALLS);
    assert!(report.fuel > 0 && report.peak_memory > 0);
    assert!(matches!(
        events.last(),
        Some(RunEvent::RunFinished { forced: true, .. })
    ));
}

/// The second scene: triage calls the estimator as a tool (its calc call runs sandboxed,
/// nested under `triage › estimator`), then hands off to the writer, which answers.
#[tokio::test]
async fn demo_team_scene_shows_an_agent_tool_and_a_handoff() {
    let mut events = Vec::new();
    let result = warden_cli::demo::run_team_scene(executor(), |e| events.push(e.clone()))
        .await
        .unwrap();
    assert_eq!(result.stop_reason, warden_core::run::StopReason::Completed);
    assert!(result.output.unwrap().text.contains("16 hours"));
    let calc = events.iter().find_map(|e| match e {
        RunEvent::Nested { path, event, .. } => match event.as_ref() {
            RunEvent::ToolCallFinished {
                name, ok, preview, ..
            } if name == "calc" => Some((path.clone(), *ok, preview.clone())),
            _ => None,
        },
        _ => None,
    });
    let (path, ok, preview) = calc.expect("no nested calc call");
    assert_eq!(path, ["triage", "estimator"]);
    assert!(ok);
    // The figure the scripted agents write is what the sandboxed tool returned.
    assert!(preview.contains("\"text\":\"16\""), "{preview}");
    let handoffs: Vec<(&str, &str)> = (events.iter())
        .filter_map(|e| match e {
            RunEvent::Handoff { from, to, .. } => Some((from.as_str(), to.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(handoffs, [("triage", "writer")]);
}
