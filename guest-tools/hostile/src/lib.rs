//! A test-only tool component that attacks the warden sandbox, one tool per attack, plus a
//! benign `echo` tool. The host's hostile suite calls each attack and checks that it ends in
//! its specific typed error while the host stays healthy. Never shipped as a tool.
//!
//! Written directly against the WIT world with `wit_bindgen` (no SDK) so that it depends on
//! nothing but the tool world itself.

mod output;
mod upload;

use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde_json::{Value, json};

mod resources;

wit_bindgen::generate!({
    path: "../../wit",
    world: "warden:tool/toolbox",
});

use exports::warden::tool::tool::{Guest, ToolError, ToolInfo};
use warden::tool::host::{LogLevel, get_config, log};

struct Hostile;

/// (name, description, args schema) of every tool.
const TOOLS: &[(&str, &str, &str)] = &[
    (
        "echo",
        "Returns its text argument unchanged.",
        r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}"#,
    ),
    ("spin", "Loops forever.", r#"{"type":"object"}"#),
    (
        "sleep",
        "Blocks in a host call (wasi clocks) for `ms` milliseconds.",
        r#"{"type":"object","properties":{"ms":{"type":"integer","minimum":0}},"required":["ms"]}"#,
    ),
    (
        "memory_bomb",
        "Allocates memory until something stops it.",
        r#"{"type":"object"}"#,
    ),
    (
        "recurse",
        "Recurses `depth` levels deep.",
        r#"{"type":"object","properties":{"depth":{"type":"integer","minimum":0}},"required":["depth"]}"#,
    ),
    (
        "huge_output",
        "Returns an output of `bytes` bytes.",
        r#"{"type":"object","properties":{"bytes":{"type":"integer","minimum":0}},"required":["bytes"]}"#,
    ),
    (
        "flood_stdout",
        "Writes `bytes` bytes to stdout.",
        r#"{"type":"object","properties":{"bytes":{"type":"integer","minimum":0}},"required":["bytes"]}"#,
    ),
    (
        "read_file",
        "Reads a file.",
        r#"{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}"#,
    ),
    (
        "write_file",
        "Writes a file.",
        r#"{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"required":["path","content"]}"#,
    ),
    (
        "read_env",
        "Reads an environment variable.",
        r#"{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}"#,
    ),
    (
        "tcp_connect",
        "Opens a raw TCP connection to `addr` (an IPv4 `a.b.c.d:port`).",
        r#"{"type":"object","properties":{"addr":{"type":"string"}},"required":["addr"]}"#,
    ),
    (
        "http_get",
        "Sends a GET request through wasi-http to `authority` (host[:port]).",
        r#"{"type":"object","properties":{"authority":{"type":"string"}},"required":["authority"]}"#,
    ),
    ("panic", "Panics inside invoke.", r#"{"type":"object"}"#),
    (
        "log_flood",
        "Calls the host log `count` times.",
        r#"{"type":"object","properties":{"count":{"type":"integer","minimum":0}},"required":["count"]}"#,
    ),
    (
        "get_config",
        "Reads a configuration value granted by the operator.",
        r#"{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}"#,
    ),
    (
        "not_json",
        "Returns an output that is not JSON.",
        r#"{"type":"object"}"#,
    ),
    (
        "report_invalid",
        "Reports its arguments as invalid from inside the guest.",
        r#"{"type":"object"}"#,
    ),
    (
        "bad_utf8",
        "Returns (`where`: output), fails with (error) or logs (log) a string that is not UTF-8 (`kind`: byte or surrogate).",
        r#"{"type":"object","properties":{"where":{"enum":["output","error","log"]},"kind":{"enum":["byte","surrogate"]}},"required":["where","kind"]}"#,
    ),
    (
        "http_upload",
        "POSTs `bytes` bytes to `authority` (host[:port]), declaring the length if `declare`.",
        r#"{"type":"object","properties":{"authority":{"type":"string"},"bytes":{"type":"integer","minimum":0},"declare":{"type":"boolean"}},"required":["authority","bytes"]}"#,
    ),
    (
        "remember",
        "Reports what an earlier call left in memory, then leaves `marker` behind.",
        r#"{"type":"object","properties":{"marker":{"type":"integer","minimum":1,"maximum":255}},"required":["marker"]}"#,
    ),
];

impl Guest for Hostile {
    fn describe() -> Vec<ToolInfo> {
        TOOLS
            .iter()
            .chain(resources::TOOLS)
            .map(|(name, description, schema)| ToolInfo {
                name: (*name).to_string(),
                description: (*description).to_string(),
                args_schema: (*schema).to_string(),
                output_schema: None,
            })
            .collect()
    }

    fn invoke(name: String, args_json: String) -> Result<String, ToolError> {
        let args: Value = serde_json::from_str(&args_json)
            .map_err(|e| ToolError::InvalidArgs(format!("arguments are not JSON: {e}")))?;
        if let Some(result) = resources::invoke(&name, &args) {
            return result.map(|out| out.to_string());
        }
        let out = match name.as_str() {
            "echo" => json!({ "text": str_arg(&args, "text")? }),
            "spin" => spin(),
            "sleep" => {
                let ms = int_arg(&args, "ms")?;
                wasi::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000))
                    .block();
                json!({ "slept_ms": ms })
            }
            "memory_bomb" => memory_bomb(),
            "recurse" => json!({ "result": recurse(int_arg(&args, "depth")?) }),
            "huge_output" => json!({ "data": "x".repeat(usize_arg(&args, "bytes")?) }),
            "flood_stdout" => flood_stdout(usize_arg(&args, "bytes")?)?,
            "read_file" => {
                let path = str_arg(&args, "path")?;
                let content = std::fs::read_to_string(&path)
                    .map_err(|e| ToolError::Failed(format!("cannot read {path}: {e}")))?;
                json!({ "content": content })
            }
            "write_file" => {
                let path = str_arg(&args, "path")?;
                let content = str_arg(&args, "content")?;
                std::fs::write(&path, content.as_bytes())
                    .map_err(|e| ToolError::Failed(format!("cannot write {path}: {e}")))?;
                json!({ "written": content.len() })
            }
            "read_env" => {
                let key = str_arg(&args, "key")?;
                let value = std::env::var(&key).map_err(|_| {
                    ToolError::Failed(format!("environment variable {key} is not set"))
                })?;
                json!({ "value": value, "env_count": std::env::vars().count() })
            }
            "tcp_connect" => tcp_connect(&str_arg(&args, "addr")?)?,
            "http_get" => http_get(&str_arg(&args, "authority")?)?,
            "bad_utf8" => return output::bad_utf8(&args),
            "http_upload" => upload::http_upload(
                &str_arg(&args, "authority")?,
                int_arg(&args, "bytes")?,
                args.get("declare")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            )?,
            "panic" => panic!("hostile tool panicked on purpose"),
            "log_flood" => {
                let count = int_arg(&args, "count")?;
                for i in 0..count {
                    log(LogLevel::Info, &format!("hostile log message {i}"));
                }
                json!({ "logged": count })
            }
            "get_config" => json!({ "value": get_config(&str_arg(&args, "key")?) }),
            "not_json" => return Ok("this is not json".to_string()),
            "remember" => remember(int_arg(&args, "marker")?),
            "report_invalid" => {
                return Err(ToolError::InvalidArgs("field `x` must be even".to_string()));
            }
            other => return Err(ToolError::UnknownTool(other.to_string())),
        };
        Ok(out.to_string())
    }
}

fn str_arg(args: &Value, key: &str) -> Result<String, ToolError> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ToolError::InvalidArgs(format!("`{key}` must be a string")))
}

fn int_arg(args: &Value, key: &str) -> Result<u64, ToolError> {
    args.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| ToolError::InvalidArgs(format!("`{key}` must be a non-negative integer")))
}

/// Initialised data (a data segment) and zeroed data (bss) a call can scribble on.
static COUNTER: AtomicU64 = AtomicU64::new(7);
static SCRATCH: [AtomicU8; 256 * 1024] = [const { AtomicU8::new(0) }; 256 * 1024];

/// What an earlier call left in the statics, then leaves `marker` in them (and dirties half a
/// MiB of heap, which only Rust's uninitialised reads could inspect): in a fresh instance the
/// counter reads 7 and no scratch page holds a marker.
fn remember(marker: u64) -> Value {
    let counter_before = COUNTER.swap(marker, Ordering::Relaxed);
    let scratch_dirty_pages = SCRATCH
        .iter()
        .step_by(4096)
        .filter(|b| b.swap(marker as u8, Ordering::Relaxed) != 0)
        .count();
    // A heap block filled with the marker and never freed.
    std::mem::forget(vec![marker as u8; 512 * 1024]);
    json!({ "counter_before": counter_before, "scratch_dirty_pages": scratch_dirty_pages })
}

fn usize_arg(args: &Value, key: &str) -> Result<usize, ToolError> {
    usize::try_from(int_arg(args, key)?)
        .map_err(|_| ToolError::InvalidArgs(format!("`{key}` is too large")))
}

fn spin() -> Value {
    let mut i: u64 = 0;
    loop {
        i = core::hint::black_box(i.wrapping_add(1));
    }
}

fn memory_bomb() -> Value {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every chunk so the growth is real, not just reserved.
        let chunk = vec![1u8; 1 << 20];
        hoard.push(core::hint::black_box(chunk));
    }
}

/// Not tail-recursive and opaque to the optimiser, so every level is a real wasm frame.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let below = recurse(core::hint::black_box(depth - 1));
    below.wrapping_mul(31).wrapping_add(depth)
}

fn flood_stdout(bytes: usize) -> Result<Value, ToolError> {
    let chunk = vec![b'y'; 64 * 1024];
    let mut out = std::io::stdout();
    let mut written = 0;
    while written < bytes {
        let n = chunk.len().min(bytes - written);
        out.write_all(&chunk[..n])
            .map_err(|e| ToolError::Failed(format!("stdout write failed: {e}")))?;
        written += n;
    }
    out.flush()
        .map_err(|e| ToolError::Failed(format!("stdout flush failed: {e}")))?;
    Ok(json!({ "written": written }))
}

fn tcp_connect(addr: &str) -> Result<Value, ToolError> {
    use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    let parsed: std::net::SocketAddrV4 = addr.parse().map_err(|e| {
        ToolError::InvalidArgs(format!("`addr` is not an IPv4 socket address: {e}"))
    })?;
    let failed = |step: &str, e: wasi::sockets::network::ErrorCode| {
        ToolError::Failed(format!("tcp {step} failed: {e:?}"))
    };
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
        .map_err(|e| failed("create", e))?;
    let network = wasi::sockets::instance_network::instance_network();
    let o = parsed.ip().octets();
    let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: parsed.port(),
        address: (o[0], o[1], o[2], o[3]),
    });
    socket
        .start_connect(&network, remote)
        .map_err(|e| failed("connect", e))?;
    socket.subscribe().block();
    let (_input, _output) = socket.finish_connect().map_err(|e| failed("connect", e))?;
    Ok(json!({ "connected": addr }))
}

fn http_get(authority: &str) -> Result<Value, ToolError> {
    use wasi::http::outgoing_handler::handle;
    use wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| ToolError::Failed("cannot set scheme".into()))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| ToolError::Failed("cannot set authority".into()))?;
    request
        .set_path_with_query(Some("/"))
        .map_err(|()| ToolError::Failed("cannot set path".into()))?;
    let pending = handle(request, None)
        .map_err(|e| ToolError::Failed(format!("http request failed: {e:?}")))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or_else(|| ToolError::Failed("http response not ready".into()))?
        .map_err(|()| ToolError::Failed("http response taken twice".into()))?
        .map_err(|e| ToolError::Failed(format!("http request failed: {e:?}")))?;
    Ok(json!({ "status": response.status() }))
}

export!(Hostile);
