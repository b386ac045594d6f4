//! The readable tree, against golden files: a recorded run's events (as `warden run --json`
//! writes them) drawn as text. Set `UPDATE_GOLDEN=1` to rewrite the expected files after a
//! deliberate change, then review the diff.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;

use warden_trace::{read_events_file, render_tree};

fn check(events: &str, golden: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let records = read_events_file(&dir.join(events)).unwrap();
    let rendered = render_tree(&records);
    let path = dir.join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(rendered, expected, "rendered tree differs from {golden}");
}

#[test]
fn a_run_with_tool_calls_a_denial_a_retry_and_a_compaction() {
    check("run.jsonl", "run.tree");
}

#[test]
fn a_run_without_a_price_says_cost_is_unknown_and_a_cut_log_shows_what_was_open() {
    check("unpriced_cut.jsonl", "unpriced_cut.tree");
}

#[test]
fn a_team_run_draws_the_nested_agent_under_its_call_and_the_handoff_as_an_agent() {
    check("team.jsonl", "team.tree");
}
