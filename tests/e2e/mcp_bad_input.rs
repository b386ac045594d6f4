//! Hostile MCP clients: malformed JSON-RPC, unknown methods, oversized and deeply nested
//! messages, huge arguments, missing bearer tokens, and clients that disconnect mid-call.
//! Each gets a clear error and the server keeps serving (the same session where the
//! transport allows it, and other clients always).

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use warden_mcp::http::HttpOptions;

use crate::mcp_support::{
    call, http_client, http_client_with, http_server, reqwest_client, server, text,
};

/// A raw newline-delimited JSON-RPC session with the server (the stdio transport's framing).
struct Raw {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
}

impl Raw {
    async fn start() -> Self {
        let server = server(None).await;
        let (client_side, server_side) = tokio::io::duplex(1 << 16);
        let (read, write) = tokio::io::split(server_side);
        tokio::spawn(async move {
            let _ = server.serve_io(read, write).await;
        });
        let (read, write) = tokio::io::split(client_side);
        let mut raw = Raw {
            write,
            lines: BufReader::new(read).lines(),
        };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}});
        raw.send(&init.to_string()).await;
        let answer = raw.answer(0).await;
        assert!(
            answer["result"]["capabilities"]["tools"].is_object(),
            "{answer}"
        );
        raw.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        raw
    }

    async fn send(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
        self.write.flush().await.unwrap();
    }

    /// The next message answering request `id` (skipping others, e.g. error replies to
    /// lines that had no id).
    async fn answer(&mut self, id: u64) -> Value {
        loop {
            let line = self
                .lines
                .next_line()
                .await
                .unwrap()
                .expect("the server closed the session");
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// `tools/list` still answers on this session.
    async fn assert_serving(&mut self, id: u64) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}).to_string())
            .await;
        let answer = self.answer(id).await;
        assert!(
            answer["result"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_rpc_is_answered_and_the_session_continues() {
    let mut raw = Raw::start().await;
    raw.send("{this is not json").await;
    raw.send(r#"{"jsonrpc":"2.0","id":"#).await;
    raw.send(r#"[1, 2, 3]"#).await;
    raw.assert_serving(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_is_method_not_found() {
    let mut raw = Raw::start().await;
    raw.send(r#"{"jsonrpc":"2.0","id":7,"method":"tools/explode","params":{}}"#)
        .await;
    let answer = raw.answer(7).await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    raw.assert_serving(8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_dropped_and_the_session_continues() {
    let mut raw = Raw::start().await;
    let huge = "x".repeat(warden_mcp::MAX_MESSAGE_BYTES + 1024);
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"text_shout","arguments":{{"text":"{huge}"}}}}}}"#
    );
    raw.send(&line).await;
    raw.assert_serving(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_arguments_are_refused_and_the_session_continues() {
    let mut raw = Raw::start().await;
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{{"name":"text_shout","arguments":{{"text":{nested}}}}}}}"#
    );
    raw.send(&line).await;
    // Moderately nested arguments that do parse are a tool error with the path.
    let moderate = format!("{}{}", "[".repeat(50), "]".repeat(50));
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{{"name":"text_shout","arguments":{{"text":{moderate}}}}}}}"#
    );
    raw.send(&line).await;
    let answer = raw.answer(12).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("/text"),
        "{answer}"
    );
    raw.assert_serving(13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_argument_meets_the_output_cap_as_a_tool_error() {
    let (addr, stop) = http_server(server(None).await, HttpOptions::default()).await;
    let client = http_client(addr).await;
    let result = call(&client, "text_shout", json!({"text": "a".repeat(1 << 20)})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("output exceeded the limit"),
        "{}",
        text(&result)
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_http_body_is_refused_and_others_are_served() {
    let (addr, stop) = http_server(server(None).await, HttpOptions::default()).await;
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(warden_mcp::MAX_MESSAGE_BYTES)
    );
    let response = reqwest_client()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let malformed = reqwest_client()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert!(
        malformed.status().is_client_error(),
        "{}",
        malformed.status()
    );
    let client = http_client(addr).await;
    let ok = call(&client, "text_shout", json!({"text": "ok"})).await;
    assert_eq!(ok.structured_content, Some(json!({"result": "OK"})));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_required_when_set() {
    let options = HttpOptions {
        bearer_token: Some("e2e-token".into()),
        allow_remote: false,
    };
    let (addr, stop) = http_server(server(None).await, options).await;
    let anonymous = reqwest_client()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        http_client_with(addr, Some("wrong")).await.is_err(),
        "a wrong token was accepted"
    );
    let client = http_client_with(addr, Some("e2e-token")).await.unwrap();
    let ok = call(&client, "text_shout", json!({"text": "in"})).await;
    assert_eq!(ok.structured_content, Some(json!({"result": "IN"})));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnecting_mid_call_leaves_others_served() {
    let (addr, stop) = http_server(server(None).await, HttpOptions::default()).await;
    let leaving = http_client(addr).await;
    let pending = tokio::spawn(async move {
        // `hostile_spin` runs until its deadline; the client goes away first.
        let _ = call(&leaving, "hostile_spin", json!({})).await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    pending.abort();
    let _ = pending.await;
    let staying = http_client(addr).await;
    let ok = call(&staying, "text_count", json!({"text": "a b"})).await;
    assert_eq!(ok.structured_content.unwrap()["words"], 2);
    stop.cancel();
}
