//! Loading components: the precompiled cache, and every kind of bad component ending in
//! its typed `LoadError`.

use std::sync::Arc;

use warden_e2e::sandbox::{assert_echo_works, config_with, executor, hostile};
use warden_sandbox::{EngineConfig, Executor, LoadError, ToolSet};

async fn load_error(bytes: &[u8]) -> LoadError {
    match executor().load_bytes(bytes).await {
        Err(e) => e,
        Ok(set) => panic!("loaded a bad component: {set:?}"),
    }
}

#[tokio::test]
async fn the_hostile_component_lists_its_tools_with_schemas() {
    let set = hostile().await;
    let echo = set.tool("echo").expect("echo tool");
    assert_eq!(echo.args_schema["required"][0], "text");
    assert!(set.tools().iter().any(|t| t.name == "spin"));
    assert_eq!(set.digest().len(), 64);
}

#[tokio::test]
async fn a_second_load_comes_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let config = || EngineConfig {
        max_concurrent_calls: 2,
        ..config_with(dir.path().to_path_buf(), state.path().to_path_buf())
    };
    let bytes = std::fs::read(warden::testing::guests::HOSTILE).unwrap();
    let first = Executor::new(config()).unwrap();
    let compiled: Arc<ToolSet> = first.load_bytes(&bytes).await.unwrap();
    assert!(!compiled.loaded_from_cache());
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // The compiled artifact and the validated tool list, both keyed by the component's digest.
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().all(|f| f.starts_with(compiled.digest())),
        "{files:?}"
    );
    assert!(
        files[0].ends_with(".cwasm") && files[1].ends_with(".tools.json"),
        "{files:?}"
    );

    let second = Executor::new(config()).unwrap();
    let cached = second.load_bytes(&bytes).await.unwrap();
    assert!(cached.loaded_from_cache());
    assert_eq!(cached.tools(), compiled.tools());
    assert_echo_works(&second, &cached).await;
}

/// Loads the hostile component into a fresh cache dir, overwrites the cached file whose
/// name ends with `suffix` with garbage, and loads it again with the same executor.
async fn load_with_corrupt_cache_file(suffix: &str) -> (Arc<ToolSet>, Arc<ToolSet>) {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        max_concurrent_calls: 2,
        ..config_with(dir.path().to_path_buf(), state.path().to_path_buf())
    };
    let bytes = std::fs::read(warden::testing::guests::HOSTILE).unwrap();
    let exec = Executor::new(config).unwrap();
    let set = exec.load_bytes(&bytes).await.unwrap();
    // The cache holds the artifact and the tool list beside it; pick by name, not by order.
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no cached *{suffix} file"));
    std::fs::write(&file, b"garbage").unwrap();
    let again = exec.load_bytes(&bytes).await.unwrap();
    (set, again)
}

#[tokio::test]
async fn a_corrupt_cached_artifact_is_recompiled() {
    let (set, again) = load_with_corrupt_cache_file(".cwasm").await;
    assert!(!again.loaded_from_cache());
    assert_eq!(again.tools(), set.tools());
}

#[tokio::test]
async fn a_corrupt_cached_tool_list_is_described_again() {
    let (set, again) = load_with_corrupt_cache_file(".tools.json").await;
    assert!(again.loaded_from_cache());
    assert_eq!(again.tools(), set.tools());
}

#[tokio::test]
async fn a_component_that_traps_in_describe_is_a_load_error() {
    let err = match executor()
        .load_file(warden::testing::guests::BAD_DESCRIBE)
        .await
    {
        Err(e) => e,
        Ok(set) => panic!("loaded {set:?}"),
    };
    match &err {
        LoadError::DescribeFailed(message) => {
            assert!(message.contains("crashed"), "{message}");
            assert!(message.contains("describe crashed on purpose"), "{message}");
        }
        other => panic!("expected describe_failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_file_that_is_not_wasm_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tool.wasm");
    std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
    let err = executor().load_file(&path).await.unwrap_err();
    assert!(matches!(err, LoadError::NotWasm), "{err:?}");
    assert!(err.to_string().contains("wasm32-wasip2"));
}

#[tokio::test]
async fn a_missing_file_names_the_path() {
    let err = executor()
        .load_file("/no/such/tool.wasm")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Io { path, .. } if path == "/no/such/tool.wasm"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_core_module_is_not_a_component() {
    let module = wat::parse_str(r#"(module (func (export "run")))"#).unwrap();
    let err = load_error(&module).await;
    assert!(matches!(err, LoadError::CoreModule), "{err:?}");
}

#[tokio::test]
async fn a_component_without_the_tool_exports_is_rejected() {
    let component = wat::parse_str("(component)").unwrap();
    let err = load_error(&component).await;
    match &err {
        LoadError::MissingExports(message) => {
            assert!(message.contains("warden:tool/tool"), "{message}")
        }
        other => panic!("expected missing_exports, got {other:?}"),
    }
}

#[tokio::test]
async fn a_component_importing_unknown_interfaces_is_rejected() {
    let component = wat::parse_str(
        r#"(component (import "evil:net/raw-socket@1.0.0" (instance (export "connect" (func)))))"#,
    )
    .unwrap();
    let err = load_error(&component).await;
    match &err {
        LoadError::UnsupportedImports(message) => {
            assert!(message.contains("evil:net/raw-socket"), "{message}")
        }
        other => panic!("expected unsupported_imports, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_component_bytes_do_not_compile() {
    let mut bytes = wat::parse_str("(component)").unwrap();
    bytes.extend_from_slice(&[0xff, 0xff, 0xff]);
    let err = load_error(&bytes).await;
    assert!(matches!(err, LoadError::Compile(_)), "{err:?}");
}
