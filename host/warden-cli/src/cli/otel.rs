//! OpenTelemetry export for `run`, `chat` and `demo`: on when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off (and free) otherwise. See
//! `warden_trace` for what is recorded and the variables honoured.
//!
//! Invariant: tracing never changes a command's outcome. A bad setting or a collector that is
//! down is a warning (through the log, so `--json` keeps stderr empty); the wait for the last
//! export at the end is bounded by [`SHUTDOWN`].

use std::time::Duration;

use warden_core::events::{RunEvent, new_run_id};
use warden_core::report::error_chain;
use warden_trace::{OtlpExporter, TraceOptions, TraceRecorder};

/// Longest the command waits at its end for spans still being exported.
const SHUTDOWN: Duration = Duration::from_secs(5);

/// The trace of one command's run (or chat session), when export is on.
pub(super) struct Traces {
    on: Option<(TraceRecorder, OtlpExporter)>,
}

impl Traces {
    /// Starts export if the environment asks for it. `run_id`: the id `--json` stamps
    /// events with, so the trace and the events match; a new one otherwise.
    pub(super) fn start(run_id: Option<String>) -> Self {
        let exporter = match OtlpExporter::from_env() {
            Ok(Some(exporter)) => exporter,
            Ok(None) => return Traces { on: None },
            Err(e) => {
                tracing::warn!("trace export is off: {}", error_chain(&e));
                return Traces { on: None };
            }
        };
        let recorder =
            TraceRecorder::new(run_id.unwrap_or_else(new_run_id), TraceOptions::from_env())
                .exporting_to(&exporter);
        Traces {
            on: Some((recorder, exporter)),
        }
    }

    /// Takes one event of the run.
    pub(super) fn observe(&mut self, event: &RunEvent) {
        if let Some((recorder, _)) = &mut self.on {
            recorder.observe(event);
        }
    }

    /// Ends the trace and waits (at most [`SHUTDOWN`]) for its last spans to be sent.
    pub(super) async fn finish(self) {
        let Some((recorder, exporter)) = self.on else {
            return;
        };
        let endpoint = exporter.endpoint().to_owned();
        drop(recorder.finish());
        let report = exporter.shutdown(SHUTDOWN).await;
        // A failed export was already reported as it happened; drops were not.
        if report.dropped > 0 {
            tracing::warn!(
                "{} spans were dropped (the export queue to {endpoint} was full)",
                report.dropped
            );
        }
        tracing::debug!(
            "trace export to {endpoint}: {} spans sent, {} failed",
            report.exported,
            report.failed
        );
    }
}

/// Whether the user turned message content on for traces
/// (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`): the runner then emits each
/// model call's messages, and the spans carry them.
pub(super) fn capture_content() -> bool {
    TraceOptions::from_env().capture_content
}
