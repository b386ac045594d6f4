//! warden's traces: OpenTelemetry spans for a run, each model call and each tool call,
//! built from the run's stamped events; exported over OTLP/HTTP when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; drawn as a readable tree.
//!
//! ```text
//! RunEvent ─▶ EventRecord ─▶ SpanBuilder ─▶ Span (plain data: kept with a run, rebuilt alike)
//!                                             ├─▶ otel::to_span_data ─▶ OtlpExporter ─▶ collector
//!                                             └─▶ render_tree ─▶ text for a person
//! ```
//!
//! Spans follow the OpenTelemetry GenAI semantic conventions (`invoke_agent`, `chat`,
//! `execute_tool`; [`keys`] lists every attribute) plus `warden.*` attributes for what only
//! warden knows: fuel, wall time, peak memory, bytes in and out, HTTP requests, denials,
//! retries and rate-limit waits, compaction. Message content is recorded only when asked
//! ([`TraceOptions::capture_content`], or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`);
//! keys are redacted from every recorded text ([`Redactor`]).
//!
//! A program traces a run by putting a [`TraceRecorder`] in its event callback:
//!
//! ```rust,no_run
//! # async fn demo(runner: warden::Runner, agent: warden::Agent) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use warden_core::events::new_run_id;
//! use warden_trace::{OtlpExporter, TraceOptions, TraceRecorder};
//!
//! let exporter = OtlpExporter::from_env()?; // None unless OTEL_EXPORTER_OTLP_ENDPOINT is set
//! let mut recorder = TraceRecorder::new(new_run_id(), TraceOptions::from_env());
//! if let Some(exporter) = &exporter {
//!     recorder = recorder.exporting_to(exporter);
//! }
//! let handle = warden::RunHandle::new();
//! runner.run_with(&agent, "task", &handle, |event| recorder.observe(&event)).await?;
//! let spans = recorder.finish();
//! if let Some(exporter) = exporter {
//!     let report = exporter.shutdown(Duration::from_secs(5)).await;
//!     eprintln!("{} spans exported", report.exported);
//! }
//! # let _ = spans; Ok(()) }
//! ```

#![deny(missing_docs)]

mod builder;
pub mod export;
pub mod keys;
pub mod otel;
mod read;
mod recorder;
mod redact;
mod render;
mod span;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(test)]
mod tests_trusted;

pub use builder::{CAPTURE_CONTENT_ENV, MAX_CONTENT_CHARS, SpanBuilder, TraceOptions};
pub use export::{ExportConfig, ExportError, ExportReport, OtlpExporter, SpanSender};
pub use read::{
    MAX_FILE_BYTES, MAX_LINE_BYTES, MAX_RECORDS, ReadError, read_events, read_events_file,
};
pub use recorder::TraceRecorder;
pub use redact::{REDACTED, Redactor};
pub use render::{render_spans, render_tree};
pub use span::{
    AttrValue, Attributes, Span, SpanEvent, SpanKind, SpanStatus, span_id_for, trace_id_for,
};
