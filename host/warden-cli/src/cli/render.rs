//! Shows a run's events to a person (or as `--json` lines), for `run`, `chat` and `demo`.
//!
//! Where things go: stdout carries the answer. On a terminal the answer streams as the model
//! writes it; piped, stdout gets only the final answer, once, and the text of turns that went
//! on to call tools goes to stderr as narration. stderr carries progress in plain words: a
//! spinner while the model thinks (terminal only), tool calls, usage, retries and waits, the
//! summary. In `--json` mode every event is a stamped line on stdout and stderr stays empty.

use std::process::ExitCode;

use warden_core::chat::FinishReason;
use warden_core::events::{RunEvent, brief_server_error};
use warden_core::run::{EXIT_FAILED, RunResult};
use warden_core::state::ModelCallKind;
use warden_core::tool::{ToolFailureKind, ToolUsage};

use super::console::Console;

/// Renders the events of one or more runs (a chat renders every turn with one).
pub(super) struct Renderer {
    console: Console,
    /// Text deltas go to stdout as they come (stdout is a terminal, no output schema).
    live: bool,
    /// The answer must be checked before it is shown (output schema): never streamed.
    checked: bool,
    /// Text of the current model call not shown yet (piped stdout).
    pending: String,
    /// Text of the current answer was streamed to stdout.
    streamed: bool,
    /// That text's last line has no newline yet.
    line_open: bool,
    /// Why the forced final answer (if one was asked for) came back empty.
    forced_empty_why: Option<String>,
    /// Trusted host tools that ran (named in the summary: they ran unsandboxed).
    trusted: std::collections::BTreeSet<String>,
}

impl Renderer {
    pub(super) fn new(console: Console) -> Self {
        let live = console.style().out_tty;
        Renderer {
            console,
            live,
            checked: false,
            pending: String::new(),
            streamed: false,
            line_open: false,
            forced_empty_why: None,
            trusted: Default::default(),
        }
    }

    /// The agent has an output schema: its answer reaches stdout only once accepted.
    pub(super) fn checked_answer(&mut self, on: bool) {
        self.checked = on;
    }

    fn note(&self, line: &str) {
        self.console.err_line(line);
    }

    fn dim(&self, line: &str) {
        self.note(&self.console.paint("2", line));
    }

    /// Shows one event.
    pub(super) fn event(&mut self, event: &RunEvent) {
        if self.console.json() {
            self.console.json_event(event);
            return;
        }
        match event {
            RunEvent::RunStarted { .. } | RunEvent::Handoff { .. } | RunEvent::Nested { .. } => {
                self.end_text();
                if let Some(line) = super::render_multi::line(event, &self.console) {
                    self.note(&line);
                }
            }
            RunEvent::ModelRequest { step, kind, .. } => {
                self.end_text();
                self.pending.clear();
                // Steps count from 0; people count model calls from 1.
                let call = step + 1;
                self.console
                    .spin(format!("waiting for the model (call {call}: {kind})"));
            }
            RunEvent::TextDelta { text } => self.text(text),
            RunEvent::ModelResponse {
                kind,
                usage,
                usage_estimated,
                cost_usd,
                finish_reason,
                tool_calls,
                ..
            } => {
                self.console.stop_spinner();
                self.close_line();
                if *tool_calls > 0 && !self.pending.is_empty() {
                    // Text beside tool calls is narration, not the answer.
                    let narration = std::mem::take(&mut self.pending);
                    for line in narration.trim().lines() {
                        self.dim(&format!("  {line}"));
                    }
                }
                if *kind == ModelCallKind::ForcedFinal {
                    self.forced_empty_why = Some(forced_empty_why(finish_reason, *tool_calls));
                }
                let ended = match finish_reason {
                    FinishReason::Stop | FinishReason::ToolCalls => String::new(),
                    FinishReason::Length => ", cut at max_tokens".into(),
                    FinishReason::ContentFilter => ", stopped by the content filter".into(),
                    FinishReason::Paused => ", paused by the server (asking it to go on)".into(),
                    FinishReason::Other(reason) => format!(", stopped: {reason}"),
                };
                let estimated = if *usage_estimated {
                    " (estimated: the server reported no usage)"
                } else {
                    ""
                };
                self.dim(&format!(
                    "  model: {} in / {} out tokens{estimated}, ${cost_usd:.4}{ended}",
                    usage.input_tokens, usage.output_tokens
                ));
            }
            RunEvent::ToolCallStarted {
                name,
                arguments,
                trusted,
                ..
            } => {
                self.end_text();
                let arrow = self.console.paint("36", "→");
                let trusted = super::render_multi::trusted_mark(*trusted, &self.console);
                self.note(&format!("{arrow} {name}{trusted} {arguments}"));
            }
            RunEvent::ToolCallFinished {
                name,
                ok,
                error_kind,
                preview,
                usage,
                trusted,
                ..
            } => {
                let figures = tool_figures(usage);
                if *trusted {
                    self.trusted.insert(name.clone());
                }
                let mark = super::render_multi::trusted_mark(*trusted, &self.console);
                let name = format!("{name}{mark}");
                let line = if *ok {
                    format!("  {} {name} ({figures})", self.console.paint("32", "✓"))
                } else {
                    let kind = error_kind.map_or("error", ToolFailureKind::as_str);
                    // One line per call: the model sees the full text, the operator a gist.
                    let preview = preview.split_whitespace().collect::<Vec<_>>().join(" ");
                    let cross = self.console.paint("31", "✗");
                    format!("  {cross} {name} {kind}: {preview} ({figures})")
                };
                self.note(&line);
            }
            RunEvent::ToolCallRejected { name, reason, .. } => {
                let cross = self.console.paint("33", "✗");
                self.note(&format!("  {cross} rejected call to {name}: {reason}"));
            }
            RunEvent::GuardrailChecked {
                guardrail,
                stage,
                tripped: true,
                message,
                ..
            } => {
                let cross = self.console.paint("33", "✗");
                self.note(&format!(
                    "  {cross} guardrail {guardrail} tripped on {stage}: {message}"
                ));
            }
            RunEvent::OutputRejected {
                reason, will_retry, ..
            } => {
                self.pending.clear();
                let next = if *will_retry {
                    "asking the model again"
                } else {
                    "no retries left"
                };
                let line = format!("  answer rejected by the output schema: {reason}; {next}");
                self.note(&self.console.paint("33", &line));
            }
            RunEvent::Compaction {
                summarized,
                tokens_before,
                tokens_after,
                ..
            } => {
                let how = if *summarized { "summarised" } else { "trimmed" };
                self.dim(&format!(
                    "  context {how}: {tokens_before} → {tokens_after} tokens"
                ));
            }
            RunEvent::BudgetWarning {
                resource,
                used,
                limit,
            } => {
                let line = format!("  warning: {resource} at {used} of {limit}");
                self.note(&self.console.paint("33", &line));
            }
            RunEvent::RateLimitWait {
                wait_ms, message, ..
            } => {
                let line = format!(
                    "  rate limit: waited {wait_ms} ms ({})",
                    brief_server_error(message)
                );
                self.note(&self.console.paint("33", &line));
            }
            RunEvent::Retry {
                attempt,
                wait_ms,
                reason,
            } => {
                let line = format!(
                    "  attempt {attempt} failed, retrying in {wait_ms} ms: {}",
                    brief_server_error(reason)
                );
                self.note(&self.console.paint("33", &line));
            }
            RunEvent::RunFinished { .. } => self.console.stop_spinner(),
            // An event kind this renderer does not know yet: the `--json` stream has it.
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.live && !self.checked {
            self.console.stop_spinner();
            self.streamed = true;
            self.line_open = !text.ends_with('\n');
            self.console.out_text(text);
        } else {
            self.pending.push_str(text);
        }
    }

    /// What comes next is not part of the streamed answer.
    fn end_text(&mut self) {
        self.close_line();
        self.streamed = false;
    }

    /// Ends the streamed text's line, so a note on stderr does not continue it.
    fn close_line(&mut self) {
        if self.line_open {
            self.console.out_text("\n");
            self.line_open = false;
        }
    }

    /// Prints the answer (unless it was streamed) and the summary; returns the exit code.
    pub(super) fn finish(&mut self, result: &RunResult) -> ExitCode {
        self.console.stop_spinner();
        let code = result.stop_reason.exit_code();
        if self.console.json() {
            return exit(code);
        }
        match &result.output {
            Some(output) if !self.streamed => {
                let mut text = output.text.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                self.console.out_text(&text);
            }
            _ => self.end_text(),
        }
        self.pending.clear();
        self.streamed = false;
        if result.forced && result.output.is_none() {
            let why = self
                .forced_empty_why
                .take()
                .unwrap_or_else(|| "no final answer was asked for".into());
            let line = format!("the forced final answer came back empty: {why}");
            self.note(&self.console.paint("33", &line));
        }
        let u = &result.usage;
        let forced = if result.forced {
            ", forced final answer"
        } else {
            ""
        };
        let estimated = match u.estimated_usage_calls {
            0 => String::new(),
            n => format!(" (estimated for {n} calls without reported usage)"),
        };
        let summary = format!(
            "{}{forced} · {} model calls · {} in / {} out tokens{estimated} · ${:.4} · {} tool calls ({} rejected) · fuel {}",
            brief_server_error(&result.stop_reason.describe()),
            u.model_calls,
            u.input_tokens,
            u.output_tokens,
            u.cost_usd,
            u.tool_calls,
            u.invalid_tool_calls,
            u.fuel
        );
        let colour = if code == 0 { "32" } else { "31" };
        self.note(&self.console.paint(colour, &summary));
        if !self.trusted.is_empty() {
            let names = self.trusted.iter().cloned().collect::<Vec<_>>().join(", ");
            let line = format!("trusted host tools (unsandboxed) ran: {names}");
            self.note(&self.console.paint("35", &line));
        }
        exit(code)
    }

    /// Reports an error; exit code 1.
    pub(super) fn error(&mut self, message: &str) -> ExitCode {
        self.console.stop_spinner();
        if self.console.json() {
            let mut object = serde_json::Map::new();
            object.insert("type".into(), "error".into());
            object.insert("message".into(), message.into());
            self.console.json_object(object);
        } else {
            self.end_text();
            let label = self.console.paint("31", "error:");
            self.note(&format!("{label} {message}"));
        }
        exit(EXIT_FAILED)
    }
}

/// The figures of one tool call's line: time, fuel, output, and HTTP traffic if any.
fn tool_figures(usage: &ToolUsage) -> String {
    let mut figures = format!(
        "{} ms, fuel {}, {} B out",
        usage.wall_ms, usage.fuel, usage.bytes_out
    );
    if usage.http_requests > 0 {
        figures.push_str(&format!(
            ", HTTP {} req: {} B sent, {} B received",
            usage.http_requests, usage.http_bytes_sent, usage.http_bytes_received
        ));
    }
    figures
}

/// Why a forced final answer (tools off) may have come back without text.
fn forced_empty_why(finish: &FinishReason, tool_calls: usize) -> String {
    match finish {
        _ if tool_calls > 0 => {
            "the model asked for tools although they were turned off for the last answer".into()
        }
        FinishReason::Length => "the output-token limit (max_tokens) cut it before any text".into(),
        FinishReason::ContentFilter => "the provider's content filter stopped it".into(),
        FinishReason::Paused => "the server paused the turn before any text".into(),
        FinishReason::Other(reason) => format!("the model stopped ({reason}) without text"),
        FinishReason::Stop | FinishReason::ToolCalls => "the model returned no text".into(),
    }
}

/// The process exit code for `code` (anything out of range is a failure).
pub(super) fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_line_shows_http_bytes_sent_and_received_when_there_was_traffic() {
        let mut usage = ToolUsage {
            fuel: 7,
            wall_ms: 3,
            bytes_out: 12,
            ..ToolUsage::default()
        };
        assert_eq!(tool_figures(&usage), "3 ms, fuel 7, 12 B out");
        usage.http_requests = 2;
        usage.http_bytes_sent = 4096;
        usage.http_bytes_received = 100;
        assert_eq!(
            tool_figures(&usage),
            "3 ms, fuel 7, 12 B out, HTTP 2 req: 4096 B sent, 100 B received"
        );
    }
}
