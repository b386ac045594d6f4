#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::convert::Infallible;

use futures::StreamExt;
use reqwest::header::HeaderValue;

use super::*;
use crate::ApiKey;
use crate::cap::Capped;
use crate::config::ResponseLimits;

const KEY: &str = "sk-sniff-test-key";

fn ep() -> Endpoint {
    Endpoint {
        url: "http://127.0.0.1:1/v1/chat/completions".into(),
        env_var: "OPENAI_API_KEY".into(),
        key: ApiKey::new(KEY),
    }
}

fn meta(content_type: &str) -> BodyMeta {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    BodyMeta::of(200, &headers)
}

/// What the sniffer makes of a body sent in `chunks`: the bytes passed on, or the error.
fn sniff(chunks: &[&[u8]]) -> Result<Vec<u8>, LlmError> {
    let items: Vec<Result<Bytes, Infallible>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let capped = Capped::new(futures::stream::iter(items), ResponseLimits::default());
    let mut sniffer = SniffSse::new(capped, ep(), meta("text/html"));
    futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(item) = sniffer.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(BodyError::NotEventStream(e)) => return Err(*e),
                Err(e) => panic!("{e}"),
            }
        }
        Ok(out)
    })
}

#[test]
fn an_event_stream_passes_unchanged_however_it_is_split() {
    for body in [
        &b"data: {\"a\":1}\n\ndata: [DONE]\n\n"[..],
        b"event: message_start\ndata: {}\n\n",
        b": keep-alive\n\ndata: x\n\n",
        b"\n\r\nretry: 10\n\n",
        b"\xEF\xBB\xBFid: 1\n\n",
        b"data",
        b"",
    ] {
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            assert_eq!(sniff(&[a, b]).unwrap(), body, "{body:?} split at {at}");
        }
    }
}

#[test]
fn blank_keep_alive_lines_past_the_sniff_window_pass() {
    let blank = vec![b'\n'; SNIFF_BYTES + 10];
    assert_eq!(
        sniff(&[&blank, b"data: x\n\n"]).unwrap().len(),
        blank.len() + 9
    );
}

#[test]
fn markup_text_and_json_are_not_an_event_stream_however_split() {
    for body in [
        &b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>"[..],
        b"error code: 1020",
        b"Internal Server Error",
        b"{\"error\": {\"message\": \"nope\"}}",
        b"dat",
    ] {
        for at in 0..=body.len() {
            let (a, b) = body.split_at(at);
            let err = sniff(&[a, b]).unwrap_err();
            assert!(
                matches!(&err, LlmError::NonJson { status: 200, content_type: Some(t), .. } if t == "text/html"),
                "{body:?} split at {at}: {err:?}"
            );
        }
    }
}

#[test]
fn the_error_quotes_the_title_of_a_page() {
    let page = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>x{}</style></head><body><h1>oops</h1></body></html>";
    let err = sniff(&[page]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "non-JSON response from http://127.0.0.1:1/v1/chat/completions (content-type text/html, status 200): 502 Bad Gateway"
    );
}

#[test]
fn an_excerpt_is_short_single_line_free_of_control_characters_and_the_key() {
    let mut body = format!("Denied \x1b[31mfor\x07 {KEY}\r\n\t  here\0 ").into_bytes();
    body.extend([0xff, 0xfe]);
    body.extend("x".repeat(10_000).as_bytes());
    let text = excerpt(&body, &ep());
    assert!(
        text.starts_with("Denied [31mfor [redacted] here x"),
        "{text}"
    );
    assert_eq!(text.chars().count(), EXCERPT_CHARS + 1, "{text}");
    assert!(text.ends_with('…'));
    assert!(!text.chars().any(|c| c.is_control()));
}

#[test]
fn markup_without_a_title_is_shown_as_its_text() {
    let page = b"<html><body><h1>Service\nUnavailable</h1><p>try later</p></body></html>";
    assert_eq!(excerpt(page, &ep()), "Service Unavailable try later");
}

#[test]
fn json_is_told_from_what_is_not() {
    for json in [&b"{}"[..], b"  \n[1]", b"\xEF\xBB\xBF{\"a\":1}"] {
        assert!(looks_like_json(json), "{json:?}");
    }
    for other in [&b""[..], b"   ", b"<html>", b"null", b"\x1f\x8b\x08"] {
        assert!(!looks_like_json(other), "{other:?}");
    }
}

#[test]
fn an_encoded_body_is_named_and_not_quoted() {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
    let meta = BodyMeta::of(200, &headers);
    let err = meta.non_json(&ep(), b"\x1b\x03garbage");
    let text = err.to_string();
    assert!(
        text.contains("(content-type application/json, content-encoding br, status 200)"),
        "{text}"
    );
    assert!(text.contains("encoded with br"), "{text}");
    assert!(!text.contains("garbage"), "{text}");
    assert!(!err.is_retryable());
    // `identity` is no encoding.
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
    assert_eq!(BodyMeta::of(200, &headers).content_encoding, None);
}

#[test]
fn json_content_types_are_recognised() {
    for t in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/problem+json",
    ] {
        assert!(meta(t).says_json(), "{t}");
    }
    for t in ["text/html", "text/event-stream", "application/jsonl"] {
        assert!(!meta(t).says_json(), "{t}");
    }
}

#[test]
fn a_non_json_error_is_retried_only_with_a_transient_status() {
    let with = |status| LlmError::NonJson {
        url: "u".into(),
        status,
        content_type: None,
        content_encoding: None,
        excerpt: String::new(),
        attempts: 1,
    };
    for status in [429, 500, 502, 503, 504, 529] {
        assert!(with(status).is_retryable(), "{status}");
    }
    for status in [200, 400, 404] {
        assert!(!with(status).is_retryable(), "{status}");
    }
    assert_eq!(
        with(200).to_string(),
        "non-JSON response from u (content-type not given, status 200): the body is empty"
    );
}

#[test]
fn a_page_sent_byte_by_byte_is_still_named_by_its_title() {
    let page = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>";
    let singles: Vec<&[u8]> = page.chunks(1).collect();
    let err = sniff(&singles).unwrap_err();
    assert!(
        matches!(&err, LlmError::NonJson { excerpt, .. } if excerpt == "502 Bad Gateway"),
        "{err:?}"
    );
}

#[test]
fn a_refused_body_is_read_no_further_than_its_excerpt_needs() {
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = read.clone();
    let endless = futures::stream::repeat_with(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from_static(&[b'x'; 1024]))
    });
    let capped = Capped::new(endless, ResponseLimits::default());
    let mut sniffer = SniffSse::new(capped, ep(), meta("text/plain"));
    let first = futures::executor::block_on(sniffer.next()).unwrap();
    assert!(matches!(first, Err(BodyError::NotEventStream(_))));
    assert!(futures::executor::block_on(sniffer.next()).is_none());
    let chunks = read.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        chunks * 1024 <= EXCERPT_SCAN_BYTES + 1024,
        "{chunks} chunks read"
    );
}

#[test]
fn a_body_without_readable_text_says_so() {
    assert_eq!(
        excerpt(b"<html><br/></html>", &ep()),
        "18 bytes, no readable text"
    );
    assert_eq!(excerpt(b"  \n", &ep()), "");
}
