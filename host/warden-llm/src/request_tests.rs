//! The exact JSON bodies both wires send for the request-side settings: rejected tool
//! results, the optional model settings, and the checks that refuse what a provider lacks.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::{Map, Value, json};

use super::anthropic::{Anthropic, BODY_KEYS as ANTHROPIC_KEYS};
use super::config::ProviderKind;
use super::openai::{BODY_KEYS as OPENAI_KEYS, OpenAi};
use super::options::{OptionsError, check_options, check_request};
use super::wire::Wire;
use warden_core::chat::{ChatRequest, Message, RequestSettings, ToolCall, ToolChoice, ToolSpec};
use warden_core::options::{MAX_STOP_BYTES, ModelOptions, ReasoningEffort};

/// What the controller sends back for a call to a tool that does not exist.
const REJECTED: &str = "Error: there is no tool named `nope`. The tools you can call are: add. \
                        Call one of them by its exact name.";

fn settings(options: ModelOptions) -> RequestSettings {
    RequestSettings {
        model: "m".into(),
        max_tokens: 2048,
        temperature: None,
        tool_choice: ToolChoice::Auto,
        parallel_tool_calls: true,
        options,
    }
}

fn request(options: ModelOptions, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        cache: Default::default(),
        settings: settings(options),
        messages,
        tools: Vec::new().into(),
    }
}

/// A history whose last turn answers call `c1` with `result` (an error).
fn rejected_call(result: &str) -> Vec<Message> {
    vec![
        Message::user("go"),
        Message::Assistant {
            content: None,
            tool_calls: vec![ToolCall::new("c1", "nope", "{}")].into(),
        },
        Message::tool_result("c1", result, true),
    ]
}

fn body(wire: &dyn Wire, req: &ChatRequest, stream: bool) -> Value {
    check_request(req, wire.kind()).unwrap();
    serde_json::from_slice(&wire.body(req, "m", stream).unwrap()).unwrap()
}

fn all_options() -> ModelOptions {
    ModelOptions {
        top_p: Some(0.5),
        seed: Some(7),
        stop: vec!["END".into(), "\n\n".into()],
        reasoning_effort: Some(ReasoningEffort::High),
        thinking_budget: None,
        extra_body: extra(json!({"num_ctx": 8192, "options": {"mirostat": 2}})),
    }
}

fn extra(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

const COMPAT: OpenAi = OpenAi { official: false };

#[test]
fn openai_sends_a_rejected_tool_result_with_one_error_prefix() {
    let req = request(ModelOptions::default(), rejected_call(REJECTED));
    let body = body(&COMPAT, &req, false);
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "c1", "content": REJECTED})
    );
    // A failure text without a label still gets exactly one.
    let req = request(
        ModelOptions::default(),
        rejected_call("Error (timeout): slow"),
    );
    assert_eq!(
        body_of(&req)["messages"][2]["content"],
        "Error (timeout): slow"
    );
    let req = request(ModelOptions::default(), rejected_call("disk full"));
    assert_eq!(body_of(&req)["messages"][2]["content"], "Error: disk full");
}

fn body_of(req: &ChatRequest) -> Value {
    body(&COMPAT, req, false)
}

#[test]
fn anthropic_flags_a_rejected_tool_result_and_keeps_its_one_prefix() {
    let req = request(ModelOptions::default(), rejected_call(REJECTED));
    let body = body(&Anthropic, &req, false);
    assert_eq!(
        body["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": REJECTED, "is_error": true}
        ]})
    );
    // The flag says it: no prefix is added to a text without one.
    let req = request(ModelOptions::default(), rejected_call("disk full"));
    let body = serde_json::to_string(&self::body(&Anthropic, &req, false)).unwrap();
    assert!(
        body.contains(r#""content":"disk full","is_error":true"#),
        "{body}"
    );
}

#[test]
fn openai_body_carries_every_option_with_extra_fields_last() {
    let req = request(all_options(), vec![Message::user("hi")]);
    let bytes = COMPAT.body(&req, "m", false).unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2048,
            "top_p": 0.5,
            "seed": 7,
            "stop": ["END", "\n\n"],
            "reasoning_effort": "high",
            "num_ctx": 8192,
            "options": {"mirostat": 2},
        })
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.find("\"reasoning_effort\"").unwrap() < text.find("\"num_ctx\"").unwrap(),
        "{text}"
    );
}

#[test]
fn anthropic_body_carries_its_options_and_thinking() {
    let options = ModelOptions {
        top_p: Some(0.96875),
        stop: vec!["END".into()],
        thinking_budget: Some(1024),
        extra_body: extra(json!({"metadata": {"user_id": "u1"}})),
        ..ModelOptions::default()
    };
    let req = request(options, vec![Message::user("hi")]);
    assert_eq!(
        body(&Anthropic, &req, true),
        json!({
            "model": "m",
            "max_tokens": 2048,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "top_p": 0.96875,
            "stop_sequences": ["END"],
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "stream": true,
            "metadata": {"user_id": "u1"},
        })
    );
}

#[test]
fn no_options_send_no_option_fields() {
    let req = request(ModelOptions::default(), vec![Message::user("hi")]);
    assert_eq!(
        body_of(&req),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2048})
    );
    assert_eq!(
        body(&Anthropic, &req, false),
        json!({"model": "m", "max_tokens": 2048,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    );
}

#[test]
fn the_reserved_key_lists_cover_every_field_the_wires_write() {
    let mut req = request(all_options(), rejected_call("x"));
    req.settings.temperature = Some(0.5);
    req.settings.options.extra_body.clear();
    req.tools = vec![ToolSpec {
        name: "nope".into(),
        description: "d".into(),
        parameters: json!({"type": "object"}),
    }]
    .into();
    let keys = |wire: &dyn Wire, req: &ChatRequest| -> Vec<String> {
        let body: Value = serde_json::from_slice(&wire.body(req, "m", true).unwrap()).unwrap();
        body.as_object().unwrap().keys().cloned().collect()
    };
    for wire in [OpenAi { official: true }, COMPAT] {
        for key in keys(&wire, &req) {
            assert!(OPENAI_KEYS.contains(&key.as_str()), "{key}");
        }
    }
    req.settings.options.seed = None;
    req.settings.options.reasoning_effort = None;
    req.settings.options.thinking_budget = Some(1024);
    let written = keys(&Anthropic, &req);
    for key in &written {
        assert!(ANTHROPIC_KEYS.contains(&key.as_str()), "{key}");
    }
    assert!(written.len() >= 10, "{written:?}");
}

#[test]
fn extra_body_may_not_set_a_field_warden_writes() {
    for (kind, keys) in [
        (ProviderKind::Openai, OPENAI_KEYS),
        (ProviderKind::Anthropic, ANTHROPIC_KEYS),
    ] {
        for key in keys {
            let mut extra_body = extra(json!({"fine": 1}));
            extra_body.insert((*key).into(), json!(1));
            let options = ModelOptions {
                extra_body,
                ..ModelOptions::default()
            };
            let err = check_request(&request(options, vec![Message::user("hi")]), kind);
            assert_eq!(
                err,
                Err(OptionsError::ReservedKey { key: (*key).into() }),
                "{kind:?}"
            );
        }
    }
    let err = OptionsError::ReservedKey {
        key: "stream".into(),
    };
    assert_eq!(err.setting(), "extra_body");
    assert!(err.to_string().contains("`stream`"), "{err}");
}

#[test]
fn a_setting_the_provider_lacks_is_refused_by_name() {
    let cases = [
        (
            ProviderKind::Anthropic,
            "seed",
            ModelOptions {
                seed: Some(1),
                ..ModelOptions::default()
            },
        ),
        (
            ProviderKind::Anthropic,
            "reasoning_effort",
            ModelOptions {
                reasoning_effort: Some(ReasoningEffort::Low),
                ..ModelOptions::default()
            },
        ),
        (
            ProviderKind::Openai,
            "thinking_budget",
            ModelOptions {
                thinking_budget: Some(2000),
                ..ModelOptions::default()
            },
        ),
    ];
    for (kind, name, options) in cases {
        let err = check_options(&options, kind, 4096, None).unwrap_err();
        assert!(
            matches!(err, OptionsError::Unsupported { option, .. } if option == name),
            "{err:?}"
        );
        assert_eq!(err.setting(), name);
    }
}

#[test]
fn the_thinking_budget_must_fit_below_max_tokens() {
    let with = |budget| ModelOptions {
        thinking_budget: Some(budget),
        ..ModelOptions::default()
    };
    let a = ProviderKind::Anthropic;
    assert_eq!(
        check_options(&with(1023), a, 4096, None),
        Err(OptionsError::ThinkingBudget {
            budget: 1023,
            max_tokens: 4096
        })
    );
    assert!(check_options(&with(4096), a, 4096, None).is_err());
    assert_eq!(check_options(&with(4095), a, 4096, None), Ok(()));
    let err = check_options(&with(2000), a, 4096, Some(0.2)).unwrap_err();
    assert!(
        matches!(
            err,
            OptionsError::ThinkingConflict {
                with: "temperature",
                ..
            }
        ),
        "{err:?}"
    );
    let mut low_p = with(2000);
    low_p.top_p = Some(0.9);
    assert!(check_options(&low_p, a, 4096, None).is_err());
}

#[test]
fn thinking_is_refused_beside_a_forced_tool_or_tool_calls_in_the_history() {
    let thinking = ModelOptions {
        thinking_budget: Some(1024),
        ..ModelOptions::default()
    };
    let mut req = request(thinking.clone(), rejected_call("x"));
    let err = check_request(&req, ProviderKind::Anthropic).unwrap_err();
    assert!(
        matches!(
            err,
            OptionsError::ThinkingConflict {
                with: "tool calls",
                ..
            }
        ),
        "{err:?}"
    );
    req.messages = vec![Message::user("hi")];
    req.settings.tool_choice = ToolChoice::Required;
    req.tools = vec![ToolSpec {
        name: "t".into(),
        description: "d".into(),
        parameters: json!({}),
    }]
    .into();
    let err = check_request(&req, ProviderKind::Anthropic).unwrap_err();
    assert!(
        matches!(
            err,
            OptionsError::ThinkingConflict {
                with: "a forced tool choice",
                ..
            }
        ),
        "{err:?}"
    );
    req.settings.tool_choice = ToolChoice::Auto;
    assert_eq!(check_request(&req, ProviderKind::Anthropic), Ok(()));
}

#[test]
fn stop_sequences_and_top_p_are_bounded() {
    let stop = |stop: Vec<String>| ModelOptions {
        stop,
        ..ModelOptions::default()
    };
    let o = ProviderKind::Openai;
    let five = stop(vec!["a".into(); 5]);
    assert_eq!(
        check_options(&five, o, 100, None),
        Err(OptionsError::TooManyStops { count: 5 })
    );
    assert_eq!(
        check_options(&stop(vec!["a".into(); 4]), o, 100, None),
        Ok(())
    );
    let long = stop(vec!["a".into(), "x".repeat(MAX_STOP_BYTES + 1)]);
    assert_eq!(
        check_options(&long, ProviderKind::Anthropic, 100, None),
        Err(OptionsError::StopTooLong {
            index: 1,
            len: MAX_STOP_BYTES + 1
        })
    );
    assert_eq!(
        check_options(&stop(vec!["x".repeat(MAX_STOP_BYTES)]), o, 100, None),
        Ok(())
    );
    assert_eq!(
        check_options(&stop(vec![" \n".into()]), o, 100, None),
        Err(OptionsError::BlankStop { index: 0 })
    );
    for value in [-0.1, 1.5, f32::NAN] {
        let options = ModelOptions {
            top_p: Some(value),
            ..ModelOptions::default()
        };
        let err = check_options(&options, o, 100, None).unwrap_err();
        assert_eq!(err.setting(), "top_p");
    }
}

#[test]
fn a_summary_request_drops_the_stop_sequences_and_the_thinking_budget() {
    let options = ModelOptions {
        thinking_budget: Some(2000),
        ..all_options()
    };
    let summary = options.for_summary();
    assert!(summary.stop.is_empty() && summary.thinking_budget.is_none());
    assert_eq!(summary.seed, Some(7));
    assert_eq!(summary.extra_body, options.extra_body);
}
