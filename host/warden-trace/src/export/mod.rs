//! OTLP export (HTTP/protobuf) of finished spans, bounded and never in the run's way.
//!
//! ```text
//! SpanSender::send (any thread, never waits) ─▶ bounded queue ─▶ export task (tokio)
//!                                                  │ full: dropped, counted   │ batches, timeouts
//!                                                                             ▼
//!                                                          opentelemetry-otlp ─▶ collector
//! ```
//!
//! Invariants: sending never blocks and never fails the caller (a full queue drops the span
//! and counts it); each export request ends within the configured timeout; a collector that
//! is down costs a warning (logged once per outage through `tracing`), not the run;
//! [`OtlpExporter::shutdown`] returns within the time it is given, reporting what was
//! exported, dropped or failed.

mod client;
mod config;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use client::MAX_RESPONSE_BYTES;
pub use config::ExportConfig;

use crate::otel::{scope, to_span_data};
use crate::span::Span;

/// Why export could not be set up. The run goes on without it.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An endpoint variable is not an http(s) URL.
    #[error(
        "{var}={value:?} is not an http:// or https:// URL with a host; set it to the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318"
    )]
    Endpoint {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A protocol other than HTTP/protobuf was asked for.
    #[error(
        "{var}={value:?}: warden exports traces as http/protobuf only; unset it or set it to http/protobuf (and point the endpoint at the collector's HTTP port, usually 4318)"
    )]
    Protocol {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A number variable is not a number.
    #[error("{var}={value:?} is not a whole number")]
    Number {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for trace export")]
    Client(#[source] reqwest::Error),
    /// The OTLP exporter refused its settings (e.g. a compression warden is not built with).
    #[error("cannot set up OTLP trace export")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// Export needs a tokio runtime to run its task in.
    #[error("trace export must be started inside a tokio runtime")]
    NoRuntime,
}

/// Counts of an exporter's spans.
#[derive(Debug, Default)]
struct Counts {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// What an exporter did, from [`OtlpExporter::shutdown`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans whose export failed (collector down, refused, timed out) or that were still
    /// queued when shutdown ran out of time.
    pub failed: u64,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

/// Hands finished spans to an [`OtlpExporter`]. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct SpanSender {
    tx: mpsc::Sender<Span>,
    counts: Arc<Counts>,
}

impl SpanSender {
    /// Queues `span` for export; drops it (counted) when the queue is full or the
    /// exporter has shut down.
    pub fn send(&self, span: Span) {
        if self.tx.try_send(span).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An OTLP/HTTP span exporter running in its own task. See the module docs.
#[derive(Debug)]
pub struct OtlpExporter {
    sender: SpanSender,
    endpoint: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Option<String>>,
}

impl OtlpExporter {
    /// The exporter the environment asks for (see [`ExportConfig::from_env`]); `None` when
    /// no endpoint is set. Call it inside a tokio runtime.
    pub fn from_env() -> Result<Option<Self>, ExportError> {
        ExportConfig::from_env()?.map(Self::start).transpose()
    }

    /// Starts exporting to `config.endpoint`, in a task on the current tokio runtime.
    /// Headers, the service name and resource attributes come from the standard variables.
    pub fn start(config: ExportConfig) -> Result<Self, ExportError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ExportError::NoRuntime)?;
        let client = client::ReqwestClient::new(config.timeout).map_err(ExportError::Client)?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(config.timeout)
            .with_http_client(client)
            .build()
            .map_err(ExportError::Exporter)?;
        exporter.set_resource(&resource());
        let (tx, rx) = mpsc::channel(config.max_queue);
        let counts = Arc::new(Counts::default());
        let (stop, stopped) = oneshot::channel();
        let task = runtime.spawn(export_loop(
            exporter,
            rx,
            stopped,
            counts.clone(),
            config.clone(),
        ));
        Ok(OtlpExporter {
            sender: SpanSender { tx, counts },
            endpoint: config.endpoint,
            stop,
            task,
        })
    }

    /// Where spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A sender for finished spans.
    pub fn sender(&self) -> SpanSender {
        self.sender.clone()
    }

    /// Exports what is queued and stops, waiting at most `timeout`; what is left then
    /// counts as failed.
    pub async fn shutdown(self, timeout: Duration) -> ExportReport {
        let counts = self.sender.counts.clone();
        let queued = self.sender.tx.max_capacity() - self.sender.tx.capacity();
        drop(self.sender);
        let _ = self.stop.send(());
        let mut task = self.task;
        let last_error = match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(last_error)) => last_error,
            Ok(Err(e)) => Some(format!("the export task failed: {e}")),
            Err(_) => {
                task.abort();
                counts.failed.fetch_add(queued as u64, Ordering::Relaxed);
                Some(format!("shutdown gave up after {} ms", timeout.as_millis()))
            }
        };
        ExportReport {
            exported: counts.exported.load(Ordering::Relaxed),
            dropped: counts.dropped.load(Ordering::Relaxed),
            failed: counts.failed.load(Ordering::Relaxed),
            last_error,
        }
    }
}

/// `service.name` is `warden` unless the environment names the service.
fn resource() -> Resource {
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let builder = Resource::builder();
    let builder = if named {
        builder
    } else {
        builder.with_service_name("warden")
    };
    builder
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Batches spans from `rx` and exports them until told to stop (then drains the queue).
/// Returns the last export error.
async fn export_loop(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Span>,
    mut stop: oneshot::Receiver<()>,
    counts: Arc<Counts>,
    config: ExportConfig,
) -> Option<String> {
    let mut batch = Vec::with_capacity(config.max_batch);
    let mut state = ExportState {
        exporter,
        counts,
        config,
        last_error: None,
        failing: false,
    };
    // When the oldest span of the batch must be sent by (spans arriving do not delay it).
    let mut due = tokio::time::Instant::now();
    loop {
        tokio::select! {
            span = rx.recv() => match span {
                Some(span) => {
                    if batch.is_empty() {
                        due = tokio::time::Instant::now() + state.config.delay;
                    }
                    batch.push(span);
                    if batch.len() >= state.config.max_batch {
                        state.export(&mut batch).await;
                    }
                }
                None => break,
            },
            () = tokio::time::sleep_until(due), if !batch.is_empty() => {
                state.export(&mut batch).await;
            }
            _ = &mut stop => {
                rx.close();
                break;
            }
        }
    }
    while let Some(span) = rx.recv().await {
        batch.push(span);
        if batch.len() >= state.config.max_batch {
            state.export(&mut batch).await;
        }
    }
    state.export(&mut batch).await;
    state.last_error
}

struct ExportState {
    exporter: opentelemetry_otlp::SpanExporter,
    counts: Arc<Counts>,
    config: ExportConfig,
    last_error: Option<String>,
    /// The last export failed: the next failure is not logged again.
    failing: bool,
}

impl ExportState {
    async fn export(&mut self, batch: &mut Vec<Span>) {
        if batch.is_empty() {
            return;
        }
        let scope = scope();
        let mut data = Vec::with_capacity(batch.len());
        for span in batch.drain(..) {
            match to_span_data(&span, &scope) {
                Ok(span) => data.push(span),
                Err(e) => {
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("trace export: {e}; the span is skipped");
                }
            }
        }
        let n = data.len() as u64;
        // The client has the same timeout; this bounds the exporter's own work too.
        let limit = self.config.timeout + Duration::from_secs(1);
        let outcome = match tokio::time::timeout(limit, self.exporter.export(data)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", limit.as_millis())),
        };
        match outcome {
            Ok(()) => {
                self.counts.exported.fetch_add(n, Ordering::Relaxed);
                if self.failing {
                    tracing::info!("trace export to {} works again", self.config.endpoint);
                }
                self.failing = false;
            }
            Err(error) => {
                self.counts.failed.fetch_add(n, Ordering::Relaxed);
                if !self.failing {
                    tracing::warn!(
                        "traces could not be sent to {} ({error}); the run goes on without them",
                        self.config.endpoint
                    );
                }
                self.failing = true;
                self.last_error = Some(error);
            }
        }
    }
}
