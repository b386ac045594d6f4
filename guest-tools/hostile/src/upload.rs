//! An attack on the egress policy's request-body cap: a POST whose body the guest streams
//! (and may declare in `Content-Length`) far beyond what the operator allows. The tool
//! reports what it managed to write and returns success whatever happened, so a typed error
//! for the call can only come from the host.

use serde_json::{Value, json};
use wasi::http::outgoing_handler::handle;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

use crate::exports::warden::tool::tool::ToolError;

/// One write of the guest (the host's default chunk is 1 MiB; keep writes well below it).
const CHUNK: usize = 64 * 1024;

/// POSTs `bytes` bytes to `http://<authority>/`, with `Content-Length` if `declare` is true.
pub(crate) fn http_upload(authority: &str, bytes: u64, declare: bool) -> Result<Value, ToolError> {
    let failed = |what: &str| ToolError::Failed(format!("cannot {what}"));
    let headers = Fields::new();
    if declare {
        headers
            .append("content-length", bytes.to_string().as_bytes())
            .map_err(|_| failed("set content-length"))?;
    }
    let request = OutgoingRequest::new(headers);
    request
        .set_method(&Method::Post)
        .map_err(|()| failed("set the method"))?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| failed("set the scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| failed("set the authority"))?;
    request
        .set_path_with_query(Some("/"))
        .map_err(|()| failed("set the path"))?;
    let body = request.body().map_err(|()| failed("take the body"))?;
    // The body is written after `handle`, as a streaming client does: the host buffers one
    // chunk only, so it must be sending while the guest writes.
    let pending = handle(request, None)
        .map_err(|e| ToolError::Failed(format!("http request failed: {e:?}")))?;
    let stream = body.write().map_err(|()| failed("open the body stream"))?;
    let chunk = vec![b'u'; CHUNK];
    let mut written: u64 = 0;
    let mut write_error = None;
    while written < bytes {
        let room = match stream.check_write() {
            Ok(0) => {
                stream.subscribe().block();
                continue;
            }
            Ok(room) => room,
            Err(e) => {
                write_error = Some(describe(e));
                break;
            }
        };
        let n = (bytes - written).min(room).min(CHUNK as u64) as usize;
        if let Err(e) = stream.write(&chunk[..n]) {
            write_error = Some(describe(e));
            break;
        }
        written += n as u64;
    }
    drop(stream);
    let finished = OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"));
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => json!(response.status()),
        Some(Ok(Err(code))) => json!(format!("{code:?}")),
        Some(Err(())) | None => json!("no response"),
    };
    Ok(json!({
        "written": written,
        "write_error": write_error,
        "finish_error": finished.err(),
        "response": response,
    }))
}

fn describe(e: StreamError) -> String {
    match e {
        StreamError::Closed => "closed".into(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}
