//! Size caps on what a model server sends: a whole body, one stream event, a whole stream.
//!
//! Invariant: no more than a cap (plus at most one network chunk) of a response is ever held
//! in memory; a body or stream over a cap ends with [`BodyError::TooLarge`] naming it, and
//! nothing after that is read (dropping the response closes the connection).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;

use super::config::ResponseLimits;
use super::error::SizeCap;

/// Why the bytes of a response stopped: the body broke, or it passed a cap.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
    #[error("{what} passed its cap of {limit} bytes")]
    TooLarge { what: SizeCap, limit: u64 },
    /// The body of a streamed response is not an event stream (see `sniff`).
    #[error(transparent)]
    NotEventStream(Box<super::error::LlmError>),
}

/// Reads a whole body of at most `limit` bytes, refusing at once a larger `Content-Length`
/// and otherwise stopping as soon as the bytes pass the cap.
pub(crate) async fn read_body(
    resp: &mut reqwest::Response,
    limit: u64,
) -> Result<Bytes, BodyError> {
    let too_large = || BodyError::TooLarge {
        what: SizeCap::Body,
        limit,
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let Some(first) = next(resp).await? else {
        return Ok(Bytes::new());
    };
    if first.len() as u64 > limit {
        return Err(too_large());
    }
    // Most bodies arrive in one chunk: it is kept as it is, without a copy.
    let Some(second) = next(resp).await? else {
        return Ok(first);
    };
    let capacity = declared.unwrap_or(0).min(limit) as usize;
    let mut body = BytesMut::with_capacity(capacity.max(first.len() + second.len()));
    let mut chunk = Some(second);
    body.extend_from_slice(&first);
    while let Some(c) = chunk {
        if (body.len() + c.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&c);
        chunk = next(resp).await?;
    }
    Ok(body.freeze())
}

async fn next(resp: &mut reqwest::Response) -> Result<Option<Bytes>, BodyError> {
    resp.chunk()
        .await
        .map_err(|e| BodyError::Transport(Box::new(e)))
}

/// A byte stream (an SSE body) that fails once a stream passes `max_stream_bytes`, or one
/// event (the bytes between two blank lines) passes `max_event_bytes`. Ends after an error.
pub(crate) struct Capped<S> {
    inner: S,
    limits: ResponseLimits,
    stream_len: u64,
    /// Bytes since the last blank line (an event boundary).
    event_len: u64,
    /// No byte yet on the current line: a line ending now ends an event.
    line_empty: bool,
    /// The last byte was a CR: a LF now belongs to the same line ending.
    after_cr: bool,
    failed: bool,
}

impl<S> Capped<S> {
    pub(crate) fn new(inner: S, limits: ResponseLimits) -> Self {
        Capped {
            inner,
            limits,
            stream_len: 0,
            event_len: 0,
            line_empty: true,
            after_cr: false,
            failed: false,
        }
    }

    /// Follows line endings (LF, CR, CRLF, split across chunks or not) to measure the
    /// current event; `Err` when one event in `bytes` passes its cap.
    fn scan(&mut self, mut bytes: &[u8]) -> Result<(), BodyError> {
        let limit = self.limits.max_event_bytes;
        let over = || BodyError::TooLarge {
            what: SizeCap::Event,
            limit,
        };
        while let Some(i) = bytes.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            if i > 0 {
                self.line_empty = false;
                self.after_cr = false;
            }
            self.event_len += i as u64 + 1;
            if self.event_len > limit {
                return Err(over());
            }
            let end = bytes[i];
            if end == b'\n' && self.after_cr {
                self.after_cr = false;
            } else {
                if self.line_empty {
                    self.event_len = 0;
                }
                self.line_empty = true;
                self.after_cr = end == b'\r';
            }
            bytes = &bytes[i + 1..];
        }
        if !bytes.is_empty() {
            self.line_empty = false;
            self.after_cr = false;
            self.event_len += bytes.len() as u64;
        }
        if self.event_len > limit {
            return Err(over());
        }
        Ok(())
    }
}

impl<S, E> Stream for Capped<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        let chunk = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(e))) => {
                return Poll::Ready(Some(Err(BodyError::Transport(Box::new(e)))));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        this.stream_len += chunk.len() as u64;
        let checked = if this.stream_len > this.limits.max_stream_bytes {
            Err(BodyError::TooLarge {
                what: SizeCap::Stream,
                limit: this.limits.max_stream_bytes,
            })
        } else {
            this.scan(&chunk)
        };
        Poll::Ready(Some(match checked {
            Ok(()) => Ok(chunk),
            Err(e) => {
                this.failed = true;
                Err(e)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::StreamExt;

    use super::*;

    fn limits(event: u64, stream: u64) -> ResponseLimits {
        ResponseLimits {
            max_body_bytes: 1,
            max_event_bytes: event,
            max_stream_bytes: stream,
        }
    }

    /// What the capped stream makes of `chunks`: the bytes passed on, and the cap hit.
    fn run(limits: ResponseLimits, chunks: &[&[u8]]) -> (usize, Option<SizeCap>) {
        let items: Vec<Result<Bytes, Infallible>> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut capped = Capped::new(futures::stream::iter(items), limits);
        futures::executor::block_on(async {
            let mut passed = 0;
            while let Some(item) = capped.next().await {
                match item {
                    Ok(b) => passed += b.len(),
                    Err(BodyError::TooLarge { what, .. }) => return (passed, Some(what)),
                    Err(e) => panic!("{e}"),
                }
            }
            (passed, None)
        })
    }

    #[test]
    fn events_under_the_cap_pass_whatever_the_line_endings_and_splits() {
        let stream = b"data: 12345\n\ndata: 12345\r\n\r\ndata: 12345\r\rdata: 1\ndata: 2\n\n";
        for at in 0..=stream.len() {
            let (a, b) = stream.split_at(at);
            assert_eq!(run(limits(17, 1000), &[a, b]), (stream.len(), None), "{at}");
        }
    }

    #[test]
    fn one_endless_line_hits_the_event_cap() {
        let line = [b'x'; 100];
        let chunks: Vec<&[u8]> = std::iter::once(&b"data: "[..])
            .chain(std::iter::repeat_n(&line[..], 50))
            .collect();
        assert_eq!(run(limits(1000, 1 << 20), &chunks).1, Some(SizeCap::Event));
    }

    #[test]
    fn many_lines_without_a_blank_one_are_one_event() {
        let chunks = vec![&b"data: 0123456789\n"[..]; 100];
        assert_eq!(run(limits(1000, 1 << 20), &chunks).1, Some(SizeCap::Event));
        // A CR and a LF in different chunks are one line ending, not a blank line.
        let split = [&b"data: 0123456789\r"[..], &b"\n"[..]];
        let chunks: Vec<&[u8]> = split.iter().copied().cycle().take(200).collect();
        assert_eq!(run(limits(1000, 1 << 20), &chunks).1, Some(SizeCap::Event));
    }

    #[test]
    fn an_oversize_event_ending_inside_one_chunk_is_caught() {
        let mut chunk = b"data: ".to_vec();
        chunk.extend([b'x'; 2000]);
        chunk.extend(b"\n\ndata: ok\n\n");
        assert_eq!(
            run(limits(1000, 1 << 20), &[&chunk]),
            (0, Some(SizeCap::Event))
        );
    }

    #[test]
    fn small_events_add_up_to_the_stream_cap() {
        let chunks = vec![&b"data: {}\n\n"[..]; 1000];
        let (passed, cap) = run(limits(100, 5000), &chunks);
        assert_eq!(cap, Some(SizeCap::Stream));
        assert!(passed <= 5000, "{passed}");
    }
}
