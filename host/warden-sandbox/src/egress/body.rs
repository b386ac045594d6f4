//! Response and request bodies at the policy boundary: the response body is cut at the
//! request's deadline and at the size cap; the request body is counted and cut at its cap; a
//! request body hyper will not send is drained.
//!
//! Invariant: a response body handed to a guest never yields a byte after the deadline nor
//! more than the cap, and hyper never gets more request body bytes than the cap; a body that
//! failed stays ended, and going over a cap is recorded (which ends the call).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, WasiBody};

use super::stats::{EgressLimit, EgressStats};

/// Most bytes of a request body drained after hyper dropped it.
const DRAIN_MAX_BYTES: usize = 64 * 1024;
/// Longest time a drain task keeps a request body alive.
const DRAIN_MAX_TIME: Duration = Duration::from_secs(2);

/// A response body under the request's limits.
pub(crate) struct GuardedBody<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    /// The guest's between-bytes timeout, if it set one, and its running timer.
    between: Option<(Duration, Pin<Box<Sleep>>)>,
    received: u64,
    limit: u64,
    stats: Arc<EgressStats>,
    /// This request's own byte count, for its record in the call's usage.
    counter: Option<Arc<std::sync::atomic::AtomicU64>>,
    ended: bool,
}

impl<B> GuardedBody<B> {
    /// Also counts this body's bytes into `counter`.
    pub(crate) fn with_counter(mut self, counter: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.counter = Some(counter);
        self
    }

    pub(crate) fn new(
        inner: B,
        deadline: Instant,
        between_bytes: Option<Duration>,
        limit: u64,
        stats: Arc<EgressStats>,
    ) -> Self {
        GuardedBody {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            between: between_bytes.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            received: 0,
            limit,
            stats,
            counter: None,
            ended: false,
        }
    }

    fn fail(&mut self, err: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.ended = true;
        Poll::Ready(Some(Err(err)))
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        // The deadline wins over data that is ready at the same moment.
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(Error::HttpResponseTimeout);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    this.stats.record_bytes(len);
                    if let Some(counter) = &this.counter {
                        counter.fetch_add(len, std::sync::atomic::Ordering::SeqCst);
                    }
                    this.received = this.received.saturating_add(len);
                    if this.received > this.limit {
                        let limit = this.limit;
                        this.stats.record_limit(EgressLimit::ResponseBody { limit });
                        return this.fail(Error::HttpResponseBodySize(Some(this.received)));
                    }
                }
                if let Some((gap, timer)) = &mut this.between {
                    timer.as_mut().reset(Instant::now() + *gap);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                // The connection is closed at the deadline too; report that as the timeout.
                let err = if Instant::now() >= this.deadline.deadline() {
                    Error::HttpResponseTimeout
                } else {
                    err.into()
                };
                this.fail(err)
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let gap_elapsed = match &mut this.between {
                    Some((_, timer)) => timer.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if gap_elapsed {
                    this.fail(Error::ConnectionReadTimeout)
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A guest's request body on its way to hyper: counted as it is handed over, and failed with
/// `HttpRequestBodySize` (the limit hit recorded) before a frame would take it over the cap.
pub(crate) struct SendBody<B> {
    inner: B,
    sent: u64,
    limit: u64,
    stats: Arc<EgressStats>,
    ended: bool,
}

impl<B> SendBody<B> {
    pub(crate) fn new(inner: B, limit: u64, stats: Arc<EgressStats>) -> Self {
        SendBody {
            inner,
            sent: 0,
            limit,
            stats,
            ended: false,
        }
    }
}

impl<B> Body for SendBody<B>
where
    B: Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            let total = this.sent.saturating_add(len);
            if total > this.limit {
                this.ended = true;
                let limit = this.limit;
                this.stats.record_limit(EgressLimit::RequestBody { limit });
                return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(limit)))));
            }
            this.sent = total;
            this.stats.record_sent_bytes(len);
        }
        if !matches!(frame, Some(Ok(_))) {
            this.ended = true;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Keeps reading a request body hyper will not send (or a denied request's body) so the guest's
/// writes succeed and it sees the response or the error code instead of a reset; bounded.
pub(crate) fn drain_in_background(body: WasiBody) {
    tokio::spawn(async move {
        let mut body = body;
        let mut seen = 0usize;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                seen = seen.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                if seen > DRAIN_MAX_BYTES {
                    break;
                }
            }
        };
        // Ending early only drops the body: the guest's next write fails, as it would anyway.
        let _elapsed = tokio::time::timeout(DRAIN_MAX_TIME, drain).await;
    });
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    fn guarded<B>(inner: B, deadline_in: Duration, limit: u64) -> GuardedBody<B> {
        GuardedBody::new(
            inner,
            Instant::now() + deadline_in,
            None,
            limit,
            Arc::new(EgressStats::default()),
        )
    }

    #[tokio::test]
    async fn body_within_limits_passes_whole_and_is_counted() {
        let stats = Arc::new(EgressStats::default());
        let body = GuardedBody::new(
            Full::new(Bytes::from_static(b"hello")),
            Instant::now() + Duration::from_secs(30),
            None,
            5,
            stats.clone(),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert_eq!(stats.report().bytes_received, 5);
    }

    #[tokio::test]
    async fn body_over_the_cap_ends_with_body_size_error() {
        let body = guarded(
            Full::new(Bytes::from_static(b"hello!")),
            Duration::from_secs(30),
            5,
        );
        let err = body.collect().await.unwrap_err();
        assert!(
            matches!(err, Error::HttpResponseBodySize(Some(6))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn response_over_the_cap_records_the_limit_and_stops_the_call() {
        let stats = Arc::new(EgressStats::default());
        let body = GuardedBody::new(
            Full::new(Bytes::from_static(b"hello!")),
            Instant::now() + Duration::from_secs(30),
            None,
            5,
            stats.clone(),
        );
        assert!(body.collect().await.is_err());
        let report = stats.report();
        assert_eq!(
            report.limit_hit,
            Some(EgressLimit::ResponseBody { limit: 5 })
        );
        assert!(stats.stop_token().is_cancelled());
    }

    fn chunks(n: usize, size: usize) -> WasiBody {
        let chunk = Bytes::from(vec![b'u'; size]);
        let frames = futures::stream::iter((0..n).map(move |_| Ok(Frame::data(chunk.clone()))));
        StreamBody::new(frames).boxed_unsync()
    }

    #[tokio::test]
    async fn request_body_within_the_cap_is_passed_whole_and_counted() {
        let stats = Arc::new(EgressStats::default());
        let body = SendBody::new(chunks(4, 1000), 4000, stats.clone());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 4000);
        let report = stats.report();
        assert_eq!((report.bytes_sent, report.limit_hit), (4000, None));
    }

    #[tokio::test]
    async fn request_body_over_the_cap_fails_before_the_excess_is_handed_on() {
        let stats = Arc::new(EgressStats::default());
        let mut body = SendBody::new(chunks(10, 1000), 2500, stats.clone());
        let mut passed = 0;
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => passed += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(err)) => break err,
                None => panic!("the body ended without hitting its cap"),
            }
        };
        assert!(
            matches!(err, Error::HttpRequestBodySize(Some(2500))),
            "{err:?}"
        );
        assert_eq!(passed, 2000);
        assert!(body.frame().await.is_none(), "a failed body stays ended");
        let report = stats.report();
        assert_eq!(report.bytes_sent, 2000);
        assert_eq!(
            report.limit_hit,
            Some(EgressLimit::RequestBody { limit: 2500 })
        );
        assert!(stats.stop_token().is_cancelled());
    }

    #[tokio::test]
    async fn stalled_body_ends_at_the_deadline() {
        let never = StreamBody::new(futures::stream::pending::<Result<Frame<Bytes>, Error>>());
        let body = guarded(never, Duration::from_millis(50), 1024);
        let err = body.collect().await.unwrap_err();
        assert!(matches!(err, Error::HttpResponseTimeout), "{err:?}");
    }

    #[tokio::test]
    async fn guest_between_bytes_timeout_applies() {
        let never = StreamBody::new(futures::stream::pending::<Result<Frame<Bytes>, Error>>());
        let body = GuardedBody::new(
            never,
            Instant::now() + Duration::from_secs(30),
            Some(Duration::from_millis(20)),
            1024,
            Arc::new(EgressStats::default()),
        );
        let err = body.collect().await.unwrap_err();
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err:?}");
    }
}
