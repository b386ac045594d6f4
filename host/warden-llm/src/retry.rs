//! Retry decisions as pure functions: which statuses are transient, how long to back
//! off (exponential with jitter), and how to read `Retry-After` / `retry-after-ms`.
//!
//! Invariants: nothing here sleeps or does IO; the core asks and then waits. Nothing here
//! panics or overflows, whatever a server's headers say: a wait is a [`Duration`] within
//! the configured cap, or a [`ServerWait::TooLong`] that fails the call.

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
    // Finite and within the policy's cap; a NaN from a degenerate policy waits the cap.
    let ms = base_ms * (0.5 + 0.5 * jitter);
    Duration::try_from_secs_f64(ms / 1000.0)
        .unwrap_or_else(|_| Duration::from_millis(policy.max_backoff_ms))
}

/// What a server's retry headers asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerWait {
    /// A wait within the cap.
    Wait(Duration),
    /// A wait longer than the cap, or too long to represent: the header and its value as
    /// sent (at most [`SHOWN_VALUE_CHARS`] characters of it).
    TooLong { header: &'static str, value: String },
}

/// How much of a header value an error quotes.
pub const SHOWN_VALUE_CHARS: usize = 40;

/// The server's requested wait, from `retry-after-ms` (milliseconds, preferred when present,
/// as sent by OpenAI) or `Retry-After` (delta-seconds or an HTTP date). `now` anchors dates.
/// A wait above `cap` is [`ServerWait::TooLong`]; an unreadable, negative or NaN value is
/// ignored (`None`), as if the header were absent. Never panics, whatever the values.
pub fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
    cap: Duration,
) -> Option<ServerWait> {
    let judge = |header: &'static str, value: &str, wait: Option<Duration>| match wait {
        Some(d) if d <= cap => ServerWait::Wait(d),
        _ => ServerWait::TooLong {
            header,
            value: value.chars().take(SHOWN_VALUE_CHARS).collect(),
        },
    };
    if let Some(raw) = retry_after_ms {
        let value = raw.trim();
        if let Some(ms) = number(value) {
            return Some(judge("retry-after-ms", value, seconds(ms / 1000.0)));
        }
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return number(value).map(|_| judge("Retry-After", value, seconds(secs)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now".
    let wait = when.duration_since(now).unwrap_or(Duration::ZERO);
    Some(judge("Retry-After", value, Some(wait)))
}

/// A wait given as a number: not negative, not NaN (infinity is a wait too long).
fn number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|v| *v >= 0.0)
}

/// `secs` as a duration; `None` when it is too long to represent (or infinite).
fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
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
        && elapsed
            .checked_add(delay)
            .is_some_and(|end| end <= Duration::from_millis(policy.max_total_ms))
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
            max_retry_after_ms: 60_000,
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

    const CAP: Duration = Duration::from_secs(60);

    fn wait(d: Duration) -> Option<ServerWait> {
        Some(ServerWait::Wait(d))
    }

    #[test]
    fn retry_after_seconds_ms_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |ms, secs| parse_retry_after(ms, secs, now, CAP);
        assert_eq!(parse(None, Some("2")), wait(Duration::from_secs(2)));
        assert_eq!(
            parse(Some("150"), Some("2")),
            wait(Duration::from_millis(150))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse(None, Some(&date)), wait(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse(None, Some(&past)), wait(Duration::ZERO));
        assert_eq!(parse(None, Some("soon")), None);
        assert_eq!(parse(Some("x"), None), None);
        assert_eq!(parse(None, Some("-3")), None);
        assert_eq!(parse(None, Some("NaN")), None);
        // An unreadable retry-after-ms leaves the decision to Retry-After.
        assert_eq!(parse(Some("-1"), Some("1")), wait(Duration::from_secs(1)));
    }

    #[test]
    fn waits_beyond_the_cap_or_any_duration_are_too_long() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |ms, secs| parse_retry_after(ms, secs, now, CAP);
        let too_long = |header, value: &str| {
            Some(ServerWait::TooLong {
                header,
                value: value.into(),
            })
        };
        assert_eq!(parse(None, Some("1e20")), too_long("Retry-After", "1e20"));
        assert_eq!(parse(None, Some("inf")), too_long("Retry-After", "inf"));
        assert_eq!(parse(None, Some("61")), too_long("Retry-After", "61"));
        assert_eq!(parse(None, Some("60")), wait(CAP));
        assert_eq!(
            parse(Some("1e300"), None),
            too_long("retry-after-ms", "1e300")
        );
        assert_eq!(
            parse(Some("60001"), Some("1")),
            too_long("retry-after-ms", "60001")
        );
        let far =
            httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(253_000_000_000));
        assert_eq!(parse(None, Some(&far)), too_long("Retry-After", &far));
        let long = "9".repeat(400);
        assert_eq!(
            parse(None, Some(&long)),
            too_long("Retry-After", &long[..SHOWN_VALUE_CHARS])
        );
    }

    proptest::proptest! {
        /// Any header values, of any length and content: no panic, and a wait is never
        /// beyond the cap.
        #[test]
        fn any_header_values_parse_without_panic(
            ms in proptest::option::of(proptest::prelude::any::<String>()),
            secs in proptest::option::of(proptest::prelude::any::<String>()),
            cap_ms in 0u64..=u64::MAX,
            now_secs in 0u64..=400_000_000_000,
        ) {
            let now = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(now_secs));
            let cap = Duration::from_millis(cap_ms);
            if let Some(now) = now
                && let Some(ServerWait::Wait(d)) =
                    parse_retry_after(ms.as_deref(), secs.as_deref(), now, cap)
            {
                proptest::prop_assert!(d <= cap);
            }
        }

        /// Numbers in every notation (huge, tiny, negative, exponents, NaN, infinities).
        #[test]
        fn any_numbers_parse_without_panic(
            value in proptest::prelude::any::<f64>(),
            text in "[-+]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][-+]?[0-9]{1,4})?",
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            for v in [value.to_string(), format!("{value:e}"), text] {
                for got in [
                    parse_retry_after(Some(&v), None, now, CAP),
                    parse_retry_after(None, Some(&v), now, CAP),
                ] {
                    if let Some(ServerWait::Wait(d)) = got {
                        proptest::prop_assert!(d <= CAP);
                    }
                }
            }
        }
    }

    #[test]
    fn a_huge_delay_never_overflows_the_total_time_check() {
        let p = policy();
        assert!(!may_retry(&p, 1, Duration::MAX, Duration::MAX));
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
