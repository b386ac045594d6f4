//! `warden tool` on a plain typed WIT component: listing (with the reasons functions are not
//! offered), calling, and `embed-docs` giving the tools real descriptions.

use tokio::process::Command;

use crate::support::{assert_code, text};

fn warden(args: &[&str], dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(args)
        .env("WARDEN_CACHE_DIR", dir.join("cache"))
        .env("WARDEN_STATE_DIR", dir.join("state"))
        .env_remove("WARDEN_LOG");
    cmd
}

/// `warden tool embed-docs` on the typed guest, docs from `source` (`--docs` or `--wit`),
/// written to `output`.
async fn embed_docs(
    flag: &str,
    source: &str,
    output: &std::path::Path,
    dir: &std::path::Path,
) -> std::process::Output {
    let typed = warden::testing::guests::TYPED;
    let output = output.to_str().unwrap();
    warden(
        &["tool", "embed-docs", typed, flag, source, "-o", output],
        dir,
    )
    .output()
    .await
    .unwrap()
}

#[tokio::test]
async fn tool_list_shows_typed_tools_and_why_others_are_not_offered() {
    let dir = tempfile::tempdir().unwrap();
    let typed = warden::testing::guests::TYPED;
    let out = warden(&["tool", "list", typed], dir.path())
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("text_count\n"), "{stdout}");
    assert!(stdout.contains("not offered as tools:"), "{stdout}");
    assert!(
        stdout.contains(
            "demo:typed/counters@0.1.0#read-counter: parameter `c`: it uses a resource handle"
        ),
        "{stdout}"
    );
    let json = warden(&["tool", "list", typed, "--json"], dir.path())
        .output()
        .await
        .unwrap();
    assert_code(&json, 0);
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(listed["skipped"].as_array().unwrap().len() >= 3, "{listed}");
    assert!(
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "greet")
    );
}

#[tokio::test]
async fn tool_call_runs_a_typed_function() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(
        &[
            "tool",
            "call",
            warden::testing::guests::TYPED,
            "text_swap",
            r#"{"pair":[1,"a"]}"#,
        ],
        dir.path(),
    )
    .output()
    .await
    .unwrap();
    assert_code(&out, 0);
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!(["a", 1]));
}

#[tokio::test]
async fn embed_docs_gives_typed_tools_their_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.json");
    std::fs::write(
        &docs,
        r#"{"worlds":{"typed":{"func_exports":{"greet":{"docs":"Greets a person by name."}}}}}"#,
    )
    .unwrap();
    let documented = dir.path().join("typed-docs.wasm");
    let out = embed_docs("--docs", docs.to_str().unwrap(), &documented, dir.path()).await;
    assert_code(&out, 0);
    let list = warden(&["tool", "list", documented.to_str().unwrap()], dir.path())
        .output()
        .await
        .unwrap();
    assert_code(&list, 0);
    let stdout = text(&list.stdout);
    assert!(
        stdout.contains("greet\n  Greets a person by name."),
        "{stdout}"
    );
    // A docs file that is not JSON is refused with its name.
    std::fs::write(&docs, "not json").unwrap();
    let bad = embed_docs("--docs", docs.to_str().unwrap(), &documented, dir.path()).await;
    assert_code(&bad, 1);
    assert!(
        text(&bad.stderr).contains("is not package-docs JSON"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test]
async fn embed_docs_from_wit_source_describes_types_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let wit = concat!(env!("CARGO_MANIFEST_DIR"), "/../../guest-tools/typed/wit");
    let documented = dir.path().join("typed-docs.wasm");
    let out = embed_docs("--wit", wit, &documented, dir.path()).await;
    assert_code(&out, 0);
    let list = warden(
        &["tool", "list", "--json", documented.to_str().unwrap()],
        dir.path(),
    )
    .output()
    .await
    .unwrap();
    assert_code(&list, 0);
    let tools: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let area = (tools["tools"].as_array().unwrap().iter())
        .find(|t| t["name"] == "text_area")
        .unwrap();
    assert_eq!(area["description"], "The area of a shape.");
    let shape = &area["args_schema"]["properties"]["shape"];
    assert_eq!(shape["description"], "A shape to measure.");
    assert_eq!(shape["oneOf"][0]["description"], "A circle of this radius.");
    // WIT that does not parse is refused, naming the file.
    let bad = dir.path().join("bad.wit");
    std::fs::write(&bad, "package a:b;\ninterface i { f: func(x: nope); }\n").unwrap();
    let out = embed_docs("--wit", bad.to_str().unwrap(), &documented, dir.path()).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("bad.wit"),
        "{}",
        text(&out.stderr)
    );
}
