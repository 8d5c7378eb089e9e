//! When to try a request again, and how long to wait first.
//!
//! The rules, in one place (the README has them as a table):
//! - 429: Zoho did not process the request, so any method is retried, after
//!   `Retry-After` (seconds or an HTTP date), else `X-Rate-Limit-Reset`, else
//!   backoff. A wait above `max_retry_after` is not waited: the 429 goes back.
//! - 502/503/504, a reset connection or a timeout: only idempotent methods
//!   (GET HEAD OPTIONS PUT DELETE). A POST answered 503 may have been
//!   processed; duplicating a record is worse than an error.
//! - A connection that never reached Zoho (connect refused, TLS failure):
//!   any method.
//! - Only bodies the proxy kept (`replay_buffer`) can be sent again; within
//!   `max_attempts` tries and `budget` total time.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};

use crate::upstream::SendError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries per request, including the first.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_retry_after: Duration,
    /// Total time a request may spend retrying.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            budget: Duration::from_secs(120),
        }
    }
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Debug)]
pub enum Attempt<'a> {
    Answered {
        status: StatusCode,
        headers: &'a HeaderMap,
    },
    Failed(&'a SendError),
}

/// The decision after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Try again after `delay`; `reason` is for logs and metrics.
    Retry {
        delay: Duration,
        reason: &'static str,
    },
    /// Return what we have.
    Stop,
}

/// The wait after a 429 ([`RetryPolicy::after_429`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait429 {
    /// Zoho said how long (`Retry-After`, `X-Rate-Limit-Reset`).
    Asked(Duration),
    /// Zoho asked for more than `max_retry_after`: not waited, the 429 goes back.
    TooLong(Duration),
    /// Zoho did not say: backoff.
    Backoff(Duration),
}

impl Wait429 {
    /// How long the credential sends nothing: what Zoho asked for, at most
    /// `max_retry_after` (a longer wait is the client's to decide).
    pub fn cool_down(self, policy: &RetryPolicy) -> Duration {
        match self {
            Wait429::Asked(d) | Wait429::TooLong(d) | Wait429::Backoff(d) => {
                d.min(policy.max_retry_after)
            }
        }
    }
}

/// Where the request stands.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Tries made so far (1 after the first).
    pub attempts: u32,
    pub elapsed: Duration,
    /// Whether the body can be sent again.
    pub replayable: bool,
}

pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

impl RetryPolicy {
    pub fn next(
        &self,
        method: &Method,
        attempt: Attempt<'_>,
        progress: Progress,
        random: u64,
    ) -> Next {
        if !progress.replayable || progress.attempts >= self.max_attempts {
            return Next::Stop;
        }
        let backoff = self.backoff(progress.attempts, random);
        let (delay, reason) = match attempt {
            Attempt::Answered { status, headers } if status == StatusCode::TOO_MANY_REQUESTS => {
                match self.after_429(headers, progress.attempts, random) {
                    Wait429::TooLong(_) => return Next::Stop,
                    Wait429::Asked(d) | Wait429::Backoff(d) => (d, "429"),
                }
            }
            Attempt::Answered { status, .. } => {
                let reason = match status.as_u16() {
                    502 => "502",
                    503 => "503",
                    504 => "504",
                    _ => return Next::Stop,
                };
                if !is_idempotent(method) {
                    return Next::Stop;
                }
                (backoff, reason)
            }
            Attempt::Failed(SendError::Connect { .. }) => (backoff, "connect"),
            Attempt::Failed(e) if is_idempotent(method) => {
                let reason = match e {
                    SendError::Timeout { .. } => "timeout",
                    _ => "connection",
                };
                (backoff, reason)
            }
            Attempt::Failed(_) => return Next::Stop,
        };
        if progress.elapsed + delay > self.budget {
            return Next::Stop;
        }
        Next::Retry { delay, reason }
    }

    /// How long a 429 says to wait: Zoho's own figure ([`server_delay`]), else
    /// backoff. The one place this is decided: the retry above and the
    /// credential's cool-down (`proxy::exchange`, through [`Wait429::cool_down`])
    /// both ask here, with the same `random`, so they agree.
    pub fn after_429(&self, headers: &HeaderMap, attempts: u32, random: u64) -> Wait429 {
        match server_delay(headers, SystemTime::now()) {
            Some(d) if d > self.max_retry_after => Wait429::TooLong(d),
            Some(d) => Wait429::Asked(d),
            None => Wait429::Backoff(self.backoff(attempts, random)),
        }
    }

    /// Full jitter: uniform in [0, min(max_delay, base * 2^(attempts-1))].
    pub fn backoff(&self, attempts: u32, random: u64) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let cap = self.base_delay.saturating_mul(1 << exp).min(self.max_delay);
        let nanos = cap.as_nanos() as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }
}

/// The wait a 429 asks for: `Retry-After` (seconds or HTTP date), else
/// `X-Rate-Limit-Reset` (seconds from now, or a unix time in seconds).
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(when) = httpdate::parse_http_date(v) {
            return Some(when.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    // Header names are case-insensitive: this covers X-RATELIMIT-RESET too.
    let reset = text("x-rate-limit-reset").or_else(|| text("x-ratelimit-reset"))?;
    let n: u64 = reset.parse().ok()?;
    // Large values are a unix timestamp; small ones seconds from now.
    const YEAR_2001: u64 = 978_307_200;
    if n > YEAR_2001 {
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(n);
        Some(when.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Some(Duration::from_secs(n))
    }
}

#[cfg(test)]
mod tests;
