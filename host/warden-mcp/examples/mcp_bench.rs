//! The MCP layer's cost, side by side in one run: one `tools/call` round trip through rmcp's
//! real client over the stdio framing (newline-delimited JSON-RPC over an in-process pipe)
//! and over Streamable HTTP (loopback), against the executor's own call of the same tool
//! (same component, warm cache, same policy); and the typed-WIT conversion (JSON → WIT
//! values → JSON) against a plain serde_json round trip of the same text.
//!
//! `cargo run --release -p warden-mcp --example mcp_bench -- CALC.wasm TYPED.wasm [ROUNDS]`
//! Sides are interleaved round by round; each figure is the median over all rounds.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use warden_mcp::{McpServer, ServedComponent};
use warden_sandbox::{EngineConfig, Executor, ToolPolicy, ToolSet};
use warden_wit::{WitType, read, write};

type Client = RunningService<rmcp::RoleClient, ()>;

/// Calls per side per round.
const PER_ROUND: usize = 100;

fn main() {
    warden_sandbox::run_compiler_child_if_requested();
    let args: Vec<String> = std::env::args().collect();
    let (calc, typed) = (args[1].clone(), args[2].clone());
    let rounds: usize = args.get(3).map_or(20, |r| r.parse().unwrap());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let exec = Executor::new(EngineConfig::default()).unwrap();
            let calc = exec.load_file(std::path::Path::new(&calc)).await.unwrap();
            let typed = exec.load_file(std::path::Path::new(&typed)).await.unwrap();
            round_trips(
                &exec,
                &calc,
                "calc",
                json!({"expression": "17 * 23"}),
                rounds,
            )
            .await;
            round_trips(
                &exec,
                &typed,
                "text_count",
                json!({"text": "one two three"}),
                rounds,
            )
            .await;
        });
    conversions(rounds);
}

async fn round_trips(
    exec: &Executor,
    set: &Arc<ToolSet>,
    tool: &'static str,
    args: Value,
    rounds: usize,
) {
    let policy = ToolPolicy::default();
    let server = McpServer::new(
        exec.clone(),
        vec![ServedComponent {
            label: tool.into(),
            set: set.clone(),
        }],
        |_| Ok::<_, String>(policy.clone()),
    )
    .unwrap();
    let stdio = stdio_client(server.clone()).await;
    let stop = CancellationToken::new();
    let http = http_client(server, stop.clone()).await;
    let text = args.to_string();
    let Value::Object(object) = args else {
        unreachable!()
    };
    let (mut direct, mut over_stdio, mut over_http) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        let d = time(PER_ROUND, || async {
            let out = exec.call(set, tool, &text, &policy).await;
            assert!(out.result.is_ok(), "{:?}", out.result);
        })
        .await;
        let s = time(PER_ROUND, || call(&stdio, tool, &object)).await;
        let h = time(PER_ROUND, || call(&http, tool, &object)).await;
        // Round 0 warms every side up.
        if round > 0 {
            direct.extend(d);
            over_stdio.extend(s);
            over_http.extend(h);
        }
    }
    stop.cancel();
    let (d, s, h) = (
        median(&mut direct),
        median(&mut over_stdio),
        median(&mut over_http),
    );
    println!(
        "tools/call {tool} ({} calls per side, interleaved)",
        direct.len()
    );
    println!("  executor call       median {:>9.1} µs", us(d));
    println!(
        "  MCP over stdio      median {:>9.1} µs  ({:.2}×, +{:.1} µs)",
        us(s),
        s.as_secs_f64() / d.as_secs_f64(),
        us(s) - us(d)
    );
    println!(
        "  MCP over HTTP       median {:>9.1} µs  ({:.2}×, +{:.1} µs)",
        us(h),
        h.as_secs_f64() / d.as_secs_f64(),
        us(h) - us(d)
    );
}

async fn call(client: &Client, tool: &'static str, args: &JsonObject) {
    let result = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args.clone()))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
}

async fn stdio_client(server: McpServer) -> Client {
    let (client_side, server_side) = tokio::io::duplex(1 << 16);
    let (r, w) = tokio::io::split(server_side);
    tokio::spawn(async move {
        let _ = server.serve_io(r, w).await;
    });
    ().serve(tokio::io::split(client_side)).await.unwrap()
}

async fn http_client(server: McpServer, stop: CancellationToken) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warden_mcp::http::serve(
        server,
        listener,
        Default::default(),
        stop,
    ));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ().serve(transport).await.unwrap()
}

async fn time<F: std::future::Future<Output = ()>>(n: usize, f: impl Fn() -> F) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        f().await;
        out.push(start.elapsed());
    }
    out
}

/// JSON text → WIT value → JSON text for a few signatures' values, against serde_json's
/// own parse and print of the same text.
fn conversions(rounds: usize) {
    let s = |n: &str| n.to_string();
    let stats = WitType::Record(vec![
        (s("words"), WitType::U32),
        (s("bytes"), WitType::U64),
        (s("mean-word-length"), WitType::F64),
        (s("longest"), WitType::Option(Box::new(WitType::String))),
    ]);
    let shape = WitType::Variant(vec![
        (s("circle"), Some(WitType::F64)),
        (
            s("polygon"),
            Some(WitType::List(Box::new(WitType::Tuple(vec![
                WitType::F64,
                WitType::F64,
            ])))),
        ),
        (s("point"), None),
    ]);
    let cases: Vec<(&str, WitType, Value)> = vec![
        ("u64", WitType::U64, json!(9_007_199_254_740_993u64)),
        ("string (64 chars)", WitType::String, json!("x".repeat(64))),
        (
            "record of 4 fields",
            stats,
            json!({"words": 3, "bytes": 13, "mean-word-length": 3.67, "longest": "three"}),
        ),
        (
            "list<u8> (1 KiB)",
            WitType::List(Box::new(WitType::U8)),
            json!(vec![7u8; 1024]),
        ),
        (
            "variant with list<tuple<f64,f64>> (16)",
            shape,
            json!({"tag": "polygon", "value": vec![[1.5, -2.0]; 16]}),
        ),
        (
            "flags + enum in a tuple",
            WitType::Tuple(vec![
                WitType::Flags(vec![s("read"), s("write"), s("execute")]),
                WitType::Enum(vec![s("red"), s("green"), s("blue")]),
            ]),
            json!([["read", "execute"], "green"]),
        ),
    ];
    println!("conversion (JSON text → value → JSON text), {rounds} × 1000 per side, interleaved");
    for (name, ty, value) in cases {
        let text = value.to_string();
        let (mut typed, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for _ in 0..1000 {
                let start = Instant::now();
                let json: Value = serde_json::from_str(&text).unwrap();
                let val = read(&ty, &json).unwrap();
                let back = write(&ty, &val).unwrap().to_string();
                typed.push(start.elapsed());
                std::hint::black_box(back);
                let start = Instant::now();
                let json: Value = serde_json::from_str(&text).unwrap();
                let back = json.to_string();
                plain.push(start.elapsed());
                std::hint::black_box(back);
            }
        }
        let (t, p) = (median(&mut typed), median(&mut plain));
        println!(
            "  {name:<40} typed {:>8.2} µs   serde_json {:>8.2} µs   ({:.2}×, +{:.2} µs)",
            us(t),
            us(p),
            t.as_secs_f64() / p.as_secs_f64(),
            us(t) - us(p)
        );
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
