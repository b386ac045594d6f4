//! The encoding memo (`history.rs`) against fresh encodings: whatever came before, a body
//! encoded with a run's cache is byte for byte the body encoded without one.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::anthropic::Anthropic;
use super::openai::OpenAi;
use super::wire::Wire;
use warden_core::chat::{
    ChatRequest, Message, RequestSettings, ToolCall, ToolChoice, ToolSpec, WireCache,
};
use warden_core::options::ModelOptions;

fn tools(names: &[&str]) -> Arc<[ToolSpec]> {
    (names.iter())
        .map(|name| ToolSpec {
            name: (*name).into(),
            description: format!("the \"{name}\" tool\n"),
            parameters: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
        })
        .collect()
}

fn request(messages: Vec<Message>, tools: Arc<[ToolSpec]>, cache: &WireCache) -> ChatRequest {
    ChatRequest {
        settings: RequestSettings {
            model: "m".into(),
            max_tokens: 64,
            temperature: None,
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            options: ModelOptions::default(),
        },
        messages,
        tools,
        cache: cache.clone(),
    }
}

/// Messages of every kind, with texts that need escaping and arguments that are not JSON.
fn arb_message() -> impl Strategy<Value = Message> {
    let text = prop::sample::select(vec!["go", "", "a \"quoted\"\nline", "é\u{1}", "{}"]);
    let args = prop::sample::select(vec![r#"{"x":"1"}"#, "", "not json", "[1]"]);
    prop_oneof![
        text.clone().prop_map(Message::system),
        text.clone().prop_map(Message::user),
        text.clone().prop_map(Message::assistant_text),
        (prop::option::of(text.clone()), args, 0usize..3).prop_map(|(content, args, n)| {
            Message::Assistant {
                content: content.map(Into::into),
                tool_calls: (0..n)
                    .map(|i| ToolCall::new(format!("c{i}"), "t", args))
                    .collect::<Vec<_>>()
                    .into(),
            }
        }),
        (text, any::<bool>()).prop_map(|(t, err)| Message::tool_result("c0", t, err)),
    ]
}

fn wires() -> [Box<dyn Wire>; 3] {
    [
        Box::new(OpenAi { official: true }),
        Box::new(OpenAi { official: false }),
        Box::new(Anthropic),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Requests that each keep part of the one before (or none of it) and add messages,
    /// the tool list sometimes replaced: on each wire with a cache of its own, and on the
    /// wires in turn with one cache, every body is the fresh one.
    #[test]
    fn a_body_encoded_with_the_runs_cache_is_the_fresh_body(
        steps in prop::collection::vec(
            (0usize..12, prop::collection::vec(arb_message(), 0..6), 0usize..3, any::<bool>()),
            1..8,
        ),
    ) {
        let lists = [tools(&[]), tools(&["t"]), tools(&["t", "u"])];
        let shared = WireCache::default();
        for run in 0..4 {
            let own = WireCache::default();
            let mut history: Vec<Message> = Vec::new();
            for (step, (keep, added, list, stream)) in steps.iter().enumerate() {
                history.truncate(*keep);
                history.extend(added.iter().cloned());
                // Runs 0-2: one wire each, its own cache; run 3: the wires in turn, one cache.
                let (wire, cache) = match run {
                    3 => (&wires()[step % 3], &shared),
                    _ => (&wires()[run], &own),
                };
                let tools = lists[*list].clone();
                let cached = wire.body(&request(history.clone(), tools.clone(), cache), "m", *stream);
                let fresh = request(history.clone(), tools, &WireCache::default());
                prop_assert_eq!(
                    String::from_utf8(cached.unwrap()).unwrap(),
                    String::from_utf8(wire.body(&fresh, "m", *stream).unwrap()).unwrap()
                );
            }
        }
    }
}

/// A growing history is encoded with the cache in a run of requests, and each body parses
/// to the request it encodes: the splice of history, tools and settings is valid JSON.
#[test]
fn a_growing_run_sends_valid_bodies_that_end_with_the_new_messages() {
    let cache = WireCache::default();
    let list = tools(&["t"]);
    let mut history = vec![Message::system("be brief"), Message::user("go")];
    for turn in 0..5 {
        let id = format!("c{turn}");
        history.push(Message::Assistant {
            content: None,
            tool_calls: vec![ToolCall::new(id.clone(), "t", r#"{"x":"1"}"#)].into(),
        });
        history.push(Message::tool_result(
            id.clone(),
            format!("result {turn}"),
            false,
        ));
        for wire in wires() {
            let req = request(history.clone(), list.clone(), &cache);
            let body: serde_json::Value =
                serde_json::from_slice(&wire.body(&req, "m", false).unwrap()).unwrap();
            let messages = body["messages"].as_array().unwrap();
            let last = messages.last().unwrap().to_string();
            assert!(last.contains(&format!("result {turn}")), "{last}");
            assert_eq!(body["tools"].as_array().unwrap().len(), 1);
            assert_eq!(body["model"], "m");
        }
    }
}

/// In a run of 200 turns, each request encodes the turns its predecessor lacked, plus its
/// predecessor's last turn (which a later message could have extended): not the history.
#[test]
fn each_request_of_a_long_run_encodes_only_its_new_turns() {
    for wire in wires() {
        let cache = WireCache::default();
        let list = tools(&["t"]);
        let mut history = vec![Message::system("be brief"), Message::user("go")];
        let mut before = 0;
        for turn in 0..200 {
            let id = format!("c{turn}");
            history.push(Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall::new(id.clone(), "t", r#"{"x":"1"}"#)].into(),
            });
            history.push(Message::tool_result(id, "2 KB of output, say", false));
            wire.body(&request(history.clone(), list.clone(), &cache), "m", false)
                .unwrap();
            let encoded = cache.with(|h: &mut super::history::History| h.encoded);
            let this_request = encoded - before;
            before = encoded;
            if turn == 0 {
                continue;
            }
            // OpenAI: the last result again, the new call and its result. Anthropic: the
            // same as turns (a result is a user turn, a call an assistant turn).
            assert_eq!(this_request, 3, "turn {turn} of {}", wire.kind().as_str());
        }
    }
}
