//! Typed WIT components as tools, end to end: the `typed` guest (a plain WIT world that knows
//! nothing of warden) loaded by the real executor, its functions called with JSON under the
//! same limits as `warden:tool` components, package docs, name collisions, and a Runner run
//! against the mock LLM calling one of its functions.

use std::sync::Arc;
use std::time::Duration;

use mock_llm::Turn;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use warden_core::run::StopReason;
use warden_e2e::sandbox::{executor, quick_policy};
use warden_sandbox::{LoadError, ToolCallError, ToolPolicy, ToolSet};
use warden_wit::docs::{FuncDocs, PackageDocs};

use crate::agent_support::{Wire, start, tool_results};

async fn typed() -> Arc<ToolSet> {
    static SET: OnceCell<Arc<ToolSet>> = OnceCell::const_new();
    SET.get_or_init(|| async {
        executor()
            .load_file(warden::testing::guests::TYPED)
            .await
            .unwrap_or_else(|e| panic!("cannot load the typed component: {e}"))
    })
    .await
    .clone()
}

async fn call_with(tool: &str, args: Value, policy: &ToolPolicy) -> Result<Value, ToolCallError> {
    let set = typed().await;
    let outcome = executor().call(&set, tool, &args.to_string(), policy).await;
    outcome
        .result
        .map(|out| serde_json::from_str(&out).unwrap())
}

/// [`call_with`] under the quick policy; the arguments as a parsed value must give the
/// same result as their text.
async fn call(tool: &str, args: Value) -> Result<Value, ToolCallError> {
    let set = typed().await;
    let parsed = executor()
        .call_value(&set, tool, &args, &quick_policy())
        .await;
    let result = call_with(tool, args.clone(), &quick_policy()).await;
    let as_value = parsed.result.map(|out| serde_json::from_str(&out).unwrap());
    assert_eq!(as_value, result, "{tool} with {args}");
    result
}

#[tokio::test]
async fn every_exported_function_with_a_json_form_is_a_tool() {
    let set = typed().await;
    assert!(set.is_typed());
    let names: Vec<&str> = set.tools().iter().map(|t| t.name.as_str()).collect();
    for expected in [
        "greet",
        "text_shout",
        "text_count",
        "text_parse-int",
        "text_area",
        "text_next-colour",
        "text_toggle",
        "text_successor",
        "text_bytes-len",
        "text_swap",
        "hostile_spin",
        "hostile_hog",
        "hostile_not-a-number",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The resource interface offers nothing, and each of its functions says why.
    assert!(
        !names.iter().any(|n| n.starts_with("counters")),
        "{names:?}"
    );
    let skipped = set.skipped();
    let read = skipped
        .iter()
        .find(|s| s.export.ends_with("#read-counter"))
        .unwrap_or_else(|| panic!("{skipped:?}"));
    assert!(read.reason.contains("resource handle"), "{}", read.reason);
    assert!(
        skipped
            .iter()
            .any(|s| s.export.ends_with("#[constructor]counter")),
        "{skipped:?}"
    );
}

#[tokio::test]
async fn schemas_come_from_the_wit_types() {
    let set = typed().await;
    let greet = set.tool("greet").unwrap();
    assert_eq!(
        greet.args_schema["required"],
        json!(["name"]),
        "option params are optional"
    );
    assert_eq!(greet.args_schema["additionalProperties"], json!(false));
    let successor = set.tool("text_successor").unwrap();
    assert_eq!(
        successor.args_schema["properties"]["n"]["maximum"],
        json!(u64::MAX)
    );
    let toggle = set.tool("text_toggle").unwrap();
    assert_eq!(
        toggle.args_schema["properties"]["perms"]["uniqueItems"],
        json!(true)
    );
    // No docs embedded: the description is generated from the signature.
    assert!(
        greet
            .description
            .contains("greet(name: string, excited: option<bool>)"),
        "{}",
        greet.description
    );
    let parse = set.tool("text_parse-int").unwrap();
    assert_eq!(parse.output_schema.as_ref().unwrap()["type"], "integer");
}

#[tokio::test]
async fn calls_convert_arguments_and_results_both_ways() {
    assert_eq!(
        call("greet", json!({"name": "Ada"})).await.unwrap(),
        json!("Hello, Ada.")
    );
    assert_eq!(
        call("greet", json!({"name": "Ada", "excited": true}))
            .await
            .unwrap(),
        json!("Hello, Ada!")
    );
    assert_eq!(
        call("greet", json!({"name": "Ada", "excited": null}))
            .await
            .unwrap(),
        json!("Hello, Ada.")
    );
    let stats = call("text_count", json!({"text": "a bb ccc"}))
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"words": 3, "bytes": 8, "mean-word-length": 2.0, "longest": "ccc"})
    );
    // An empty text has no longest word: the none field is absent.
    let empty = call("text_count", json!({"text": ""})).await.unwrap();
    assert!(empty.get("longest").is_none(), "{empty}");
    let area = call(
        "text_area",
        json!({"shape": {"tag": "square", "value": 3.0}}),
    )
    .await
    .unwrap();
    assert_eq!(area, json!(9.0));
    assert_eq!(
        call("text_area", json!({"shape": {"tag": "point"}}))
            .await
            .unwrap(),
        json!(0.0)
    );
    assert_eq!(
        call("text_next-colour", json!({"colour": "blue"}))
            .await
            .unwrap(),
        json!("red")
    );
    assert_eq!(
        call("text_toggle", json!({"perms": ["write", "read"]}))
            .await
            .unwrap(),
        json!(["read", "execute"])
    );
    assert_eq!(
        call("text_bytes-len", json!({"data": [0, 255, 7]}))
            .await
            .unwrap(),
        json!(3)
    );
    assert_eq!(
        call("text_swap", json!({"pair": [-4, "x"]})).await.unwrap(),
        json!(["x", -4])
    );
}

#[tokio::test]
async fn sixty_four_bit_integers_cross_exactly() {
    let big = (1u64 << 53) + 1;
    assert_eq!(
        call("text_successor", json!({"n": big})).await.unwrap(),
        json!(big + 1)
    );
    assert_eq!(
        call("text_successor", json!({"n": u64::MAX}))
            .await
            .unwrap(),
        json!(0)
    );
}

#[tokio::test]
async fn a_result_err_is_a_tool_error_the_model_sees() {
    assert_eq!(
        call("text_parse-int", json!({"text": "-42"}))
            .await
            .unwrap(),
        json!(-42)
    );
    let err = call("text_parse-int", json!({"text": "forty"}))
        .await
        .unwrap_err();
    match &err {
        ToolCallError::ToolFailed { message } => {
            assert!(message.contains("not a decimal integer"), "{message}")
        }
        other => panic!("expected tool_failed, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_arguments_name_the_path_and_never_reach_an_instance() {
    let set = typed().await;
    let cases = [
        (
            json!({"shape": {"tag": "circle", "value": "big"}}),
            "/shape/value",
            "a number",
        ),
        (json!({"shape": {"tag": "hexagon"}}), "/shape/tag", "one of"),
        (json!({}), "", "required field \"shape\""),
        (
            json!({"shape": {"tag": "point"}, "extra": 1}),
            "/extra",
            "no such field",
        ),
    ];
    for (args, path, expected) in cases {
        let outcome = executor()
            .call(&set, "text_area", &args.to_string(), &quick_policy())
            .await;
        match &outcome.result {
            Err(ToolCallError::InvalidArguments { path: p, message }) => {
                assert_eq!(p, path, "{args}");
                assert!(message.contains(expected), "{args}: {message}");
            }
            other => panic!("{args}: expected invalid_arguments, got {other:?}"),
        }
        assert_eq!(outcome.usage.fuel_consumed, 0, "an instance ran for {args}");
    }
    let out_of_range = call("text_successor", json!({"n": -1})).await.unwrap_err();
    assert!(
        matches!(&out_of_range, ToolCallError::InvalidArguments { path, .. } if path == "/n"),
        "{out_of_range:?}"
    );
    let dup_flags = call("text_toggle", json!({"perms": ["read", "read"]}))
        .await
        .unwrap_err();
    assert!(
        matches!(&dup_flags, ToolCallError::InvalidArguments { path, .. } if path == "/perms/1"),
        "{dup_flags:?}"
    );
}

#[tokio::test]
async fn hostile_functions_meet_the_same_limits() {
    let mut short = quick_policy();
    short.timeout = Duration::from_millis(300);
    short.fuel = None;
    let err = call_with("hostile_spin", json!({}), &short)
        .await
        .unwrap_err();
    assert!(matches!(err, ToolCallError::Timeout { .. }), "{err:?}");
    let err = call("hostile_spin", json!({})).await.unwrap_err();
    assert!(matches!(err, ToolCallError::OutOfFuel { .. }), "{err:?}");
    let err = call("hostile_hog", json!({"mib": 64})).await.unwrap_err();
    assert!(matches!(err, ToolCallError::MemoryLimit { .. }), "{err:?}");
    let err = call("hostile_not-a-number", json!({})).await.unwrap_err();
    match &err {
        ToolCallError::InvalidOutput { message } => {
            assert!(message.contains("JSON cannot represent"), "{message}")
        }
        other => panic!("expected invalid_output, got {other:?}"),
    }
    // Each call had a fresh instance: a benign call right after works.
    assert_eq!(
        call("text_shout", json!({"text": "ok"})).await.unwrap(),
        json!("OK")
    );
}

#[tokio::test]
async fn outputs_over_the_cap_are_refused_and_usage_is_reported() {
    let mut small = quick_policy();
    small.max_output_bytes = 8;
    let err = call_with("text_shout", json!({"text": "a long enough text"}), &small)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ToolCallError::OutputTooLarge { limit_bytes: 8 }),
        "{err:?}"
    );
    let set = typed().await;
    let outcome = executor()
        .call(&set, "text_shout", r#"{"text":"hi"}"#, &quick_policy())
        .await;
    assert_eq!(outcome.result.unwrap(), "\"HI\"");
    assert!(outcome.usage.fuel_consumed > 0);
    assert_eq!(outcome.usage.bytes_out, 4);
    assert!(outcome.usage.peak_memory_bytes > 0);
}

#[tokio::test]
async fn descriptions_come_from_embedded_package_docs() {
    let bytes = std::fs::read(warden::testing::guests::TYPED).unwrap();
    let mut docs = PackageDocs::default();
    docs.worlds
        .entry("typed".into())
        .or_default()
        .func_exports
        .insert(
            "greet".into(),
            FuncDocs::Full {
                docs: Some("Greets someone by name.".into()),
            },
        );
    docs.interfaces
        .entry("text".into())
        .or_default()
        .funcs
        .insert(
            "shout".into(),
            FuncDocs::Full {
                docs: Some("Upper-cases text.".into()),
            },
        );
    let with_docs = warden_wit::docs::embed(&bytes, &docs).unwrap();
    let set = executor().load_bytes(&with_docs).await.unwrap();
    assert_eq!(
        set.tool("greet").unwrap().description,
        "Greets someone by name."
    );
    assert_eq!(
        set.tool("text_shout").unwrap().description,
        "Upper-cases text."
    );
    // Functions without docs keep the generated description.
    assert!(
        set.tool("text_swap")
            .unwrap()
            .description
            .contains("swap(pair: tuple<s32, string>)")
    );
}

#[tokio::test]
async fn two_functions_with_one_tool_name_fail_the_load_naming_both() {
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $one (export "run" (func $f)))
            (instance $two (export "run" (func $f)))
            (export "a:one/jobs@1.0.0" (instance $one))
            (export "b:two/jobs@2.0.0" (instance $two)))"#,
    )
    .unwrap();
    let err = executor().load_bytes(&component).await.unwrap_err();
    match &err {
        LoadError::ToolNameCollision {
            name,
            first,
            second,
        } => {
            assert_eq!(name, "jobs_run");
            assert_eq!(first, "a:one/jobs@1.0.0#run");
            assert_eq!(second, "b:two/jobs@2.0.0#run");
        }
        other => panic!("expected tool_name_collision, got {other:?}"),
    }
    assert_eq!(err.kind(), "tool_name_collision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_run_calls_a_typed_function() {
    let turns = vec![
        Turn::call("text_count", r#"{"text":"one two three"}"#),
        Turn::call("text_parse-int", r#"{"text":"nope"}"#),
        Turn::text("Three words."),
    ];
    let tail = format!(
        "[[tools]]\ncomponent = {:?}\n",
        warden::testing::guests::TYPED
    );
    let w = Wire {
        kind: warden_llm::ProviderKind::Openai,
        streaming: false,
    };
    let env = start(w, turns, &tail).await;
    let (result, _) = crate::agent_support::run_events(&env, "Count the words").await;
    assert_eq!(result.stop_reason, StopReason::Completed);
    assert_eq!(result.usage.tool_calls, 2);
    assert!(result.usage.fuel > 0);
    let requests = env.mock.requests();
    let stats: Value = serde_json::from_str(&tool_results(&requests[1])[0]).unwrap();
    assert_eq!(stats["words"], 3);
    // The function's `err` reached the model as a tool error with its message.
    let err = &tool_results(&requests[2])[0];
    assert!(err.contains("not a decimal integer"), "{err}");
    // The model was offered the typed tools with their schemas.
    let body = requests[0].body.to_string();
    assert!(
        body.contains("text_count") && body.contains("mean-word-length"),
        "{body}"
    );
}
