//! `warden mcp serve --pack`: an installed pack served to rmcp's real client over the
//! process's stdio, under the grant the operator made at install — never wider, whatever the
//! command line's policy flags say — and re-verified at start (a component changed on disk
//! after install is refused before anything is served).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use serde_json::{Value, json};

use crate::support::{Fixture, assert_code, text};

/// The fs component as pack `files` 1.2.0, asking read-only access to a directory `data`.
fn files_pack(fx: &Fixture) -> PathBuf {
    let dir = fx.dir.path().join("files-pack");
    std::fs::create_dir_all(&dir).unwrap();
    let fs = std::fs::read(warden::testing::guests::FS).unwrap();
    std::fs::write(dir.join("fs.wasm"), &fs).unwrap();
    std::fs::write(
        dir.join("pack.toml"),
        format!(
            "schema = 1\n[pack]\nname = \"files\"\nversion = \"1.2.0\"\ndescription = \"Files\"\nlicense = \"MIT\"\n\
             [[components]]\nfile = \"fs.wasm\"\nsha256 = \"{}\"\ntools = [\"fs_list\", \"fs_read\", \"fs_write\"]\n\
             [capabilities.dirs.data]\nmode = \"ro\"\nreason = \"reads the operator's notes\"\n",
            warden_pack::sha256_hex(&fs)
        ),
    )
    .unwrap();
    dir
}

/// Signs `files` with a new key, trusts it and installs the pack with `data` granted as
/// the directory `granted` of the fixture.
async fn install_files(fx: &Fixture) {
    let pack = files_pack(fx);
    let key = fx.dir.path().join("author.key");
    let public = fx.dir.path().join("author.pub");
    let granted = fx.dir.path().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("note.txt"), "from the granted dir").unwrap();
    let grants = fx.dir.path().join("grants.toml");
    std::fs::write(&grants, format!("[dirs]\ndata = {:?}\n", s(&granted))).unwrap();
    for args in [
        &["key", "generate", "--out", "author"][..],
        &["pack", "sign", s(&pack), "--key", s(&key)],
        &["trust", "add", s(&public)],
        &["pack", "install", s(&pack), "--grants", s(&grants)],
    ] {
        let out = fx.run(args).await;
        assert_code(&out, 0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args as JsonObject))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pack_is_served_under_its_grant_and_flags_do_not_widen_it() {
    let fx = Fixture::new(vec![]).await;
    install_files(&fx).await;
    // A directory the operator's flags grant: for loose components, not for the pack.
    let other = fx.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.txt"), "not for the pack").unwrap();
    let dir_flag = format!("{}:/other:rw", s(&other));

    let mut cmd = fx.command(&["mcp", "serve", "--pack", "files@^1", "--dir", &dir_flag]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let client = ().serve((stdout, stdin)).await.unwrap();

    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    // Only the pack's tools: naming a pack replaces the built-in default.
    assert_eq!(names, ["fs_list", "fs_read", "fs_write"]);

    let read = call(&client, "fs_read", json!({"path": "/data/note.txt"})).await;
    assert_eq!(read.is_error, Some(false), "{read:?}");
    assert_eq!(
        read.structured_content.as_ref().unwrap()["content"],
        "from the granted dir"
    );
    // The grant is read-only: a write is a tool error and nothing is written.
    let write = call(
        &client,
        "fs_write",
        json!({"path": "/data/new.txt", "content": "x"}),
    )
    .await;
    assert_eq!(write.is_error, Some(true), "{write:?}");
    assert!(!fx.dir.path().join("granted/new.txt").exists());
    // The --dir flag does not reach the pack's tools.
    let secret = call(&client, "fs_read", json!({"path": "/other/secret.txt"})).await;
    assert_eq!(secret.is_error, Some(true), "{secret:?}");
    assert!(
        !serde_json::to_string(&secret)
            .unwrap()
            .contains("not for the pack"),
        "{secret:?}"
    );
    client.cancel().await.unwrap();
    let _ = child.wait().await;
}

#[tokio::test]
async fn a_pack_changed_after_install_is_refused_at_start() {
    let fx = Fixture::new(vec![]).await;
    install_files(&fx).await;
    let installed = fx.dir.path().join("data/packs/files/fs.wasm");
    let mut bytes = std::fs::read(&installed).unwrap();
    // One byte of a custom section's payload near the end: still a valid component.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(&installed, bytes).unwrap();

    let out = fx.run(&["mcp", "serve", "--pack", "files@^1"]).await;
    assert_code(&out, 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("loading pack files@^1") && stderr.contains("signed digest"),
        "{stderr}"
    );
    // An unknown pack or a version that is not installed is named as such.
    let out = fx.run(&["mcp", "serve", "--pack", "files@^2"]).await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("1.2.0 is installed"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn narrow_takes_away_from_a_served_packs_grant_and_never_widens_it() {
    let fx = Fixture::new(vec![]).await;
    install_files(&fx).await;
    let narrow = fx.dir.path().join("narrow.toml");
    std::fs::write(&narrow, "dirs = []\n").unwrap();
    let flag = format!("files={}", s(&narrow));

    let mut cmd = fx.command(&["mcp", "serve", "--pack", "files@^1", "--narrow", &flag]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let client = ().serve((stdout, stdin)).await.unwrap();
    // The granted directory is taken away: the read fails and nothing of the file leaks.
    let read = call(&client, "fs_read", json!({"path": "/data/note.txt"})).await;
    assert_eq!(read.is_error, Some(true), "{read:?}");
    assert!(
        !serde_json::to_string(&read)
            .unwrap()
            .contains("from the granted dir"),
        "{read:?}"
    );
    client.cancel().await.unwrap();
    let _ = child.wait().await;

    // Keeping a directory the grant does not have, or more fuel than its maximum: refused
    // before anything is served.
    for (body, says) in [
        ("dirs = [\"other\"]\n", "does not include"),
        ("fuel = 9000000000000000000\n", "above"),
    ] {
        std::fs::write(&narrow, body).unwrap();
        let out = fx
            .run(&["mcp", "serve", "--pack", "files@^1", "--narrow", &flag])
            .await;
        assert_code(&out, 1);
        let err = text(&out.stderr);
        assert!(
            err.contains("loading pack files@^1") && err.contains(says),
            "{err}"
        );
    }
    // A narrowing file with an unknown key, or for a pack that is not served.
    std::fs::write(&narrow, "dirz = []\n").unwrap();
    let out = fx
        .run(&["mcp", "serve", "--pack", "files@^1", "--narrow", &flag])
        .await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("narrowing file") && text(&out.stderr).contains("dirz"),
        "{}",
        text(&out.stderr)
    );
    let other = format!("weather={}", s(&narrow));
    let out = fx
        .run(&["mcp", "serve", "--pack", "files@^1", "--narrow", &other])
        .await;
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("no --pack weather"),
        "{}",
        text(&out.stderr)
    );
}
