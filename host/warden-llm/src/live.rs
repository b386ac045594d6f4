//! A stream in flight: the SSE parser over the (size-capped) response body, the provider's
//! decoder, and the stream's two clocks.
//!
//! Invariants: a stream ends with a typed error, never hangs: no event for `idle` is an idle
//! timeout, and a stream still running `total` after its headers (a server sending pings
//! or empty events forever) is a stream timeout. Once an error or the end marker has been
//! delivered, nothing more is read.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;

use super::adapter::Settle;
use super::error::{LlmError, TimeoutPhase};
use super::sse::{SseEvents, stream_error};
use super::wire::{Step, StreamDecoder};
use warden_core::chat::{StreamEvent, Usage};

/// The limits of one stream's time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clocks {
    /// The longest gap between two events.
    pub idle: Duration,
    /// The longest the whole stream may last.
    pub total: Duration,
}

/// See the module docs.
///
/// A hand-written stream rather than `unfold` over an async fn: each event is handed out
/// without moving this state around, and the timer is armed only while waiting.
pub(crate) struct Live {
    pub events: Option<SseEvents>,
    decoder: Box<dyn StreamDecoder>,
    clocks: Clocks,
    /// When the stream must be over.
    deadline: Instant,
    /// Fires when no event came for `idle` or at the deadline; armed the first time the
    /// body has nothing ready.
    timer: Pin<Box<tokio::time::Sleep>>,
    armed: bool,
    last_event: Instant,
    url: Arc<str>,
    pub pending: VecDeque<StreamEvent>,
    scratch: Vec<StreamEvent>,
    pub settle: Option<Settle>,
    /// Usage reported so far, for the limiter.
    seen: Usage,
    /// The end marker was seen, or an error was delivered: nothing more comes.
    pub over: bool,
}

impl Live {
    pub(crate) fn new(decoder: Box<dyn StreamDecoder>, clocks: Clocks, url: Arc<str>) -> Self {
        let now = Instant::now();
        // The config caps both durations (a week): the sums cannot overflow; if they did,
        // the stream would time out at once rather than panic.
        let deadline = now.checked_add(clocks.total).unwrap_or(now);
        Live {
            events: None,
            decoder,
            clocks,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            armed: false,
            last_event: now,
            url,
            pending: VecDeque::new(),
            scratch: Vec::new(),
            settle: None,
            seen: Usage::default(),
            over: false,
        }
    }

    /// When the next timeout is due, and which one it is.
    fn due(&self) -> (Instant, TimeoutPhase) {
        match self.last_event.checked_add(self.clocks.idle) {
            Some(idle) if idle < self.deadline => (idle, TimeoutPhase::Idle),
            _ => (self.deadline, TimeoutPhase::Stream),
        }
    }

    fn timeout(&self, phase: TimeoutPhase) -> LlmError {
        LlmError::Timeout {
            phase,
            url: self.url.to_string(),
            after: match phase {
                TimeoutPhase::Idle => self.clocks.idle,
                _ => self.clocks.total,
            },
        }
    }

    /// Reads one SSE event into `out`. `Ok(false)` at the normal end of the stream.
    pub(crate) fn poll_batch(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Vec<StreamEvent>,
    ) -> Poll<Result<bool, LlmError>> {
        let Some(events) = self.events.as_mut().filter(|_| !self.over) else {
            return Poll::Ready(Ok(false));
        };
        let next = match events.as_mut().poll_next(cx) {
            Poll::Ready(next) => next,
            Poll::Pending => {
                // Armed once per stream and moved only when it fires early: an event costs
                // a clock read, not a timer re-registration.
                if !self.armed {
                    self.armed = true;
                    let (due, _) = self.due();
                    self.timer.as_mut().reset(due);
                }
                while self.timer.as_mut().poll(cx).is_ready() {
                    let (due, phase) = self.due();
                    if due <= Instant::now() {
                        return Poll::Ready(Err(self.timeout(phase)));
                    }
                    self.timer.as_mut().reset(due);
                }
                return Poll::Pending;
            }
        };
        self.last_event = Instant::now();
        if next.is_some() && self.last_event >= self.deadline {
            // Events that keep coming do not extend the stream past its deadline.
            return Poll::Ready(Err(self.timeout(TimeoutPhase::Stream)));
        }
        Poll::Ready(match next {
            Some(Ok(event)) => {
                let data = event.data.as_deref().unwrap_or("");
                if self.decoder.decode(data, out)? == Step::Done {
                    self.over = true;
                }
                Ok(true)
            }
            Some(Err(e)) => Err(stream_error(&self.url, e)),
            None if self.decoder.finished() => {
                self.over = true;
                Ok(false)
            }
            None => Err(LlmError::StreamCut {
                url: self.url.to_string(),
                detail: "the body ended before the end-of-stream marker".into(),
            }),
        })
    }

    pub(crate) async fn next_batch(
        &mut self,
        out: &mut Vec<StreamEvent>,
    ) -> Result<bool, LlmError> {
        std::future::poll_fn(|cx| self.poll_batch(cx, out)).await
    }

    /// Usage events are cumulative snapshots: keep the largest per field for the limiter.
    fn note_usage(&mut self, event: &StreamEvent) {
        if let (StreamEvent::Usage { usage }, Some(s)) = (event, self.settle.as_mut()) {
            let seen = &mut self.seen;
            seen.input_tokens = seen.input_tokens.max(usage.input_tokens);
            seen.output_tokens = seen.output_tokens.max(usage.output_tokens);
            s.actual = Some(seen.total());
        }
    }
}

impl Stream for Live {
    type Item = Result<StreamEvent, LlmError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Reused across events: one allocation per stream, not per event.
        let mut batch = std::mem::take(&mut this.scratch);
        let ready = loop {
            if let Some(event) = this.pending.pop_front() {
                this.note_usage(&event);
                break Poll::Ready(Some(Ok(event)));
            }
            if this.over {
                break Poll::Ready(None);
            }
            match this.poll_batch(cx, &mut batch) {
                Poll::Pending => break Poll::Pending,
                Poll::Ready(Ok(true)) => this.pending.extend(batch.drain(..)),
                Poll::Ready(Ok(false)) => break Poll::Ready(None),
                Poll::Ready(Err(e)) => {
                    this.over = true;
                    break Poll::Ready(Some(Err(e)));
                }
            }
        };
        this.scratch = batch;
        ready
    }
}
