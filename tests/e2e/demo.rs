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
