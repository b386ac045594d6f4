//! Tests of the response parser and the output schema.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::json;

use super::*;
use crate::chat::{ChatResponse, FinishReason, ToolCall, Usage};
use crate::tool::ToolCatalogEntry;

fn catalog() -> ToolSchemas {
    ToolSchemas::compile(vec![
        ToolCatalogEntry::new(
            "add",
            "adds",
            json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"], "additionalProperties": false}),
        ),
        ToolCatalogEntry::new("now", "time", json!({"type": "object"})),
    ])
    .unwrap()
}

fn call(name: &str, args: &str) -> ToolCall {
    ToolCall::new("c1", name, args)
}

fn response(text: Option<&str>, calls: Vec<ToolCall>, finish: FinishReason) -> ChatResponse {
    ChatResponse {
        text: text.map(Into::into),
        tool_calls: calls,
        finish_reason: finish,
        usage: Usage::default(),
        model: "m".into(),
        refusal: None,
    }
}

fn invalid(parsed: ParsedCall) -> InvalidReason {
    match parsed {
        ParsedCall::Invalid(inv) => inv.reason,
        ParsedCall::Valid(v) => panic!("expected invalid, got {v:?}"),
    }
}

#[test]
fn valid_call_carries_parsed_arguments() {
    let parsed = catalog().check_call(&call("add", r#"{"a": 1, "b": 2}"#), false);
    assert_eq!(
        parsed,
        ParsedCall::Valid(ValidCall {
            call_id: "c1".into(),
            name: "add".into(),
            arguments: json!({"a": 1, "b": 2})
        })
    );
    // An empty argument string means "no arguments".
    assert!(matches!(
        catalog().check_call(&call("now", ""), false),
        ParsedCall::Valid(_)
    ));
}

#[test]
fn unknown_tool_lists_the_known_names() {
    let reason = invalid(catalog().check_call(&call("sub", "{}"), false));
    assert_eq!(
        reason,
        InvalidReason::UnknownTool {
            known: vec!["add".into(), "now".into()]
        }
    );
    let text = reason.message_for_model("sub");
    assert!(
        text.contains("no tool named `sub`") && text.contains("add, now"),
        "{text}"
    );
}

#[test]
fn invalid_json_and_non_objects_are_rejected() {
    let reason = invalid(catalog().check_call(&call("add", "{a: 1"), false));
    assert!(matches!(reason, InvalidReason::InvalidJson { .. }));
    assert!(reason.message_for_model("add").contains("not valid JSON"));
    let reason = invalid(catalog().check_call(&call("add", "[1, 2]"), false));
    assert_eq!(
        reason,
        InvalidReason::NotAnObject {
            given: "an array".into()
        }
    );
}

#[test]
fn schema_violation_names_path_expected_and_given() {
    let reason = invalid(catalog().check_call(&call("add", r#"{"a": "ten", "b": 2}"#), false));
    let InvalidReason::SchemaViolation { errors } = &reason else {
        panic!("{reason:?}")
    };
    assert_eq!(errors[0].path, "/a");
    assert!(
        errors[0].schema_path.ends_with("/type"),
        "{}",
        errors[0].schema_path
    );
    let text = reason.message_for_model("add");
    assert!(
        text.contains("at `/a`") && text.contains("\"ten\"") && text.contains("integer"),
        "{text}"
    );

    let reason = invalid(catalog().check_call(&call("add", r#"{"a": 1}"#), false));
    assert!(
        reason
            .message_for_model("add")
            .contains("\"b\" is a required property"),
        "{reason:?}"
    );
}

#[test]
fn truncated_arguments_are_invalid_calls() {
    let parsed = catalog().parse(&response(
        None,
        vec![call("add", r#"{"a": 1, "b"#)],
        FinishReason::Length,
    ));
    let Parsed::ToolCalls { calls, .. } = parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(invalid(calls[0].clone()), InvalidReason::Truncated);
    assert!(
        InvalidReason::Truncated
            .message_for_model("add")
            .contains("output-token limit")
    );
}

#[test]
fn refusals_filters_empty_and_final_answers_are_told_apart() {
    let cat = catalog();
    let mut refused = response(None, vec![], FinishReason::Stop);
    refused.refusal = Some("I can't help with that".into());
    assert_eq!(
        cat.parse(&refused),
        Parsed::Refusal {
            message: "I can't help with that".into()
        }
    );
    assert_eq!(
        cat.parse(&response(Some("par"), vec![], FinishReason::ContentFilter)),
        Parsed::ContentFiltered {
            text: Some("par".into())
        }
    );
    assert_eq!(
        cat.parse(&response(Some("  "), vec![], FinishReason::Stop)),
        Parsed::Empty {
            finish_reason: FinishReason::Stop
        }
    );
    assert_eq!(
        cat.parse(&response(Some("42"), vec![], FinishReason::Length)),
        Parsed::Final {
            text: "42".into(),
            truncated: true
        }
    );
}

#[test]
fn catalog_rejects_bad_schemas_and_duplicate_names() {
    let bad = ToolCatalogEntry::new("x", "", json!({"type": "no-such-type"}));
    assert!(matches!(
        ToolSchemas::compile(vec![bad]),
        Err(ParserError::InvalidToolSchema { .. })
    ));
    let a = ToolCatalogEntry::new("x", "", json!({}));
    assert_eq!(
        ToolSchemas::compile(vec![a.clone(), a]).unwrap_err(),
        ParserError::DuplicateTool("x".into())
    );
}

#[test]
fn output_schema_accepts_fenced_json_and_explains_failures() {
    let schema = OutputSchema::compile(json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "number"}}})).unwrap();
    assert_eq!(
        schema.check("```json\n{\"answer\": 4}\n```").unwrap(),
        json!({"answer": 4})
    );
    let why = schema.check("{\"answer\": \"four\"}").unwrap_err();
    assert!(why.contains("/answer") && why.contains("number"), "{why}");
    assert!(schema.check("four").unwrap_err().contains("not valid JSON"));
}

#[test]
fn dropped_arguments_are_rejected_with_their_size_and_the_limit() {
    let mut huge = call("add", &format!(r#"{{"a":"{}"}}"#, "1".repeat(5000)));
    huge.cap(1024);
    let reason = invalid(catalog().check_call(&huge, false));
    assert_eq!(
        reason,
        InvalidReason::TooLarge {
            size_bytes: 5008,
            limit_bytes: 1024
        }
    );
    assert_eq!(
        reason.summary(),
        "arguments are 5008 bytes, over the limit of 1024 bytes"
    );
    let text = reason.message_for_model("add");
    assert!(
        text.contains("5008 bytes, over the limit of 1024 bytes"),
        "{text}"
    );
    assert!(text.contains("under 1024 bytes"), "{text}");
    // Also for an unknown tool: the size is checked before anything else.
    let mut unknown = call("nope", &"x".repeat(2000));
    unknown.cap(1024);
    assert!(matches!(
        invalid(catalog().check_call(&unknown, false)),
        InvalidReason::TooLarge { .. }
    ));
}

#[test]
fn schema_errors_quoting_a_huge_value_or_key_are_cut() {
    let value = "v".repeat(100_000);
    let args = format!(r#"{{"a":"{value}","b":1}}"#);
    let InvalidReason::SchemaViolation { errors } =
        invalid(catalog().check_call(&call("add", &args), false))
    else {
        panic!("expected a schema violation");
    };
    assert!(errors[0].message.chars().count() <= MAX_SCHEMA_MESSAGE_CHARS + 1);
    assert!(errors[0].message.ends_with('…'), "{}", errors[0].message);
    let key = "k".repeat(100_000);
    let nested = ToolSchemas::compile(vec![ToolCatalogEntry::new(
        "deep",
        "d",
        json!({"type": "object", "additionalProperties": {"type": "integer"}}),
    )])
    .unwrap();
    let InvalidReason::SchemaViolation { errors } =
        invalid(nested.check_call(&call("deep", &format!(r#"{{"{key}":"x"}}"#)), false))
    else {
        panic!("expected a schema violation");
    };
    assert!(errors[0].path.chars().count() <= MAX_SCHEMA_MESSAGE_CHARS + 1);
    assert!(errors[0].message.chars().count() <= MAX_SCHEMA_MESSAGE_CHARS + 1);
}
