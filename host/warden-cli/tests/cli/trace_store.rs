//! Spans are not stored: `warden trace <id>` and `warden runs show <id>` rebuild them from
//! the run's stored events, whose ids are derived from the run id and each span's place
//! (see `warden_trace::span`). So the rebuilt trace must equal the one exported live.

use std::collections::BTreeSet;

use warden::store::{SqliteStore, Store};
use warden_trace::testing::Collector;
use warden_trace::{SpanBuilder, TraceOptions};

use crate::support::{Fixture, assert_code, calc_tool, multiply_script, text};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` with every `<n> ms` figure replaced by `_ ms`.
fn masked(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let next_is_ms = words.get(i + 1).is_some_and(|w| w.starts_with("ms"));
        let number = word
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit());
        out.push(if next_is_ms && number && !word.is_empty() {
            "_"
        } else {
            word
        });
    }
    out.join(" ")
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

    // The tree drawn from the store is the tree drawn from the live `--json` stream, but
    // for timings: the store's events and the stream's are stamped by two clocks reads
    // apart (a millisecond may differ), so times are compared masked.
    let events = fx.dir.path().join("events.jsonl");
    std::fs::write(&events, &out.stdout).unwrap();
    let live = fx.run(&["trace", events.to_str().unwrap()]).await;
    let stored = fx.run(&["trace", "last"]).await;
    assert_code(&stored, 0);
    assert_eq!(masked(&text(&stored.stdout)), masked(&text(&live.stdout)));
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
