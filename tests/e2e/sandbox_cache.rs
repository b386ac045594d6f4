//! The compiled-code cache is native code: every way to make warden run code it did not
//! compile — a tampered artifact, one planted in the cache (directly, or by a tool granted
//! a directory holding the cache), a cache in a place another user controls, a swapped tool
//! list — ends with the file refused and the component compiled again, or the grant refused.
//! Compiling itself is bounded: a component built to be slow to compile is stopped at the
//! compile deadline.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_e2e::sandbox::{assert_echo_works, config_with, quick_policy};
use warden_sandbox::{
    CacheDir, DirMode, EngineConfig, Executor, GrantedDir, LoadError, PolicyError, PolicyFile,
    ToolCallError, ToolSet,
};

/// Engine settings with the cache and key under `root` (`root/cache`, `root/state`).
fn config_in(root: &Path) -> EngineConfig {
    EngineConfig {
        max_concurrent_calls: 2,
        ..config_with(root.join("cache"), root.join("state"))
    }
}

async fn load(config: EngineConfig, bytes: &[u8]) -> (Executor, Arc<ToolSet>) {
    let exec = Executor::new(config).unwrap();
    let set = exec.load_bytes(bytes).await.unwrap();
    (exec, set)
}

fn hostile_bytes() -> Vec<u8> {
    std::fs::read(warden::testing::guests::HOSTILE).unwrap()
}

fn calc_bytes() -> &'static [u8] {
    warden::builtin::bytes("calc").unwrap()
}

/// The cached file of component `digest` whose name ends with `suffix`.
fn cached(dir: &Path, digest: &str, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(digest) && name.ends_with(suffix)
        })
        .unwrap_or_else(|| panic!("no cached {digest}*{suffix} in {}", dir.display()))
}

#[tokio::test]
async fn a_tampered_artifact_is_discarded_and_recompiled_not_run() {
    let root = tempfile::tempdir().unwrap();
    let bytes = hostile_bytes();
    let (_, first) = load(config_in(root.path()), &bytes).await;
    let path = cached(&root.path().join("cache"), first.digest(), ".cwasm");
    let mut artifact = std::fs::read(&path).unwrap();
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0x01;
    std::fs::write(&path, &artifact).unwrap();

    let (exec, again) = load(config_in(root.path()), &bytes).await;
    assert!(!again.loaded_from_cache(), "the tampered artifact was used");
    assert_echo_works(&exec, &again).await;
    // Replaced by a good one: the next load takes it.
    let (exec, third) = load(config_in(root.path()), &bytes).await;
    assert!(third.loaded_from_cache());
    assert_echo_works(&exec, &third).await;
}

/// Plants `planted` under the name of the hostile component's artifact, then checks that a
/// later, unrelated call (hostile's `echo`) runs hostile's code, not the planted code.
async fn assert_planted_artifact_is_not_run(root: &Path, planted: &[u8]) {
    let bytes = hostile_bytes();
    let (_, first) = load(config_in(root), &bytes).await;
    std::fs::write(
        cached(&root.join("cache"), first.digest(), ".cwasm"),
        planted,
    )
    .unwrap();
    let (exec, again) = load(config_in(root), &bytes).await;
    assert!(!again.loaded_from_cache(), "the planted artifact was used");
    // Had calc's code been run, `echo` would be an unknown tool to it.
    assert_echo_works(&exec, &again).await;
}

#[tokio::test]
async fn a_planted_valid_artifact_is_not_run_by_a_later_unrelated_call() {
    // A genuine artifact of another component (calc), compiled by warden for the same
    // engine, but sealed with another user's key (another state directory).
    let other = tempfile::tempdir().unwrap();
    let (_, calc) = load(config_in(other.path()), calc_bytes()).await;
    let sealed =
        std::fs::read(cached(&other.path().join("cache"), calc.digest(), ".cwasm")).unwrap();
    // The bare machine code inside (an ELF image), as wasmtime itself would write it.
    let elf = sealed
        .windows(4)
        .position(|w| w == b"\x7fELF")
        .expect("an ELF image in the artifact");

    let root = tempfile::tempdir().unwrap();
    assert_planted_artifact_is_not_run(root.path(), &sealed[elf..]).await;
    let root = tempfile::tempdir().unwrap();
    assert_planted_artifact_is_not_run(root.path(), &sealed).await;
}

#[tokio::test]
async fn a_swapped_tools_file_is_detected_and_described_again() {
    let root = tempfile::tempdir().unwrap();
    let bytes = hostile_bytes();
    let (exec, hostile) = load(config_in(root.path()), &bytes).await;
    let calc = exec.load_bytes(calc_bytes()).await.unwrap();
    let dir = root.path().join("cache");
    std::fs::copy(
        cached(&dir, calc.digest(), ".tools.json"),
        cached(&dir, hostile.digest(), ".tools.json"),
    )
    .unwrap();

    let (exec, again) = load(config_in(root.path()), &bytes).await;
    assert_eq!(
        again.tools(),
        hostile.tools(),
        "the swapped tool list was used"
    );
    assert_ne!(again.tools(), calc.tools());
    assert_echo_works(&exec, &again).await;
}

#[tokio::test]
async fn a_grant_of_a_directory_holding_warden_state_is_refused_at_policy_load() {
    // A home directory with warden's cache and key in their usual places inside it.
    let root = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(root.path()).unwrap();
    let cache = home.join(".cache/warden");
    let state = home.join(".local/state/warden");
    let exec = Executor::new(config_with(cache.clone(), state.clone())).unwrap();
    assert_eq!(exec.cache_dir(), Some(cache.as_path()));

    for (granted, reached) in [(&home, &cache), (&cache, &cache), (&state, &state)] {
        let text = format!(
            "[tools.fs_write]\ndirs = [{{ host = {granted:?}, guest = \"/home\", mode = \"rw\" }}]\n"
        );
        match PolicyFile::from_toml(&text) {
            Err(PolicyError::StateDirGranted {
                key,
                granted: g,
                state_dir,
                ..
            }) => {
                assert_eq!(key, "tools.fs_write.dirs[0].host");
                assert_eq!(Path::new(&g), granted.as_path());
                assert_eq!(Path::new(&state_dir), reached.as_path());
            }
            other => panic!("granting {} was not refused: {other:?}", granted.display()),
        }
    }

    // A policy built in code skips the file check; the call refuses it before the tool runs.
    let fs = warden::builtin::load_named(&exec, "fs").await.unwrap();
    let policy = warden_sandbox::ToolPolicy {
        dirs: vec![GrantedDir {
            host: home.clone(),
            guest: "/home".into(),
            mode: DirMode::ReadWrite,
        }],
        ..quick_policy()
    };
    let planted = cache.join("planted.cwasm");
    let args = r#"{"path": "/home/.cache/warden/planted.cwasm", "content": "native code"}"#;
    let outcome = exec.call(&fs, "fs_write", args, &policy).await;
    match outcome.result {
        Err(ToolCallError::CapabilityDenied { detail, .. }) => {
            assert!(detail.contains("/home"), "{detail}");
            assert!(
                !detail.contains(&home.display().to_string()),
                "host path leaked: {detail}"
            );
        }
        other => panic!("the call ran: {other:?}"),
    }
    assert!(!planted.exists());
}

#[tokio::test]
async fn a_cache_dir_another_user_could_control_is_refused() {
    let bytes = hostile_bytes();
    type Setup = fn(&Path);
    let setups: [(&str, Setup); 3] = [
        ("group-writable", |dir| {
            std::fs::create_dir(dir).unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        }),
        ("a symlink", |dir| {
            let real = dir.with_file_name("real");
            std::fs::create_dir(&real).unwrap();
            std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::symlink(&real, dir).unwrap();
        }),
        ("owned by another user", |dir| {
            std::fs::create_dir(dir).unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            // Tests run as root here; elsewhere chown fails and the case cannot be built.
            std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
        }),
    ];
    for (what, setup) in setups {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        setup(&dir);
        let exec = Executor::new(config_in(root.path())).unwrap();
        assert_eq!(
            exec.cache_dir(),
            None,
            "a cache dir that is {what} was used"
        );
        let set = exec.load_bytes(&bytes).await.unwrap();
        assert!(!set.loaded_from_cache());
        assert_echo_works(&exec, &set).await;
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "{what}: written to"
        );
    }
}

/// Without HOME, XDG_CACHE_HOME or WARDEN_CACHE_DIR: run in a child process with exactly
/// that environment and a private TMPDIR (see `no_home_child`).
#[test]
fn without_a_home_caching_is_off_with_a_notice_and_nothing_goes_to_tmp() {
    let tmp = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "sandbox_cache::no_home_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env_clear()
        .env("WARDEN_E2E_NO_HOME_CHILD", "1")
        .env("TMPDIR", tmp.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
    assert!(
        stderr.contains("caching of compiled components is off"),
        "no notice:\n{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "written to TMPDIR: {left:?}");
}

/// The child side of the test above; does nothing unless run by it.
#[test]
#[ignore = "run by without_a_home_caching_is_off_with_a_notice_and_nothing_goes_to_tmp"]
fn no_home_child() {
    if std::env::var_os("WARDEN_E2E_NO_HOME_CHILD").is_none() {
        return;
    }
    for var in [
        "HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "WARDEN_CACHE_DIR",
        "WARDEN_STATE_DIR",
    ] {
        assert!(std::env::var_os(var).is_none(), "{var} is set");
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let exec = Executor::new(EngineConfig {
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })
    .unwrap();
    assert_eq!(exec.cache_dir(), None);
    let set = runtime.block_on(exec.load_bytes(&hostile_bytes())).unwrap();
    runtime.block_on(assert_echo_works(&exec, &set));
}

#[tokio::test]
async fn a_component_built_to_be_slow_to_compile_stops_at_the_compile_timeout() {
    let exec = Executor::new(EngineConfig {
        cache_dir: CacheDir::Disabled,
        compile_timeout: Duration::from_secs(5),
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })
    .unwrap();
    let bomb = slow_to_compile(2000, 20_000);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let started = Instant::now();
    let err = exec.load_bytes(&bomb).await.unwrap_err();
    assert!(
        matches!(err, LoadError::CompileTimeout { limit } if limit == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(err.kind(), "compile_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    // The executor is fine: the next load compiles (no cache) and runs.
    let set = exec.load_bytes(&hostile_bytes()).await.unwrap();
    assert_echo_works(&exec, &set).await;
}

/// A component Cranelift takes minutes to compile (measured: 1000 × 4000 takes ~19 s,
/// and the time grows with the product): `locals` values live across `blocks` conditional
/// blocks that each redefine one of them.
fn slow_to_compile(locals: usize, blocks: usize) -> Vec<u8> {
    let mut body = format!("(local{})\n", " i64".repeat(locals));
    for i in 0..locals {
        body.push_str(&format!("i64.const {i} local.set {i}\n"));
    }
    for j in 0..blocks {
        body.push_str(&format!(
            "(block (br_if 0 (i32.const {j})) (local.set {} (i64.const 1)))\n",
            j % locals
        ));
    }
    body.push_str("i64.const 0\n");
    for i in 0..locals {
        body.push_str(&format!("local.get {i} i64.add\n"));
    }
    body.push_str("drop\n");
    wat::parse_str(format!(
        "(component (core module (func (export \"f\") {body})))"
    ))
    .unwrap()
}
