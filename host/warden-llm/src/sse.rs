//! Server-sent events: the `sse-stream` parser over any byte stream, the mapping of its
//! errors, and a pure helper that decodes a whole recorded stream (tests and benchmarks).
//!
//! Invariant: the events produced do not depend on how the bytes are split into chunks;
//! the parser keeps an unfinished line (and so a partial UTF-8 sequence) across chunks and
//! scans each byte once. It is strict where the spec is lenient: a line with an unknown
//! field name is a framing error (no provider sends one), reported, never skipped silently.

use std::convert::Infallible;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sse_stream::SseStream;

use super::cap::BodyError;
use super::config::{ApiKey, ProviderKind};
use super::error::LlmError;
use super::wire::{Endpoint, Step, Wire};
use warden_core::chat::StreamEvent;

/// One parsed event (`data` is `None` for an event with no data lines).
pub(crate) type SseEvent = sse_stream::Sse;

/// Parsed events of one response body.
pub(crate) type SseEvents = Pin<Box<dyn Stream<Item = Result<SseEvent, sse_stream::Error>> + Send>>;

/// The events of a byte stream (a response body).
pub(crate) fn events<S, E>(bytes: S) -> SseEvents
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    Box::pin(SseStream::from_bytes_stream(bytes))
}

/// The error for a failure of the event stream of `url`: a size cap passed (see
/// [`super::cap`]), a body that is no event stream (see [`super::sniff`]), the body
/// breaking (a cut stream), or malformed framing.
pub(crate) fn stream_error(url: &str, error: sse_stream::Error) -> LlmError {
    match error {
        sse_stream::Error::Body(e) => match e.downcast::<BodyError>().map(|b| *b) {
            Ok(BodyError::TooLarge { what, limit }) => LlmError::ResponseTooLarge {
                url: url.to_string(),
                what,
                limit,
            },
            Ok(BodyError::Transport(inner)) => LlmError::StreamCut {
                url: url.to_string(),
                detail: warden_core::report::error_chain(inner.as_ref()),
            },
            Ok(BodyError::NotEventStream(error)) => *error,
            Err(e) => LlmError::StreamCut {
                url: url.to_string(),
                detail: warden_core::report::error_chain(e.as_ref()),
            },
        },
        other => LlmError::InvalidResponse {
            url: url.to_string(),
            context: "SSE framing".into(),
            detail: other.to_string(),
        },
    }
}

/// Decodes a recorded SSE body, delivered as `chunks`, with the given provider's mapping.
/// Fails like a live stream would: on a provider error event, on malformed JSON, or with
/// `StreamCut` if the bytes end before the provider's end marker or a finish event.
pub fn decode_recorded<B: AsRef<[u8]>>(
    kind: ProviderKind,
    chunks: impl IntoIterator<Item = B>,
) -> Result<Vec<StreamEvent>, LlmError> {
    let wire: Box<dyn Wire> = match kind {
        ProviderKind::Openai => Box::new(super::openai::OpenAi { official: false }),
        ProviderKind::Anthropic => Box::new(super::anthropic::Anthropic),
    };
    let ep = Endpoint {
        url: "recorded".into(),
        env_var: "".into(),
        key: ApiKey::new(""),
    };
    let mut decoder = wire.decoder(ep);
    let bytes: Vec<Result<Bytes, Infallible>> = chunks
        .into_iter()
        .map(|c| Ok(Bytes::copy_from_slice(c.as_ref())))
        .collect();
    let mut events = events(futures::stream::iter(bytes));
    let mut out = Vec::new();
    futures::executor::block_on(async {
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| stream_error("recorded", e))?;
            let data = event.data.as_deref().unwrap_or("");
            if decoder.decode(data, &mut out)? == Step::Done {
                return Ok(out);
            }
        }
        if decoder.finished() {
            Ok(out)
        } else {
            Err(LlmError::StreamCut {
                url: "recorded".into(),
                detail: "no end marker".into(),
            })
        }
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    const FIXTURES: &[(ProviderKind, &[u8])] = &[
        (
            ProviderKind::Openai,
            include_bytes!("fixtures/openai_text.sse"),
        ),
        (
            ProviderKind::Openai,
            include_bytes!("fixtures/openai_tools.sse"),
        ),
        (
            ProviderKind::Openai,
            include_bytes!("fixtures/openai_truncated.sse"),
        ),
        (
            ProviderKind::Openai,
            include_bytes!("fixtures/openai_error.sse"),
        ),
        (
            ProviderKind::Anthropic,
            include_bytes!("fixtures/anthropic_text.sse"),
        ),
        (
            ProviderKind::Anthropic,
            include_bytes!("fixtures/anthropic_tools.sse"),
        ),
        (
            ProviderKind::Anthropic,
            include_bytes!("fixtures/anthropic_error.sse"),
        ),
    ];

    /// The outcome as comparable text (errors included: they must not depend on splits).
    fn outcome<B: AsRef<[u8]>>(kind: ProviderKind, chunks: Vec<B>) -> String {
        format!("{:?}", decode_recorded(kind, chunks))
    }

    #[test]
    fn every_two_way_split_gives_the_same_events() {
        for (kind, bytes) in FIXTURES {
            let whole = outcome(*kind, vec![*bytes]);
            for at in 0..=bytes.len() {
                let (a, b) = bytes.split_at(at);
                assert_eq!(outcome(*kind, vec![a, b]), whole, "split at byte {at}");
            }
        }
    }

    #[test]
    fn one_byte_chunks_give_the_same_events() {
        for (kind, bytes) in FIXTURES {
            let whole = outcome(*kind, vec![*bytes]);
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(outcome(*kind, singles), whole);
        }
    }

    #[test]
    fn a_line_with_an_unknown_field_is_a_framing_error() {
        let err = decode_recorded(ProviderKind::Openai, [&b"bogus: x\n\ndata: [DONE]\n\n"[..]])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SSE framing"), "{err}");
        assert!(err.contains("invalid line"), "{err}");
    }

    #[test]
    fn a_cut_stream_is_reported_not_finished() {
        let bytes = include_bytes!("fixtures/anthropic_text.sse");
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(
            decode_recorded(ProviderKind::Anthropic, [cut]),
            Err(LlmError::StreamCut { .. })
        ));
    }
}
