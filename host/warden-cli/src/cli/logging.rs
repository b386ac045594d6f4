//! Log lines (`tracing`) for the CLI: written through the [`Console`] so they never tear the
//! spinner, coloured only when warden's own lines are, and in `--json` mode turned into
//! stamped `log` events on stdout so stderr stays empty.
//!
//! `WARDEN_LOG` sets the filter (`debug`, `warden=trace`, …; warnings by default);
//! `WARDEN_LOG_FORMAT=json` writes each log line as a JSON object.

use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use super::console::Console;

/// Installs the process's log subscriber. `json_events`: the command prints `--json`
/// events, so log lines become events too.
pub fn init(console: &Console, json_events: bool) {
    let filter = EnvFilter::try_from_env("WARDEN_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let registry = tracing_subscriber::registry().with(filter);
    if json_events {
        let _ = registry
            .with(EventLayer {
                console: console.clone(),
            })
            .try_init();
        return;
    }
    let writer = ConsoleWriter {
        console: console.clone(),
    };
    let json_format = std::env::var("WARDEN_LOG_FORMAT").is_ok_and(|f| f == "json");
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(console.style().color && !json_format);
    let _ = if json_format {
        registry.with(layer.json()).try_init()
    } else {
        registry.with(layer).try_init()
    };
}

/// Hands each formatted log line to the console in one write.
#[derive(Clone)]
struct ConsoleWriter {
    console: Console,
}

/// One log line being formatted; written on drop.
struct LineBuffer {
    console: Console,
    bytes: Vec<u8>,
}

impl Write for LineBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.console.err_bytes(&self.bytes);
        }
    }
}

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer {
            console: self.console.clone(),
            bytes: Vec::new(),
        }
    }
}

/// Turns log events into `{"type":"log",…}` lines of the `--json` stream.
struct EventLayer {
    console: Console,
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for EventLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let mut object = serde_json::Map::new();
        object.insert("type".into(), "log".into());
        object.insert(
            "level".into(),
            meta.level().as_str().to_ascii_lowercase().into(),
        );
        object.insert("target".into(), meta.target().into());
        object.insert("message".into(), fields.message.into());
        if !fields.other.is_empty() {
            object.insert("fields".into(), serde_json::Value::Object(fields.other));
        }
        self.console.json_object(object);
    }
}

/// The message and the other fields of a log event.
#[derive(Default)]
struct FieldMap {
    message: String,
    other: serde_json::Map<String, serde_json::Value>,
}

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.other.insert(field.name().into(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.other.insert(field.name().into(), text.into());
        }
    }
}
