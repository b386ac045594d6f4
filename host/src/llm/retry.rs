//! Retry decisions as pure functions: which statuses are transient, how long to back
//! off (exponential with jitter), and how to read `Retry-After` / `retry-after-ms`.
//!
//! Invariant: nothing here sleeps or does IO; the core asks and then waits.

use std::time::{Duration, SystemTime};

use super::config::RetryPolicy;

/// Statuses worth another attempt: timeouts, conflicts, rate limits, gateway trouble and
/// Anthropic's 529 "overloaded".
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// The delay before attempt `attempt + 1` after `attempt` failures (1-based), computed by
/// the policy. `jitter` in [0, 1) picks a point in the upper half of the window ("equal
/// jitter"), so concurrent clients spread out but never retry at once.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = policy
        .multiplier
        .powi(attempt.saturating_sub(1).min(64) as i32);
    let base_ms = (policy.initial_backoff_ms as f64 * exp).min(policy.max_backoff_ms as f64);
    let jitter = jitter.clamp(0.0, 1.0);
    Duration::from_secs_f64(base_ms * (0.5 + 0.5 * jitter) / 1000.0)
}

/// The server's requested wait, from `retry-after-ms` (milliseconds, preferred when present,
/// as sent by OpenAI) or `Retry-After` (delta-seconds or an HTTP date). `now` anchors dates.
pub fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now".
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether another attempt may start: attempts left and the total-time cap not reached
/// once the delay has passed.
pub fn may_retry(
    policy: &RetryPolicy,
    attempts_made: u32,
    elapsed: Duration,
    delay: Duration,
) -> bool {
    attempts_made < policy.max_attempts
        && elapsed + delay <= Duration::from_millis(policy.max_total_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            multiplier: 2.0,
            max_total_ms: 5000,
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&p, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&p, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(&p, 5, 1.0), Duration::from_millis(1000));
        assert_eq!(backoff(&p, 50, 1.0), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_window() {
        let p = policy();
        assert_eq!(backoff(&p, 2, 0.0), Duration::from_millis(100));
        let mid = backoff(&p, 2, 0.5);
        assert!(mid > Duration::from_millis(100) && mid < Duration::from_millis(200));
    }

    #[test]
    fn retry_after_seconds_ms_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(None, Some("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(Some("150"), Some("2"), now),
            Some(Duration::from_millis(150))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(None, Some(&date), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(None, Some(&past), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(None, Some("soon"), now), None);
        assert_eq!(parse_retry_after(Some("x"), None, now), None);
        assert_eq!(parse_retry_after(None, Some("-3"), now), None);
    }

    #[test]
    fn statuses_classified_as_the_providers_document() {
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 422, 501] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn attempt_and_total_time_caps() {
        let p = policy();
        assert!(may_retry(&p, 3, Duration::ZERO, Duration::from_millis(10)));
        assert!(!may_retry(&p, 4, Duration::ZERO, Duration::from_millis(10)));
        assert!(!may_retry(
            &p,
            1,
            Duration::from_millis(4990),
            Duration::from_millis(20)
        ));
    }
}
