//! `warden run <agent.toml> "<task>"`: runs an agent once. The answer streams to stdout;
//! tool calls, usage, waits and the summary go to stderr (coloured only on a terminal and
//! without `NO_COLOR`; a spinner while the model is thinking, only on a terminal).
//! `--json` prints every event as one JSON line on stdout instead. With an output schema the
//! answer is printed once it has been accepted (a streamed answer may still be rejected).
//! Text the model writes beside tool calls is printed too, on its own line.
//!
//! Exit codes: 0 answered, 2 a budget or the turn limit was reached, 1 any error (the
//! agent could not start, the model failed, a tool aborted the run, cancellation).

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use warden::controller::{RunResult, ToolUsage};
use warden::events::RunEvent;
use warden::llm::FinishReason;
use warden::runner::{RunHandle, Runner, SetupError};

/// `warden run <agent> <task>`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent file (TOML).
    agent: PathBuf,
    /// The task for the agent.
    task: String,
    /// Print the run's events as JSON lines on stdout (nothing on stderr).
    #[arg(long)]
    json: bool,
    /// Do not use the provider's streaming API (the answer is printed when complete).
    #[arg(long)]
    no_stream: bool,
}

pub async fn run(args: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let mut view = Renderer::new(out, err, args.json);
    let (runner, agent) = match Runner::from_file(&args.agent).await {
        Ok(built) => built,
        Err(e) => return view.setup_error(&e),
    };
    view.stream_text(agent.config().output_schema.is_none());
    let runner = runner.streaming(!args.no_stream);
    let handle = RunHandle::new();
    let on_ctrl_c = handle.clone();
    // Ctrl-C stops the run at once; the partial result and usage are still reported.
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let result = runner
        .run_with(&agent, args.task, &handle, |event| view.event(&event))
        .await;
    watcher.abort();
    match result {
        Ok(result) => view.finish(&result),
        Err(e) => view.error(&e.to_string()),
    }
}

/// Renders events for humans (or as JSON lines).
pub(super) struct Renderer<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    json: bool,
    color: bool,
    spinner: Option<ProgressBar>,
    interactive: bool,
    /// Text of the current answer was printed on stdout (as deltas).
    printed_text: bool,
    /// That text's last line has no newline yet.
    line_open: bool,
    /// Print text deltas as they come; off when only a checked answer may reach stdout.
    stream_text: bool,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(out: &'a mut dyn Write, err: &'a mut dyn Write, json: bool) -> Self {
        let interactive = std::io::stderr().is_terminal();
        let color = colour_wanted(interactive, std::env::var_os("NO_COLOR").as_deref());
        Self {
            out,
            err,
            json,
            color,
            spinner: None,
            interactive,
            printed_text: false,
            line_open: false,
            stream_text: true,
        }
    }

    /// Whether text deltas go to stdout as they arrive. Off for an agent with an output
    /// schema: a streamed answer may still be rejected (and asked again), and stdout must
    /// carry only the accepted one, printed when the run ends.
    pub(super) fn stream_text(&mut self, on: bool) {
        self.stream_text = on;
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn note(&mut self, line: String) {
        self.stop_spinner();
        let _ = writeln!(self.err, "{line}");
    }

    fn start_spinner(&mut self, message: String) {
        if !self.interactive || self.json {
            return;
        }
        self.stop_spinner();
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(bar);
    }

    fn stop_spinner(&mut self) {
        if let Some(bar) = self.spinner.take() {
            bar.finish_and_clear();
        }
    }

    /// Shows one event.
    pub(super) fn event(&mut self, event: &RunEvent) {
        if self.json {
            let _ = writeln!(self.out, "{}", event.to_json_line());
            let _ = self.out.flush();
            return;
        }
        match event {
            RunEvent::RunStarted { .. } => {}
            RunEvent::ModelRequest { step, kind, .. } => {
                // Text of an earlier call (beside tool calls) keeps its own line.
                self.end_text_line();
                self.start_spinner(format!("waiting for the model (step {step}, {kind:?})"));
            }
            RunEvent::TextDelta { .. } if !self.stream_text => {}
            RunEvent::TextDelta { text } => {
                self.stop_spinner();
                self.printed_text = true;
                self.line_open = true;
                let _ = write!(self.out, "{text}");
                let _ = self.out.flush();
            }
            RunEvent::ModelResponse {
                usage,
                usage_estimated,
                cost_usd,
                finish_reason,
                ..
            } => {
                // The text just printed may still be the answer: only its line ends.
                self.close_line();
                let ended = match finish_reason {
                    FinishReason::Stop | FinishReason::ToolCalls => String::new(),
                    FinishReason::Length => ", cut at max_tokens".into(),
                    FinishReason::ContentFilter => ", stopped by the content filter".into(),
                    FinishReason::Other(reason) => format!(", stopped: {reason}"),
                };
                let estimated = if *usage_estimated {
                    " (estimated: the server reported no usage)"
                } else {
                    ""
                };
                let line = format!(
                    "  model: {} in / {} out tokens{estimated}, ${cost_usd:.4}{ended}",
                    usage.input_tokens, usage.output_tokens
                );
                self.note(self.paint("2", &line));
            }
            RunEvent::ToolCallStarted {
                name, arguments, ..
            } => {
                self.end_text_line();
                let line = format!("{} {name} {arguments}", self.paint("36", "→"));
                self.note(line);
            }
            RunEvent::ToolCallFinished {
                name,
                ok,
                error_kind,
                preview,
                usage,
                ..
            } => {
                let figures = tool_figures(usage);
                let line = if *ok {
                    format!("  {} {name} ({figures})", self.paint("32", "✓"))
                } else {
                    let kind = error_kind.as_deref().unwrap_or("error");
                    // One line per call: the model sees the full text, the operator a gist.
                    let preview = preview.split_whitespace().collect::<Vec<_>>().join(" ");
                    format!(
                        "  {} {name} {kind}: {preview} ({figures})",
                        self.paint("31", "✗")
                    )
                };
                self.note(line);
            }
            RunEvent::ToolCallRejected { name, reason, .. } => {
                let line = format!(
                    "  {} rejected call to {name}: {reason}",
                    self.paint("33", "✗")
                );
                self.note(line);
            }
            RunEvent::Compaction {
                summarized,
                tokens_before,
                tokens_after,
                ..
            } => {
                let how = if *summarized { "summarised" } else { "trimmed" };
                let line = format!("  context {how}: {tokens_before} → {tokens_after} tokens");
                self.note(self.paint("2", &line));
            }
            RunEvent::BudgetWarning {
                resource,
                used,
                limit,
            } => {
                let line = format!("  warning: {resource} at {used} of {limit}");
                self.note(self.paint("33", &line));
            }
            RunEvent::RateLimitWait {
                wait_ms, message, ..
            } => {
                let line = format!("  rate limit: waited {wait_ms} ms ({message})");
                self.note(self.paint("33", &line));
            }
            RunEvent::Retry {
                attempt,
                wait_ms,
                reason,
            } => {
                let line = format!("  retry after attempt {attempt} in {wait_ms} ms: {reason}");
                self.note(self.paint("33", &line));
            }
            RunEvent::RunFinished { .. } => self.stop_spinner(),
        }
    }

    /// Ends the answer's text: what comes next is not part of it.
    fn end_text_line(&mut self) {
        self.close_line();
        self.printed_text = false;
    }

    /// Ends the text's line, so a note on stderr does not continue it on a terminal.
    fn close_line(&mut self) {
        if self.line_open {
            let _ = writeln!(self.out);
            self.line_open = false;
        }
    }

    /// Prints the answer (if it was not streamed) and the summary; returns the exit code.
    pub(super) fn finish(&mut self, result: &RunResult) -> ExitCode {
        self.stop_spinner();
        let code = result.stop_reason.exit_code();
        if self.json {
            return exit(code);
        }
        match &result.output {
            Some(output) if !self.printed_text => {
                let _ = writeln!(self.out, "{}", output.text);
            }
            _ => self.end_text_line(),
        }
        let _ = self.out.flush();
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
            result.stop_reason.describe(),
            u.model_calls,
            u.input_tokens,
            u.output_tokens,
            u.cost_usd,
            u.tool_calls,
            u.invalid_tool_calls,
            u.fuel
        );
        let colour = if code == 0 { "32" } else { "31" };
        let line = self.paint(colour, &summary);
        self.note(line);
        exit(code)
    }

    /// Reports an agent that could not start.
    pub(super) fn setup_error(&mut self, e: &SetupError) -> ExitCode {
        self.error(&e.to_string())
    }

    /// Reports an error; exit code 1.
    pub(super) fn error(&mut self, message: &str) -> ExitCode {
        self.stop_spinner();
        if self.json {
            let line = serde_json::json!({ "type": "error", "message": message });
            let _ = writeln!(self.out, "{line}");
        } else {
            let line = format!("{} {message}", self.paint("31", "error:"));
            let _ = writeln!(self.err, "{line}");
        }
        ExitCode::FAILURE
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

/// Colours only when stderr is a terminal and `NO_COLOR` is unset or empty (no-color.org).
fn colour_wanted(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

fn exit(code: i32) -> ExitCode {
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

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some(OsStr::new("1"))));
    }
}
