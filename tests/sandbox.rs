//! Helpers for the sandbox tests: one shared executor per test process (so each component
//! is compiled at most once, and precompiled artifacts are reused across runs), the loaded
//! test components, and a policy with short limits.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::OnceCell;
use warden_sandbox::{CacheDir, EngineConfig, Executor, StateDir, ToolPolicy, ToolSet};

/// The cache directory shared by test runs: `$WARDEN_TEST_CACHE_DIR`, else a folder in the
/// system temp dir. Artifacts are keyed by engine hash, so sharing it is safe.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("WARDEN_TEST_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("warden-test-cache"))
}

/// The directory of the test cache's key: `$WARDEN_TEST_STATE_DIR`, else a folder in the
/// system temp dir (never the user's own state).
pub fn state_dir() -> PathBuf {
    std::env::var_os("WARDEN_TEST_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("warden-test-state"))
}

/// Engine settings whose cache and key live in `cache` and `state` (compiling in this test
/// binary re-run as the compiler child, see `e2e/main.rs`).
pub fn config_with(cache: PathBuf, state: PathBuf) -> EngineConfig {
    EngineConfig {
        cache_dir: CacheDir::Path(cache),
        state_dir: StateDir::Path(state),
        ..EngineConfig::default()
    }
}

/// The executor shared by the tests of this process (16 instance slots).
pub fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::new(config_with(cache_dir(), state_dir()))
            .unwrap_or_else(|e| panic!("cannot build the test executor: {e}"))
    })
}

/// The hostile test component, loaded once per process.
pub async fn hostile() -> Arc<ToolSet> {
    static SET: OnceCell<Arc<ToolSet>> = OnceCell::const_new();
    SET.get_or_init(|| async {
        executor()
            .load_file(warden::testing::guests::HOSTILE)
            .await
            .unwrap_or_else(|e| panic!("cannot load the hostile component: {e}"))
    })
    .await
    .clone()
}

/// Small limits so the hostile cases end quickly. The deadline is generous so that only
/// the timeout cases (which set their own short one) can end in a timeout, even on a busy
/// machine.
pub fn quick_policy() -> ToolPolicy {
    ToolPolicy {
        fuel: Some(200_000_000),
        timeout: Duration::from_secs(20),
        max_memory_bytes: 32 << 20,
        max_output_bytes: 256 << 10,
        max_hostcall_bytes: 1 << 20,
        max_stdio_bytes: 16 << 10,
        ..ToolPolicy::default()
    }
}

/// Asserts that a benign call right after an attack succeeds: the host is still healthy.
pub async fn assert_echo_works(executor: &Executor, set: &ToolSet) {
    let outcome = executor
        .call(set, "echo", r#"{"text":"still alive"}"#, &quick_policy())
        .await;
    match outcome.result {
        Ok(out) => assert_eq!(out, r#"{"text":"still alive"}"#),
        Err(e) => panic!("echo after an attack failed: {e:?}"),
    }
}
