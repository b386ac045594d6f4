//! One request through `wasi:http/outgoing-handler`.
//!
//! Invariant (the egress race in shared/notes/egress-and-oci.md): a GET never takes the
//! outgoing body, so wasi-http sends an empty one; a POST body is written *after* `handle`
//! (the host consumes it while sending, so a large body cannot block), with a Content-Length,
//! and is always finished. A failed body write is not the answer: the response future is, since
//! a denial or an early response from the server ends the write too.

use crate::body::{read_capped, select_headers, to_text};
use crate::errors::from_code;
use crate::url::{Target, parse};
use crate::{FetchArgs, FetchOutput, Method, check_limits};
use warden_tool::ToolError;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// Most bytes given to one `blocking-write-and-flush` (the WASI limit is 4096).
const WRITE_CHUNK: usize = 4096;

/// A checked request, ready to send.
#[derive(Debug)]
pub struct Request {
    target: Target,
    method: Method,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    max_body_bytes: usize,
    return_headers: Vec<String>,
    timeout_ns: u64,
}

impl Request {
    /// Checks `args` and builds the request.
    pub fn from_args(args: &FetchArgs) -> Result<Self, ToolError> {
        check_limits(args)?;
        let target = parse(&args.url).map_err(ToolError::invalid_args)?;
        let mut headers: Vec<(String, Vec<u8>)> = args
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        // A recorded run gives each call a stable key: the server can drop a repeat.
        if let Some(key) = warden_tool::idempotency_key()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
        {
            headers.push(("idempotency-key".into(), key.into_bytes()));
        }
        let body = match args.method {
            Method::Get => None,
            Method::Post => Some(args.body.clone().unwrap_or_default().into_bytes()),
        };
        if let Some(body) = &body {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
            headers.push(("content-length".into(), body.len().to_string().into_bytes()));
        }
        Ok(Request {
            target,
            method: args.method,
            headers,
            body,
            max_body_bytes: usize::try_from(args.max_body_bytes).unwrap_or(usize::MAX),
            return_headers: args.return_headers.clone(),
            timeout_ns: args.timeout_ms.saturating_mul(1_000_000),
        })
    }
}

/// Sends `request` and reads the response.
pub fn send(request: &Request) -> Result<FetchOutput, ToolError> {
    let fail = |code: &ErrorCode| from_code(code, &request.target.host, &request.target.authority);
    let headers =
        Fields::from_list(&request.headers).map_err(|e| header_error(e, &request.headers))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
    };
    let scheme = if request.target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let parts_ok = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing
            .set_authority(Some(&request.target.authority))
            .is_ok()
        && outgoing
            .set_path_with_query(Some(&request.target.path_with_query))
            .is_ok();
    if !parts_ok {
        return Err(ToolError::invalid_args(
            "the host refused the URL's parts as invalid",
        ));
    }
    // Taken before `handle` consumes the request; only when there is a body to send.
    let outgoing_body = match &request.body {
        Some(_) => Some(
            outgoing
                .body()
                .map_err(|()| ToolError::failed("the request body was already taken"))?,
        ),
        None => None,
    };

    let options = RequestOptions::new();
    // A host may refuse to change a timeout (it keeps its own): that is fine.
    let _ = options.set_connect_timeout(Some(request.timeout_ns));
    let _ = options.set_first_byte_timeout(Some(request.timeout_ns));
    let _ = options.set_between_bytes_timeout(Some(request.timeout_ns));

    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|code| fail(&code))?;
    if let (Some(body), Some(bytes)) = (outgoing_body, &request.body) {
        // A failed write is superseded by the response future's answer below.
        write_body(body, bytes);
    }
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(fail(&code)),
        Some(Err(())) => return Err(ToolError::failed("the response was already taken")),
        None => {
            return Err(ToolError::failed(
                "the response was not ready after waiting for it",
            ));
        }
    };
    read_response(response, request).map_err(|code| fail(&code))
}

/// Writes `bytes` to `body` and finishes it (finishing tells the host the body is complete).
/// Stops at the first failed write: the host has stopped reading (a denial, or the server
/// answered early), and the response future says why.
fn write_body(body: OutgoingBody, bytes: &[u8]) {
    if let Ok(stream) = body.write() {
        for chunk in bytes.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        // The stream is a child of the body: it must be dropped before `finish`.
        drop(stream);
    }
    // A finish error means the same as a failed write (see above).
    let _ = OutgoingBody::finish(body, None);
}

/// Status, selected headers and the capped body of `response`.
fn read_response(response: IncomingResponse, request: &Request) -> Result<FetchOutput, ErrorCode> {
    let status = response.status();
    let headers = select_headers(&response.headers().entries(), &request.return_headers);
    let Ok(body) = response.consume() else {
        return Ok(FetchOutput {
            status,
            headers,
            body: String::new(),
            truncated: false,
        });
    };
    let mut failure = None;
    let (bytes, truncated) = match body.stream() {
        Ok(stream) => {
            let result = read_capped(request.max_body_bytes, |want| {
                match stream.blocking_read(want.min(64 * 1024) as u64) {
                    Ok(chunk) => Some(chunk),
                    Err(StreamError::Closed) => None,
                    Err(StreamError::LastOperationFailed(error)) => {
                        failure = Some(error);
                        None
                    }
                }
            });
            drop(stream);
            result
        }
        Err(()) => (Vec::new(), false),
    };
    if let Some(error) = failure {
        if let Some(code) = wasi::http::types::http_error_code(&error) {
            return Err(code);
        }
        return Err(ErrorCode::InternalError(Some(error.to_debug_string())));
    }
    drop(body);
    Ok(FetchOutput {
        status,
        headers,
        body: to_text(bytes, truncated),
        truncated,
    })
}

fn header_error(error: HeaderError, headers: &[(String, Vec<u8>)]) -> ToolError {
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    match error {
        HeaderError::Forbidden => ToolError::invalid_args(format!(
            "one of the headers {names:?} may not be set by a tool (the host sets it); remove it"
        )),
        _ => ToolError::invalid_args(format!(
            "one of the headers {names:?} has an invalid name or value (names are tokens like \
             `accept`; values are visible ASCII)"
        )),
    }
}
