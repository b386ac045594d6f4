//! Host-side secrets: the headers the host adds to matching requests, and the redaction of
//! any secret value a response echoes before the guest reads it.
//!
//! Invariant: a secret's value exists only in the host. The guest cannot set a secret's
//! header itself (it is removed from every request), the value is added only for the hosts
//! its rule names, and response headers and bodies reach the guest with every occurrence of
//! any secret value replaced by [`REDACTED`], also when it straddles two body chunks.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use wasmtime_wasi_http::{Error, WasiBody};

use super::policy::{EgressPolicyError, HostRule, RequestHost};

/// What the guest reads instead of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A secret the host puts into a header of requests to some hosts.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHeader {
    hosts: Vec<HostRule>,
    name: http::HeaderName,
    value: http::HeaderValue,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHeader")
            .field("hosts", &self.hosts)
            .field("name", &self.name)
            .field("value", &REDACTED)
            .finish()
    }
}

impl SecretHeader {
    /// `secret` goes into header `header` as `template` with `{}` replaced, for requests to
    /// `hosts` (host patterns as in `allowed_hosts`, without ports).
    pub fn new(
        hosts: &[&str],
        header: &str,
        template: &str,
        secret: &str,
    ) -> Result<Self, EgressPolicyError> {
        let invalid = |why: &str| EgressPolicyError::InvalidRule {
            entry: header.to_string(),
            why: why.to_string(),
        };
        if secret.len() < 4 {
            return Err(invalid(
                "a secret shorter than 4 bytes cannot be redacted safely",
            ));
        }
        let name = http::HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| invalid("not a header name"))?;
        let mut value = http::HeaderValue::from_str(&template.replacen("{}", secret, 1))
            .map_err(|_| invalid("the secret or template holds characters a header cannot"))?;
        value.set_sensitive(true);
        let hosts = hosts
            .iter()
            .map(|h| HostRule::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SecretHeader {
            hosts,
            name,
            value,
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// Removes every secret's header the guest set, then adds the secrets for `host`.
    pub(crate) fn apply_all(
        secrets: &[SecretHeader],
        host: &RequestHost,
        headers: &mut http::HeaderMap,
    ) {
        for s in secrets {
            headers.remove(&s.name);
        }
        for s in secrets
            .iter()
            .filter(|s| s.hosts.iter().any(|h| h.covers_host(host)))
        {
            headers.insert(s.name.clone(), s.value.clone());
        }
    }

    /// The raw values to redact from responses.
    pub(crate) fn values(secrets: &[SecretHeader]) -> Arc<[Vec<u8>]> {
        secrets.iter().map(|s| s.secret.clone()).collect()
    }
}

/// Replaces every occurrence of each secret in `buf`.
fn redact(buf: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = buf.to_vec();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let mut next = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i..].starts_with(secret) {
                next.extend_from_slice(REDACTED.as_bytes());
                i += secret.len();
            } else {
                next.push(out[i]);
                i += 1;
            }
        }
        out = next;
    }
    out
}

/// Redacts secrets from response header values.
pub(crate) fn redact_headers(headers: &mut http::HeaderMap, secrets: &[Vec<u8>]) {
    for value in headers.values_mut() {
        if secrets
            .iter()
            .any(|s| value.as_bytes().windows(s.len()).any(|w| w == s.as_slice()))
        {
            *value = http::HeaderValue::from_static(REDACTED);
        }
    }
}

/// A response body with the secrets redacted. Keeps the last `longest - 1` bytes back until
/// the next chunk (or the end), so a secret split across chunks is still found.
pub(crate) struct RedactBody {
    inner: WasiBody,
    secrets: Arc<[Vec<u8>]>,
    held: Vec<u8>,
    keep: usize,
    ended: bool,
}

impl RedactBody {
    pub(crate) fn new(inner: WasiBody, secrets: Arc<[Vec<u8>]>) -> Self {
        let keep = secrets
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        RedactBody {
            inner,
            secrets,
            held: Vec::new(),
            keep,
            ended: false,
        }
    }
}

impl Body for RedactBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                if this.held.is_empty() {
                    return Poll::Ready(None);
                }
                let rest = redact(&std::mem::take(&mut this.held), &this.secrets);
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.ended = true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        // Trailers are dropped: they could carry a secret and guests rarely read them.
                        continue;
                    };
                    this.held.extend_from_slice(&data);
                    let redacted = redact(&this.held, &this.secrets);
                    let emit = redacted.len().saturating_sub(this.keep);
                    if emit == 0 {
                        this.held = redacted;
                        continue;
                    }
                    this.held = redacted[emit..].to_vec();
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                        &redacted[..emit],
                    )))));
                }
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_wherever_they_occur() {
        let s: Vec<Vec<u8>> = vec![b"sk-123456".to_vec()];
        assert_eq!(
            redact(b"a sk-123456 b sk-123456", &s),
            b"a [REDACTED] b [REDACTED]".to_vec()
        );
        assert_eq!(redact(b"sk-12345", &s), b"sk-12345".to_vec());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretHeader::new(
            &["api.example.com"],
            "Authorization",
            "Bearer {}",
            "sk-secret-1",
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("sk-secret-1") && shown.contains(REDACTED),
            "{shown}"
        );
    }
}
