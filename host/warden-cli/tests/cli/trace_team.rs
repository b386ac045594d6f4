//! Traces of a run with several agents: a triage agent calls a researcher as a tool (which
//! calls a librarian as a tool of its own), then hands the run to a billing agent. The run
//! is real (the library's team runner on scripted models), traced live to a collector on
//! loopback that decodes the real protobuf, and its events are written to the run store
//! the way a recorded run's are; `warden trace last` and `warden runs show last` then draw
//! the same tree from the store. (A durable `warden run` drives one agent today: a handoff
//! there only ends the turn, so the events are stored through the store's own API.)

use std::sync::Arc;
use std::time::Duration;

use warden::store::{CheckpointWrite, NewRun, RunCheckpoint, RunStatus, SqliteStore, Store};
use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{
    Agent, AgentTool, EngineConfig, Executor, Handoff, LoopConfig, RunEvent, RunHandle, Runner,
    Team,
};
use warden_core::controller::Controller;
use warden_core::events::{EventRecord, EventStamper, new_run_id};
use warden_trace::testing::Collector;
use warden_trace::testing::proto::tonic::common::v1::any_value::Value;
use warden_trace::testing::proto::tonic::trace::v1::Span;
use warden_trace::{ExportConfig, OtlpExporter, SpanBuilder, TraceOptions, TraceRecorder};

use crate::support::{Fixture, assert_code, text};

fn agent(name: &str, script: Vec<warden_core::chat::ChatResponse>) -> Agent {
    let mut config = LoopConfig::new(format!("{name}-model"));
    config.agent_name = name.into();
    Agent::new(config).with_model(Arc::new(ScriptedLlm::new(script)))
}

fn team() -> Team {
    let librarian = agent("librarian", vec![ScriptedModel::text("Policy 7: 30 days.")]);
    let researcher = agent(
        "researcher",
        vec![
            ScriptedModel::calls(&[("res_1", "librarian", r#"{"input":"refund policy"}"#)]),
            ScriptedModel::text("Refunds within 30 days."),
        ],
    )
    .with_agent_tool(AgentTool::new(librarian, "Finds policies"))
    .unwrap();
    let billing = agent("billing", vec![ScriptedModel::text("Refunded.")]);
    let triage = agent(
        "triage",
        vec![
            ScriptedModel::calls(&[("tri_1", "researcher", r#"{"input":"refund policy?"}"#)]),
            ScriptedModel::calls(&[("tri_2", "transfer_to_billing", r#"{"reason":"a refund"}"#)]),
        ],
    )
    .with_agent_tool(AgentTool::new(researcher, "Knows the policies"))
    .unwrap()
    .with_handoff(Handoff::to("billing", "Refunds"))
    .unwrap();
    Team::builder(triage).agent(billing).build().unwrap()
}

/// Runs `team` on `input`, traced live to `collector`, and checks it answers `answer`;
/// returns its stamped events. Bounded: a run that waits on itself (a gated model whose
/// gate never opens) fails the test instead of hanging it.
pub(crate) async fn traced_run(
    run_id: &str,
    collector: &Collector,
    team: Team,
    input: &str,
    answer: &str,
) -> Vec<EventRecord> {
    let mut config = ExportConfig::new(collector.url());
    config.delay = Duration::from_millis(20);
    let exporter = OtlpExporter::start(config).unwrap();
    let mut recorder = TraceRecorder::new(run_id, TraceOptions::default()).exporting_to(&exporter);
    let mut stamper = EventStamper::new(run_id);
    let mut records = Vec::new();
    let executor = Executor::new(EngineConfig::default()).unwrap();
    let runner = Runner::new(Arc::new(ScriptedLlm::new([])), executor).with_team(team.clone());
    let handle = RunHandle::new();
    let run = runner.run_with(team.entry(), input, &handle, |event| {
        let record = stamper.record(event);
        recorder.observe_record(&record);
        records.push(record);
    });
    let result = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run did not end within 60 s")
        .unwrap();
    assert_eq!(result.output.unwrap().text, answer);
    drop(recorder.finish());
    let report = exporter.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.dropped, report.failed), (0, 0), "{report:?}");
    records
}

/// Writes `records` to the store at `db` as one finished run of `input` (text deltas left out, as a
/// recorded run's are).
pub(crate) async fn store_run(
    db: &std::path::Path,
    run_id: &str,
    input: &str,
    records: Vec<EventRecord>,
) {
    let store = SqliteStore::open(db).unwrap();
    let config = LoopConfig::new("triage-model");
    let controller = Controller::new(config, Vec::new(), input).unwrap();
    let summary = warden::store::AgentSummary {
        digest: "team".into(),
        name: "triage".into(),
        tools: Vec::new(),
        budget: Default::default(),
        file: None,
        guardrails: Vec::new(),
    };
    let checkpoint = RunCheckpoint::new(summary, controller.snapshot());
    let run = NewRun {
        run_id: run_id.into(),
        session: None,
        input: input.into(),
        checkpoint: checkpoint.clone(),
    };
    let lease = store.create_run(run).await.unwrap();
    let events = (records.into_iter())
        .filter(|r| !matches!(r.event, RunEvent::TextDelta { .. }))
        .collect();
    let write = CheckpointWrite {
        checkpoint,
        status: RunStatus::Finished,
        events,
        responses: Vec::new(),
        tails: None,
    };
    store.checkpoint(&lease, write).await.unwrap();
}

pub(crate) fn spans(collector: &Collector) -> Vec<Span> {
    (collector.requests().iter())
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found = spans.iter().find(|s| s.name == name);
    found.unwrap_or_else(|| panic!("no span {name}"))
}

fn path(span: &Span) -> Vec<String> {
    let value = (span.attributes.iter())
        .find(|kv| kv.key == warden_trace::keys::AGENT_PATH)
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    match value {
        Some(Value::ArrayValue(list)) => (list.values.into_iter())
            .filter_map(|v| match v.value {
                Some(Value::StringValue(s)) => Some(s),
                _ => None,
            })
            .collect(),
        other => panic!("{}: agent path is {other:?}", span.name),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_agents_and_a_handoff_show_in_the_export_the_store_and_trace_last() {
    let fx = Fixture::new(Vec::new()).await;
    let collector = Collector::start().await;
    let run_id = new_run_id();
    let records = traced_run(&run_id, &collector, team(), "I want a refund", "Refunded.").await;

    // The export: researcher under triage's call, librarian under researcher's call,
    // billing under the run after the handoff event.
    let exported = spans(&collector);
    let run = named(&exported, "invoke_agent triage");
    let call = named(&exported, "execute_tool researcher");
    let researcher = named(&exported, "invoke_agent researcher");
    let deeper = named(&exported, "execute_tool librarian");
    let librarian = named(&exported, "invoke_agent librarian");
    let billing = named(&exported, "invoke_agent billing");
    assert!(run.parent_span_id.is_empty());
    assert_eq!(call.parent_span_id, run.span_id);
    assert_eq!(researcher.parent_span_id, call.span_id);
    assert_eq!(deeper.parent_span_id, researcher.span_id);
    assert_eq!(librarian.parent_span_id, deeper.span_id);
    assert_eq!(billing.parent_span_id, run.span_id);
    assert_eq!(path(researcher), ["triage", "researcher"]);
    assert_eq!(path(librarian), ["triage", "researcher", "librarian"]);
    let chats = |parent: &Span| {
        (exported.iter())
            .filter(|s| s.parent_span_id == parent.span_id && s.name.starts_with("chat "))
            .count()
    };
    assert_eq!(
        (chats(researcher), chats(librarian), chats(billing)),
        (2, 1, 1)
    );
    assert!(
        run.events.iter().any(|e| e.name == "warden.handoff"),
        "{:?}",
        run.events
    );

    // The store keeps the events; the spans rebuilt from them are the exported ones.
    let db = fx.dir.path().join("data/runs.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    store_run(&db, &run_id, "I want a refund", records).await;
    let store = SqliteStore::open(&db).unwrap();
    let stored = store.events(&run_id).await.unwrap();
    let rebuilt: std::collections::BTreeSet<(String, String, String)> =
        (SpanBuilder::build(&stored, TraceOptions::default()).into_iter())
            .map(|s| (s.span_id, s.parent_span_id.unwrap_or_default(), s.name))
            .collect();
    let live: std::collections::BTreeSet<(String, String, String)> = (exported.iter())
        .map(|s| (hex(&s.span_id), hex(&s.parent_span_id), s.name.clone()))
        .collect();
    assert_eq!(rebuilt, live);

    // `warden trace last` and `warden runs show last` draw the tree from the store.
    for args in [["trace", "last"], ["runs", "show"]] {
        let mut args = args.to_vec();
        if args[0] == "runs" {
            args.push("last");
        }
        let out = fx.run(&args).await;
        assert_code(&out, 0);
        let tree = text(&out.stdout);
        let at = |needle: &str| {
            (tree.lines())
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{args:?}: no `{needle}` in\n{tree}"))
        };
        let nested = at("agent researcher (triage › researcher)");
        let deepest = at("agent librarian (triage › researcher › librarian)");
        let handoff = at("handoff triage → billing: a refund");
        let handed = at("agent billing  handed over by triage");
        assert!(at("researcher tri_1") < nested && nested < at("librarian res_1"));
        assert!(at("librarian res_1") < deepest && deepest < handoff && handoff < handed);
        // Totals cover every agent: triage 2 calls, researcher 2, librarian 1, billing 1.
        assert!(tree.contains("total  6 model calls"), "{tree}");
    }
}
