//! Outgoing HTTP under the egress policy's size caps and the call's deadline, against
//! loopback servers only: an upload over `max_request_bytes` (streamed or declared) and a
//! response read past `max_response_bytes` end the call with `limit_exceeded` naming the
//! limit; bytes sent are counted next to bytes received; a server that never reads or never
//! answers cannot hold a call past its deadline. After each attack a benign call works.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warden_e2e::sandbox::{assert_echo_works, executor, hostile, quick_policy};
use warden_sandbox::egress::EgressPolicy;
use warden_sandbox::{CallLimit, CallOutcome, ToolCallError, ToolPolicy};

/// What the loopback server does with each connection.
#[derive(Clone, Copy)]
enum Mode {
    /// Reads the head and a `Content-Length` body (or everything until the client closes),
    /// then answers 200 with an empty body.
    Upload,
    /// Answers 200 with a body of this many bytes.
    Download(usize),
    /// Accepts and then neither reads nor answers.
    Silent,
}

/// A server on 127.0.0.1 counting connections and request bytes (head included).
struct Loopback {
    addr: std::net::SocketAddr,
    accepts: Arc<AtomicUsize>,
    received: Arc<AtomicU64>,
}

impl Loopback {
    async fn start(mode: Mode) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Loopback {
            addr: listener.local_addr().unwrap(),
            accepts: Arc::default(),
            received: Arc::default(),
        };
        let (accepts, received) = (server.accepts.clone(), server.received.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepts.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, mode, received.clone()));
            }
        });
        server
    }

    /// A policy allowing this server, with `egress` lines added to the egress table.
    fn policy(&self, egress: &str) -> ToolPolicy {
        let text = format!(
            "allowed_hosts = [{{ host = \"{}\", allow_private = true }}]\n{egress}",
            self.addr
        );
        ToolPolicy {
            egress: EgressPolicy::from_toml(&text).unwrap(),
            ..quick_policy()
        }
    }
}

async fn serve(mut stream: TcpStream, mode: Mode, received: Arc<AtomicU64>) {
    if let Mode::Silent = mode {
        // Hold the connection open, reading nothing, until the client goes away.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    let mut body_left: Option<u64> = None;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        received.fetch_add(n as u64, Ordering::SeqCst);
        match &mut body_left {
            Some(left) => *left = left.saturating_sub(n as u64),
            None => {
                seen.extend_from_slice(&buf[..n]);
                let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<u64>().ok());
                // Without a length (a chunked upload) read until the client closes.
                let body_seen = (seen.len() - end - 4) as u64;
                body_left = Some(length.map_or(u64::MAX, |l| l.saturating_sub(body_seen)));
            }
        }
        if body_left == Some(0) || matches!(mode, Mode::Download(_)) {
            break;
        }
    }
    let size = match mode {
        Mode::Download(size) => size,
        _ => 0,
    };
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&vec![b'd'; size]).await;
    let _ = stream.shutdown().await;
}

/// Runs `tool` of the hostile component, then checks a benign call still works.
async fn call(tool: &str, args: &str, policy: &ToolPolicy) -> CallOutcome {
    let set = hostile().await;
    let outcome = executor().call(&set, tool, args, policy).await;
    assert_echo_works(executor(), &set).await;
    outcome
}

fn upload_args(server: &Loopback, bytes: u64, declare: bool) -> String {
    format!(
        r#"{{"authority":"{}","bytes":{bytes},"declare":{declare}}}"#,
        server.addr
    )
}

#[tokio::test]
async fn an_upload_within_the_cap_is_sent_and_counted() {
    let server = Loopback::start(Mode::Upload).await;
    let policy = server.policy("max_request_bytes = \"64KiB\"");
    let outcome = call("http_upload", &upload_args(&server, 40_000, true), &policy).await;
    let output: serde_json::Value = serde_json::from_str(&outcome.result.unwrap()).unwrap();
    assert_eq!(output["written"], 40_000);
    assert_eq!(output["response"], 200);
    assert_eq!(outcome.usage.http_bytes_sent, 40_000);
    assert_eq!(outcome.usage.http_requests, 1);
    assert!(server.received.load(Ordering::SeqCst) > 40_000);
}

#[tokio::test]
async fn a_streamed_upload_over_the_cap_ends_the_call_with_the_limit() {
    let server = Loopback::start(Mode::Upload).await;
    let cap = 256 * 1024;
    let policy = server.policy(&format!("max_request_bytes = {cap}"));
    // 64 MiB offered; the guest reports success whatever its writes did.
    let outcome = call(
        "http_upload",
        &upload_args(&server, 64 << 20, false),
        &policy,
    )
    .await;
    assert_eq!(
        outcome.result,
        Err(ToolCallError::LimitExceeded {
            limit: CallLimit::HttpRequestBody,
            max: cap,
        })
    );
    assert!(outcome.usage.http_bytes_sent <= cap, "{:?}", outcome.usage);
    // Headers and chunk framing come on top of the body, never much more.
    let received = server.received.load(Ordering::SeqCst);
    assert!(
        received <= cap + 8 * 1024,
        "the server received {received} bytes"
    );
}

#[tokio::test]
async fn a_declared_upload_over_the_cap_is_refused_before_connecting() {
    let server = Loopback::start(Mode::Upload).await;
    let policy = server.policy("max_request_bytes = \"1MiB\"");
    let outcome = call("http_upload", &upload_args(&server, 1 << 30, true), &policy).await;
    assert_eq!(
        outcome.result,
        Err(ToolCallError::LimitExceeded {
            limit: CallLimit::HttpRequestBody,
            max: 1 << 20,
        })
    );
    assert_eq!(server.accepts.load(Ordering::SeqCst), 0);
    assert_eq!(outcome.usage.http_bytes_sent, 0);
}

#[tokio::test]
async fn reading_a_response_past_the_cap_ends_the_call_with_the_limit() {
    let server = Loopback::start(Mode::Download(512 * 1024)).await;
    let policy = server.policy("max_response_bytes = \"64KiB\"");
    let set = executor()
        .load_file(warden::testing::guests::HTTP)
        .await
        .unwrap();
    // The fetch tool would read up to 1 MiB; the operator allows 64 KiB.
    let args = format!(
        r#"{{"url":"http://{}/","max_body_bytes":1048576}}"#,
        server.addr
    );
    let outcome = executor().call(&set, "http_fetch", &args, &policy).await;
    assert_eq!(
        outcome.result,
        Err(ToolCallError::LimitExceeded {
            limit: CallLimit::HttpResponseBody,
            max: 64 * 1024,
        })
    );
    let received = outcome.usage.http_bytes_received;
    assert!(received > 64 * 1024 && received < 512 * 1024, "{received}");
    let small = executor()
        .call(
            &set,
            "http_fetch",
            &format!(
                r#"{{"url":"http://{}/","max_body_bytes":1024}}"#,
                server.addr
            ),
            &policy,
        )
        .await;
    assert!(small.result.is_ok(), "{:?}", small.result);
}

/// A server that never answers, or never reads the upload, cannot keep a call past its
/// deadline even though the egress policy's own total timeout is far longer.
#[tokio::test]
async fn a_silent_server_cannot_hold_a_call_past_its_deadline() {
    let server = Loopback::start(Mode::Silent).await;
    let deadline = Duration::from_millis(1500);
    let policy = ToolPolicy {
        timeout: deadline,
        ..server.policy("total_timeout = \"60s\"\nmax_request_bytes = \"64MiB\"")
    };
    for args in [
        format!(r#"{{"authority":"{}"}}"#, server.addr),
        upload_args(&server, 32 << 20, false),
    ] {
        let tool = if args.contains("bytes") {
            "http_upload"
        } else {
            "http_get"
        };
        // Bounded so a hang fails the test instead of stalling the suite.
        let outcome = tokio::time::timeout(Duration::from_secs(30), call(tool, &args, &policy))
            .await
            .unwrap_or_else(|_| panic!("{tool} outlived its deadline"));
        assert_eq!(
            outcome.result,
            Err(ToolCallError::Timeout { limit: deadline }),
            "{tool}"
        );
    }
}
