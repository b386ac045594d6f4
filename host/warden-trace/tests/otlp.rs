//! The OTLP path end to end: a scripted run with real sandboxed tool calls, traced by a
//! `TraceRecorder`, exported by `OtlpExporter` to a collector on loopback that decodes the
//! real protobuf; and the ways a collector can fail, none of which may cost the run.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "../src/testing.rs"]
mod receiver;

use std::sync::Arc;
use std::time::Duration;

use receiver::proto::tonic::common::v1::any_value::Value;
use receiver::proto::tonic::trace::v1::Span as ProtoSpan;
use warden::testing::{ScriptedLlm, ScriptedModel};
use warden::{
    Agent, EngineConfig, Executor, LoopConfig, RunHandle, Runner, StopReason, ToolPolicy,
};
use warden_trace::{ExportConfig, OtlpExporter, Redactor, TraceOptions, TraceRecorder, keys};

/// This test binary serves as the sandbox's compiler child, as the `warden` binary does.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SERVE_COMPILER_CHILD: extern "C" fn() = {
    extern "C" fn serve() {
        warden::run_compiler_child_if_requested();
    }
    serve
};

const RUN_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const KEY: &str = "test-key-7f3a9c21e4b8d605";

/// Runs a scripted agent (two `calc` calls, then an answer) with `recorder` observing.
async fn scripted_run(recorder: &mut TraceRecorder) -> warden::RunResult {
    let executor = Executor::new(EngineConfig::default()).unwrap();
    let model = Arc::new(ScriptedLlm::new([
        ScriptedModel::calls(&[
            ("call_1", "calc", r#"{"expression":"17 * 23"}"#),
            ("call_2", "calc", r#"{"expression":"1 / 0"}"#),
        ]),
        ScriptedModel::text("17 × 23 = 391."),
    ]));
    let calc = warden::builtin::load_named(&executor, "calc")
        .await
        .unwrap();
    let agent = Agent::new(LoopConfig::new("gpt-4o-mini"))
        .with_tools(calc, ToolPolicy::default())
        .unwrap();
    let task = format!("What is 17 * 23? (my key is {KEY})");
    Runner::new(model, executor)
        .run_with(&agent, task, &RunHandle::new(), |event| {
            recorder.observe(&event)
        })
        .await
        .unwrap()
}

fn attr<'a>(span: &'a ProtoSpan, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr<'a>(span: &'a ProtoSpan, key: &str) -> &'a str {
    match attr(span, key) {
        Some(Value::StringValue(s)) => s,
        other => panic!("{}: {key} is {other:?}", span.name),
    }
}

fn int_attr(span: &ProtoSpan, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::IntValue(i)) => *i,
        other => panic!("{}: {key} is {other:?}", span.name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_run_reaches_the_collector_as_a_span_tree_with_genai_attributes() {
    let collector = receiver::Collector::start().await;
    let mut config = ExportConfig::new(collector.url());
    config.delay = Duration::from_millis(20);
    let exporter = OtlpExporter::start(config).unwrap();
    let options = TraceOptions {
        capture_content: true,
        redactor: Redactor::new().with_secret(KEY),
    };
    let mut recorder = TraceRecorder::new(RUN_ID, options).exporting_to(&exporter);
    let result = scripted_run(&mut recorder).await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    let kept = recorder.finish();
    let report = exporter.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        (report.exported, report.dropped, report.failed),
        (5, 0, 0),
        "{report:?}"
    );

    let requests = collector.requests();
    assert!(!requests.is_empty());
    for raw in collector.raw_bodies() {
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains(KEY), "the key reached the collector");
    }
    let resource = requests[0].resource_spans[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .unwrap();
    assert!(
        matches!(&service.value.as_ref().unwrap().value, Some(Value::StringValue(s)) if s == "warden")
    );
    let spans: Vec<ProtoSpan> = requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .inspect(|ss| assert_eq!(ss.scope.as_ref().unwrap().name, "warden"))
        .flat_map(|ss| ss.spans.clone())
        .collect();
    assert_eq!(spans.len(), 5);
    let ops: Vec<&str> = spans
        .iter()
        .map(|s| str_attr(s, keys::OPERATION_NAME))
        .collect();
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    assert_eq!(
        (count("invoke_agent"), count("chat"), count("execute_tool")),
        (1, 2, 2)
    );

    let run = spans
        .iter()
        .find(|s| str_attr(s, keys::OPERATION_NAME) == "invoke_agent")
        .unwrap();
    assert!(run.parent_span_id.is_empty(), "the run's span is the root");
    assert_eq!(hex(&run.trace_id), RUN_ID, "the trace id is the run id");
    for span in spans.iter().filter(|s| s.span_id != run.span_id) {
        assert_eq!(
            span.parent_span_id, run.span_id,
            "{} is a child of the run",
            span.name
        );
        assert_eq!(span.trace_id, run.trace_id);
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
    assert_eq!(run.name, "invoke_agent agent");
    assert_eq!(str_attr(run, keys::AGENT_NAME), "agent");
    assert_eq!(str_attr(run, keys::PROVIDER_NAME), "scripted");
    assert_eq!(str_attr(run, keys::STOP_REASON), "completed");
    assert_eq!(int_attr(run, keys::TOOL_CALLS), 2);
    let input = str_attr(run, keys::INPUT_MESSAGES);
    assert!(
        input.contains("What is 17 * 23?") && input.contains("[REDACTED]"),
        "{input}"
    );

    let mut chats: Vec<&ProtoSpan> = spans
        .iter()
        .filter(|s| str_attr(s, keys::OPERATION_NAME) == "chat")
        .collect();
    chats.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(chats[0].name, "chat gpt-4o-mini");
    assert_eq!(chats[0].kind, 3, "a model call is a client span");
    assert_eq!(str_attr(chats[0], keys::REQUEST_MODEL), "gpt-4o-mini");
    assert!(int_attr(chats[0], keys::USAGE_INPUT_TOKENS) > 0);
    match attr(chats[0], keys::RESPONSE_FINISH_REASONS) {
        Some(Value::ArrayValue(list)) => {
            assert!(
                matches!(&list.values[0].value, Some(Value::StringValue(s)) if s == "tool_calls")
            );
        }
        other => panic!("finish reasons: {other:?}"),
    }

    let mut tools: Vec<&ProtoSpan> = spans
        .iter()
        .filter(|s| str_attr(s, keys::OPERATION_NAME) == "execute_tool")
        .collect();
    tools.sort_by_key(|s| str_attr(s, keys::TOOL_CALL_ID).to_owned());
    assert_eq!(tools[0].name, "execute_tool calc");
    assert_eq!(str_attr(tools[0], keys::TOOL_NAME), "calc");
    assert_eq!(str_attr(tools[0], keys::TOOL_CALL_ID), "call_1");
    assert!(
        int_attr(tools[0], keys::FUEL) > 0,
        "the sandbox's fuel is recorded"
    );
    assert!(int_attr(tools[0], keys::PEAK_MEMORY) > 0);
    assert!(str_attr(tools[0], keys::TOOL_CALL_RESULT).contains("391"));
    assert_eq!(tools[0].status.as_ref().map_or(0, |s| s.code), 0, "unset");
    assert_eq!(
        tools[1].status.as_ref().unwrap().code,
        2,
        "1 / 0 fails: an error status"
    );
    assert!(attr(tools[1], keys::ERROR_TYPE).is_some());

    // What the collector got is what the recorder kept (the store's copy), ids included.
    let mut exported: Vec<String> = spans.iter().map(|s| hex(&s.span_id)).collect();
    let mut local: Vec<String> = kept.iter().map(|s| s.span_id.clone()).collect();
    exported.sort();
    local.sort();
    assert_eq!(exported, local);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_a_failed_export_not_the_run() {
    let port = receiver::closed_port();
    let exporter = OtlpExporter::start(ExportConfig::new(format!(
        "http://127.0.0.1:{port}/v1/traces"
    )))
    .unwrap();
    let mut recorder = TraceRecorder::new(RUN_ID, TraceOptions::default()).exporting_to(&exporter);
    let result = scripted_run(&mut recorder).await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    let report = exporter.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.exported, 0);
    assert_eq!(report.failed, 5, "{report:?}");
    assert!(report.last_error.is_some());
}

#[tokio::test]
async fn a_collector_that_never_answers_is_given_up_on_after_the_timeout() {
    let hanging = receiver::Hanging::start().await;
    let mut config = ExportConfig::new(hanging.url());
    config.timeout = Duration::from_millis(200);
    config.delay = Duration::from_millis(1);
    let exporter = OtlpExporter::start(config).unwrap();
    let mut recorder = TraceRecorder::new(RUN_ID, TraceOptions::default()).exporting_to(&exporter);
    let result = scripted_run(&mut recorder).await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    let report = exporter.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.exported, 0);
    assert_eq!(report.failed, 5, "{report:?}");
    assert!(
        hanging.connections() > 0,
        "the exporter did reach the collector"
    );
}

#[tokio::test]
async fn a_full_queue_drops_spans_instead_of_waiting() {
    let hanging = receiver::Hanging::start().await;
    let mut config = ExportConfig::new(hanging.url());
    config.max_queue = 2;
    config.max_batch = 1;
    config.timeout = Duration::from_millis(100);
    let exporter = OtlpExporter::start(config).unwrap();
    let sender = exporter.sender();
    let records = warden_trace::read_events(include_str!("fixtures/run.jsonl").as_bytes()).unwrap();
    let spans = warden_trace::SpanBuilder::build(&records, TraceOptions::default());
    // On this current-thread runtime the export task does not run during the loop: two
    // spans fit the queue, the rest are dropped without waiting.
    for _ in 0..2 {
        for span in &spans {
            sender.send(span.clone());
        }
    }
    let report = exporter.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.dropped, 2 * spans.len() as u64 - 2, "{report:?}");
    assert_eq!(report.failed, 2);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
