//! Helpers for the MCP server tests: a server over the typed and calc components with short
//! limits, reached by rmcp's real client over the stdio framing (an in-memory pipe) or over
//! Streamable HTTP on a loopback port.

use std::net::SocketAddr;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use warden_e2e::sandbox::{executor, quick_policy};
use warden_mcp::http::HttpOptions;
use warden_mcp::{McpServer, ServedComponent};
use warden_sandbox::ToolPolicy;

pub type Client = RunningService<RoleClient, ()>;

/// The server's policy: the quick test limits, except that `hostile_spin` runs without fuel
/// under a 300 ms deadline (so it ends by timeout) and `slow_spin` has a 120 s one (so only
/// a cancellation ends it soon).
pub fn policy(tool: &str) -> Result<ToolPolicy, String> {
    let mut policy = quick_policy();
    if tool == "hostile_spin" {
        policy.fuel = None;
        policy.timeout = Duration::from_millis(300);
    }
    Ok(policy)
}

/// A server with the typed component and calc, under [`policy`] (or `with` for every tool).
pub async fn server(with: Option<ToolPolicy>) -> McpServer {
    let typed = executor()
        .load_file(warden::testing::guests::TYPED)
        .await
        .unwrap();
    let calc = executor()
        .load_file(warden::testing::guests::CALC)
        .await
        .unwrap();
    let components = vec![
        ServedComponent {
            label: "typed.wasm".into(),
            set: typed,
        },
        ServedComponent {
            label: "calc.wasm".into(),
            set: calc,
        },
    ];
    McpServer::new(executor().clone(), components, |tool| match &with {
        Some(p) => Ok(p.clone()),
        None => policy(tool),
    })
    .unwrap()
}

/// rmcp's client connected to `server` over the stdio framing (newline-delimited JSON-RPC).
pub async fn stdio_client(server: McpServer) -> Client {
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    let (read, write) = tokio::io::split(server_side);
    tokio::spawn(async move {
        let _ = server.serve_io(read, write).await;
    });
    ().serve(tokio::io::split(client_side)).await.unwrap()
}

/// `server` on a loopback port; the address and the token that stops it.
pub async fn http_server(
    server: McpServer,
    options: HttpOptions,
) -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        warden_mcp::http::serve(server, listener, options, token)
            .await
            .unwrap();
    });
    (addr, stop)
}

/// rmcp's client connected over Streamable HTTP.
pub async fn http_client(addr: SocketAddr) -> Client {
    http_client_with(addr, None).await.unwrap()
}

/// rmcp's client over Streamable HTTP with `token` as its bearer token, allowed 128
/// requests in flight (its default is 16).
pub async fn http_client_with(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<Client, rmcp::service::ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .max_concurrent_requests(128);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::with_client(reqwest_client(), config);
    ().serve(transport).await
}

/// Calls `tool` with `args` (a JSON object).
pub async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args as JsonObject))
        .await
        .unwrap()
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    let block = serde_json::to_value(&result.content[0]).unwrap();
    block["text"].as_str().unwrap_or_default().to_string()
}

/// A plain HTTP client (loopback only; reqwest is built without a default TLS provider).
pub fn reqwest_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
