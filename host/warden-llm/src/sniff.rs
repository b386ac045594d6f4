//! Telling a response that is not what was asked for from one that is: a body that is not
//! JSON (an HTML page from a proxy, plain text, nothing), a body compressed with an
//! encoding warden never asked for, a "stream" that is not server-sent events; and the
//! short, sanitised excerpt of such a body that goes into the error.
//!
//! Invariants: the decision reads no more than the first chunk(s) of a body needed to see
//! its first line (at most [`SNIFF_BYTES`], within the response's size caps), and passes
//! the bytes of a real event stream on unchanged; a body that is not one is read no
//! further than [`EXCERPT_SCAN_BYTES`] (and a chunk) for its excerpt; an excerpt is at most
//! [`EXCERPT_CHARS`] characters, free of control characters, scrubbed of the key.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap};

use super::cap::BodyError;
use super::error::LlmError;
use super::wire::Endpoint;

/// Most characters of a body quoted in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;
/// Most characters kept of an error message a provider sent.
pub(crate) const MAX_MESSAGE_CHARS: usize = 2000;
/// Most bytes of a body looked at to build an excerpt.
pub(crate) const EXCERPT_SCAN_BYTES: usize = 8 * 1024;
/// Most bytes held back while deciding whether a body is an event stream.
const SNIFF_BYTES: usize = 512;
/// Most characters of a header value kept in an error.
const HEADER_CHARS: usize = 100;

/// What the response's headers said about its body.
#[derive(Debug, Clone)]
pub(crate) struct BodyMeta {
    pub status: u16,
    pub content_type: Option<String>,
    /// Set when the body is encoded (anything but `identity`): warden asks for no
    /// encoding and decodes none, so such a body cannot be read.
    pub content_encoding: Option<String>,
}

impl BodyMeta {
    pub(crate) fn of(status: u16, headers: &HeaderMap) -> Self {
        let header = |name| {
            headers
                .get(name)
                .map(|v| sanitize(&String::from_utf8_lossy(v.as_bytes()), HEADER_CHARS))
                .filter(|v| !v.is_empty())
        };
        BodyMeta {
            status,
            content_type: header(CONTENT_TYPE),
            content_encoding: header(CONTENT_ENCODING)
                .filter(|e| !e.eq_ignore_ascii_case("identity")),
        }
    }

    /// The `Content-Type` says JSON (`application/json`, `application/problem+json`...).
    pub(crate) fn says_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(|t| {
            let media = t.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
                || media.to_ascii_lowercase().ends_with("+json")
        })
    }

    /// The error for this response whose body (or its first bytes) is `body`.
    pub(crate) fn non_json(&self, ep: &Endpoint, body: &[u8]) -> LlmError {
        LlmError::NonJson {
            url: ep.url.to_string(),
            status: self.status,
            content_type: self.content_type.clone(),
            content_encoding: self.content_encoding.clone(),
            excerpt: if self.content_encoding.is_some() {
                String::new()
            } else {
                excerpt(body, ep)
            },
            attempts: 1,
        }
    }
}

/// The body starts like a JSON document (an object or an array; a byte-order mark and
/// leading whitespace allowed). Whatever else a server sends instead of JSON (markup,
/// text, nothing) does not.
pub(crate) fn looks_like_json(body: &[u8]) -> bool {
    matches!(first_byte(body), Some(b'{' | b'['))
}

fn first_byte(body: &[u8]) -> Option<u8> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Whether `head` (the first bytes of a body, `complete` if that is all of it) starts like
/// server-sent events: a comment or a known field on its first non-blank line. `None`
/// while more bytes are needed to tell.
fn starts_like_sse(head: &[u8], complete: bool) -> Option<bool> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        // Blank so far: an empty body is left to the stream (it ends without its marker).
        return complete.then_some(true);
    };
    let line = &head[start..];
    if line.starts_with(b":") {
        return Some(true);
    }
    let end = line.iter().position(|b| matches!(b, b'\r' | b'\n' | b':'));
    let Some(end) = end.or(complete.then_some(line.len())) else {
        // "retry" is the longest field name: past it without a colon, it is none of them.
        return (line.len() > 5).then_some(false);
    };
    Some(matches!(
        &line[..end],
        b"data" | b"event" | b"id" | b"retry"
    ))
}

/// A short, readable excerpt of a body: the `<title>` of an HTML page, or else the text
/// with markup, control characters and runs of whitespace removed, at most
/// [`EXCERPT_CHARS`] characters, scrubbed of the key (before it is cut).
pub(crate) fn excerpt(body: &[u8], ep: &Endpoint) -> String {
    let text = ep.scrub(&String::from_utf8_lossy(
        &body[..body.len().min(EXCERPT_SCAN_BYTES)],
    ));
    let lower = text.to_ascii_lowercase();
    if let Some(title) = title(&text, &lower) {
        return sanitize(title, EXCERPT_CHARS);
    }
    let shown = if first_byte(body) == Some(b'<') {
        sanitize(&strip_tags(&text), EXCERPT_CHARS)
    } else {
        sanitize(&text, EXCERPT_CHARS)
    };
    if shown.is_empty() && first_byte(body).is_some() {
        return format!("{} bytes, no readable text", body.len());
    }
    shown
}

/// The text of the first `<title>` of an HTML page (`lower` is `html` lower-cased ASCII,
/// so byte positions agree).
fn title<'a>(html: &'a str, lower: &str) -> Option<&'a str> {
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html.get(start..end)?.trim();
    (!title.is_empty()).then_some(title)
}

/// The text between tags (`<style>` and `<script>` contents are kept; an excerpt is short).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(EXCERPT_SCAN_BYTES));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// `text` on one line: control characters (and the replacement character of invalid
/// UTF-8) dropped, whitespace runs made one space, cut at `max_chars` with an ellipsis.
pub(crate) fn sanitize(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || c == char::REPLACEMENT_CHARACTER {
            continue;
        }
        if chars + usize::from(space) >= max_chars {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// A response body passed on as an event stream only once its first line looks like one;
/// otherwise it ends with [`BodyError::NotEventStream`] carrying the [`LlmError::NonJson`]
/// for it (the first [`EXCERPT_SCAN_BYTES`] or so of the body make the excerpt).
pub(crate) struct SniffSse<S> {
    inner: S,
    /// Bytes held back until the decision; `None` once it is made.
    head: Option<BytesMut>,
    ep: Endpoint,
    meta: BodyMeta,
    /// The body is not events: what follows only makes the excerpt.
    refusing: bool,
    done: bool,
}

impl<S> SniffSse<S> {
    pub(crate) fn new(inner: S, ep: Endpoint, meta: BodyMeta) -> Self {
        SniffSse {
            inner,
            head: Some(BytesMut::new()),
            ep,
            meta,
            refusing: false,
            done: false,
        }
    }

    fn refuse(&mut self, head: &[u8]) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.done = true;
        let error = self.meta.non_json(&self.ep, head);
        Poll::Ready(Some(Err(BodyError::NotEventStream(Box::new(error)))))
    }
}

impl<S> Stream for SniffSse<S>
where
    S: Stream<Item = Result<Bytes, BodyError>> + Unpin,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            let next = Pin::new(&mut this.inner).poll_next(cx);
            let Some(head) = this.head.as_mut() else {
                return next;
            };
            let complete = match next {
                Poll::Pending => return Poll::Pending,
                // A body already refused ends with what came of it.
                Poll::Ready(Some(Err(_))) if this.refusing => true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(chunk))) => {
                    head.extend_from_slice(&chunk);
                    false
                }
                Poll::Ready(None) => true,
            };
            if this.refusing {
                if complete || head.len() >= EXCERPT_SCAN_BYTES {
                    let head = this.head.take().unwrap_or_default();
                    return this.refuse(&head);
                }
                continue;
            }
            // Still blank after all that: keep-alive lines, let the stream have them.
            let verdict =
                starts_like_sse(head, complete).or((head.len() >= SNIFF_BYTES).then_some(true));
            match verdict {
                Some(true) => {
                    let head = this.head.take().unwrap_or_default().freeze();
                    if complete {
                        this.done = true;
                    }
                    if !head.is_empty() {
                        return Poll::Ready(Some(Ok(head)));
                    }
                    if complete {
                        return Poll::Ready(None);
                    }
                }
                // Not events: read on (a little) for the excerpt, unless that was all.
                Some(false) if complete || head.len() >= EXCERPT_SCAN_BYTES => {
                    let head = this.head.take().unwrap_or_default();
                    return this.refuse(&head);
                }
                Some(false) => this.refusing = true,
                None => {}
            }
        }
    }
}

#[cfg(test)]
#[path = "sniff_tests.rs"]
mod tests;
