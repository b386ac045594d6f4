//! warden's own state under the real binary: no grant may reach the compiled-code cache, and
//! without a per-user place for it the cache is off rather than in a shared temp directory.

use tokio::process::Command;

use crate::support::{assert_code, text};

/// `warden tool call` of the built-in calc, with exactly `env` (plus PATH).
fn warden(env: &[(&str, &std::path::Path)], extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(["tool", "call"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[tokio::test]
async fn a_dir_flag_granting_the_home_that_holds_the_cache_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(root.path()).unwrap();
    let grant = format!("{}:/home:rw", home.display());
    let out = warden(
        &[("HOME", &home)],
        &[
            "builtin:fs",
            "fs_write",
            r#"{"path": "/home/.cache/warden/planted.cwasm", "content": "x"}"#,
            "--dir",
            &grant,
        ],
    )
    .output()
    .await
    .unwrap();
    assert_code(&out, 1);
    let stderr = text(&out.stderr);
    let cache = home.join(".cache/warden");
    assert!(
        stderr.contains(&format!("{} contains", home.display())),
        "{stderr}"
    );
    assert!(stderr.contains(&cache.display().to_string()), "{stderr}");
    assert!(!cache.join("planted.cwasm").exists());
}

#[tokio::test]
async fn without_a_home_the_cache_is_off_with_a_notice_and_tmp_stays_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let out = warden(
        &[("TMPDIR", tmp.path())],
        &["builtin:calc", "calc", r#"{"expression": "6 * 7"}"#],
    )
    .output()
    .await
    .unwrap();
    assert_code(&out, 0);
    assert!(text(&out.stdout).contains("42"), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("caching of compiled components is off"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "written to TMPDIR: {left:?}");
}
