//! The hostile suite: every attack of the `hostile` component ends in its specific typed
//! error (or a harmless result), and a benign `echo` call right after it succeeds.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use warden_e2e::sandbox::{assert_echo_works, executor, hostile, quick_policy};
use warden_sandbox::{DirMode, GrantedDir, ToolCallError, ToolPolicy};

/// Runs `tool` of the hostile component and returns its error, after checking the host
/// still serves a benign call.
async fn attack(tool: &str, args: &str, policy: &ToolPolicy) -> ToolCallError {
    let set = hostile().await;
    let outcome = executor().call(&set, tool, args, policy).await;
    assert_echo_works(executor(), &set).await;
    match outcome.result {
        Err(e) => e,
        Ok(out) => panic!("attack {tool} succeeded with {out:.200}"),
    }
}

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel() {
    let policy = ToolPolicy {
        fuel: Some(5_000_000),
        ..quick_policy()
    };
    let err = attack("spin", "{}", &policy).await;
    assert_eq!(err, ToolCallError::OutOfFuel { limit: 5_000_000 });
    assert!(err.message_for_model().contains("smaller input"));
}

#[tokio::test]
async fn an_infinite_loop_without_fuel_hits_the_deadline() {
    let policy = ToolPolicy {
        fuel: None,
        timeout: Duration::from_millis(300),
        ..quick_policy()
    };
    let err = attack("spin", "{}", &policy).await;
    assert_eq!(
        err,
        ToolCallError::Timeout {
            limit: Duration::from_millis(300)
        }
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn sleeping_in_a_host_call_hits_the_deadline() {
    let policy = ToolPolicy {
        timeout: Duration::from_millis(300),
        ..quick_policy()
    };
    let err = attack("sleep", r#"{"ms": 60000}"#, &policy).await;
    assert_eq!(
        err,
        ToolCallError::Timeout {
            limit: Duration::from_millis(300)
        }
    );
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let policy = ToolPolicy {
        max_memory_bytes: 16 << 20,
        ..quick_policy()
    };
    let err = attack("memory_bomb", "{}", &policy).await;
    assert_eq!(
        err,
        ToolCallError::MemoryLimit {
            limit_bytes: 16 << 20
        }
    );
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack() {
    let policy = ToolPolicy {
        fuel: Some(2_000_000_000),
        ..quick_policy()
    };
    let err = attack("recurse", r#"{"depth": 100000000}"#, &policy).await;
    assert_eq!(err, ToolCallError::StackOverflow);
}

#[tokio::test]
async fn a_huge_return_value_is_stopped_while_copying_out() {
    // 8 MiB against 1 MiB of hostcall fuel: stopped before the host holds the string.
    let policy = ToolPolicy {
        fuel: Some(2_000_000_000),
        max_memory_bytes: 128 << 20,
        ..quick_policy()
    };
    let err = attack("huge_output", r#"{"bytes": 8388608}"#, &policy).await;
    assert_eq!(
        err,
        ToolCallError::OutputTooLarge {
            limit_bytes: 1 << 20
        }
    );
}

#[tokio::test]
async fn an_output_over_the_output_cap_is_too_large() {
    let policy = ToolPolicy {
        max_output_bytes: 1000,
        ..quick_policy()
    };
    let err = attack("huge_output", r#"{"bytes": 5000}"#, &policy).await;
    assert_eq!(err, ToolCallError::OutputTooLarge { limit_bytes: 1000 });
}

#[tokio::test]
async fn flooding_stdout_is_truncated_without_failing_the_tool() {
    let set = hostile().await;
    let outcome = executor()
        .call(
            &set,
            "flood_stdout",
            r#"{"bytes": 1048576}"#,
            &quick_policy(),
        )
        .await;
    assert_eq!(outcome.result.as_deref(), Ok(r#"{"written":1048576}"#));
    assert_eq!(outcome.usage.stdout.len(), 16 << 10);
    assert_eq!(outcome.usage.dropped_stdio_bytes, 1048576 - (16 << 10));
    assert_echo_works(executor(), &set).await;
}

fn tool_failed(err: &ToolCallError) -> &str {
    match err {
        ToolCallError::ToolFailed { message } => message,
        other => panic!("expected tool_failed, got {other:?}"),
    }
}

#[tokio::test]
async fn reading_etc_passwd_fails_without_grants() {
    let err = attack("read_file", r#"{"path": "/etc/passwd"}"#, &quick_policy()).await;
    assert!(
        tool_failed(&err).contains("cannot read /etc/passwd"),
        "{err:?}"
    );
}

/// A temp dir with `inner/` (granted as `/data`), `inner/ok.txt`, and `secret.txt` outside.
fn granted_tree(mode: DirMode) -> (tempfile::TempDir, ToolPolicy) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("inner")).unwrap();
    std::fs::write(root.path().join("inner/ok.txt"), "inside").unwrap();
    std::fs::write(root.path().join("secret.txt"), "outside").unwrap();
    let policy = ToolPolicy {
        dirs: vec![GrantedDir {
            host: root.path().join("inner"),
            guest: "/data".into(),
            mode,
        }],
        ..quick_policy()
    };
    (root, policy)
}

#[tokio::test]
async fn a_granted_dir_is_readable_but_dotdot_does_not_escape_it() {
    let (_root, policy) = granted_tree(DirMode::ReadOnly);
    let set = hostile().await;
    let inside = executor()
        .call(&set, "read_file", r#"{"path": "/data/ok.txt"}"#, &policy)
        .await;
    assert_eq!(inside.result.as_deref(), Ok(r#"{"content":"inside"}"#));
    let err = attack("read_file", r#"{"path": "/data/../secret.txt"}"#, &policy).await;
    assert!(tool_failed(&err).contains("cannot read"), "{err:?}");
}

#[tokio::test]
async fn a_symlink_does_not_escape_a_granted_dir() {
    let (root, policy) = granted_tree(DirMode::ReadWrite);
    std::os::unix::fs::symlink(
        root.path().join("secret.txt"),
        root.path().join("inner/link"),
    )
    .unwrap();
    let err = attack("read_file", r#"{"path": "/data/link"}"#, &policy).await;
    assert!(
        tool_failed(&err).contains("cannot read /data/link"),
        "{err:?}"
    );
}

#[tokio::test]
async fn writing_to_a_read_only_grant_fails_and_changes_nothing() {
    let (root, policy) = granted_tree(DirMode::ReadOnly);
    let args = r#"{"path": "/data/new.txt", "content": "pwned"}"#;
    let err = attack("write_file", args, &policy).await;
    assert!(tool_failed(&err).contains("cannot write"), "{err:?}");
    assert!(!root.path().join("inner/new.txt").exists());
}

#[tokio::test]
async fn a_read_write_grant_allows_writing() {
    let (root, policy) = granted_tree(DirMode::ReadWrite);
    let set = hostile().await;
    let args = r#"{"path": "/data/new.txt", "content": "hello"}"#;
    let outcome = executor().call(&set, "write_file", args, &policy).await;
    assert_eq!(outcome.result.as_deref(), Ok(r#"{"written":5}"#));
    assert_eq!(
        std::fs::read_to_string(root.path().join("inner/new.txt")).unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn host_env_vars_are_not_inherited_only_granted_ones_are_seen() {
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test needs PATH set on the host"
    );
    let err = attack("read_env", r#"{"key": "PATH"}"#, &quick_policy()).await;
    assert_eq!(tool_failed(&err), "environment variable PATH is not set");

    let policy = ToolPolicy {
        env: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        ..quick_policy()
    };
    let set = hostile().await;
    let outcome = executor()
        .call(&set, "read_env", r#"{"key": "GREETING"}"#, &policy)
        .await;
    assert_eq!(
        outcome.result.as_deref(),
        Ok(r#"{"env_count":1,"value":"hi"}"#)
    );
}

#[tokio::test]
async fn raw_tcp_sockets_are_denied_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let args = format!(r#"{{"addr": "{addr}"}}"#);
    let err = attack("tcp_connect", &args, &quick_policy()).await;
    assert!(tool_failed(&err).contains("access-denied"), "{err:?}");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the guest reached the listener: {accepted:?}"
    );
}

#[tokio::test]
async fn http_to_a_host_not_allowed_is_denied_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let set = hostile().await;
    let args = format!(r#"{{"authority": "{addr}"}}"#);
    let outcome = executor()
        .call(&set, "http_get", &args, &quick_policy())
        .await;
    match &outcome.result {
        Err(ToolCallError::CapabilityDenied { capability, detail }) => {
            assert_eq!(capability, "outgoing HTTP");
            assert!(detail.contains("127.0.0.1"), "{detail}");
        }
        other => panic!("expected capability_denied, got {other:?}"),
    }
    assert_eq!(
        (outcome.usage.http_requests, outcome.usage.http_denied),
        (1, 1)
    );
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
    assert_echo_works(executor(), &set).await;
}

/// An IPv6 literal carrying the loopback IPv4 address (IPv4-mapped, 6to4, NAT64) is judged
/// as that address: allowed by a rule without `allow_private`, it is refused before connecting.
#[tokio::test]
async fn http_to_an_ipv6_literal_carrying_loopback_is_refused() {
    use warden_sandbox::egress::{EgressPolicy, HostRule, is_internal};
    let set = hostile().await;
    for literal in ["::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1"] {
        // Checked first, so a regression stops here rather than dialling a 6to4 relay.
        assert!(is_internal(literal.parse().unwrap()), "{literal}");
        let authority = format!("[{literal}]:8080");
        let policy = ToolPolicy {
            egress: EgressPolicy::default().allow(HostRule::parse(&authority).unwrap()),
            ..quick_policy()
        };
        let args = format!(r#"{{"authority": "{authority}"}}"#);
        let outcome = executor().call(&set, "http_get", &args, &policy).await;
        match &outcome.result {
            Err(ToolCallError::CapabilityDenied { detail, .. }) => {
                assert!(detail.contains("internal address"), "{literal}: {detail}");
            }
            other => panic!("{literal}: expected capability_denied, got {other:?}"),
        }
        assert_eq!(
            (outcome.usage.http_requests, outcome.usage.http_denied),
            (1, 1),
            "{literal}"
        );
    }
    assert_echo_works(executor(), &set).await;
}

#[tokio::test]
async fn a_panic_inside_invoke_is_a_trap_with_the_panic_message() {
    let err = attack("panic", "{}", &quick_policy()).await;
    match &err {
        ToolCallError::Trap { message } => {
            assert!(message.contains("unreachable"), "{message}");
            assert!(message.contains("panicked on purpose"), "{message}");
            // Guest-side source locations are fine; host paths are not.
            assert!(
                !message.contains("/work/") && !message.contains("/root/"),
                "{message}"
            );
        }
        other => panic!("expected trap, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_json_arguments_never_reach_the_guest() {
    let set = hostile().await;
    let outcome = executor()
        .call(&set, "echo", "{not json", &quick_policy())
        .await;
    match &outcome.result {
        Err(ToolCallError::InvalidArguments { path, message }) => {
            assert_eq!(path, "");
            assert!(message.contains("not valid JSON"), "{message}");
        }
        other => panic!("expected invalid_arguments, got {other:?}"),
    }
    assert_eq!(outcome.usage.fuel_consumed, 0, "an instance ran");
    assert_echo_works(executor(), &set).await;
}

#[tokio::test]
async fn arguments_violating_the_schema_name_the_failing_path() {
    let set = hostile().await;
    let outcome = executor()
        .call(&set, "sleep", r#"{"ms": "soon"}"#, &quick_policy())
        .await;
    match &outcome.result {
        Err(ToolCallError::InvalidArguments { path, message }) => {
            assert_eq!(path, "/ms");
            assert!(message.contains("integer"), "{message}");
        }
        other => panic!("expected invalid_arguments, got {other:?}"),
    }
    assert_eq!(outcome.usage.fuel_consumed, 0, "an instance ran");
    assert_echo_works(executor(), &set).await;
}

#[tokio::test]
async fn an_unknown_tool_lists_the_available_ones() {
    let err = attack("rm_rf", "{}", &quick_policy()).await;
    match &err {
        ToolCallError::UnknownTool { name, available } => {
            assert_eq!(name, "rm_rf");
            assert!(available.iter().any(|t| t == "echo"), "{available:?}");
        }
        other => panic!("expected unknown_tool, got {other:?}"),
    }
}

#[tokio::test]
async fn guest_reported_invalid_arguments_are_typed() {
    let err = attack("report_invalid", "{}", &quick_policy()).await;
    assert_eq!(
        err,
        ToolCallError::InvalidArguments {
            path: String::new(),
            message: "field `x` must be even".into()
        }
    );
}

#[tokio::test]
async fn an_output_that_is_not_json_is_invalid() {
    let err = attack("not_json", "{}", &quick_policy()).await;
    assert_eq!(err.kind(), "invalid_output");
}

#[tokio::test]
async fn log_flooding_is_capped_and_counted() {
    let set = hostile().await;
    let policy = ToolPolicy {
        max_log_messages: 5,
        ..quick_policy()
    };
    let outcome = executor()
        .call(&set, "log_flood", r#"{"count": 1000}"#, &policy)
        .await;
    assert_eq!(outcome.result.as_deref(), Ok(r#"{"logged":1000}"#));
    assert_eq!(outcome.usage.logs.len(), 5);
    assert_eq!(outcome.usage.logs[4].message, "hostile log message 4");
    assert_eq!(outcome.usage.dropped_logs, 995);
}

#[tokio::test]
async fn config_values_come_only_from_the_policy() {
    let set = hostile().await;
    let policy = ToolPolicy {
        config: BTreeMap::from([("region".to_string(), "eu".to_string())]),
        ..quick_policy()
    };
    let granted = executor()
        .call(&set, "get_config", r#"{"key": "region"}"#, &policy)
        .await;
    assert_eq!(granted.result.as_deref(), Ok(r#"{"value":"eu"}"#));
    let missing = executor()
        .call(&set, "get_config", r#"{"key": "HOME"}"#, &policy)
        .await;
    assert_eq!(missing.result.as_deref(), Ok(r#"{"value":null}"#));
}

/// A one-shot HTTP server on loopback answering 200 to the first request; returns its
/// address and a handle yielding whether a request arrived.
fn one_shot_http_server() -> (std::net::SocketAddr, std::thread::JoinHandle<bool>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return false;
        };
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap_or(0);
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        buf[..n].starts_with(b"GET / HTTP/1.1")
    });
    (addr, handle)
}

#[tokio::test]
async fn http_to_an_allowed_loopback_host_goes_through() {
    let (addr, server) = one_shot_http_server();
    let policy = ToolPolicy {
        egress: warden_sandbox::egress::EgressPolicy::from_toml(&format!(
            "allowed_hosts = [{{ host = \"{addr}\", allow_private = true }}]"
        ))
        .unwrap(),
        ..quick_policy()
    };
    let set = hostile().await;
    let args = format!(r#"{{"authority": "{addr}"}}"#);
    let outcome = executor().call(&set, "http_get", &args, &policy).await;
    assert_eq!(outcome.result.as_deref(), Ok(r#"{"status":200}"#));
    assert_eq!(
        (outcome.usage.http_requests, outcome.usage.http_denied),
        (1, 0)
    );
    assert!(server.join().unwrap(), "the server did not see the GET");
}

/// Every call gets a fresh instance whose memory is reset (the pooling allocator reuses
/// slots and resets only the pages a call dirtied): what one call writes to its data
/// segment and its zeroed statics is gone in the next (its dirtied heap pages are reset the
/// same way).
#[tokio::test]
async fn nothing_a_call_writes_to_memory_survives_into_the_next() {
    let set = hostile().await;
    for marker in [1, 2, 3] {
        let args = format!(r#"{{"marker": {marker}}}"#);
        let outcome = executor()
            .call(&set, "remember", &args, &quick_policy())
            .await;
        let seen: serde_json::Value = serde_json::from_str(&outcome.result.unwrap()).unwrap();
        assert_eq!(
            seen,
            serde_json::json!({"counter_before": 7, "scratch_dirty_pages": 0}),
            "call with marker {marker} saw an earlier call's memory"
        );
    }
}
