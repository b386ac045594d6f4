//! Spans are not stored: `warden trace <id>` and `warden runs show <id>` rebuild them from
//! the run's stored events, whose ids are derived from the run id and each span's place
//! (see `warden_trace::span`). So the rebuilt trace must equal the one exported live.

use std::collections::BTreeSet;

use warden::store::{SqliteStore, Store};
use warden_trace::testing::Collector;
use warden_trace::{SpanBuilder, TraceOptions};

use crate::support::{Fixture, assert_code, calc_tool, multiply_json_run, multiply_script, text};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_rebuilt_from_the_store_equals_the_live_one() {
    let fx = Fixture::new(multiply_script()).await;
    let collector = Collector::start().await;
    let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
    let mut cmd = fx.command(&["run", "--json", agent.to_str().unwrap(), "What is 6*7?"]);
    cmd.env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url());
    let out = cmd.output().await.unwrap();
    assert_code(&out, 0);

    // The tree drawn from the store is the tree drawn from the live `--json` stream,
    // timings included: each event is stamped once (see `at_event_time`).
    let events = fx.dir.path().join("events.jsonl");
    std::fs::write(&events, &out.stdout).unwrap();
    let live = fx.run(&["trace", events.to_str().unwrap()]).await;
    let stored = fx.run(&["trace", "last"]).await;
    assert_code(&stored, 0);
    assert_eq!(text(&stored.stdout), text(&live.stdout));
    assert!(
        text(&stored.stdout).contains("calc call_"),
        "{}",
        text(&stored.stdout)
    );

    // The spans rebuilt from the stored events are the spans exported while it ran: same
    // ids, parents and names.
    let exported: BTreeSet<(String, String, String)> = (collector.requests().iter())
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| (hex(&s.span_id), hex(&s.parent_span_id), s.name.clone()))
        .collect();
    let store = SqliteStore::open(fx.dir.path().join("data/runs.db")).unwrap();
    let run_id = store.resolve("last").await.unwrap();
    let records = store.events(&run_id).await.unwrap();
    let rebuilt: BTreeSet<(String, String, String)> =
        (SpanBuilder::build(&records, TraceOptions::default()).into_iter())
            .map(|s| (s.span_id, s.parent_span_id.unwrap_or_default(), s.name))
            .collect();
    assert_eq!(
        exported.len(),
        4,
        "run, two chats, one tool call: {exported:?}"
    );
    assert_eq!(rebuilt, exported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_events_equal_the_json_lines_field_by_field_timestamps_included() {
    let (fx, out) = multiply_json_run().await;
    let shown = fx.run(&["runs", "show", "last", "--json"]).await;
    assert_code(&shown, 0);
    let parse = |bytes: &[u8]| -> Vec<serde_json::Map<String, serde_json::Value>> {
        (text(bytes).lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let stored = parse(&shown.stdout);
    // The stream has text deltas (not stored) and may have log lines: the events alike.
    let types: BTreeSet<&str> = stored.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let streamed: Vec<_> = (parse(&out.stdout).into_iter())
        .filter(|e| types.contains(e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(streamed.len(), stored.len(), "{stored:?}");
    assert!(
        stored.len() >= 6,
        "run, two calls, a tool call, the end: {stored:?}"
    );
    let mut durations = 0;
    for (line, record) in streamed.iter().zip(&stored) {
        for (key, value) in record {
            assert_eq!(line.get(key), Some(value), "`{key}` differs in {record:?}");
        }
        // The stream adds only the active agent.
        let extra: Vec<&String> = line.keys().filter(|k| !record.contains_key(*k)).collect();
        assert!(extra.iter().all(|k| *k == "agent"), "{extra:?}");
        durations += usize::from(
            record
                .get("usage")
                .is_some_and(|u| u.get("wall_ms").is_some()),
        );
    }
    assert!(durations >= 1, "a tool call's wall time was compared");
}
