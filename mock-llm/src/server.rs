//! The HTTP side of the mock: routes, authentication, validation, fault selection, and the
//! handle tests use to script and inspect a running server.
//!
//! Invariant: each chat request draws at most one fault (the `x-mock-fault` header wins,
//! else the front of the queue) and every fault drawn is counted in the stats.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::body::{Ending, Plan, body};
use crate::fault::Fault;
use crate::gzip;
use crate::render::{Answer, Format, error_body, error_event};
use crate::script::{Behaviour, ScriptCall, ScriptUsage, Turn};
use crate::stats::{Stats, StatsSnapshot};
use crate::validate;

/// How a mock server starts.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    pub behaviour: Behaviour,
    /// The key clients must send (`Authorization: Bearer` / `x-api-key`); `None` accepts any
    /// (Anthropic still requires the header to be present). A wrong key is answered 401
    /// with a message that quotes it, as a careless provider would: clients must scrub it.
    pub api_key: Option<String>,
    /// Keep every chat request body for [`MockHandle::requests`].
    pub record_requests: bool,
    /// Faults served to the first requests, in order.
    pub faults: Vec<Fault>,
}

/// A chat request as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `openai` or `anthropic`.
    pub format: String,
    pub body: Value,
}

/// State shared by all handlers.
pub(crate) struct Shared {
    behaviour: RwLock<Arc<Behaviour>>,
    faults: Mutex<VecDeque<Fault>>,
    queued: AtomicUsize,
    pub(crate) stats: Stats,
    api_key: Option<String>,
    record: bool,
    recorded: Mutex<Vec<RecordedRequest>>,
    serial: AtomicU64,
}

impl Shared {
    fn new(config: MockConfig) -> Self {
        Shared {
            behaviour: RwLock::new(Arc::new(config.behaviour)),
            queued: AtomicUsize::new(config.faults.len()),
            faults: Mutex::new(config.faults.into()),
            stats: Stats::default(),
            api_key: config.api_key,
            record: config.record_requests,
            recorded: Mutex::new(Vec::new()),
            serial: AtomicU64::new(0),
        }
    }

    fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) -> usize {
        let mut q = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        q.extend(faults);
        self.queued.store(q.len(), Relaxed);
        q.len()
    }

    fn next_fault(&self) -> Option<Fault> {
        // Fast path for benchmarks: no lock when nothing is queued.
        if self.queued.load(Relaxed) == 0 {
            return None;
        }
        let mut q = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let fault = q.pop_front();
        self.queued.store(q.len(), Relaxed);
        fault
    }

    fn behaviour(&self) -> Arc<Behaviour> {
        self.behaviour
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Starts mock servers.
pub struct MockServer;

impl MockServer {
    /// Starts a server on a free port of 127.0.0.1, inside the current tokio runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<MockHandle> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a server on `addr`.
    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = router_for(shared.clone());
        // Stream events are small writes: without TCP_NODELAY, Nagle's algorithm and the
        // peer's delayed ACK hold them back for tens of milliseconds.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("mock-llm stopped: {e}");
            }
        });
        Ok(MockHandle { addr, shared, task })
    }
}

/// A running mock server; dropping it stops accepting connections.
pub struct MockHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT`: the Anthropic base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `http://127.0.0.1:PORT/v1`: the OpenAI base URL.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }
    /// Queues faults for the next requests, one per request, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.push_faults(faults);
    }
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self
            .shared
            .behaviour
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(behaviour);
    }
    /// The chat requests received so far (with `record_requests`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The mock's routes over fresh state (for embedding in another server or a test).
pub fn router(config: MockConfig) -> Router {
    router_for(Arc::new(Shared::new(config)))
}

fn router_for(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .route("/stats", get(stats))
        .route("/admin/faults", post(admin_faults))
        .route("/admin/behaviour", post(admin_behaviour))
        .route("/admin/reset", post(admin_reset))
        .route("/admin/requests", get(admin_requests))
        .with_state(shared)
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<StatsSnapshot> {
    Json(s.stats.snapshot())
}

#[derive(Deserialize)]
struct FaultList {
    faults: Vec<String>,
}

async fn admin_faults(State(s): State<Arc<Shared>>, Json(list): Json<FaultList>) -> Response {
    let parsed: Result<Vec<Fault>, _> = list.faults.iter().map(|f| f.parse()).collect();
    match parsed {
        Ok(faults) => Json(serde_json::json!({"queued": s.push_faults(faults)})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn admin_behaviour(State(s): State<Arc<Shared>>, Json(b): Json<Behaviour>) -> StatusCode {
    *s.behaviour.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(b);
    StatusCode::NO_CONTENT
}

async fn admin_reset(State(s): State<Arc<Shared>>) -> StatusCode {
    s.stats.reset();
    s.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
    s.queued.store(0, Relaxed);
    s.recorded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    StatusCode::NO_CONTENT
}

async fn admin_requests(State(s): State<Arc<Shared>>) -> Json<Vec<RecordedRequest>> {
    Json(s.recorded.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

async fn openai(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.openai.fetch_add(1, Relaxed);
    chat(Format::OpenAi, s, headers, body).await
}

async fn anthropic(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.stats.anthropic.fetch_add(1, Relaxed);
    chat(Format::Anthropic, s, headers, body).await
}

/// Counts a non-streaming request whose handler is dropped before answering.
struct Pending<'a> {
    stats: &'a Stats,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.stats.cancelled.fetch_add(1, Relaxed);
        }
    }
}

/// A gateway's error page: `status` with a few KB of HTML around a `<title>`.
fn html_page(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = format!("{status} {}", code.canonical_reason().unwrap_or("Error"));
    let filler = "<p>The upstream server did not answer in time.</p>\n".repeat(60);
    let page = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{title}</title>\n<style>body {{ font-family: sans-serif; }}</style></head>\n<body>\n<h1>{title}</h1>\n{filler}</body>\n</html>\n"
    );
    (code, [("content-type", "text/html")], page).into_response()
}

fn error(format: Format, status: u16, message: &str, param: Option<&str>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(error_body(format, status, message, param))).into_response()
}

fn check_auth(format: Format, s: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let given = match format {
        Format::OpenAi => get("authorization").and_then(|v| v.strip_prefix("Bearer ")),
        Format::Anthropic => get("x-api-key"),
    };
    let refuse = |message: String| Err(Box::new(error(format, 401, &message, None)));
    match (given, &s.api_key) {
        (None, _) if format == Format::Anthropic => refuse("x-api-key header is required".into()),
        (None, Some(_)) => refuse("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".into()),
        // Deliberately quotes the wrong key in full: the client must not pass it on.
        (Some(k), Some(want)) if k != want => refuse(format!("Incorrect API key provided: {k}.")),
        _ => {
            if format == Format::Anthropic && get("anthropic-version").is_none() {
                return Err(Box::new(error(format, 400, "anthropic-version: header is required", None)));
            }
            Ok(())
        }
    }
}

async fn chat(format: Format, s: Arc<Shared>, headers: HeaderMap, raw: Bytes) -> Response {
    s.stats.requests.fetch_add(1, Relaxed);
    let mut pending = Pending {
        stats: &s.stats,
        done: false,
    };
    if let Err(r) = check_auth(format, &s, &headers) {
        let counter = if r.status() == StatusCode::UNAUTHORIZED {
            &s.stats.unauthorized
        } else {
            &s.stats.invalid
        };
        counter.fetch_add(1, Relaxed);
        pending.done = true;
        return *r;
    }
    let response = answer(format, &s, &headers, &raw).await;
    pending.done = true;
    response
}

async fn answer(format: Format, s: &Arc<Shared>, headers: &HeaderMap, raw: &[u8]) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(raw) else {
        s.stats.invalid.fetch_add(1, Relaxed);
        return error(
            format,
            400,
            "We could not parse the JSON body of your request. Expected valid JSON.",
            None,
        );
    };
    let parsed = match format {
        Format::OpenAi => validate::openai(&body),
        Format::Anthropic => validate::anthropic(&body),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            s.stats.invalid.fetch_add(1, Relaxed);
            return error(format, 400, &e.message, e.param.as_deref());
        }
    };
    if parsed.stream {
        s.stats.streaming.fetch_add(1, Relaxed);
    }
    if s.record {
        let format = if format == Format::OpenAi {
            "openai"
        } else {
            "anthropic"
        };
        s.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(RecordedRequest {
                format: format.into(),
                body: body.clone(),
            });
    }
    let fault = match headers
        .get("x-mock-fault")
        .map(|v| v.to_str().unwrap_or("").parse::<Fault>())
    {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return error(format, 400, &e.to_string(), None),
        None => s.next_fault(),
    };
    if let Some(f) = &fault {
        s.stats.fault(f.name());
    }
    match &fault {
        Some(Fault::Status {
            status,
            retry_after,
            retry_after_ms,
            retry_after_date,
        }) => {
            let mut r = error(
                format,
                *status,
                &format!("mock-llm injected status {status}"),
                None,
            );
            let h = r.headers_mut();
            if let Some(secs) = retry_after {
                h.insert("retry-after", HeaderValue::from(*secs));
            }
            if let Some(ms) = retry_after_ms {
                h.insert("retry-after-ms", HeaderValue::from(*ms));
            }
            if let Some(secs) = retry_after_date {
                let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(*secs));
                if let Ok(v) = HeaderValue::from_str(&date) {
                    h.insert("retry-after", v);
                }
            }
            return r;
        }
        Some(Fault::Latency { ms }) => tokio::time::sleep(Duration::from_millis(*ms)).await,
        Some(Fault::HtmlPage { status }) => return html_page(*status),
        _ => {}
    }
    let behaviour = s.behaviour();
    let mut turn = match behaviour.turn_for(&parsed.conversation) {
        Ok(t) => t,
        Err(message) => return error(format, 400, &message, None),
    };
    if fault == Some(Fault::TruncatedArgs) {
        truncate_args(&mut turn);
    }
    let usage = turn
        .usage
        .unwrap_or_else(|| estimate_usage(raw.len(), &turn));
    let answer = Answer {
        format,
        turn: &turn,
        turn_index: parsed.conversation.assistant_turns,
        model: parsed.model,
        usage,
        serial: s.serial.fetch_add(1, Relaxed),
        include_usage: parsed.include_usage,
        empty_choices: fault == Some(Fault::EmptyChoices),
    };
    s.stats.ok.fetch_add(1, Relaxed);
    if parsed.stream {
        stream_response(format, &answer, fault, s.clone())
    } else {
        json_response(&answer, fault, s.clone())
    }
}

fn truncate_args(turn: &mut Turn) {
    if turn.tool_calls.is_empty() {
        turn.tool_calls.push(ScriptCall {
            name: "write".into(),
            arguments: "{\"text\": \"a long text that\"}".into(),
        });
    }
    let args = &mut turn.tool_calls[0].arguments;
    let cut = args
        .char_indices()
        .nth(args.chars().count() / 2)
        .map_or(0, |(i, _)| i)
        .max(1)
        .min(args.len());
    args.truncate(cut);
    turn.finish = Some("length".into());
}

fn estimate_usage(request_bytes: usize, turn: &Turn) -> ScriptUsage {
    let out = turn.text.as_ref().map_or(0, String::len)
        + turn
            .tool_calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>();
    ScriptUsage {
        input_tokens: (request_bytes / 4) as u64 + 1,
        output_tokens: (out / 4) as u64 + 1,
        cached_tokens: 0,
    }
}

/// `bytes` gzip-compressed, with the `Content-Encoding` the client did not ask for.
fn gzipped(content_type: &'static str, bytes: &[u8], is_stream: bool, s: Arc<Shared>) -> Response {
    let plan = Plan {
        pieces: [Bytes::from(gzip::encode(bytes))].into(),
        gap: None,
        stall: None,
        ending: Ending::Complete,
        is_stream,
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        body(plan, s),
    )
        .into_response()
}

fn json_response(answer: &Answer<'_>, fault: Option<Fault>, s: Arc<Shared>) -> Response {
    let mut bytes = answer.json_bytes();
    if fault == Some(Fault::Gzip) {
        return gzipped("application/json", &bytes, false, s);
    }
    let plan = |pieces: VecDeque<Bytes>, gap, ending| Plan {
        pieces,
        gap,
        stall: None,
        ending,
        is_stream: false,
    };
    let body = match fault {
        Some(Fault::Malformed) => {
            bytes.truncate(bytes.len() / 2);
            Body::from(bytes)
        }
        Some(Fault::Cut { .. }) => {
            bytes.truncate(bytes.len() / 2);
            body(plan([Bytes::from(bytes)].into(), None, Ending::Break), s)
        }
        Some(Fault::Trickle { ms }) => {
            let bytes = Bytes::from(bytes);
            let step = bytes.len().div_ceil(8).max(1);
            let pieces = (0..bytes.len())
                .step_by(step)
                .map(|i| bytes.slice(i..(i + step).min(bytes.len())))
                .collect();
            body(
                plan(pieces, Some(Duration::from_millis(ms)), Ending::Complete),
                s,
            )
        }
        _ => Body::from(bytes),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn stream_response(
    format: Format,
    answer: &Answer<'_>,
    fault: Option<Fault>,
    s: Arc<Shared>,
) -> Response {
    let mut events: VecDeque<Bytes> = answer.events().into();
    if fault == Some(Fault::Gzip) {
        return gzipped(
            "text/event-stream",
            &events.make_contiguous().concat(),
            true,
            s,
        );
    }
    let mut plan = Plan {
        pieces: VecDeque::new(),
        gap: None,
        stall: None,
        ending: Ending::Complete,
        is_stream: true,
    };
    match fault {
        Some(Fault::Cut { after_events }) => {
            events.truncate(after_events);
            plan.ending = Ending::Break;
        }
        Some(Fault::Malformed) => {
            let at = 1.min(events.len().saturating_sub(1));
            events[at] =
                Bytes::from_static(b"data: {\"choices\": [{\"delta\": {\"content\": \"oops\"\n\n");
        }
        Some(Fault::ErrorEvent { kind }) => {
            events.truncate(2);
            events.push_back(error_event(format, &kind));
        }
        Some(Fault::Trickle { ms }) => plan.gap = Some(Duration::from_millis(ms)),
        Some(Fault::Stall { after_events, ms }) => {
            plan.stall = Some((after_events, Duration::from_millis(ms)))
        }
        _ => {}
    }
    plan.pieces = events;
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body(plan, s),
    )
        .into_response()
}
