//! `warden mcp serve` as a process: its help shows how to register it in a client, and it
//! refuses to bind beyond loopback without the explicit flag and a token.

use tokio::process::Command;

use crate::support::{assert_code, text};

#[tokio::test]
async fn help_shows_how_to_register_warden_in_an_mcp_client() {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["mcp", "serve", "--help"])
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let help = text(&out.stdout);
    assert!(help.contains("\"mcpServers\""), "{help}");
    assert!(help.contains("--http"), "{help}");
    assert!(help.contains("WARDEN_MCP_TOKEN"), "{help}");
}

#[tokio::test]
async fn binding_beyond_loopback_needs_the_flag_and_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let refusals: [(&[&str], &str); 2] = [
        (&["--http", "0.0.0.0:0"], "--allow-remote"),
        (
            &["--http", "0.0.0.0:0", "--allow-remote"],
            "WARDEN_MCP_TOKEN",
        ),
    ];
    for (args, expected) in refusals {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.args(["mcp", "serve", "builtin:calc"])
            .args(args)
            .env("WARDEN_CACHE_DIR", dir.path().join("cache"))
            .env("WARDEN_STATE_DIR", dir.path().join("state"))
            .env_remove("WARDEN_MCP_TOKEN")
            .kill_on_drop(true);
        let out = cmd.output().await.unwrap();
        assert_code(&out, 1);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
