//! [`DemoModel`]: the offline model of `warden demo`. Its moves are written in advance (list
//! the notes, read them in parallel, follow two links the sandbox refuses, recover, compute,
//! ask for more than the budget allows) but every argument and the final answer are built
//! from the real tool results in the request, so what it says is what the tools returned.
//!
//! Invariant: the move is chosen by the number of assistant messages in the request (like
//! the mock LLM server), and a request with tools disabled always gets the final answer.

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use serde_json::{Value, json};

use super::workspace::GUEST_NOTES;
use warden_core::chat::{
    ChatRequest, ChatResponse, FinishReason, Message, StreamEvent, ToolCall, ToolChoice, Usage,
};
use warden_llm::{LlmError, Model, Notices};

/// Pattern of an open action item: `- [ ] what (@owner)`.
pub const OPEN_ITEM: &str = r"- \[ \] (.+) \(@(\w+)\)";

/// The scripted, result-reading model of the demo.
#[derive(Debug, Default)]
pub struct DemoModel;

/// One tool call seen in the history with its result.
struct Seen<'a> {
    name: &'a str,
    arguments: Value,
    result: Option<(&'a str, bool)>,
}

impl DemoModel {
    /// The answer to `req`.
    pub fn respond(&self, req: &ChatRequest) -> ChatResponse {
        let seen = history(&req.messages);
        let turn = req
            .messages
            .iter()
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count();
        let (text, calls) = if req.settings.tool_choice == ToolChoice::None || req.tools.is_empty()
        {
            (Some(final_answer(&seen)), Vec::new())
        } else {
            match turn {
                0 => (
                    Some("Let me see what is in the notes folder.".to_string()),
                    vec![("fs_list", json!({ "path": GUEST_NOTES }))],
                ),
                1 => (
                    Some("Reading every file at once.".to_string()),
                    read_all(&seen),
                ),
                2 => (
                    Some(
                        "The planning notes point to a budget file and the team wiki; I'll open \
                         both while I extract the open action items."
                            .to_string(),
                    ),
                    follow_links(&seen),
                ),
                3 => (Some(recovery(&seen)), compute(&seen)),
                _ => (
                    Some("Before answering, let me check each meeting for risks.".to_string()),
                    risk_checks(&seen),
                ),
            }
        };
        respond_with(req, turn, text, calls)
    }
}

fn respond_with(
    req: &ChatRequest,
    turn: usize,
    text: Option<String>,
    calls: Vec<(&str, Value)>,
) -> ChatResponse {
    let tool_calls: Vec<ToolCall> = calls
        .into_iter()
        .enumerate()
        .map(|(i, (name, args))| {
            ToolCall::new(
                format!("call_{turn}_{i}"),
                name.to_string(),
                args.to_string(),
            )
        })
        .collect();
    // Roughly four characters a token, as a provider would bill it.
    let input: usize = req.messages.iter().map(message_chars).sum();
    let output = text.as_ref().map_or(0, String::len)
        + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
    ChatResponse {
        finish_reason: if tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        },
        text,
        tool_calls,
        usage: Usage {
            input_tokens: (input / 4) as u64 + 50,
            output_tokens: (output / 4) as u64 + 5,
            cached_tokens: 0,
        },
        model: "demo-scripted".into(),
        refusal: None,
    }
}

fn message_chars(m: &Message) -> usize {
    match m {
        Message::System { content } | Message::User { content } => content.len(),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            content.as_ref().map_or(0, |c| c.len())
                + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>()
        }
        Message::Tool { content, .. } => content.len(),
    }
}

/// Every tool call in the history, in order, with its result if there is one.
fn history(messages: &[Message]) -> Vec<Seen<'_>> {
    let mut seen = Vec::new();
    for m in messages {
        if let Message::Assistant { tool_calls, .. } = m {
            for call in tool_calls.iter() {
                let result = messages.iter().find_map(|r| match r {
                    Message::Tool {
                        call_id,
                        content,
                        is_error,
                    } if *call_id == call.id => Some((&**content, *is_error)),
                    _ => None,
                });
                seen.push(Seen {
                    name: &call.name,
                    arguments: serde_json::from_str(&call.arguments).unwrap_or(Value::Null),
                    result,
                });
            }
        }
    }
    seen
}

/// The JSON output of each successful call to `tool`.
fn outputs(seen: &[Seen<'_>], tool: &str) -> Vec<(Value, Value)> {
    seen.iter()
        .filter(|s| s.name == tool)
        .filter_map(|s| match s.result {
            Some((text, false)) => serde_json::from_str(text)
                .ok()
                .map(|v| (s.arguments.clone(), v)),
            _ => None,
        })
        .collect()
}

/// Files read so far: (guest path, content).
fn files(seen: &[Seen<'_>]) -> Vec<(String, String)> {
    outputs(seen, "fs_read")
        .into_iter()
        .filter_map(|(_, out)| {
            Some((
                out.get("path")?.as_str()?.to_string(),
                out.get("content")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

fn markdown(seen: &[Seen<'_>]) -> String {
    files(seen)
        .into_iter()
        .filter(|(path, _)| path.ends_with(".md"))
        .map(|(_, content)| content)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One `fs_read` per file the listing showed.
fn read_all(seen: &[Seen<'_>]) -> Vec<(&'static str, Value)> {
    outputs(seen, "fs_list")
        .into_iter()
        .flat_map(|(_, out)| out.get("entries").cloned().into_iter())
        .flat_map(|entries| entries.as_array().cloned().unwrap_or_default())
        .filter(|e| e.get("kind").and_then(Value::as_str) == Some("file"))
        .filter_map(|e| e.get("name").and_then(Value::as_str).map(String::from))
        .map(|name| {
            (
                "fs_read",
                json!({ "path": format!("{GUEST_NOTES}/{name}") }),
            )
        })
        .collect()
}

/// The action items, plus the budget file and the wiki page the notes link to.
fn follow_links(seen: &[Seen<'_>]) -> Vec<(&'static str, Value)> {
    let text = markdown(seen);
    let word = |prefix: &str| {
        text.split_whitespace()
            .find(|w| w.starts_with(prefix))
            .map(|w| w.trim_end_matches(['.', ',', ')']).to_string())
    };
    let mut calls = vec![(
        "regex_search",
        json!({ "pattern": OPEN_ITEM, "text": text, "max_matches": 50 }),
    )];
    if let Some(path) = word("../") {
        calls.push((
            "fs_read",
            json!({ "path": format!("{GUEST_NOTES}/{path}") }),
        ));
    }
    if let Some(url) = word("https://") {
        calls.push(("http_fetch", json!({ "url": url })));
    }
    calls
}

/// What the model says after seeing the refusals.
fn recovery(seen: &[Seen<'_>]) -> String {
    let refused = seen
        .iter()
        .filter(|s| matches!(s.result, Some((_, true))))
        .count();
    format!(
        "{refused} of those were refused by the sandbox, so I'll work from the granted notes \
         alone: totalling the estimates and measuring the notes."
    )
}

/// `calc` over the hours column of the estimates, and `text_stats` over the notes.
fn compute(seen: &[Seen<'_>]) -> Vec<(&'static str, Value)> {
    let hours: Vec<String> = files(seen)
        .into_iter()
        .filter(|(path, _)| path.ends_with(".csv"))
        .flat_map(|(_, content)| {
            content
                .lines()
                .skip(1)
                .filter_map(|l| l.rsplit(',').next().map(str::trim).map(String::from))
                .filter(|h| h.parse::<f64>().is_ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut calls = Vec::new();
    if !hours.is_empty() {
        calls.push(("calc", json!({ "expression": hours.join(" + ") })));
    }
    calls.push(("text_stats", json!({ "text": markdown(seen) })));
    calls
}

/// One risk search per meeting note (more than the budget has left).
fn risk_checks(seen: &[Seen<'_>]) -> Vec<(&'static str, Value)> {
    files(seen)
        .into_iter()
        .filter(|(path, _)| path.ends_with(".md") && !path.ends_with("README.md"))
        .map(|(_, content)| {
            (
                "regex_search",
                json!({ "pattern": "(?i)(risk|blocker)", "text": content }),
            )
        })
        .collect()
}

/// The answer, from whatever the tools returned so far.
fn final_answer(seen: &[Seen<'_>]) -> String {
    let mut out = String::from("Summary of the project notes\n\n");
    let items: Vec<(String, String)> = outputs(seen, "regex_search")
        .into_iter()
        .filter(|(args, _)| args.get("pattern").and_then(Value::as_str) == Some(OPEN_ITEM))
        .flat_map(|(_, v)| {
            v.get("matches")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| {
            let groups = m.get("groups")?.as_array()?;
            Some((
                groups.first()?.as_str()?.to_string(),
                groups.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect();
    out.push_str(&format!("Open action items ({}):\n", items.len()));
    for (what, who) in &items {
        out.push_str(&format!("- {what} (owner: {who})\n"));
    }
    for (args, v) in outputs(seen, "calc") {
        if let (Some(expr), Some(total)) = (
            args.get("expression").and_then(Value::as_str),
            v.get("text").and_then(Value::as_str),
        ) {
            out.push_str(&format!("\nEstimated work: {expr} = {total} hours.\n"));
        }
    }
    for (_, v) in outputs(seen, "text_stats") {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push_str(&format!(
            "The meeting notes run to {} words on {} lines.\n",
            n("words"),
            n("lines")
        ));
    }
    let refused: Vec<String> = seen
        .iter()
        .filter(|s| matches!(s.result, Some((_, true))))
        .filter_map(|s| {
            let target = s.arguments.get("path").or_else(|| s.arguments.get("url"))?;
            Some(target.as_str()?.to_string())
        })
        .collect();
    if !refused.is_empty() {
        out.push_str(&format!(
            "\nNot checked: {} (outside what this agent is allowed to reach; ask the operator \
             to grant access if they matter).\n",
            refused.join(" and ")
        ));
    }
    out.push_str("I stopped before checking every note for risks: the tool-call budget ran out.");
    out
}

impl Model for DemoModel {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
        _notices: &'a Notices,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move { Ok(self.respond(req)) })
    }

    fn stream<'a>(
        &'a self,
        req: &'a ChatRequest,
        _notices: &'a Notices,
    ) -> BoxFuture<'a, Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError>> {
        Box::pin(async move {
            let events: Vec<Result<StreamEvent, LlmError>> = stream_events(&self.respond(req))
                .into_iter()
                .map(Ok)
                .collect();
            let boxed: BoxStream<'static, _> = Box::pin(stream::iter(events));
            Ok(boxed)
        })
    }

    fn provider(&self) -> &str {
        "scripted"
    }

    fn model_name(&self) -> &str {
        "demo-scripted"
    }
}

/// `response` as a provider would stream it: a word at a time.
fn stream_events(response: &ChatResponse) -> Vec<StreamEvent> {
    response.to_stream_events(|s| s.split_inclusive(' ').map(str::to_string).collect())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use warden_core::chat::RequestSettings;

    fn request(messages: Vec<Message>, choice: ToolChoice) -> ChatRequest {
        ChatRequest {
            cache: Default::default(),
            settings: RequestSettings {
                model: String::new(),
                max_tokens: 100,
                temperature: None,
                tool_choice: choice,
                parallel_tool_calls: true,
                options: Default::default(),
            },
            messages,
            tools: vec![warden_core::chat::ToolSpec {
                name: "fs_read".into(),
                description: String::new(),
                parameters: json!({}),
            }]
            .into(),
        }
    }

    fn listing() -> Vec<Message> {
        let listing = json!({ "path": "/notes", "entries": [
            { "name": "a.md", "kind": "file", "size": 1 },
            { "name": "sub", "kind": "dir", "size": null },
            { "name": "b.csv", "kind": "file", "size": 1 },
        ]});
        vec![
            Message::user("go"),
            Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall::new("c0", "fs_list", r#"{"path":"/notes"}"#)].into(),
            },
            Message::tool_result("c0", listing.to_string(), false),
        ]
    }

    #[test]
    fn reads_every_listed_file_in_one_turn() {
        let response = DemoModel.respond(&request(listing(), ToolChoice::Auto));
        let paths: Vec<String> = response
            .tool_calls
            .iter()
            .map(|c| c.arguments.to_string())
            .collect();
        assert_eq!(
            paths,
            [r#"{"path":"/notes/a.md"}"#, r#"{"path":"/notes/b.csv"}"#]
        );
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn tools_disabled_always_gets_the_final_answer() {
        let response = DemoModel.respond(&request(listing(), ToolChoice::None));
        assert!(response.tool_calls.is_empty());
        assert!(response.text.unwrap().contains("Open action items (0)"));
    }
}
