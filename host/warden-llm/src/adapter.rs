//! The shared core of both adapters: one HTTP client, the retry loop, timeouts, rate
//! limiting, and turning an SSE body into a stream of events.
//!
//! Invariants: a request is retried only for transient failures and within the policy; a
//! stream is retried only while nothing has reached the caller (content events are held
//! back until the first one that is not a usage snapshot); dropping the returned future or
//! stream drops the reqwest response, which closes the connection; the key goes only into
//! sensitive headers and is scrubbed from anything the provider echoes back.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::accumulate::check_truncation;
use super::cap::{BodyError, Capped, read_body};
use super::client::{CLIENT_DEFAULT_HEADERS, ClientKind, shared_client};
use super::config::ProviderConfig;
use super::error::{LlmError, TimeoutPhase};
use super::estimate::estimate_tokens;
use super::live::{Clocks, Live};
use super::notice::{LlmNotice, Notices};
use super::options::check_request;
use super::ratelimit::{self, Limiter, Reservation};
use super::retry::{ServerWait, backoff, is_retryable_status, may_retry, parse_retry_after};
use super::sniff::{BodyMeta, MAX_MESSAGE_CHARS, SniffSse, excerpt, looks_like_json, sanitize};
use super::sse::events;
use super::wire::{Endpoint, Wire};
use warden_core::chat::{ChatRequest, ChatResponse, StreamEvent};
use warden_core::report::error_chain;

/// Most of an error body we read to find the provider's message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One failed attempt: the error, whether another attempt may help, and the server's wish.
struct Failure {
    /// Boxed: the error is large, and a failure passes through every `Result` of an attempt.
    error: Box<LlmError>,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: LlmError) -> Self {
        Failure {
            error: Box::new(error),
            retry: false,
            retry_after: None,
        }
    }
    fn transient(error: LlmError) -> Self {
        Failure {
            error: Box::new(error),
            retry: true,
            retry_after: None,
        }
    }
    fn from_error(error: LlmError) -> Self {
        let retry = error.is_retryable();
        Failure {
            error: Box::new(error),
            retry,
            retry_after: None,
        }
    }
}

/// One provider endpoint with one wire format.
pub(crate) struct Adapter<W: Wire> {
    wire: W,
    config: ProviderConfig,
    client: reqwest::Client,
    headers: HeaderMap,
    /// The endpoint URL, parsed once (not per request).
    target: reqwest::Url,
    ep: Endpoint,
    /// The limiter of the configured model (others are looked up per request).
    limiter: Arc<Limiter>,
}

/// Returns the tokens reserved for a request to the limiter when dropped, corrected to the
/// usage seen (or kept at the estimate if the request never reported any).
pub(crate) struct Settle {
    limiter: Arc<Limiter>,
    reservation: Reservation,
    pub actual: Option<u64>,
}

impl Drop for Settle {
    fn drop(&mut self) {
        let actual = self.actual.unwrap_or(self.reservation.tokens);
        self.limiter.settle(self.reservation, actual);
    }
}

impl<W: Wire> Adapter<W> {
    pub(crate) fn new(wire: W, config: &ProviderConfig) -> Result<Self, LlmError> {
        config.validate()?;
        let key = config.resolve_key()?;
        let url = wire.url(config.base_url());
        let mut headers = wire.headers(&key)?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let client = shared_client(ClientKind::for_config(config, &url))?;
        let limiter = ratelimit::shared(&url, &config.model, config.rate_limits);
        let target = reqwest::Url::parse(&url).map_err(|e| {
            LlmError::Config(format!(
                "base_url gives the invalid endpoint {url:?} ({e}); set a URL such as http://127.0.0.1:8080"
            ))
        })?;
        let ep = Endpoint {
            url: url.into(),
            env_var: config.key_env().into(),
            key,
        };
        Ok(Adapter {
            wire,
            config: config.clone(),
            client,
            headers,
            target,
            ep,
            limiter,
        })
    }

    pub(crate) fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn model_for<'r>(&'r self, req: &'r ChatRequest) -> &'r str {
        if req.settings.model.is_empty() {
            &self.config.model
        } else {
            &req.settings.model
        }
    }

    fn limiter_for(&self, model: &str) -> Arc<Limiter> {
        if model == self.config.model {
            self.limiter.clone()
        } else {
            ratelimit::shared(&self.ep.url, model, self.config.rate_limits)
        }
    }

    async fn reserve(&self, req: &ChatRequest, model: &str, notices: &Notices) -> Settle {
        let limiter = self.limiter_for(model);
        let limits = self.config.rate_limits;
        let estimate = if limits.tpm > 0 {
            estimate_tokens(req)
        } else {
            0
        };
        let reservation = limiter.acquire(estimate, notices).await;
        Settle {
            limiter,
            reservation,
            actual: None,
        }
    }

    /// A non-streaming request, retried per the policy.
    pub(crate) async fn complete(
        &self,
        req: &ChatRequest,
        notices: &Notices,
    ) -> Result<ChatResponse, LlmError> {
        let model = self.model_for(req);
        let body = self.encode(req, model, false)?;
        let mut settle = self.reserve(req, model, notices).await;
        let mut response = self
            .with_retries(&settle.limiter, notices, || {
                self.attempt_complete(body.clone())
            })
            .await?;
        response.fill_missing_call_ids();
        settle.actual = Some(response.usage.total());
        check_truncation(&response)?;
        Ok(response)
    }

    /// A streaming request: retried per the policy until the first content event, then
    /// handed to the caller.
    pub(crate) async fn stream(
        &self,
        req: &ChatRequest,
        notices: &Notices,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let model = self.model_for(req);
        let body = self.encode(req, model, true)?;
        let settle = self.reserve(req, model, notices).await;
        let (mut live, first) = self
            .with_retries(&settle.limiter, notices, || {
                self.attempt_stream(body.clone())
            })
            .await?;
        live.pending = first.into();
        live.settle = Some(settle);
        Ok(live.boxed())
    }

    async fn with_retries<T, F, Fut>(
        &self,
        limiter: &Limiter,
        notices: &Notices,
        mut attempt: F,
    ) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = &self.config.retry;
        let start = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(f) => f,
            };
            if failure.error.status() == Some(429) {
                limiter.penalize(failure.retry_after);
            }
            let delay = failure
                .retry_after
                .unwrap_or_else(|| backoff(policy, attempts, rand::random::<f64>()));
            if !failure.retry || !may_retry(policy, attempts, start.elapsed(), delay) {
                return Err(with_attempts(*failure.error, attempts));
            }
            tracing::debug!(attempt = attempts, ?delay, error = %failure.error, "LLM request failed; retrying");
            notices.emit(LlmNotice::Retry {
                attempt: attempts,
                delay,
                cause: failure.error.to_string(),
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// The request body, held (for retries) until the exchange ends.
    fn encode(&self, req: &ChatRequest, model: &str, stream: bool) -> Result<Bytes, LlmError> {
        check_request(req, self.wire.kind())?;
        let mut body = self.wire.body(req, model, stream)?;
        // Serialising grows the buffer by doubling: up to half of it would sit unused for
        // the whole exchange, once per in-flight request.
        body.shrink_to_fit();
        Ok(Bytes::from(body))
    }

    /// The POST of `body`, sent by the shared client.
    fn post(&self, body: Bytes) -> impl Future<Output = reqwest::Result<reqwest::Response>> {
        let mut request = reqwest::Request::new(reqwest::Method::POST, self.target.clone());
        // The header map is built once, with room for the client's defaults (`accept`,
        // `user-agent`): merging ours one by one into an empty request map (what
        // `RequestBuilder::headers` does) allocated it twice over per request, and a map
        // sized for ours alone grew (a rehash) when the client added its own.
        let mut headers = HeaderMap::with_capacity(self.headers.len() + CLIENT_DEFAULT_HEADERS);
        headers.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        *request.headers_mut() = headers;
        *request.body_mut() = Some(body.into());
        self.client.execute(request)
    }

    async fn attempt_complete(&self, body: Bytes) -> Result<ChatResponse, Failure> {
        let exchange = async {
            let resp = self.post(body).await.map_err(|e| self.transport(e))?;
            if !resp.status().is_success() {
                return Err(self.status_failure(resp).await);
            }
            let meta = BodyMeta::of(resp.status().as_u16(), resp.headers());
            if meta.content_encoding.is_some() {
                return Err(Failure::from_error(meta.non_json(&self.ep, b"")));
            }
            let bytes = self.read_body(resp).await?;
            self.parse_answer(&meta, &bytes)
        };
        let limit = self.config.timeouts.request();
        tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(Failure::transient(LlmError::Timeout {
                    phase: TimeoutPhase::Request,
                    url: self.ep.url.to_string(),
                    after: limit,
                }))
            })
    }

    async fn attempt_stream(&self, body: Bytes) -> Result<(Live, Vec<StreamEvent>), Failure> {
        let limit = self.config.timeouts.request();
        let timeout = || {
            Failure::transient(LlmError::Timeout {
                phase: TimeoutPhase::Request,
                url: self.ep.url.to_string(),
                after: limit,
            })
        };
        let resp = tokio::time::timeout(limit, self.post(body))
            .await
            .map_err(|_| timeout())?
            .map_err(|e| self.transport(e))?;
        if !resp.status().is_success() {
            return tokio::time::timeout(limit, self.status_failure(resp))
                .await
                .map_or_else(|_| Err(timeout()), Err);
        }
        let meta = BodyMeta::of(resp.status().as_u16(), resp.headers());
        if meta.content_encoding.is_some() {
            return Err(Failure::from_error(meta.non_json(&self.ep, b"")));
        }
        let clocks = Clocks {
            idle: self.config.timeouts.idle(),
            total: self.config.timeouts.stream(),
        };
        let mut live = Live::new(
            self.wire.decoder(self.ep.clone()),
            clocks,
            self.ep.url.clone(),
        );
        if meta.says_json() {
            // A server that ignores `stream: true` (or answers an error as plain JSON).
            let bytes = tokio::time::timeout(limit, self.read_body(resp))
                .await
                .map_err(|_| timeout())??;
            let response = self.parse_answer(&meta, &bytes)?;
            live.over = true;
            return Ok((live, response.to_stream_events(|s| vec![s.to_string()])));
        }
        let body = Capped::new(resp.bytes_stream(), self.config.response_limits);
        // Whatever the Content-Type says, the body is read as events only if it starts
        // like them: an HTML page is reported as such, not as a framing error.
        live.events = Some(events(SniffSse::new(body, self.ep.clone(), meta)));
        // Hold events back until one carries content: until then a failure can be retried
        // without the caller having seen anything.
        let mut held = Vec::new();
        loop {
            match live.next_batch(&mut held).await {
                Ok(true) if held.iter().any(|e| !matches!(e, StreamEvent::Usage { .. })) => {
                    return Ok((live, held));
                }
                Ok(true) => continue,
                Ok(false) => return Ok((live, held)),
                Err(e) => return Err(Failure::from_error(e)),
            }
        }
    }

    /// A whole non-streamed body, within the configured cap.
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<Bytes, Failure> {
        let limit = self.config.response_limits.max_body_bytes;
        read_body(&mut resp, limit).await.map_err(|e| match e {
            BodyError::TooLarge { what, limit } => Failure::fatal(LlmError::ResponseTooLarge {
                url: self.ep.url.to_string(),
                what,
                limit,
            }),
            BodyError::Transport(e) => Failure::transient(LlmError::Connection {
                url: self.ep.url.to_string(),
                detail: self.ep.scrub(&error_chain(e.as_ref())),
            }),
            BodyError::NotEventStream(e) => Failure::from_error(*e),
        })
    }

    /// The response in a successful body; refuses one that is not the JSON asked for, or
    /// that carries the provider's error object instead of an answer (looked for only once
    /// the body failed to parse: an answer is parsed once).
    fn parse_answer(&self, meta: &BodyMeta, bytes: &[u8]) -> Result<ChatResponse, Failure> {
        if !looks_like_json(bytes) {
            return Err(Failure::from_error(meta.non_json(&self.ep, bytes)));
        }
        self.wire.parse_response(bytes, &self.ep).map_err(|e| {
            Failure::from_error(match self.wire.error_body(bytes) {
                Some((kind, message)) => self.ep.provider_error(&kind, &message),
                None => e,
            })
        })
    }

    fn transport(&self, e: reqwest::Error) -> Failure {
        let url = self.ep.url.to_string();
        let detail = self.ep.scrub(&error_chain(&e));
        let error = if e.is_timeout() {
            let phase = if e.is_connect() {
                TimeoutPhase::Connect
            } else {
                TimeoutPhase::Request
            };
            let after = if e.is_connect() {
                self.config.timeouts.connect()
            } else {
                self.config.timeouts.request()
            };
            LlmError::Timeout { phase, url, after }
        } else {
            LlmError::Connection { url, detail }
        };
        Failure::transient(error)
    }

    async fn status_failure(&self, resp: reqwest::Response) -> Failure {
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let cap = self.config.retry.max_retry_after();
        let wait = parse_retry_after(
            header("retry-after-ms").as_deref(),
            header("retry-after").as_deref(),
            SystemTime::now(),
            cap,
        );
        let meta = BodyMeta::of(status, resp.headers());
        let (body, cut) = match meta.content_encoding {
            // Unreadable anyway: not a byte more than needed.
            Some(_) => (Vec::new(), false),
            None => read_limited(resp, ERROR_BODY_LIMIT).await,
        };
        // A proxy's page, plain text, or an encoded body: said as such (an empty body is
        // only an error without a message).
        let non_json = meta.content_encoding.is_some()
            || (!body.trim_ascii().is_empty() && !looks_like_json(&body));
        let mut message = match self.wire.error_body(&body) {
            Some((_, m)) if !m.is_empty() => sanitize(&self.ep.scrub(&m), MAX_MESSAGE_CHARS),
            _ => excerpt(&body, &self.ep),
        };
        if cut && !non_json {
            message.push_str(&format!(
                " (error body cut at {ERROR_BODY_LIMIT} bytes, the rest not read)"
            ));
        }
        let url = self.ep.url.to_string();
        let retry_after = match wait {
            Some(ServerWait::Wait(d)) => Some(d),
            Some(ServerWait::TooLong { header, value }) if is_retryable_status(status) => {
                return Failure::fatal(LlmError::RetryAfterTooLong {
                    status,
                    url,
                    header,
                    value: self.ep.scrub(&value),
                    cap,
                });
            }
            // A wait beside a final answer (400, 401...) changes nothing.
            Some(ServerWait::TooLong { .. }) | None => None,
        };
        let error = match status {
            401 | 403 => LlmError::Auth {
                status,
                url,
                env_var: self.ep.env_var.to_string(),
                message: (!message.is_empty()).then_some(message),
            },
            _ if non_json => meta.non_json(&self.ep, &body),
            429 => LlmError::RateLimited {
                url,
                attempts: 1,
                retry_after,
                message,
            },
            s if is_retryable_status(s) || s >= 500 => LlmError::Server {
                status,
                url,
                attempts: 1,
                message,
            },
            _ => LlmError::BadRequest {
                status,
                url,
                message,
            },
        };
        Failure {
            error: Box::new(error),
            retry: is_retryable_status(status),
            retry_after,
        }
    }
}

/// Reads at most `limit` bytes of a body, and whether there was more (left unread: the
/// connection is dropped); a body that breaks yields what arrived.
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            out.truncate(limit);
            return (out, true);
        }
    }
    (out, false)
}

fn with_attempts(mut error: LlmError, n: u32) -> LlmError {
    match &mut error {
        LlmError::RateLimited { attempts, .. }
        | LlmError::Server { attempts, .. }
        | LlmError::NonJson { attempts, .. } => *attempts = n,
        _ => {}
    }
    error
}
