//! The one writer of the CLI's stdout and stderr: warden's lines, the answer, the spinner and
//! log lines all go through a [`Console`].
//!
//! Invariant: no lock on stdout or stderr is held between two writes, and none across an
//! await or a spinner's life. The spinner is suspended (cleared, then redrawn) around every
//! write while it spins, so its ticker thread and our lines never wait on each other nor
//! mix on the screen. `--json` mode stamps every event ([`EventStamper`]) and log line.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use warden_core::events::{EventStamper, RunEvent, new_run_id};

/// How the process's streams look, read once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// stdout is a terminal: the answer may stream as it is written.
    pub out_tty: bool,
    /// stderr is a terminal that can move its cursor: a spinner may show.
    pub spinner: bool,
    /// Colour codes in warden's lines and in log lines.
    pub color: bool,
}

impl Style {
    /// Reads the real streams and the environment (`NO_COLOR`, `TERM=dumb`).
    pub fn detect() -> Self {
        Self::from_parts(
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
        )
    }

    /// Colour only on a terminal without `NO_COLOR` (no-color.org) that is not `dumb`; the
    /// spinner only on a terminal that is not `dumb` (it moves the cursor).
    pub fn from_parts(out_tty: bool, err_tty: bool, no_color: bool, dumb: bool) -> Self {
        Style {
            out_tty,
            spinner: err_tty && !dumb,
            color: err_tty && !dumb && !no_color,
        }
    }
}

/// Shared handle to the streams (clone it for the log writer).
#[derive(Clone)]
pub struct Console {
    inner: Arc<Mutex<Inner>>,
    style: Style,
}

struct Inner {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    spinner: Option<ProgressBar>,
    /// Set in `--json` mode: events and log lines are stamped JSON lines on stdout.
    stamper: Option<EventStamper>,
}

impl Inner {
    /// Runs `write` with the spinner (if any) cleared for its duration.
    fn quiet<R>(&mut self, write: impl FnOnce(&mut Self) -> R) -> R {
        match self.spinner.clone() {
            Some(bar) => bar.suspend(|| write(self)),
            None => write(self),
        }
    }
}

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio(style: Style) -> Self {
        Self::new(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            style,
        )
    }

    /// Any two writers (tests).
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, style: Style) -> Self {
        Console {
            inner: Arc::new(Mutex::new(Inner {
                out,
                err,
                spinner: None,
                stamper: None,
            })),
            style,
        }
    }

    /// What the streams are.
    pub fn style(&self) -> Style {
        self.style
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while writing leaves nothing half-updated that matters: keep going.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Switches to `--json` mode for a new run: events and log lines become stamped JSON
    /// lines on stdout, stderr stays empty. Returns the run id.
    pub fn start_json_run(&self) -> String {
        let id = new_run_id();
        self.lock().stamper = Some(EventStamper::new(id.clone()));
        id
    }

    /// Whether `--json` mode is on.
    pub fn json(&self) -> bool {
        self.lock().stamper.is_some()
    }

    /// Writes `event` as a stamped JSON line on stdout (`--json` mode only).
    pub fn json_event(&self, event: &RunEvent) {
        let mut inner = self.lock();
        let Some(stamper) = inner.stamper.as_mut() else {
            return;
        };
        let line = stamper.line(event);
        let _ = writeln!(inner.out, "{line}");
        let _ = inner.out.flush();
    }

    /// Writes any JSON object as a stamped line on stdout (`--json` mode only): the stamp's
    /// fields are added to `fields`, which must carry a `type`.
    pub fn json_object(&self, mut fields: serde_json::Map<String, serde_json::Value>) {
        let mut inner = self.lock();
        let Some(stamper) = inner.stamper.as_ref() else {
            return;
        };
        let stamp = json!({
            "schema": warden_core::events::EVENT_SCHEMA_VERSION,
            "run_id": stamper.run_id(),
            "ts": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "step": stamper.step(),
        });
        if let serde_json::Value::Object(stamp) = stamp {
            for (key, value) in stamp {
                fields.entry(key).or_insert(value);
            }
        }
        let line = serde_json::Value::Object(fields);
        let _ = writeln!(inner.out, "{line}");
        let _ = inner.out.flush();
    }

    /// Writes `text` to stdout as it comes (part of the answer), flushed.
    pub fn out_text(&self, text: &str) {
        self.lock().quiet(|inner| {
            let _ = inner.out.write_all(text.as_bytes());
            let _ = inner.out.flush();
        });
    }

    /// Writes one line to stderr.
    pub fn err_line(&self, line: &str) {
        self.lock().quiet(|inner| {
            let _ = writeln!(inner.err, "{line}");
            let _ = inner.err.flush();
        });
    }

    /// Writes raw bytes to stderr (a formatted log line).
    pub fn err_bytes(&self, bytes: &[u8]) {
        self.lock().quiet(|inner| {
            let _ = inner.err.write_all(bytes);
            let _ = inner.err.flush();
        });
    }

    /// Writes `text` to stderr without a newline (a prompt).
    pub fn prompt(&self, text: &str) {
        let mut inner = self.lock();
        let _ = inner.err.write_all(text.as_bytes());
        let _ = inner.err.flush();
    }

    /// A `Write` onto stdout through this console (for commands that print plain lines).
    pub fn out_writer(&self) -> ConsoleWriter {
        ConsoleWriter {
            console: self.clone(),
            stderr: false,
        }
    }

    /// A `Write` onto stderr through this console.
    pub fn err_writer(&self) -> ConsoleWriter {
        ConsoleWriter {
            console: self.clone(),
            stderr: true,
        }
    }

    /// `text` in colour `code` (an SGR parameter) when colour is on.
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.style.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Shows a spinner with `message` on stderr (only on a terminal), replacing any other.
    pub fn spin(&self, message: String) {
        if !self.style.spinner {
            return;
        }
        self.stop_spinner();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = if self.style.color {
            "{spinner} {msg} {elapsed:.dim}"
        } else {
            "{spinner} {msg} {elapsed}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.lock().spinner = Some(bar);
    }

    /// Changes the message of the spinner that shows (nothing when none does).
    pub fn spin_message(&self, message: String) {
        let bar = self.lock().spinner.clone();
        if let Some(bar) = bar {
            bar.set_message(message);
        }
    }

    /// Clears the spinner, if one shows.
    pub fn stop_spinner(&self) {
        // Taken out of the lock first: finishing waits for the ticker thread, which must
        // never wait for us.
        let bar = self.lock().spinner.take();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
}

/// `Write` onto one of a console's streams; each write goes through at once.
pub struct ConsoleWriter {
    console: Console,
    stderr: bool,
}

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self.console.lock();
        let stderr = self.stderr;
        inner.quiet(|inner| {
            let stream = if stderr {
                &mut inner.err
            } else {
                &mut inner.out
            };
            stream.write_all(buf)
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut inner = self.console.lock();
        if self.stderr {
            inner.err.flush()
        } else {
            inner.out.flush()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_and_spinner_need_a_terminal_that_is_not_dumb() {
        let tty = Style::from_parts(true, true, false, false);
        assert!(tty.color && tty.spinner && tty.out_tty);
        let no_color = Style::from_parts(true, true, true, false);
        assert!(!no_color.color && no_color.spinner);
        let dumb = Style::from_parts(true, true, false, true);
        assert!(!dumb.color && !dumb.spinner);
        let piped = Style::from_parts(false, false, false, false);
        assert!(!piped.color && !piped.spinner && !piped.out_tty);
    }
}
