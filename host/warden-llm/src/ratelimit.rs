//! Client-side rate limiting per (endpoint, model): requests per minute and tokens per
//! minute, as token buckets refilled continuously, shared by every run in the process.
//!
//! Invariants: callers wait rather than fail; a token reservation made from an estimate is
//! corrected to the reported usage once known; a 429 pauses every caller of that model for
//! the provider's Retry-After and halves the request rate for a minute. The bucket math is
//! pure (takes `now`) so it is tested without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::config::RateLimits;
use super::notice::{LlmNotice, Notices};

/// How long a 429 halves the request rate.
const PENALTY: Duration = Duration::from_secs(60);
/// Pause after a 429 that gave no Retry-After.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause a 429 imposes (the longest configurable Retry-After cap).
const MAX_PAUSE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A wait of `secs` seconds, whatever the number (NaN or huge after odd settlements):
/// never more than a minute's refill could need twice over, never a panic.
fn wait_secs(secs: f64) -> Duration {
    const MAX_WAIT: Duration = Duration::from_secs(120);
    Duration::try_from_secs_f64(secs).map_or(MAX_WAIT, |d| d.min(MAX_WAIT))
}

#[derive(Debug)]
struct Buckets {
    limits: RateLimits,
    requests: f64,
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
    penalty_until: Option<Instant>,
}

/// Why a caller has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Requests,
    Tokens,
    Paused,
}

impl Buckets {
    fn new(limits: RateLimits, now: Instant) -> Self {
        Buckets {
            limits,
            requests: f64::from(limits.rpm),
            tokens: f64::from(limits.tpm),
            last: now,
            paused_until: None,
            penalty_until: None,
        }
    }

    fn effective_rpm(&self, now: Instant) -> f64 {
        let rpm = f64::from(self.limits.rpm);
        match self.penalty_until {
            Some(t) if now < t => (rpm / 2.0).max(1.0),
            _ => rpm,
        }
    }

    fn refill(&mut self, now: Instant) {
        // `last` may lie in the future (the end of a 429 pause): nothing refills before it.
        if now <= self.last {
            return;
        }
        let dt = (now - self.last).as_secs_f64();
        self.last = now;
        let rpm = self.effective_rpm(now);
        self.requests = (self.requests + dt * rpm / 60.0).min(rpm);
        let tpm = f64::from(self.limits.tpm);
        self.tokens = (self.tokens + dt * tpm / 60.0).min(tpm);
    }

    /// Takes one request and `tokens` tokens, or says how long to wait first.
    fn try_acquire(&mut self, tokens: u64, now: Instant) -> Result<u64, (Duration, Cause)> {
        if let Some(until) = self.paused_until {
            if now < until {
                return Err((until - now, Cause::Paused));
            }
            self.paused_until = None;
        }
        self.refill(now);
        let rpm = self.effective_rpm(now);
        if self.limits.rpm > 0 && self.requests < 1.0 {
            let secs = (1.0 - self.requests) * 60.0 / rpm;
            return Err((wait_secs(secs), Cause::Requests));
        }
        // A request bigger than the whole budget would wait forever: clamp it to the budget.
        let want = if self.limits.tpm > 0 {
            tokens.min(u64::from(self.limits.tpm))
        } else {
            0
        };
        if self.limits.tpm > 0 && self.tokens < want as f64 {
            let secs = (want as f64 - self.tokens) * 60.0 / f64::from(self.limits.tpm);
            return Err((wait_secs(secs), Cause::Tokens));
        }
        if self.limits.rpm > 0 {
            self.requests -= 1.0;
        }
        self.tokens -= want as f64;
        Ok(want)
    }

    fn settle(&mut self, reserved: u64, actual: u64) {
        if self.limits.tpm > 0 {
            let tpm = f64::from(self.limits.tpm);
            // May go negative: usage above the estimate is a debt repaid by later refills,
            // of at most one minute's budget whatever usage a server reports.
            self.tokens = (self.tokens + reserved as f64 - actual as f64).clamp(-tpm, tpm);
        }
    }

    fn penalize(&mut self, retry_after: Option<Duration>, now: Instant) {
        self.refill(now);
        // The core caps a server's wait (`retry.max_retry_after_ms`); capped here too, so
        // no wait can overflow the clock.
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
        let until = now + pause;
        // The buckets start refilling only when the pause ends.
        self.last = self.last.max(until);
        self.tokens = self.tokens.min(0.0);
        self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
        self.penalty_until = Some(until + PENALTY);
        self.requests = self.requests.min(0.0);
    }
}

/// A limiter shared by all users of one (endpoint, model).
#[derive(Debug)]
pub struct Limiter {
    buckets: Mutex<Buckets>,
    /// Wakes waiters when a settlement returns tokens, so they need not sleep out a refill.
    freed: tokio::sync::Notify,
}

/// Tokens reserved for one request; hand it back to [`Limiter::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub tokens: u64,
}

impl Limiter {
    /// A limiter with full buckets.
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            buckets: Mutex::new(Buckets::new(limits, Instant::now())),
            freed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        // The buckets hold plain numbers: a panic elsewhere cannot leave them inconsistent.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request estimated at `tokens` may go, then reserves it. Emits one
    /// `RateLimitWait` notice if it had to wait.
    pub async fn acquire(&self, tokens: u64, notices: &Notices) -> Reservation {
        let start = Instant::now();
        let mut cause = None;
        loop {
            // Created before the check: a settlement between check and wait still wakes us.
            let freed = self.freed.notified();
            let attempt = self.lock().try_acquire(tokens, Instant::now());
            match attempt {
                Ok(reserved) => {
                    if let Some(cause) = cause {
                        let limits = self.lock().limits;
                        notices.emit(LlmNotice::RateLimitWait {
                            waited: start.elapsed(),
                            reason: describe(cause, limits),
                        });
                    }
                    return Reservation { tokens: reserved };
                }
                Err((wait, why)) => {
                    cause = Some(why);
                    tokio::select! {
                        _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
                        _ = freed => {}
                    }
                }
            }
        }
    }

    /// Corrects a reservation to the tokens actually used (0 when the request failed).
    pub fn settle(&self, reservation: Reservation, actual_tokens: u64) {
        self.lock().settle(reservation.tokens, actual_tokens);
        if actual_tokens < reservation.tokens {
            self.freed.notify_waiters();
        }
    }

    /// A 429 arrived: pause all callers and halve the request rate for a while.
    pub fn penalize(&self, retry_after: Option<Duration>) {
        self.lock().penalize(retry_after, Instant::now());
    }
}

fn describe(cause: Cause, limits: RateLimits) -> String {
    match cause {
        Cause::Requests => format!("client limit of {} requests per minute", limits.rpm),
        Cause::Tokens => format!("client limit of {} tokens per minute", limits.tpm),
        Cause::Paused => "the provider answered 429; all requests to this model pause".into(),
    }
}

type Registry = Mutex<HashMap<(String, String), Arc<Limiter>>>;

/// The process-wide limiter for (endpoint, model). The limits of the latest config win.
pub fn shared(endpoint: &str, model: &str, limits: RateLimits) -> Arc<Limiter> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = registry.lock().unwrap_or_else(|e| e.into_inner());
    let limiter = map
        .entry((endpoint.to_string(), model.to_string()))
        .or_insert_with(|| Arc::new(Limiter::new(limits)))
        .clone();
    drop(map);
    {
        let mut b = limiter.lock();
        if b.limits != limits {
            *b = Buckets::new(limits, Instant::now());
        }
    }
    limiter
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn limits(rpm: u32, tpm: u32) -> RateLimits {
        RateLimits { rpm, tpm }
    }

    #[test]
    fn unlimited_never_waits() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(0, 0), t0);
        for _ in 0..10_000 {
            assert!(b.try_acquire(1_000_000, t0).is_ok());
        }
    }

    #[test]
    fn rpm_allows_a_burst_then_spaces_requests() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(60, 0), t0);
        for _ in 0..60 {
            b.try_acquire(0, t0).unwrap();
        }
        let (wait, cause) = b.try_acquire(0, t0).unwrap_err();
        assert_eq!(cause, Cause::Requests);
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
        assert!(b.try_acquire(0, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn tpm_waits_for_tokens_and_settle_corrects_the_estimate() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(0, 6000), t0);
        let r = b.try_acquire(5000, t0).unwrap();
        assert_eq!(r, 5000);
        let (wait, cause) = b.try_acquire(2000, t0).unwrap_err();
        assert_eq!(cause, Cause::Tokens);
        assert!((wait.as_secs_f64() - 10.0).abs() < 1e-6, "{wait:?}");
        // The request used only 1000 tokens: 4000 come back and the next one fits.
        b.settle(r, 1000);
        assert!(b.try_acquire(2000, t0).is_ok());
    }

    #[test]
    fn usage_above_the_estimate_becomes_debt() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(0, 600), t0);
        let r = b.try_acquire(100, t0).unwrap();
        b.settle(r, 1100);
        let (wait, _) = b.try_acquire(1, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 50.1).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn absurd_reported_usage_never_panics_and_is_a_bounded_debt() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(0, 1), t0);
        let r = b.try_acquire(1, t0).unwrap();
        // A server reports u64::MAX tokens: the debt is one minute's budget, not forever.
        b.settle(r, u64::MAX);
        let (wait, cause) = b.try_acquire(1, t0).unwrap_err();
        assert_eq!(cause, Cause::Tokens);
        assert_eq!(wait, Duration::from_secs(120));
        assert!(b.try_acquire(1, t0 + Duration::from_secs(120)).is_ok());
        b.penalize(Some(Duration::MAX), t0);
        let (wait, _) = b.try_acquire(1, t0).unwrap_err();
        assert_eq!(wait, MAX_PAUSE);
    }

    #[test]
    fn oversized_request_is_clamped_to_the_budget() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(0, 100), t0);
        assert_eq!(b.try_acquire(1000, t0).unwrap(), 100);
    }

    #[test]
    fn a_429_pauses_everyone_and_halves_the_rate() {
        let t0 = Instant::now();
        let mut b = Buckets::new(limits(120, 0), t0);
        b.penalize(Some(Duration::from_secs(3)), t0);
        let (wait, cause) = b.try_acquire(0, t0).unwrap_err();
        assert_eq!(cause, Cause::Paused);
        assert_eq!(wait, Duration::from_secs(3));
        // After the pause the bucket is empty and refills at 60/min instead of 120/min.
        let t1 = t0 + Duration::from_secs(3);
        let (wait, cause) = b.try_acquire(0, t1).unwrap_err();
        assert_eq!(cause, Cause::Requests);
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn shared_limiter_is_one_per_endpoint_and_model() {
        let a = shared("http://x", "m-shared-test", limits(10, 0));
        let b = shared("http://x", "m-shared-test", limits(10, 0));
        let c = shared("http://x", "other-model", limits(10, 0));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
