//! Retry rules, backoff and `Retry-After` parsing; the waits themselves run on
//! tokio's paused clock so they take no real time and are exact.

use super::*;
use http::HeaderValue;
use tokio::time::Instant;

fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

fn progress(attempts: u32) -> Progress {
    Progress {
        attempts,
        elapsed: Duration::ZERO,
        replayable: true,
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn answered(status: u16, method: Method, h: &HeaderMap, p: Progress) -> Next {
    policy().next(
        &method,
        Attempt::Answered {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
        },
        p,
        7,
    )
}

#[test]
fn a_429_is_retried_for_any_method_after_retry_after() {
    let h = headers(&[("retry-after", "2")]);
    for m in [Method::GET, Method::POST, Method::PATCH] {
        assert_eq!(
            answered(429, m, &h, progress(1)),
            Next::Retry {
                delay: Duration::from_secs(2),
                reason: "429",
            }
        );
    }
}

#[test]
fn a_retry_after_above_the_cap_is_passed_on() {
    let h = headers(&[("retry-after", "61")]);
    assert_eq!(answered(429, Method::GET, &h, progress(1)), Next::Stop);
}

#[test]
fn the_cool_down_after_a_429_is_the_retry_delay_capped_at_max_retry_after() {
    let p = policy();
    let asked = p.after_429(&headers(&[("retry-after", "2")]), 1, 7);
    assert_eq!(asked, Wait429::Asked(Duration::from_secs(2)));
    assert_eq!(asked.cool_down(&p), Duration::from_secs(2));

    let too_long = p.after_429(&headers(&[("retry-after", "600")]), 1, 7);
    assert_eq!(too_long, Wait429::TooLong(Duration::from_secs(600)));
    assert_eq!(too_long.cool_down(&p), p.max_retry_after);

    // Without Zoho's figure: the same jittered backoff the retry waits.
    let none = HeaderMap::new();
    let backoff = p.after_429(&none, 2, 12_345);
    assert_eq!(backoff, Wait429::Backoff(p.backoff(2, 12_345)));
    assert_eq!(
        Next::Retry {
            delay: backoff.cool_down(&p),
            reason: "429"
        },
        p.next(
            &Method::POST,
            Attempt::Answered {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers: &none,
            },
            progress(2),
            12_345,
        )
    );
}

#[test]
fn server_errors_are_retried_only_for_idempotent_methods() {
    let h = HeaderMap::new();
    for status in [502, 503, 504] {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(
                matches!(
                    answered(status, m.clone(), &h, progress(1)),
                    Next::Retry { .. }
                ),
                "{status} {m}"
            );
        }
        for m in [Method::POST, Method::PATCH] {
            assert_eq!(
                answered(status, m.clone(), &h, progress(1)),
                Next::Stop,
                "{status} {m}: may have been processed"
            );
        }
    }
    for status in [200, 400, 401, 404, 500] {
        assert_eq!(
            answered(status, Method::GET, &h, progress(1)),
            Next::Stop,
            "{status}"
        );
    }
}

#[test]
fn failures_before_zoho_are_retried_for_any_method_others_only_if_idempotent() {
    let connect = SendError::Connect {
        host: "h".into(),
        reason: "refused".into(),
    };
    let reset = SendError::Exchange {
        host: "h".into(),
        reason: "reset".into(),
    };
    let timeout = SendError::Timeout {
        host: "h".into(),
        after: Duration::from_secs(1),
    };
    let p = progress(1);
    assert!(matches!(
        policy().next(&Method::POST, Attempt::Failed(&connect), p, 1),
        Next::Retry {
            reason: "connect",
            ..
        }
    ));
    assert_eq!(
        policy().next(&Method::POST, Attempt::Failed(&reset), p, 1),
        Next::Stop
    );
    assert_eq!(
        policy().next(&Method::PATCH, Attempt::Failed(&timeout), p, 1),
        Next::Stop
    );
    assert!(matches!(
        policy().next(&Method::GET, Attempt::Failed(&reset), p, 1),
        Next::Retry {
            reason: "connection",
            ..
        }
    ));
    assert!(matches!(
        policy().next(&Method::PUT, Attempt::Failed(&timeout), p, 1),
        Next::Retry {
            reason: "timeout",
            ..
        }
    ));
}

#[test]
fn attempts_budget_and_unreplayable_bodies_stop_retries() {
    let h = headers(&[("retry-after", "1")]);
    assert!(matches!(
        answered(429, Method::GET, &h, progress(2)),
        Next::Retry { .. }
    ));
    assert_eq!(
        answered(429, Method::GET, &h, progress(3)),
        Next::Stop,
        "max_attempts = 3 tries in all"
    );
    let late = Progress {
        attempts: 1,
        elapsed: Duration::from_secs(119) + Duration::from_millis(500),
        replayable: true,
    };
    assert_eq!(
        answered(429, Method::GET, &h, late),
        Next::Stop,
        "over the 120 s budget"
    );
    let streamed = Progress {
        attempts: 1,
        elapsed: Duration::ZERO,
        replayable: false,
    };
    assert_eq!(
        answered(503, Method::GET, &HeaderMap::new(), streamed),
        Next::Stop
    );
}

#[test]
fn backoff_is_full_jitter_doubling_and_capped() {
    let p = policy();
    assert_eq!(p.backoff(1, 0), Duration::ZERO);
    let max = |attempts| p.backoff(attempts, u64::MAX - 1);
    // u64::MAX - 1 modulo (cap + 1) is close to cap: check the caps exactly.
    for (attempts, cap) in [
        (1, 250),
        (2, 500),
        (3, 1000),
        (4, 2000),
        (10, 30_000),
        (40, 30_000),
    ] {
        let cap = Duration::from_millis(cap);
        for r in [0, 1, 12345, 987654321, u64::MAX] {
            assert!(p.backoff(attempts, r) <= cap, "attempt {attempts}");
        }
        assert!(max(attempts) <= cap);
    }
    let nanos_250ms = 250_000_000u64;
    assert_eq!(p.backoff(1, nanos_250ms), Duration::from_millis(250));
    assert_eq!(
        p.backoff(1, nanos_250ms + 1),
        Duration::ZERO,
        "wraps: uniform over [0, cap]"
    );
}

#[test]
fn retry_after_parses_seconds_http_dates_and_rate_limit_reset() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        server_delay(&headers(&[("retry-after", "2")]), now),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        server_delay(&headers(&[("retry-after", " 0 ")]), now),
        Some(Duration::ZERO)
    );
    let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
    assert_eq!(
        server_delay(&headers(&[("retry-after", &in_90s)]), now),
        Some(Duration::from_secs(90))
    );
    let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
    assert_eq!(
        server_delay(&headers(&[("retry-after", &past)]), now),
        Some(Duration::ZERO)
    );
    assert_eq!(
        server_delay(&headers(&[("x-rate-limit-reset", "30")]), now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        server_delay(&headers(&[("X-RATELIMIT-RESET", "1700000045")]), now),
        Some(Duration::from_secs(45))
    );
    assert_eq!(
        server_delay(
            &headers(&[("retry-after", "soon"), ("x-rate-limit-reset", "5")]),
            now
        ),
        Some(Duration::from_secs(5)),
        "an unparseable Retry-After falls back to the reset header"
    );
    assert_eq!(
        server_delay(&headers(&[("retry-after", "soon")]), now),
        None
    );
    assert_eq!(server_delay(&HeaderMap::new(), now), None);
}

#[tokio::test(start_paused = true)]
async fn the_waits_are_exact_on_the_paused_clock() {
    let h = headers(&[("retry-after", "2")]);
    let start = Instant::now();
    let mut attempts = 1;
    while let Next::Retry { delay, .. } = answered(429, Method::GET, &h, progress(attempts)) {
        tokio::time::sleep(delay).await;
        attempts += 1;
    }
    assert_eq!(attempts, 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(4),
        "two waits of Retry-After: 2"
    );

    let p = policy();
    let start = Instant::now();
    for attempts in 1..=4 {
        tokio::time::sleep(p.backoff(attempts, u64::MAX)).await;
    }
    assert!(start.elapsed() <= Duration::from_millis(250 + 500 + 1000 + 2000));
}
