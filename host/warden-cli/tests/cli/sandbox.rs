//! The sandbox under the real binary's own process limits.

use tokio::process::Command;

use crate::support::{assert_code, text};

/// Where the pooling allocator cannot reserve its address space (a low `ulimit -v`, as in
/// some containers), the executor warns, falls back to on-demand allocation, and tools run.
#[tokio::test]
async fn tools_run_on_demand_when_the_pool_cannot_reserve_its_address_space() {
    // The pool of `warden tool call` reserves over 32 GiB of address space up front; the
    // process with one on-demand instance needs about 6 (measured on x86-64 Linux).
    let limit = format!("--as={}", 16u64 << 30);
    let out = Command::new("prlimit")
        .arg(limit)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_warden"))
        .args(["tool", "call", warden::testing::guests::HOSTILE, "echo"])
        .arg(r#"{"text":"hi"}"#)
        .env_remove("WARDEN_LOG")
        .output()
        .await
        .unwrap();
    assert_code(&out, 0);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains(r#""text": "hi""#), "{stdout}");
    assert!(
        stderr.contains("using on-demand allocation"),
        "no fallback warning: {stderr}"
    );
}
