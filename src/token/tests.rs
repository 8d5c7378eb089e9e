//! Token manager behaviour on tokio's paused clock, against a scripted source.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use super::*;

/// Answers from a script, then good tokens of `lifetime`; counts calls.
struct Scripted {
    calls: Arc<AtomicUsize>,
    script: Mutex<VecDeque<Result<(), TokenError>>>,
    lifetime: Duration,
    latency: Duration,
}

impl TokenSource for Scripted {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<TokenGrant, TokenError>> + Send + '_>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.latency).await;
            let next = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
            next.map(|()| TokenGrant {
                access_token: Secret::new(format!("tok-{n}")),
                expires_in: self.lifetime,
                api_domain: None,
                scope: None,
            })
        })
    }
}

fn manager(
    lifetime_secs: u64,
    script: Vec<Result<(), TokenError>>,
    budget: u32,
) -> (Arc<TokenManager>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = Scripted {
        calls: calls.clone(),
        script: Mutex::new(script.into()),
        lifetime: Duration::from_secs(lifetime_secs),
        latency: Duration::from_millis(200),
    };
    let settings = TokenSettings {
        refresh_before_expiry: Duration::from_secs(300),
        budget,
    };
    (Arc::new(TokenManager::new(source, settings)), calls)
}

fn rejected() -> TokenError {
    TokenError::Rejected {
        code: "invalid_client".into(),
        description: None,
    }
}

fn calls(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn forty_concurrent_cold_requests_make_one_token_request() {
    let (m, count) = manager(3600, vec![], 10);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            tokio::spawn({
                let m = m.clone();
                async move { m.token().await }
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().expose(), "tok-1");
    }
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn background_loop_refreshes_ahead_of_expiry() {
    let (m, count) = manager(3600, vec![], 10);
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(m.clone().run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(&count), 1, "the loop fetches a token at start");
    let first = m.current().unwrap();
    assert_eq!(
        first.refresh_at - first.obtained_at,
        Duration::from_secs(3300)
    );
    tokio::time::sleep(Duration::from_secs(3290)).await;
    assert_eq!(
        calls(&count),
        1,
        "not before expiry - refresh_before_expiry"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(calls(&count), 2);
    let second = m.current().unwrap();
    assert_eq!(second.expose(), "tok-2");
    assert!(second.generation > first.generation);
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_refresh_at_half_life() {
    let (m, count) = manager(400, vec![], 10);
    let t = m.token().await.unwrap();
    assert_eq!(t.refresh_at - t.obtained_at, Duration::from_secs(200));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(m.clone().run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(199)).await;
    assert_eq!(calls(&count), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_and_callers_fail_fast_meanwhile() {
    let (m, count) = manager(3600, vec![Err(rejected()); 10], 10);
    let e = m.token().await.unwrap_err();
    assert!(matches!(e, TokenError::Rejected { .. }), "{e:?}");
    assert_eq!(calls(&count), 1);
    // Within the 1 s backoff: no new request, the last error is reported.
    let e = m.token().await.unwrap_err();
    assert!(
        matches!(&e, TokenError::BackingOff { last, .. } if last.zoho_code() == Some("invalid_client")),
        "{e:?}"
    );
    assert!(e.to_string().contains("invalid_client"), "{e}");
    assert_eq!(calls(&count), 1);
    let mut expected = vec![];
    let mut observed = vec![];
    for n in 2..=8u32 {
        // Find when the next attempt is allowed by stepping one second at a time.
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if m.token().await.is_err() && calls(&count) == n as usize {
                break;
            }
        }
        observed.push((Instant::now() - start).as_secs());
        expected.push(backoff(n - 1).as_secs());
    }
    assert_eq!(observed, expected, "1,2,4,8,16,32,60");
    assert_eq!(expected.last(), Some(&60));
}

#[tokio::test(start_paused = true)]
async fn throttling_waits_out_the_ten_minute_window() {
    let (m, count) = manager(
        3600,
        vec![Err(TokenError::Throttled { description: None })],
        10,
    );
    assert!(matches!(m.token().await, Err(TokenError::Throttled { .. })));
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert!(matches!(
        m.token().await,
        Err(TokenError::BackingOff { .. })
    ));
    assert_eq!(calls(&count), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(m.token().await.unwrap().expose(), "tok-2");
}

#[tokio::test(start_paused = true)]
async fn the_local_budget_is_never_exceeded() {
    let (m, count) = manager(3600, vec![], 3);
    for _ in 0..3 {
        let t = m.token().await.unwrap();
        m.replace_rejected(&t).await.ok();
    }
    assert_eq!(calls(&count), 3);
    let t = m.current();
    assert!(
        t.is_none(),
        "the last token was rejected and the budget is spent"
    );
    let e = m.token().await.unwrap_err();
    assert!(
        matches!(e, TokenError::BudgetExhausted { limit: 3, .. }),
        "{e:?}"
    );
    assert!(e.retry_in().unwrap() <= TOKEN_WINDOW);
    assert_eq!(calls(&count), 3);
    tokio::time::sleep(TOKEN_WINDOW).await;
    assert!(m.token().await.is_ok());
    assert_eq!(calls(&count), 4);
}

#[tokio::test(start_paused = true)]
async fn a_401_refreshes_only_if_the_rejected_token_is_still_current() {
    let (m, count) = manager(3600, vec![], 10);
    let old = m.token().await.unwrap();
    let new = m.replace_rejected(&old).await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_ne!(new.generation, old.generation);
    // A second request that was also rejected with the old token must not refresh again.
    let again = m.replace_rejected(&old).await.unwrap();
    assert_eq!(again.generation, new.generation);
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn the_loop_retries_after_failures_until_it_gets_a_token() {
    let (m, count) = manager(
        3600,
        vec![Err(rejected()), Err(TokenError::BadStatus { status: 500 })],
        10,
    );
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(m.clone().run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(m.current().is_none());
    // 1 s then 2 s of backoff, plus request latency.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(calls(&count), 3);
    assert_eq!(m.current().unwrap().expose(), "tok-3");
}

#[test]
fn debug_output_never_contains_the_token() {
    let t = AccessToken {
        secret: Secret::new("1000.supersecret"),
        generation: 1,
        obtained_at: Instant::now(),
        expires_at: Instant::now(),
        refresh_at: Instant::now(),
        api_domain: None,
        scope: None,
        granted: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let text = rt.block_on(async { format!("{t:?}") });
    assert!(!text.contains("supersecret"), "{text}");
}
