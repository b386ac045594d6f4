//! `trace-bench`: what tracing costs per model call, side by side in one run: export off (no
//! recorder), spans built but not exported, and spans exported over OTLP/HTTP to a collector
//! on loopback (in this process, decoding the protobuf: its work is counted too, so the
//! export figure is an upper bound). The events replayed are those of a model call followed
//! by its sandboxed tool call, ten per run, stamped as a run stamps them.
//!
//! `cargo run --release -p warden-trace --features testing --bin trace-bench [-- CALLS REPEATS]`
//! prints one JSON object: medians over the repeats (the first is a warm-up) of the wall time
//! per model call in microseconds, on the observing thread and until the last span is sent.

use std::time::{Duration, Instant};

use warden_core::events::{EventRecord, RunEvent};
use warden_trace::testing::Collector;
use warden_trace::{ExportConfig, OtlpExporter, TraceOptions, TraceRecorder, read_events};

/// One run of ten model calls, each followed by one tool call.
fn run_events() -> Vec<RunEvent> {
    let records: Vec<EventRecord> =
        read_events(include_str!("../../tests/fixtures/run.jsonl").as_bytes()).unwrap_or_default();
    let event = |i: usize| records[i].event.clone();
    let (start, request, delta, response, started, finished, end) = (
        event(0),
        event(1),
        event(3),
        event(4),
        event(6),
        event(8),
        event(records.len() - 1),
    );
    let mut events = vec![start];
    for _ in 0..10 {
        events.extend([
            request.clone(),
            delta.clone(),
            response.clone(),
            started.clone(),
            finished.clone(),
        ]);
    }
    events.push(end);
    events
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Build,
    Export,
}

/// The default export settings but a queue that holds every span: replayed as fast as a
/// loop can go (no model to wait for), runs outpace the exporter, and the default queue
/// (2048) drops spans, as it is meant to; the bench measures what exporting all of them costs.
fn unbounded(url: &str) -> ExportConfig {
    let mut config = ExportConfig::new(url);
    config.max_queue = 1 << 22;
    config
}

/// Microseconds per model call: (observing, until the last span was sent).
async fn measure(mode: Mode, events: &[RunEvent], runs: usize, url: &str) -> (f64, f64) {
    let exporter = (mode == Mode::Export)
        .then(|| OtlpExporter::start(unbounded(url)).ok())
        .flatten();
    let start = Instant::now();
    for run in 0..runs {
        let mut recorder = (mode != Mode::Off).then(|| {
            let recorder = TraceRecorder::new(format!("{run:032x}"), TraceOptions::default());
            match &exporter {
                Some(exporter) => recorder.exporting_to(exporter),
                None => recorder,
            }
        });
        for event in events {
            match &mut recorder {
                Some(recorder) => recorder.observe(event),
                None => {
                    std::hint::black_box(event);
                }
            }
        }
        std::hint::black_box(recorder.map(TraceRecorder::finish));
    }
    let observing = start.elapsed();
    if let Some(exporter) = exporter {
        let report = exporter.shutdown(Duration::from_secs(60)).await;
        assert_eq!(report.failed + report.dropped, 0, "{report:?}");
    }
    let total = start.elapsed();
    let calls = (runs * 10) as f64;
    (
        observing.as_secs_f64() * 1e6 / calls,
        total.as_secs_f64() * 1e6 / calls,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let collector = Collector::start().await;
        let events = run_events();
        let runs = calls.div_ceil(10);
        let mut figures = [(Mode::Off, vec![], vec![]), (Mode::Build, vec![], vec![]), (Mode::Export, vec![], vec![])];
        for repeat in 0..=repeats {
            // Interleaved, so every mode sees the same machine.
            for (mode, observing, total) in &mut figures {
                let (o, t) = measure(*mode, &events, runs, &collector.url()).await;
                if repeat > 0 {
                    observing.push(o);
                    total.push(t);
                }
            }
        }
        let [(_, off_o, off_t), (_, build_o, build_t), (_, export_o, export_t)] = figures;
        let spans: usize = collector.requests().iter().flat_map(|r| &r.resource_spans).flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        println!(
            "{{\"model_calls_per_measure\":{},\"repeats\":{repeats},\"us_per_model_call\":{{\"off\":{{\"observing\":{:.3},\"until_sent\":{:.3}}},\"spans_built\":{{\"observing\":{:.3},\"until_sent\":{:.3}}},\"exported\":{{\"observing\":{:.3},\"until_sent\":{:.3}}}}},\"spans_received\":{spans}}}",
            runs * 10,
            median(off_o), median(off_t), median(build_o), median(build_t), median(export_o), median(export_t),
        );
    });
}
