//! The Python examples in `examples/python-tools/`, built with componentize-py and run by the
//! real executor: one against the `warden:tool` world, one a plain typed WIT world.
//!
//! componentize-py is found as `$WARDEN_COMPONENTIZE_PY`, on `PATH`, or in `.venv-mcp/` (which
//! `scripts/mcp-python.sh` creates and `.ci/run` fills). Without it the test says so and passes
//! only when `CI` is unset; under `CI=true` a missing componentize-py fails it. CPython
//! components are ~18 MB and take a while to compile: both are built and compiled once, in
//! parallel, and the compiled code is cached for later runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use warden_e2e::sandbox::{cache_dir, config_with, quick_policy, state_dir};
use warden_sandbox::{EngineConfig, Executor, ToolCallError, ToolSet};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn componentize_py() -> Option<PathBuf> {
    let venv = repo().join(".venv-mcp/bin/componentize-py");
    warden_e2e::find_tool(
        "WARDEN_COMPONENTIZE_PY",
        &[PathBuf::from("componentize-py"), venv],
    )
}

/// Builds `examples/python-tools/<dir>` against `wit` (relative to it) and `world`.
fn build(tool: &Path, dir: &str, wit: &str, world: &str, out: &Path) -> PathBuf {
    let src = repo().join("examples/python-tools").join(dir);
    let wasm = out.join(format!("{dir}.wasm"));
    let status = Command::new(tool)
        .current_dir(&src)
        .args(["-d", wit, "-w", world, "componentize", "app", "-o"])
        .arg(&wasm)
        .status()
        .unwrap();
    assert!(status.success(), "componentize-py failed for {dir}");
    wasm
}

/// The shared executor's settings with a compile deadline for 18 MB components in a debug
/// build on a busy machine (a release build compiles one in seconds).
fn patient() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::new(EngineConfig {
            compile_timeout: Duration::from_secs(900),
            ..config_with(cache_dir(), state_dir())
        })
        .unwrap()
    })
}

async fn call(set: &ToolSet, tool: &str, args: Value) -> Result<Value, ToolCallError> {
    let outcome = patient()
        .call(set, tool, &args.to_string(), &quick_policy())
        .await;
    outcome.result.map(|o| serde_json::from_str(&o).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tools_build_list_and_call() {
    let Some(tool) = componentize_py() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "componentize-py is required under CI (scripts/mcp-python.sh installs it in .venv-mcp)"
        );
        eprintln!("SKIPPED: componentize-py is not installed (pip install componentize-py)");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (tool.clone(), out.path().to_path_buf());
    let word_stats = std::thread::spawn(move || {
        build(&a, "warden-tool", "../../../wit", "warden:tool/toolbox", &b)
    });
    let units = build(&tool, "typed", "wit", "units", out.path());
    let word_stats = word_stats.join().unwrap();
    let (word_stats, units) = tokio::join!(
        patient().load_file(&word_stats),
        patient().load_file(&units)
    );
    let (word_stats, units) = (word_stats.unwrap(), units.unwrap());

    // warden:tool in Python: its own name, schema and the host import (log).
    assert!(!word_stats.is_typed());
    let outcome = patient()
        .call(
            &word_stats,
            "py_word_stats",
            r#"{"text":"one two\nthree"}"#,
            &quick_policy(),
        )
        .await;
    let output: Value = serde_json::from_str(&outcome.result.unwrap()).unwrap();
    assert_eq!(output, json!({"words": 3, "lines": 2, "longest": "three"}));
    assert_eq!(outcome.usage.logs.len(), 1, "{:?}", outcome.usage.logs);

    // A plain typed world in Python: every export a tool, componentize-py's hook skipped.
    assert!(units.is_typed());
    let names: Vec<&str> = units.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["round-to", "convert_temperature"]);
    assert!(
        units.skipped().iter().any(|s| s.export == "exports#init"),
        "{:?}",
        units.skipped()
    );
    assert_eq!(
        call(&units, "round-to", json!({"value": 1.23456}))
            .await
            .unwrap(),
        json!(1.23)
    );
    let f = call(
        &units,
        "convert_temperature",
        json!({"reading": {"value": 100.0, "scale": "celsius"}, "to": "fahrenheit"}),
    )
    .await
    .unwrap();
    assert_eq!(f, json!({"value": 212.0, "scale": "fahrenheit"}));
    let err = call(
        &units,
        "convert_temperature",
        json!({"reading": {"value": -500.0, "scale": "celsius"}, "to": "kelvin"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ToolCallError::ToolFailed { message } if message.contains("below absolute zero")),
        "{err:?}"
    );
}
