//! The stamped form of an event, as `warden run --json` prints it and a log keeps it: the
//! schema version, the run id, a timestamp and the step around the event's own fields.
//!
//! Invariant: a line written by [`EventStamper::line`] parses back as an [`EventRecord`]
//! whose `event` equals the event given; `step` is the index (from 0) of the model call the
//! event belongs to (`run_started`, before any call, carries 0).

use std::cell::RefCell;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::RunEvent;

/// The version of the stamped event format. Raised when a field changes meaning or is
/// removed; new fields and new event types do not raise it (consumers skip what they do
/// not know).
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// One event with its stamp.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// [`EVENT_SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    /// The run the event belongs to.
    pub run_id: String,
    /// When the event was stamped (RFC 3339, UTC, milliseconds).
    pub ts: String,
    /// The index (from 0) of the model call the event belongs to; 0 before the first.
    pub step: usize,
    /// The event; its `type` and fields sit beside the stamp in JSON.
    #[serde(flatten)]
    pub event: RunEvent,
}

/// Read through a JSON map: a stamped line holds `step` twice when the event has a step of
/// its own (the stamp's, then the event's, equal), which a derived reader refuses as a
/// duplicate field. The map keeps one; the stamp and the event each read it.
impl<'de> Deserialize<'de> for EventRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Stamp {
            schema: u32,
            run_id: String,
            ts: String,
            step: usize,
        }
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let value = serde_json::Value::Object(map);
        let stamp = Stamp::deserialize(&value).map_err(D::Error::custom)?;
        let event = RunEvent::deserialize(value).map_err(D::Error::custom)?;
        Ok(EventRecord {
            schema: stamp.schema,
            run_id: stamp.run_id,
            ts: stamp.ts,
            step: stamp.step,
            event,
        })
    }
}

/// The borrowed twin of [`EventRecord`], so stamping an event does not copy it.
#[derive(Serialize)]
struct Stamped<'a> {
    schema: u32,
    run_id: &'a str,
    ts: String,
    step: usize,
    /// The active agent (the entry agent, or the one the last handoff named).
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
    #[serde(flatten)]
    event: &'a RunEvent,
}

/// Stamps the events of one run, following the step from the events themselves.
#[derive(Debug, Clone)]
pub struct EventStamper {
    run_id: String,
    step: usize,
    agent: Option<String>,
}

impl EventStamper {
    /// A stamper for the run `run_id` (see [`new_run_id`]).
    pub fn new(run_id: impl Into<String>) -> Self {
        EventStamper {
            run_id: run_id.into(),
            step: 0,
            agent: None,
        }
    }

    /// The run id every record carries.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The step of the last event seen.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The active agent: the run's first, or the one the last handoff named (a line
    /// carries it as `agent`).
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// Moves to the step and the agent `event` belongs to.
    fn follow(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { agent, .. } | RunEvent::Handoff { to: agent, .. } => {
                self.agent = Some(agent.clone());
            }
            _ => {}
        }
        match event {
            RunEvent::ModelRequest { step, .. }
            | RunEvent::ModelResponse { step, .. }
            | RunEvent::OutputRejected { step, .. } => self.step = *step,
            _ => {}
        }
    }

    /// `event` with its stamp.
    pub fn record(&mut self, event: RunEvent) -> EventRecord {
        self.follow(&event);
        EventRecord {
            schema: EVENT_SCHEMA_VERSION,
            run_id: self.run_id.clone(),
            ts: now(),
            step: self.step,
            event,
        }
    }

    /// `event` with its stamp as one JSON line (no trailing newline).
    pub fn line(&mut self, event: &RunEvent) -> String {
        self.follow(event);
        let stamped = Stamped {
            schema: EVENT_SCHEMA_VERSION,
            run_id: &self.run_id,
            ts: now(),
            step: self.step,
            agent: self.agent.as_deref(),
            event,
        };
        // Plain data: serialising cannot fail; keep the line well-formed regardless.
        serde_json::to_string(&stamped)
            .unwrap_or_else(|e| format!("{{\"type\":\"serialize_error\",\"error\":\"{e}\"}}"))
    }
}

thread_local! {
    /// The time of the event being handed on by this thread (see [`at_event_time`]).
    static EVENT_TIME: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with one timestamp for every stamp made on this thread inside it, by any
/// [`EventStamper`]: the time is read once, when the event is first handed on, so the
/// record a store keeps, the `--json` line and the trace of one event carry the same
/// `ts`. A call inside another reuses the outer time.
pub fn at_event_time<R>(f: impl FnOnce() -> R) -> R {
    /// Clears the time when the outermost call ends (also by a panic).
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            EVENT_TIME.with(|t| t.borrow_mut().take());
        }
    }
    let outer = EVENT_TIME.with(|t| t.borrow().is_some());
    if outer {
        return f();
    }
    let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    EVENT_TIME.with(|t| *t.borrow_mut() = Some(time));
    let _clear = Clear;
    f()
}

/// The current time as RFC 3339 (UTC, milliseconds): the event's (see
/// [`at_event_time`]) when one is being handed on.
pub(crate) fn now() -> String {
    if let Some(time) = EVENT_TIME.with(|t| t.borrow().clone()) {
        return time;
    }
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A new run id: 128 random bits as 32 hex digits.
pub fn new_run_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Longest server error kept by [`brief_server_error`], in characters.
const BRIEF_CHARS: usize = 300;

/// A server's error text cut to what a person needs on one line: an HTML page (a proxy's
/// or a gateway's error page) becomes its title, whitespace runs become one space, and the
/// whole is cut to 300 characters.
pub fn brief_server_error(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let html_at = ["<!doctype html", "<html"]
        .iter()
        .filter_map(|tag| lower.find(tag))
        .min();
    let text = match html_at {
        Some(at) => {
            let title = html_title(&text[at..], &lower[at..]);
            let before = text[..at].trim_end().trim_end_matches(':');
            match title {
                Some(title) => format!("{before}: HTML page \"{title}\""),
                None => format!("{before}: an HTML page without a title"),
            }
        }
        None => text.to_string(),
    };
    let mut brief = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = brief.char_indices().nth(BRIEF_CHARS) {
        brief.truncate(cut);
        brief.push('…');
    }
    brief
}

/// The text of the first `<title>` of an HTML page (`lower` is `html` lower-cased).
fn html_title<'a>(html: &'a str, lower: &str) -> Option<&'a str> {
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html.get(start..end)?.trim();
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn every_stamp_inside_at_event_time_has_the_same_time() {
        let event = RunEvent::TextDelta { text: "x".into() };
        let (mut store, mut json) = (EventStamper::new("r"), EventStamper::new("r"));
        let (record, line) = at_event_time(|| {
            let record = store.record(event.clone());
            std::thread::sleep(std::time::Duration::from_millis(3));
            let line = at_event_time(|| json.line(&event));
            (record, line)
        });
        let parsed: EventRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.ts, record.ts);
        // Outside, each stamp reads the clock again.
        let first = store.record(event.clone());
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert_ne!(store.record(event).ts, first.ts);
    }
    use crate::state::ModelCallKind;

    #[test]
    fn a_stamped_line_names_the_active_agent_and_follows_handoffs() {
        let mut stamper = EventStamper::new("r1");
        let started = RunEvent::RunStarted {
            agent: "triage".into(),
            model: "m".into(),
            input: "x".into(),
            provider: None,
            priced: false,
        };
        assert!(stamper.line(&started).contains("\"agent\":\"triage\""));
        let handoff = RunEvent::Handoff {
            from: "triage".into(),
            to: "billing".into(),
            reason: String::new(),
            model: "m".into(),
            provider: None,
            messages: 1,
        };
        stamper.line(&handoff);
        let delta = RunEvent::TextDelta { text: "y".into() };
        assert!(stamper.line(&delta).contains("\"agent\":\"billing\""));
        assert_eq!(stamper.agent(), Some("billing"));
    }

    #[test]
    fn a_stamped_line_parses_back_with_the_step_of_its_model_call() {
        let mut stamper = EventStamper::new("r1");
        let request = RunEvent::ModelRequest {
            step: 3,
            kind: ModelCallKind::Turn,
            messages: 2,
            tools: 1,
            estimated_input_tokens: 10,
        };
        let delta = RunEvent::TextDelta { text: "hi".into() };
        let request_line = stamper.line(&request);
        let parsed: EventRecord = serde_json::from_str(&request_line).unwrap();
        assert_eq!(
            parsed.event, request,
            "an event with a step of its own parses back"
        );
        let line = stamper.line(&delta);
        let record: EventRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(record.schema, EVENT_SCHEMA_VERSION);
        assert_eq!(record.run_id, "r1");
        assert_eq!(record.step, 3);
        assert_eq!(record.event, delta);
        assert!(
            humantime::parse_rfc3339(&record.ts).is_ok(),
            "{}",
            record.ts
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value["type"], "text_delta",
            "the event's fields sit beside the stamp"
        );
        assert_eq!(stamper.record(delta.clone()).event, delta);
    }

    #[test]
    fn run_ids_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn an_html_error_page_is_reduced_to_its_title() {
        let page = "server error 502: <!DOCTYPE html>\n<html><head><TITLE> 502 Bad Gateway </TITLE>\
                    <style>body{}</style></head><body>"
            .to_string() + &"<p>junk</p>".repeat(500);
        assert_eq!(
            brief_server_error(&page),
            "server error 502: HTML page \"502 Bad Gateway\""
        );
        assert_eq!(
            brief_server_error("status 503: <html><body>down</body></html>"),
            "status 503: an HTML page without a title"
        );
    }

    #[test]
    fn plain_errors_are_collapsed_and_cut() {
        assert_eq!(brief_server_error("a\n  b\tc"), "a b c");
        let long = "é".repeat(1000);
        let brief = brief_server_error(&long);
        assert_eq!(brief.chars().count(), BRIEF_CHARS + 1);
        assert!(brief.ends_with('…'));
    }
}
