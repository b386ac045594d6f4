//! LLM interface benchmarks: client cost per request against the mock (wall time, and the
//! client thread's own CPU time), and SSE parsing throughput.
//!
//! The mock runs on its own thread and runtime, so the CPU figures count only the client:
//! the client runs on a current-thread runtime on the bench thread, and its CPU time is
//! read from /proc/thread-self/schedstat (nanoseconds on CPU).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use mock_llm::{Behaviour, MockConfig, MockServer};
use warden_core::chat::{ChatRequest, Message, RequestSettings, ToolChoice, ToolSpec};
use warden_llm::{
    ApiKey, Model, Notices, ProviderConfig, ProviderKind, collect_stream, connect, decode_recorded,
};

mod common;

/// CPU time this thread has used, if the kernel exposes it.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

/// A mid-run request: system prompt, task, five tool calls with their results (~1.5 KB).
fn mid_run_request() -> ChatRequest {
    let mut messages = vec![
        Message::system("You are warden's benchmark agent. Use the tools to answer; be brief."),
        Message::user(
            "Read the five files under /data and summarise what they say about the build.",
        ),
    ];
    common::push_read_file_turns(
        &mut messages,
        5,
        |i| format!("{{\"path\": \"/data/file{i}.txt\"}}"),
        |i| format!("file{i}: the build takes {i} minutes on two cores; cache hits are high."),
    );
    ChatRequest {
        cache: Default::default(),
        settings: RequestSettings {
            model: String::new(),
            max_tokens: 1024,
            temperature: Some(0.0),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            options: Default::default(),
        },
        messages,
        tools: vec![ToolSpec {
            name: "read_file".into(),
            description: "Reads a UTF-8 text file from the sandbox".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        }]
        .into(),
    }
}

fn start_mock() -> (String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mock = MockServer::start(MockConfig {
                behaviour: Behaviour::Echo,
                ..MockConfig::default()
            })
            .await
            .unwrap();
            tx.send((mock.openai_base_url(), mock.base_url())).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

fn model(kind: ProviderKind, base: &str) -> Arc<dyn Model> {
    let mut cfg = ProviderConfig::new(kind, "bench-model");
    cfg.base_url = Some(base.to_string());
    cfg.api_key = Some(ApiKey::new("sk-bench"));
    connect(&cfg).unwrap()
}

fn requests(c: &mut Criterion) {
    // reqwest is built without a default TLS provider; the bare client needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (openai_base, anthropic_base) = start_mock();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let req = mid_run_request();
    let body_len = serde_json::to_vec(&req).unwrap().len();
    eprintln!(
        "mid-run request: {} messages, ~{body_len} bytes of neutral JSON",
        req.messages.len()
    );
    let notices = Notices::none();
    let mut group = c.benchmark_group("llm_request");
    for (kind, base) in [
        (ProviderKind::Openai, &openai_base),
        (ProviderKind::Anthropic, &anthropic_base),
    ] {
        let m = model(kind, base);
        let name = kind.as_str();
        group.bench_function(format!("{name}/complete/wall"), |b| {
            b.iter(|| rt.block_on(async { black_box(m.complete(&req, &notices).await.unwrap()) }))
        });
        group.bench_function(format!("{name}/stream/wall"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    black_box(
                        collect_stream(m.stream(&req, &notices).await.unwrap(), "m")
                            .await
                            .unwrap(),
                    )
                })
            })
        });
        if thread_cpu().is_some() {
            group.bench_function(format!("{name}/complete/client_cpu"), |b| {
                b.iter_custom(|iters| {
                    client_cpu(&rt, &m, &req, iters, |m, req, notices| async move {
                        black_box(m.complete(&req, &notices).await.unwrap());
                    })
                })
            });
            // The floor: the same wire requests sent by a bare reqwest client that only
            // reads the body (no request mapping, parsing or retries).
            for (stream, body) in [("complete", false), ("stream", true)] {
                let body = wire_body(&rt, kind, &req, body);
                let (url, kind) = (raw_url(kind, base), kind);
                group.bench_function(format!("{name}/{stream}/raw_floor_cpu"), |b| {
                    b.iter_custom(|iters| raw_cpu(&rt, kind, &url, &body, iters))
                });
            }
            group.bench_function(format!("{name}/stream/client_cpu"), |b| {
                b.iter_custom(|iters| {
                    client_cpu(&rt, &m, &req, iters, |m, req, notices| async move {
                        let mut s = m.stream(&req, &notices).await.unwrap();
                        while let Some(e) = s.next().await {
                            black_box(e.unwrap());
                        }
                    })
                })
            });
        }
    }
    group.finish();
}

/// The client thread's CPU time for `iters` requests made by `one`. The requests run in a
/// task spawned on the current-thread runtime, as an agent run does: driving them from
/// `block_on` itself would add an `epoll_wait` per hand-over between the connection task
/// and the caller (a runtime artefact, ~40 % more CPU on a streamed request).
fn client_cpu<F, Fut>(
    rt: &tokio::runtime::Runtime,
    m: &Arc<dyn Model>,
    req: &ChatRequest,
    iters: u64,
    one: F,
) -> Duration
where
    F: Fn(Arc<dyn Model>, Arc<ChatRequest>, Arc<Notices>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (m, req) = (m.clone(), Arc::new(req.clone()));
    rt.block_on(async move {
        tokio::spawn(async move {
            let notices = Arc::new(Notices::none());
            let start = thread_cpu().unwrap();
            for _ in 0..iters {
                one(m.clone(), req.clone(), notices.clone()).await;
            }
            thread_cpu().unwrap() - start
        })
        .await
        .unwrap()
    })
}

/// The exact body warden sends for `req` (recorded by a second mock).
fn wire_body(
    rt: &tokio::runtime::Runtime,
    kind: ProviderKind,
    req: &ChatRequest,
    stream: bool,
) -> bytes::Bytes {
    rt.block_on(async {
        let recorder = MockServer::start(MockConfig {
            behaviour: Behaviour::Echo,
            record_requests: true,
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let base = match kind {
            ProviderKind::Openai => recorder.openai_base_url(),
            ProviderKind::Anthropic => recorder.base_url(),
            other => panic!("no bench for {}", other.as_str()),
        };
        let m = model(kind, &base);
        let notices = Notices::none();
        if stream {
            collect_stream(m.stream(req, &notices).await.unwrap(), "m")
                .await
                .unwrap();
        } else {
            m.complete(req, &notices).await.unwrap();
        }
        serde_json::to_vec(&recorder.requests()[0].body)
            .unwrap()
            .into()
    })
}

fn raw_url(kind: ProviderKind, base: &str) -> String {
    match kind {
        ProviderKind::Openai => format!("{base}/chat/completions"),
        ProviderKind::Anthropic => format!("{base}/v1/messages"),
        other => panic!("no bench for {}", other.as_str()),
    }
}

/// Client CPU of `iters` bare requests: POST the body, read the response to its end.
fn raw_cpu(
    rt: &tokio::runtime::Runtime,
    kind: ProviderKind,
    url: &str,
    body: &bytes::Bytes,
    iters: u64,
) -> Duration {
    let client = reqwest::Client::new();
    let (url, body) = (reqwest::Url::parse(url).unwrap(), body.clone());
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = thread_cpu().unwrap();
            for _ in 0..iters {
                let request = client
                    .post(url.clone())
                    .header("content-type", "application/json");
                let request = match kind {
                    ProviderKind::Openai => request.bearer_auth("sk-bench"),
                    ProviderKind::Anthropic => request
                        .header("x-api-key", "sk-bench")
                        .header("anthropic-version", "2023-06-01"),
                    other => panic!("no bench for {}", other.as_str()),
                };
                let mut response = request.body(body.clone()).send().await.unwrap();
                assert!(response.status().is_success());
                while let Some(chunk) = response.chunk().await.unwrap() {
                    black_box(chunk);
                }
            }
            thread_cpu().unwrap() - start
        })
        .await
        .unwrap()
    })
}

/// A recorded stream of `n` text chunks plus the provider's framing.
fn recorded(kind: ProviderKind, n: usize) -> Vec<u8> {
    let mut s = String::new();
    match kind {
        ProviderKind::Openai => {
            for i in 0..n {
                s.push_str(&format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"));
            }
            s.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n");
        }
        ProviderKind::Anthropic => {
            s.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n");
            s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
            for i in 0..n {
                s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"));
            }
            s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        }
        other => panic!("no bench for {}", other.as_str()),
    }
    s.into_bytes()
}

fn sse_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse_parse");
    for kind in [ProviderKind::Openai, ProviderKind::Anthropic] {
        let bytes = recorded(kind, 2000);
        // Network-sized reads: 16 KiB chunks.
        let chunks: Vec<&[u8]> = bytes.chunks(16 * 1024).collect();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| black_box(decode_recorded(kind, chunks.iter().copied()).unwrap()))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = requests, sse_parsing }
criterion_main!(benches);
