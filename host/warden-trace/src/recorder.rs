//! [`TraceRecorder`]: the observer a program puts in a run's event callback to trace it.
//!
//! ```text
//! let mut recorder = TraceRecorder::new(new_run_id(), TraceOptions::from_env());
//! if let Some(exporter) = &exporter { recorder = recorder.exporting_to(exporter); }
//! runner.run_with(&agent, task, &handle, |event| recorder.observe(&event)).await?;
//! let spans = recorder.finish();   // also what a store keeps with the run
//! ```
//!
//! Invariant: observing does no IO and never blocks: spans go to the exporter's bounded
//! queue as each ends; the recorder keeps every span it built (a run's spans are bounded by
//! its budgets: turns, tool calls).

use warden_core::events::{EventRecord, EventStamper, RunEvent};

use crate::builder::{SpanBuilder, TraceOptions};
use crate::export::{OtlpExporter, SpanSender};
use crate::span::Span;

/// Builds a run's spans from its events as they happen. See the module docs.
#[derive(Debug)]
pub struct TraceRecorder {
    stamper: EventStamper,
    builder: SpanBuilder,
    sender: Option<SpanSender>,
    spans: Vec<Span>,
}

impl TraceRecorder {
    /// A recorder for the run `run_id` (its trace id; see [`crate::trace_id_for`]).
    pub fn new(run_id: impl Into<String>, options: TraceOptions) -> Self {
        let run_id = run_id.into();
        TraceRecorder {
            builder: SpanBuilder::new(run_id.clone(), options),
            stamper: EventStamper::new(run_id),
            sender: None,
            spans: Vec::new(),
        }
    }

    /// Also sends each span to `exporter` as it ends.
    pub fn exporting_to(mut self, exporter: &OtlpExporter) -> Self {
        self.sender = Some(exporter.sender());
        self
    }

    /// The trace id of the run's spans.
    pub fn trace_id(&self) -> &str {
        self.builder.trace_id()
    }

    /// Takes one event of the run, stamped now.
    pub fn observe(&mut self, event: &RunEvent) {
        let record = self.stamper.record(event.clone());
        self.observe_record(&record);
    }

    /// Takes one event already stamped (e.g. the line `--json` printed).
    pub fn observe_record(&mut self, record: &EventRecord) {
        let ended = self.builder.push(record);
        self.keep(ended);
    }

    /// The spans ended so far.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Closes what is still open (a run that did not finish) and returns every span.
    pub fn finish(mut self) -> Vec<Span> {
        let ended = self.builder.finish();
        self.keep(ended);
        self.spans
    }

    fn keep(&mut self, ended: Vec<Span>) {
        if let Some(sender) = &self.sender {
            for span in &ended {
                sender.send(span.clone());
            }
        }
        self.spans.extend(ended);
    }
}
