//! Operator policy files drive the sandbox: per-tool overrides on top of `[defaults]` reach
//! the call, and granted directories are checked when the file is loaded.

use warden_e2e::sandbox::{assert_echo_works, executor, hostile};
use warden_sandbox::{PolicyError, PolicyFile, ToolCallError};

#[tokio::test]
async fn a_policy_file_sets_per_tool_limits_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/hello.txt"), "from the operator").unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(
        &path,
        r#"
        [defaults]
        timeout = "500ms"
        env = { MODE = "test" }

        [tools.spin]
        fuel = 1_000_000

        [tools.read_file]
        dirs = [{ host = "data", guest = "/data", mode = "ro" }]
        "#,
    )
    .unwrap();
    let file = PolicyFile::load(&path).unwrap();
    let set = hostile().await;

    let spin = executor()
        .call(&set, "spin", "{}", &file.policy_for("spin").unwrap())
        .await;
    assert_eq!(
        spin.result,
        Err(ToolCallError::OutOfFuel { limit: 1_000_000 })
    );

    let read = file.policy_for("read_file").unwrap();
    let outcome = executor()
        .call(&set, "read_file", r#"{"path": "/data/hello.txt"}"#, &read)
        .await;
    assert_eq!(
        outcome.result.as_deref(),
        Ok(r#"{"content":"from the operator"}"#)
    );

    // The grant is per tool: read_env gets the defaults (env) but no directory.
    let env = file.policy_for("read_env").unwrap();
    assert!(env.dirs.is_empty());
    let outcome = executor()
        .call(&set, "read_env", r#"{"key": "MODE"}"#, &env)
        .await;
    assert_eq!(
        outcome.result.as_deref(),
        Ok(r#"{"env_count":1,"value":"test"}"#)
    );
    assert_echo_works(executor(), &set).await;
}

#[tokio::test]
async fn a_policy_granting_a_missing_dir_is_refused_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(
        &path,
        "[tools.fs]\ndirs = [{ host = \"missing\", guest = \"/data\", mode = \"rw\" }]\n",
    )
    .unwrap();
    match PolicyFile::load(&path) {
        Err(PolicyError::Invalid { key, message }) => {
            assert_eq!(key, "tools.fs.dirs[0].host");
            assert!(message.contains("missing"), "{message}");
        }
        other => panic!("expected an invalid policy, got {other:?}"),
    }
}
