//! The JavaScript example in `examples/js-tools/`, built with the Bytecode Alliance's
//! componentize-js (from npm) and run by the real executor: a plain typed WIT world whose
//! exports become tools, given their WIT doc comments as `warden pack build` gives them.
//!
//! componentize-js is found as `$WARDEN_COMPONENTIZE_JS`, on `PATH`, or in
//! `examples/js-tools/node_modules/.bin/` (`npm ci` there; `.ci/run` does it). Without it the
//! test says so and passes only when `CI` is unset; under `CI=true` a missing componentize-js
//! fails it. StarlingMonkey components are ~12 MB and slow to compile in a debug build, so
//! the executor here has a long compile deadline.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use warden_e2e::sandbox::{cache_dir, config_with, quick_policy, state_dir};
use warden_sandbox::{EngineConfig, Executor};
use warden_wit::docs::{PackageDocs, embed};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/js-tools")
}

fn componentize_js() -> Option<PathBuf> {
    let local = examples().join("node_modules/.bin/componentize-js");
    warden_e2e::find_tool(
        "WARDEN_COMPONENTIZE_JS",
        &[PathBuf::from("componentize-js"), local],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_component_builds_lists_and_is_called() {
    let Some(tool) = componentize_js() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "componentize-js is required under CI (`npm ci` in examples/js-tools installs it)"
        );
        eprintln!("SKIPPED: componentize-js is not installed (cd examples/js-tools && npm ci)");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let wasm = out.path().join("strings.wasm");
    let src = examples().join("typed");
    let status = Command::new(&tool)
        .current_dir(&src)
        .args(["app.js", "--wit", "wit", "--world-name", "strings"])
        .args(["-d", "http", "fetch-event", "-o"])
        .arg(&wasm)
        .status()
        .unwrap();
    assert!(status.success(), "componentize-js failed");
    // As `warden pack build` does for a typed crate: the WIT docs into `package-docs`.
    let docs = PackageDocs::from_wit(&src.join("wit")).unwrap();
    let bytes = embed(&std::fs::read(&wasm).unwrap(), &docs).unwrap();

    let exec = Executor::new(EngineConfig {
        compile_timeout: Duration::from_secs(900),
        ..config_with(cache_dir(), state_dir())
    })
    .unwrap();
    let set = exec.load_bytes(&bytes).await.unwrap();
    assert!(set.is_typed());
    let names: Vec<&str> = set.tools().iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"reverse") && names.contains(&"vowels"),
        "{names:?}"
    );
    assert_eq!(
        set.tool("vowels").unwrap().description,
        "Counts the vowels (a, e, i, o, u, either case) in `text`."
    );
    let call = |tool: &'static str, args: Value| {
        let (exec, set) = (&exec, &set);
        async move {
            let outcome = exec
                .call(set, tool, &args.to_string(), &quick_policy())
                .await;
            serde_json::from_str::<Value>(&outcome.result.unwrap()).unwrap()
        }
    };
    assert_eq!(
        call("reverse", json!({"text": "héllo"})).await,
        json!("olléh")
    );
    assert_eq!(call("vowels", json!({"text": "Education"})).await, json!(5));
}
