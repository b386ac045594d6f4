//! The shipped guest tools (calc, text, fs) run through the real executor: their outputs
//! match the output schemas they declare, and grants decide what fs can reach.

use serde_json::Value;
use warden_e2e::sandbox::{executor, quick_policy};
use warden_sandbox::{DirMode, GrantedDir, ToolCallError};

async fn call(
    component: &str,
    tool: &str,
    args: &str,
    policy: &warden_sandbox::ToolPolicy,
) -> Result<Value, ToolCallError> {
    let set = executor()
        .load_file(component)
        .await
        .unwrap_or_else(|e| panic!("cannot load {component}: {e}"));
    let outcome = executor().call(&set, tool, args, policy).await;
    // Arguments a loop has parsed already give the same result as their text.
    if let Ok(value) = serde_json::from_str::<Value>(args) {
        let parsed = executor().call_value(&set, tool, &value, policy).await;
        assert_eq!(parsed.result, outcome.result, "{tool} with {args}");
    }
    outcome
        .result
        .map(|out| serde_json::from_str(&out).unwrap())
}

#[tokio::test]
async fn calc_evaluates_an_expression_in_the_sandbox() {
    let out = call(
        warden::testing::guests::CALC,
        "calc",
        r#"{"expression":"2 * (3 + 4) ^ 2 / sqrt(16)"}"#,
        &quick_policy(),
    )
    .await
    .unwrap();
    assert_eq!(out["value"], 24.5);
}

#[tokio::test]
async fn calc_reports_a_bad_expression_as_invalid_arguments() {
    let err = call(
        warden::testing::guests::CALC,
        "calc",
        r#"{"expression":"2 +* 3"}"#,
        &quick_policy(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "invalid_arguments", "{err:?}");
}

// Regression: a pattern without capture groups left out `groups`, which the declared output
// schema required, so the host rejected the result as invalid output.
#[tokio::test]
async fn regex_search_without_groups_matches_its_output_schema() {
    let args = r#"{"pattern":"b[a-z]+","text":"alpha beta\nbravo"}"#;
    let out = call(
        warden::testing::guests::TEXT,
        "regex_search",
        args,
        &quick_policy(),
    )
    .await
    .unwrap();
    let texts: Vec<&str> = out["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["beta", "bravo"]);
}

#[tokio::test]
async fn json_query_selects_with_jsonpath() {
    let args = r#"{"document":"{\"items\":[{\"n\":1},{\"n\":2}]}","query":"$.items[*].n"}"#;
    let out = call(
        warden::testing::guests::TEXT,
        "json_query",
        args,
        &quick_policy(),
    )
    .await
    .unwrap();
    let values: Vec<&Value> = out["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["value"])
        .collect();
    assert_eq!(values, [&Value::from(1), &Value::from(2)]);
}

#[tokio::test]
async fn fs_reads_inside_a_grant_and_is_refused_writing_to_a_read_only_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello from the host").unwrap();
    let mut policy = quick_policy();
    policy.dirs = vec![GrantedDir {
        host: dir.path().to_path_buf(),
        guest: "/data".into(),
        mode: DirMode::ReadOnly,
    }];

    let read = call(
        warden::testing::guests::FS,
        "fs_read",
        r#"{"path":"/data/notes.txt"}"#,
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(read["content"], "hello from the host", "{read}");

    let write = call(
        warden::testing::guests::FS,
        "fs_write",
        r#"{"path":"/data/new.txt","content":"x"}"#,
        &policy,
    )
    .await;
    let err = write.unwrap_err();
    assert_eq!(err.kind(), "tool_failed", "{err:?}");
    assert!(!dir.path().join("new.txt").exists());
}
