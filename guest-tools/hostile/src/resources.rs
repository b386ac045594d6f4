//! Attacks on the host resources one call can take outside its own linear memory: host
//! memory (header fields, resource-table entries, buffered request bodies),
//! OS file descriptors, special files in a granted directory, oversized random-bytes
//! requests, and writes into a read-write grant. Every loop is bounded by its arguments, so
//! an unprotected host grows by a known amount instead of without end.

use serde_json::{Value, json};

use super::{int_arg, str_arg, usize_arg};
use crate::ToolError;

/// (name, description, args schema) of the resource attacks, appended to the tool list.
pub const TOOLS: &[(&str, &str, &str)] = &[
    (
        "hoard_fields",
        "Creates `count` HTTP header objects holding one `value_bytes`-byte value each and never drops them.",
        r#"{"type":"object","properties":{"count":{"type":"integer","minimum":0},"value_bytes":{"type":"integer","minimum":0}},"required":["count","value_bytes"]}"#,
    ),
    (
        "grow_fields",
        "Appends a `value_bytes`-byte value `count` times to one HTTP header object.",
        r#"{"type":"object","properties":{"count":{"type":"integer","minimum":0},"value_bytes":{"type":"integer","minimum":0}},"required":["count","value_bytes"]}"#,
    ),
    (
        "hoard_pollables",
        "Creates `count` timer pollables and never drops them.",
        r#"{"type":"object","properties":{"count":{"type":"integer","minimum":0}},"required":["count"]}"#,
    ),
    (
        "hoard_bodies",
        "Creates `count` outgoing requests and buffers up to `bytes` bytes in each body, never sending them.",
        r#"{"type":"object","properties":{"count":{"type":"integer","minimum":0},"bytes":{"type":"integer","minimum":0}},"required":["count","bytes"]}"#,
    ),
    (
        "hoard_files",
        "Opens the file at `path` `count` times and keeps every descriptor open.",
        r#"{"type":"object","properties":{"path":{"type":"string"},"count":{"type":"integer","minimum":0}},"required":["path","count"]}"#,
    ),
    (
        "random_bytes",
        "Asks the host for `bytes` random bytes, `times` times.",
        r#"{"type":"object","properties":{"bytes":{"type":"integer","minimum":0},"times":{"type":"integer","minimum":1}},"required":["bytes","times"]}"#,
    ),
    (
        "write_flood",
        "Writes `bytes` bytes to the file at `path` in 64 KiB chunks.",
        r#"{"type":"object","properties":{"path":{"type":"string"},"bytes":{"type":"integer","minimum":0}},"required":["path","bytes"]}"#,
    ),
    (
        "create_flood",
        "Creates `count` empty files in the directory `dir`.",
        r#"{"type":"object","properties":{"dir":{"type":"string"},"count":{"type":"integer","minimum":0}},"required":["dir","count"]}"#,
    ),
];

/// Runs resource attack `name`, or returns `None` if it is not one of them.
pub fn invoke(name: &str, args: &Value) -> Option<Result<Value, ToolError>> {
    TOOLS
        .iter()
        .any(|(tool, ..)| *tool == name)
        .then(|| run(name, args))
}

fn run(name: &str, args: &Value) -> Result<Value, ToolError> {
    let count = || usize_arg(args, "count");
    match name {
        "hoard_fields" => hoard_fields(count()?, usize_arg(args, "value_bytes")?),
        "grow_fields" => grow_fields(count()?, usize_arg(args, "value_bytes")?),
        "hoard_pollables" => Ok(hoard_pollables(count()?)),
        "hoard_bodies" => hoard_bodies(count()?, usize_arg(args, "bytes")?),
        "hoard_files" => hoard_files(&str_arg(args, "path")?, count()?),
        "random_bytes" => Ok(random_bytes(
            int_arg(args, "bytes")?,
            int_arg(args, "times")?,
        )),
        "write_flood" => write_flood(&str_arg(args, "path")?, usize_arg(args, "bytes")?),
        "create_flood" => create_flood(&str_arg(args, "dir")?, count()?),
        other => Err(ToolError::UnknownTool(other.to_string())),
    }
}

fn failed(what: &str, e: impl core::fmt::Debug) -> ToolError {
    ToolError::Failed(format!("{what} failed: {e:?}"))
}

fn hoard_fields(count: usize, value_bytes: usize) -> Result<Value, ToolError> {
    use wasi::http::types::Fields;
    let value = vec![b'v'; value_bytes];
    let mut hoard = Vec::new();
    for i in 0..count {
        let fields = Fields::new();
        fields
            .append(&format!("x-hoard-{i}"), &value)
            .map_err(|e| failed("append", e))?;
        hoard.push(fields);
    }
    let held = hoard.len();
    // Never dropped: the host keeps every entry until the call ends.
    core::mem::forget(hoard);
    Ok(json!({ "held": held }))
}

fn grow_fields(count: usize, value_bytes: usize) -> Result<Value, ToolError> {
    use wasi::http::types::Fields;
    let value = vec![b'v'; value_bytes];
    let fields = Fields::new();
    for _ in 0..count {
        fields
            .append("x-grow", &value)
            .map_err(|e| failed("append", e))?;
    }
    Ok(json!({ "appended": count }))
}

fn hoard_pollables(count: usize) -> Value {
    let hoard: Vec<_> = (0..count)
        .map(|_| wasi::clocks::monotonic_clock::subscribe_duration(1_000_000_000))
        .collect();
    let held = hoard.len();
    core::mem::forget(hoard);
    json!({ "held": held })
}

/// Fills each body without blocking: writes while the host grants room, then moves on, so
/// what the host buffers per unsent body is exactly what it is willing to accept.
fn hoard_bodies(count: usize, bytes: usize) -> Result<Value, ToolError> {
    use wasi::http::types::{Fields, OutgoingRequest};
    // As large as the host's default chunk, so each unsent body buffers what the host allows.
    let chunk = vec![b'b'; 1 << 20];
    let mut hoard = Vec::new();
    let mut buffered = 0u64;
    for _ in 0..count {
        let request = OutgoingRequest::new(Fields::new());
        let body = request.body().map_err(|e| failed("body", e))?;
        let stream = body.write().map_err(|e| failed("write", e))?;
        let mut written = 0;
        while written < bytes {
            let room = stream.check_write().map_err(|e| failed("check_write", e))?;
            let n = usize::try_from(room)
                .unwrap_or(usize::MAX)
                .min(chunk.len())
                .min(bytes - written);
            if n == 0 {
                break;
            }
            stream
                .write(&chunk[..n])
                .map_err(|e| failed("stream write", e))?;
            written += n;
        }
        buffered += written as u64;
        hoard.push((request, body, stream));
    }
    core::mem::forget(hoard);
    Ok(json!({ "buffered": buffered }))
}

fn hoard_files(path: &str, count: usize) -> Result<Value, ToolError> {
    let mut hoard = Vec::new();
    for _ in 0..count {
        let file = std::fs::File::open(path).map_err(|e| failed("open", e))?;
        hoard.push(file);
    }
    Ok(json!({ "held": hoard.len() }))
}

fn random_bytes(bytes: u64, times: u64) -> Value {
    let mut total = 0u64;
    for _ in 0..times {
        total += wasi::random::random::get_random_bytes(bytes).len() as u64;
    }
    json!({ "received": total })
}

fn write_flood(path: &str, bytes: usize) -> Result<Value, ToolError> {
    use std::io::Write;
    let chunk = vec![b'w'; 64 * 1024];
    let mut file = std::fs::File::create(path).map_err(|e| failed("create", e))?;
    let mut written = 0;
    while written < bytes {
        let n = chunk.len().min(bytes - written);
        file.write_all(&chunk[..n])
            .map_err(|e| failed("write", e))?;
        written += n;
    }
    Ok(json!({ "written": written }))
}

fn create_flood(dir: &str, count: usize) -> Result<Value, ToolError> {
    for i in 0..count {
        std::fs::File::create(format!("{dir}/f{i}")).map_err(|e| failed("create", e))?;
    }
    Ok(json!({ "created": count }))
}
