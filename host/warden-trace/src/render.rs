//! The readable tree of a run: run → model calls → the tool calls each asked for, with
//! timings, tokens, cost and errors, so a person sees where time and tokens went.
//!
//! ```text
//! run 5f0c…9a21  agent demo  model gpt-4o-mini (openai)  2.41 s  answered
//! ├─ chat #1 turn  +0 ms  812 ms  120 in / 35 out tokens  $0.0004  tool_calls
//! │  ├─ calc call_1  +815 ms  14 ms  fuel 12,345  ok
//! │  └─ fs call_2  +816 ms  20 ms  fuel 2,000  error capability_denied: …
//! └─ chat #2 turn …
//! total  2 model calls  1,234 in / 56 out tokens  $0.0012  3 tool calls (1 denied)  fuel …
//! ```
//!
//! An agent that takes over by a handoff is a line of its own with its calls below it; an
//! agent called as a tool is drawn below that tool call, its own calls below it.
//!
//! Invariant: the tree is drawn from the spans [`SpanBuilder::build`] makes of the same
//! records (never from other state), without message content; cost appears only when a
//! price was known for the model, and the last line says so when it was not.

use std::fmt::Write as _;

use warden_core::events::EventRecord;

use crate::builder::{SpanBuilder, TraceOptions};
use crate::keys;
use crate::span::{AttrValue, Span, SpanStatus};

/// The tree of every run in `records` (one after another, in the order they start).
pub fn render_tree(records: &[EventRecord]) -> String {
    let mut out = String::new();
    let mut run_ids: Vec<&str> = Vec::new();
    for record in records {
        if !run_ids.contains(&record.run_id.as_str()) {
            run_ids.push(&record.run_id);
        }
    }
    if run_ids.is_empty() {
        return "no events\n".into();
    }
    for (i, run_id) in run_ids.iter().enumerate() {
        let mine: Vec<EventRecord> = records
            .iter()
            .filter(|r| r.run_id == *run_id)
            .cloned()
            .collect();
        let spans = SpanBuilder::build(&mine, TraceOptions::default());
        if i > 0 {
            out.push('\n');
        }
        render_spans(&mut out, &spans);
    }
    out
}

/// The tree of one run's spans (as [`SpanBuilder`] gives them).
pub fn render_spans(out: &mut String, spans: &[Span]) {
    let mut roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .collect();
    roots.sort_by_key(|s| s.start_unix_nano);
    for root in roots {
        render_run(out, root, spans);
    }
}

/// One line of the tree below an agent: a model call (with its tools), a tool call, an
/// agent that took over by a handoff, or an event.
enum Item<'a> {
    Chat(&'a Span, Vec<&'a Span>, usize),
    Tool(&'a Span),
    Agent(&'a Span),
    Note(u64, String),
}

impl Item<'_> {
    /// When it starts; at a tie (times are in milliseconds), calls first, then events,
    /// then agents (a handoff's event precedes the agent it opened).
    fn start(&self) -> (u64, u8) {
        match self {
            Item::Chat(span, ..) | Item::Tool(span) => (span.start_unix_nano, 0),
            Item::Note(at, _) => (*at, 1),
            Item::Agent(span) => (span.start_unix_nano, 2),
        }
    }
}

/// What the lines of one tree share: every span, the run's start and whether it is priced.
struct Tree<'a> {
    spans: &'a [Span],
    t0: u64,
    priced: bool,
}

fn render_run(out: &mut String, run: &Span, spans: &[Span]) {
    let tree = Tree {
        spans,
        t0: run.start_unix_nano,
        priced: run.attr(keys::COST_USD).is_some(),
    };
    let _ = write!(
        out,
        "run {}  agent {}  model {}",
        short_id(str_attr(run, keys::RUN_ID).unwrap_or(&run.trace_id)),
        str_attr(run, keys::AGENT_NAME).unwrap_or("?"),
        str_attr(run, keys::REQUEST_MODEL).unwrap_or("?"),
    );
    if let Some(provider) = str_attr(run, keys::PROVIDER_NAME) {
        let _ = write!(out, " ({provider})");
    }
    let _ = writeln!(
        out,
        "  {}  {}",
        duration(run.duration_nanos()),
        outcome(run)
    );
    // Each level of the tree is drawn once: a hostile log cannot make it loop (ids are
    // unique per span, and a parent is looked up only below the span that names it).
    let mut drawn = std::collections::HashSet::new();
    tree.agent_body(out, run, "", &mut drawn);
    let _ = writeln!(out, "{}", total_line(run, tree.priced));
}

impl Tree<'_> {
    fn children_of<'s>(&'s self, span: &Span) -> impl Iterator<Item = &'s Span> {
        let id = span.span_id.clone();
        (self.spans.iter()).filter(move |s| s.parent_span_id.as_deref() == Some(id.as_str()))
    }

    /// The lines below an agent span (the run, a handoff's agent, a nested run), each
    /// starting with `indent`.
    fn agent_body<'s>(
        &'s self,
        out: &mut String,
        agent: &'s Span,
        indent: &str,
        drawn: &mut std::collections::HashSet<&'s str>,
    ) {
        if !drawn.insert(agent.span_id.as_str()) {
            return;
        }
        let children: Vec<&Span> = self.children_of(agent).collect();
        let mut items: Vec<Item> = Vec::new();
        let mut chats: Vec<&Span> = (children.iter().copied())
            .filter(|s| op(s) == keys::OP_CHAT)
            .collect();
        chats.sort_by_key(|s| s.start_unix_nano);
        for (number, chat) in chats.iter().enumerate() {
            items.push(Item::Chat(chat, Vec::new(), number + 1));
        }
        for child in children.iter().copied() {
            match op(child) {
                keys::OP_EXECUTE_TOOL => {
                    // Under the last model call of its step that started before it.
                    let step = child.attr(keys::STEP);
                    let owner = items.iter_mut().rev().find_map(|item| match item {
                        Item::Chat(chat, tools, _)
                            if chat.attr(keys::STEP) == step
                                && chat.start_unix_nano <= child.start_unix_nano =>
                        {
                            Some(tools)
                        }
                        _ => None,
                    });
                    match owner {
                        Some(tools) => tools.push(child),
                        None => items.push(Item::Tool(child)),
                    }
                }
                keys::OP_INVOKE_AGENT => items.push(Item::Agent(child)),
                _ => {}
            }
        }
        for event in &agent.events {
            items.push(Item::Note(
                event.time_unix_nano,
                note(&event.name, &event.attributes),
            ));
        }
        items.sort_by_key(Item::start);
        for (i, item) in items.iter().enumerate() {
            let last = i + 1 == items.len();
            let (branch, stem) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let inner = format!("{indent}{stem}");
            match item {
                Item::Chat(chat, tools, number) => {
                    let line = chat_line(chat, *number, self.t0, self.priced);
                    let _ = writeln!(out, "{indent}{branch}{line}");
                    let mut tools = tools.clone();
                    tools.sort_by_key(|s| s.start_unix_nano);
                    for (j, tool) in tools.iter().enumerate() {
                        let (twig, below) = if j + 1 == tools.len() {
                            ("└─ ", "   ")
                        } else {
                            ("├─ ", "│  ")
                        };
                        let _ = writeln!(out, "{inner}{twig}{}", tool_line(tool, self.t0));
                        self.nested_runs(out, tool, &format!("{inner}{below}"), drawn);
                    }
                }
                Item::Tool(tool) => {
                    let _ = writeln!(out, "{indent}{branch}{}", tool_line(tool, self.t0));
                    self.nested_runs(out, tool, &inner, drawn);
                }
                Item::Agent(span) => {
                    let _ = writeln!(out, "{indent}{branch}{}", agent_line(span, self.t0));
                    self.agent_body(out, span, &inner, drawn);
                }
                Item::Note(at, text) => {
                    let _ = writeln!(
                        out,
                        "{indent}{branch}· {text}  +{}",
                        duration(at.saturating_sub(self.t0))
                    );
                }
            }
        }
    }

    /// The nested runs under a tool call (an agent called as a tool), each an agent line
    /// and its body.
    fn nested_runs<'s>(
        &'s self,
        out: &mut String,
        tool: &'s Span,
        indent: &str,
        drawn: &mut std::collections::HashSet<&'s str>,
    ) {
        let mut runs: Vec<&Span> = (self.children_of(tool))
            .filter(|s| op(s) == keys::OP_INVOKE_AGENT)
            .collect();
        runs.sort_by_key(|s| s.start_unix_nano);
        for (k, run) in runs.iter().enumerate() {
            let (twig, below) = if k + 1 == runs.len() {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let _ = writeln!(out, "{indent}{twig}{}", agent_line(run, self.t0));
            self.agent_body(out, run, &format!("{indent}{below}"), drawn);
        }
    }
}

/// An agent that took over (handoff) or was called as a tool (nested run).
fn agent_line(agent: &Span, t0: u64) -> String {
    let mut line = format!("agent {}", str_attr(agent, keys::AGENT_NAME).unwrap_or("?"));
    if let Some(AttrValue::StrList(path)) = agent.attr(keys::AGENT_PATH) {
        let _ = write!(line, " ({})", path.join(" › "));
    }
    if let Some(from) = str_attr(agent, keys::HANDOFF_FROM) {
        let _ = write!(line, "  handed over by {from}");
    }
    let _ = write!(
        line,
        "  model {}",
        str_attr(agent, keys::REQUEST_MODEL).unwrap_or("?")
    );
    if let Some(provider) = str_attr(agent, keys::PROVIDER_NAME) {
        let _ = write!(line, " ({provider})");
    }
    let _ = write!(
        line,
        "  +{}  {}  {}",
        duration(agent.start_unix_nano.saturating_sub(t0)),
        duration(agent.duration_nanos()),
        outcome(agent)
    );
    line
}

fn chat_line(chat: &Span, number: usize, t0: u64, priced: bool) -> String {
    let mut line = format!(
        "chat #{number} {}  +{}  {}",
        str_attr(chat, keys::MODEL_CALL_KIND).unwrap_or("turn"),
        duration(chat.start_unix_nano.saturating_sub(t0)),
        duration(chat.duration_nanos()),
    );
    if let (Some(input), Some(output)) = (
        int_attr(chat, keys::USAGE_INPUT_TOKENS),
        int_attr(chat, keys::USAGE_OUTPUT_TOKENS),
    ) {
        let _ = write!(
            line,
            "  {} in / {} out tokens",
            thousands(input),
            thousands(output)
        );
        if chat.attr(keys::USAGE_ESTIMATED) == Some(&AttrValue::Bool(true)) {
            line.push_str(" (estimated)");
        }
    }
    if priced && let Some(AttrValue::Float(cost)) = chat.attr(keys::COST_USD) {
        let _ = write!(line, "  {}", usd(*cost));
    }
    if let Some(AttrValue::StrList(reasons)) = chat.attr(keys::RESPONSE_FINISH_REASONS) {
        let _ = write!(line, "  {}", reasons.join(","));
    }
    if let Some(retries) = int_attr(chat, keys::RETRIES) {
        let _ = write!(line, "  {}", count(retries, "retry", "retries"));
    }
    if let Some(waited) = int_attr(chat, keys::RATE_LIMIT_WAIT_MS) {
        let _ = write!(
            line,
            "  rate-limited {}",
            duration(waited.saturating_mul(1_000_000))
        );
    }
    if let SpanStatus::Error { description } = &chat.status {
        let _ = write!(line, "  error: {description}");
    }
    line
}

fn tool_line(tool: &Span, t0: u64) -> String {
    let mut line = format!(
        "{} {}  +{}  {}",
        str_attr(tool, keys::TOOL_NAME).unwrap_or("?"),
        str_attr(tool, keys::TOOL_CALL_ID).unwrap_or("?"),
        duration(tool.start_unix_nano.saturating_sub(t0)),
        duration(tool.duration_nanos()),
    );
    if let Some(attempt) = int_attr(tool, keys::TOOL_ATTEMPT).filter(|a| *a > 1) {
        let _ = write!(line, "  attempt {attempt}");
    }
    if let Some(fuel) = int_attr(tool, keys::FUEL) {
        let _ = write!(line, "  fuel {}", thousands(fuel));
    }
    if let Some(memory) = int_attr(tool, keys::PEAK_MEMORY).filter(|m| *m > 0) {
        let _ = write!(line, "  mem {}", bytes(memory));
    }
    if let Some(requests) = int_attr(tool, keys::HTTP_REQUESTS).filter(|r| *r > 0) {
        let _ = write!(line, "  http {requests}");
    }
    match &tool.status {
        SpanStatus::Error { description } if tool.attr(keys::INCOMPLETE).is_some() => {
            let _ = write!(line, "  not finished: {description}");
        }
        SpanStatus::Error { description } => {
            let _ = write!(line, "  error {description}");
        }
        _ => line.push_str("  ok"),
    }
    line
}

fn total_line(run: &Span, priced: bool) -> String {
    let get = |key| int_attr(run, key).unwrap_or(0);
    let mut line = format!(
        "total  {}  {} in / {} out tokens",
        count(get(keys::MODEL_CALLS), "model call", "model calls"),
        thousands(get(keys::USAGE_INPUT_TOKENS)),
        thousands(get(keys::USAGE_OUTPUT_TOKENS)),
    );
    match run.attr(keys::COST_USD) {
        Some(AttrValue::Float(cost)) if priced => {
            let _ = write!(line, "  {}", usd(*cost));
        }
        _ => line.push_str("  cost unknown (no price for this model)"),
    }
    let _ = write!(
        line,
        "  {}",
        count(get(keys::TOOL_CALLS), "tool call", "tool calls")
    );
    if get(keys::DENIALS) > 0 {
        let _ = write!(line, " ({} denied)", get(keys::DENIALS));
    }
    let _ = write!(line, "  fuel {}", thousands(get(keys::FUEL)));
    if get(keys::RETRIES) > 0 {
        let _ = write!(line, "  {}", count(get(keys::RETRIES), "retry", "retries"));
    }
    if get(keys::COMPACTIONS) > 0 {
        let _ = write!(
            line,
            "  {}",
            count(get(keys::COMPACTIONS), "compaction", "compactions")
        );
    }
    line
}

/// How the run ended, with its error.
fn outcome(run: &Span) -> String {
    let mut text = match str_attr(run, keys::STOP_REASON) {
        Some("completed") => "answered".to_owned(),
        Some(reason) => reason.replace('_', " "),
        None => "not finished".to_owned(),
    };
    if run.attr(keys::FORCED) == Some(&AttrValue::Bool(true)) {
        text.push_str(" (forced final answer)");
    }
    if let SpanStatus::Error { description } = &run.status {
        let _ = write!(text, ": {description}");
    }
    text
}

/// A run event as one line.
fn note(name: &str, a: &crate::span::Attributes) -> String {
    let s = |key: &str| a.get(key).map(plain).unwrap_or_default();
    match name {
        keys::EVENT_COMPACTION => format!(
            "compaction: {} → {} tokens{}",
            s("warden.tokens_before"),
            s("warden.tokens_after"),
            if a.get("warden.summarized") == Some(&AttrValue::Bool(true)) {
                " (summarised)"
            } else {
                ""
            }
        ),
        keys::EVENT_BUDGET_WARNING => {
            format!(
                "budget warning: {} {} of {}",
                s("warden.resource"),
                s("warden.used"),
                s("warden.limit")
            )
        }
        keys::EVENT_TOOL_CALL_REJECTED => {
            format!(
                "rejected call {} {}: {}",
                s(keys::TOOL_NAME),
                s(keys::TOOL_CALL_ID),
                s("warden.reason")
            )
        }
        keys::EVENT_HANDOFF => format!(
            "handoff {} → {}{}",
            s(keys::HANDOFF_FROM),
            s("warden.handoff.to"),
            match s("warden.reason") {
                reason if reason.is_empty() => String::new(),
                reason => format!(": {reason}"),
            }
        ),
        keys::EVENT_OUTPUT_REJECTED => format!(
            "answer rejected by the output schema: {}",
            s("warden.reason")
        ),
        other => other.trim_start_matches("warden.").replace('_', " "),
    }
}

fn plain(value: &AttrValue) -> String {
    match value {
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Int(i) => thousands(u64::try_from(*i).unwrap_or(0)),
        AttrValue::Float(f) => format!("{f:.2}"),
        AttrValue::Str(s) => s.clone(),
        AttrValue::StrList(list) => list.join(","),
    }
}

fn op(span: &Span) -> &str {
    str_attr(span, keys::OPERATION_NAME).unwrap_or("")
}

fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attr(key).and_then(AttrValue::as_str)
}

fn int_attr(span: &Span, key: &str) -> Option<u64> {
    span.attr(key)
        .and_then(AttrValue::as_int)
        .and_then(|i| u64::try_from(i).ok())
}

/// `5f0c…9a21` for a long id.
fn short_id(id: &str) -> String {
    match (id.get(..4), id.get(id.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if id.len() > 12 => format!("{head}…{tail}"),
        _ => id.to_owned(),
    }
}

/// `812 ms` below a second, `2.41 s` above.
fn duration(nanos: u64) -> String {
    let ms = nanos / 1_000_000;
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", nanos as f64 / 1e9)
    }
}

/// `1 retry`, `2 retries`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Dollars: four decimals, six below a cent (a small call costs fractions of one).
fn usd(cost: f64) -> String {
    if cost >= 0.01 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.6}")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", n >> 10)
    }
}
