//! Retry policy: which answers are worth another attempt and how long to
//! wait before it.
//!
//! Waits grow exponentially from [`RetryConfig::initial_backoff`] with
//! "equal jitter" (half fixed, half random, so concurrent clients that
//! failed together spread out), each capped at
//! [`RetryConfig::max_backoff`]. A server's `Retry-After` wins over the
//! computed wait (capped too): seconds, or an HTTP date, which is measured
//! against the response's own `Date` header, so neither this machine's
//! clock nor clock skew matters. Without a `Date` header an HTTP date
//! falls back to the computed wait.
//!
//! The random part comes from std's per-process random hash keys, so no
//! RNG dependency and no clock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::DateTime;
use prometheus_http_query::reqwest::header::{DATE, HeaderMap, RETRY_AFTER};

use crate::config::RetryConfig;

/// The wait before retry number `retry` (1 for the first retry), given the
/// server's `Retry-After` if any.
pub(crate) fn delay(policy: &RetryConfig, retry: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(policy.max_backoff);
    }
    let base = exponential(policy, retry);
    // Equal jitter: [base/2, base).
    let half = base / 2;
    half + half.mul_f64(unit_random())
}

/// `initial_backoff × 2^(retry-1)`, capped at `max_backoff`.
fn exponential(policy: &RetryConfig, retry: u32) -> Duration {
    let factor = 2_u32.saturating_pow(retry.saturating_sub(1).min(30));
    policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff)
}

/// A number in [0, 1), different on every call.
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    // 53 random bits → an f64 in [0, 1).
    #[expect(clippy::cast_precision_loss, reason = "53-bit integer, exact")]
    let x = (h.finish() >> 11) as f64;
    x / (1_u64 << 53) as f64
}

/// The server's `Retry-After`, as a wait: delta-seconds, or an HTTP date
/// relative to the response's `Date`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let now = DateTime::parse_from_rfc2822(headers.get(DATE)?.to_str().ok()?.trim()).ok()?;
    // A date in the past means "now".
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Whether a 4xx answer is AMP (or another AWS API) throttling: the error
/// type header or a body naming `ThrottlingException`.
pub(crate) fn is_throttling(headers: &HeaderMap, body: &[u8]) -> bool {
    const MARK: &[u8] = b"ThrottlingException";
    headers
        .get("x-amzn-errortype")
        .is_some_and(|v| v.as_bytes().starts_with(MARK))
        || body.windows(MARK.len()).any(|w| w == MARK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_http_query::reqwest::header::HeaderValue;

    fn policy() -> RetryConfig {
        RetryConfig {
            enabled: true,
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        for retry in 1..=6 {
            let base = exponential(&p, retry);
            for _ in 0..200 {
                let d = delay(&p, retry, None);
                assert!(
                    d >= base / 2 && d < base,
                    "retry {retry}: {d:?} vs {base:?}"
                );
            }
        }
        assert_eq!(exponential(&p, 1), Duration::from_millis(100));
        assert_eq!(exponential(&p, 3), Duration::from_millis(400));
        assert_eq!(exponential(&p, 5), Duration::from_secs(1), "capped");
        assert_eq!(exponential(&p, 1000), Duration::from_secs(1), "no overflow");
        // Jitter varies.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| delay(&p, 4, None)).collect();
        assert!(samples.len() > 10, "{samples:?}");
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = policy();
        assert_eq!(
            delay(&p, 1, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(delay(&p, 1, Some(Duration::from_secs(3600))), p.max_backoff);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:05 GMT"),
        );
        assert_eq!(retry_after(&h), None, "a date needs the Date header");
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(5)));
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 08:00:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "past date");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn throttling_is_recognised() {
        let mut h = HeaderMap::new();
        assert!(is_throttling(
            &h,
            br#"{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}"#
        ));
        assert!(!is_throttling(&h, b"bad_data"));
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("ThrottlingException:http://internal.amazon.com/"),
        );
        assert!(is_throttling(&h, b""));
    }
}
