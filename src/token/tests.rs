//! Token manager behaviour on tokio's paused clock, against a scripted source.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use super::*;

/// Answers from a script, then good tokens of `lifetime`; counts calls and
/// remembers when each token request was answered.
struct Scripted {
    calls: Arc<AtomicUsize>,
    script: Mutex<VecDeque<Result<(), TokenError>>>,
    lifetime: Duration,
    latency: Duration,
    /// Refuses connections until then (nothing reaches "Zoho").
    down_until: Option<Instant>,
    /// Never answers.
    hung: bool,
    /// When each request reached "Zoho" (connection refusals excluded).
    reached: Arc<Mutex<Vec<Instant>>>,
}

impl TokenSource for Scripted {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<TokenGrant, TokenError>> + Send + '_>> {
        Box::pin(async move {
            if self.down_until.is_some_and(|t| Instant::now() < t) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                return Err(TokenError::Unreachable("connection refused".into()));
            }
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            self.reached.lock().unwrap().push(Instant::now());
            if self.hung {
                std::future::pending::<()>().await;
            }
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

impl Scripted {
    fn new(lifetime: Duration, script: Vec<Result<(), TokenError>>) -> Self {
        Scripted {
            calls: Arc::new(AtomicUsize::new(0)),
            script: Mutex::new(script.into()),
            lifetime,
            latency: Duration::from_millis(200),
            down_until: None,
            hung: false,
            reached: Arc::default(),
        }
    }
}

fn manager(
    lifetime_secs: u64,
    script: Vec<Result<(), TokenError>>,
    budget: u32,
) -> (Arc<TokenManager>, Arc<AtomicUsize>) {
    let source = Scripted::new(Duration::from_secs(lifetime_secs), script);
    let calls = source.calls.clone();
    let settings = TokenSettings::new(Duration::from_secs(300), budget);
    (Arc::new(TokenManager::new(source, settings)), calls)
}

/// Runs the background loop until the test ends.
fn run_loop(m: &Arc<TokenManager>) {
    tokio::spawn(m.clone().run(std::future::pending::<()>()));
}

/// The most token requests any 10-minute window held.
fn busiest_window(reached: &[Instant]) -> usize {
    reached
        .iter()
        .map(|start| {
            reached
                .iter()
                .filter(|t| **t >= *start && **t < *start + TOKEN_WINDOW)
                .count()
        })
        .max()
        .unwrap_or(0)
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
                async move { m.token(None).await }
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
async fn short_lived_tokens_refresh_at_seventy_percent() {
    let (m, count) = manager(400, vec![], 10);
    let t = m.token(None).await.unwrap();
    assert_eq!(t.refresh_at - t.obtained_at, Duration::from_secs(280));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(m.clone().run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(279)).await;
    assert_eq!(calls(&count), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_and_callers_fail_fast_meanwhile() {
    let (m, count) = manager(3600, vec![Err(rejected()); 10], 10);
    let e = m.token(None).await.unwrap_err();
    assert!(matches!(e, TokenError::Rejected { .. }), "{e:?}");
    assert_eq!(calls(&count), 1);
    // Within the 1 s backoff: no new request, the last error is reported.
    let e = m.token(None).await.unwrap_err();
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
            if m.token(None).await.is_err() && calls(&count) == n as usize {
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
    assert!(matches!(
        m.token(None).await,
        Err(TokenError::Throttled { .. })
    ));
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert!(matches!(
        m.token(None).await,
        Err(TokenError::BackingOff { .. })
    ));
    assert_eq!(calls(&count), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(m.token(None).await.unwrap().expose(), "tok-2");
}

#[tokio::test(start_paused = true)]
async fn the_local_budget_is_never_exceeded() {
    let (m, count) = manager(3600, vec![], 3);
    for _ in 0..3 {
        m.refresh_now().await.unwrap();
    }
    assert_eq!(calls(&count), 3);
    let e = m.refresh_now().await.unwrap_err();
    assert!(
        matches!(e, TokenError::BudgetExhausted { limit: 3, .. }),
        "{e:?}"
    );
    assert!(e.retry_in().unwrap() <= TOKEN_WINDOW);
    assert_eq!(calls(&count), 3);
    // The token in hand is still served meanwhile.
    assert_eq!(m.token(None).await.unwrap().expose(), "tok-3");
    tokio::time::sleep(TOKEN_WINDOW).await;
    assert!(m.refresh_now().await.is_ok());
    assert_eq!(calls(&count), 4);
}

#[tokio::test(start_paused = true)]
async fn a_401_refreshes_only_if_the_rejected_token_is_still_current() {
    let (m, count) = manager(3600, vec![], 10);
    let old = m.token(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(31)).await;
    let new = m.replace_rejected(&old, None).await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_ne!(new.generation, old.generation);
    // A second request that was also rejected with the old token must not refresh again.
    let again = m.replace_rejected(&old, None).await.unwrap();
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
        usable_until: Instant::now(),
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

/// One request a second for an hour, each allowed `request_timeout` (120 s)
/// to get a token, against tokens of `lifetime`: every request gets one, and
/// no 10-minute window holds more token requests than the budget.
async fn an_hour_at_one_request_per_second(lifetime: Duration) {
    let source = Scripted::new(lifetime, vec![]);
    let reached = source.reached.clone();
    let m = Arc::new(TokenManager::new(
        source,
        TokenSettings::new(Duration::from_secs(300), 10),
    ));
    run_loop(&m);
    let mut tasks = Vec::new();
    for _ in 0..3600 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            let t = m.token(Some(deadline)).await?;
            // What the proxy sends must still be usable when it is sent.
            assert!(Instant::now() < t.usable_until);
            Ok::<_, TokenError>(())
        }));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for (i, t) in tasks.into_iter().enumerate() {
        if let Err(e) = t.await.unwrap() {
            panic!("lifetime {lifetime:?}: request {i} got no token: {e}");
        }
    }
    let reached = reached.lock().unwrap().clone();
    assert!(
        busiest_window(&reached) <= 10,
        "lifetime {lifetime:?}: {} token requests in one 10-minute window",
        busiest_window(&reached)
    );
}

#[tokio::test(start_paused = true)]
async fn five_second_tokens_serve_every_request_within_the_budget() {
    an_hour_at_one_request_per_second(Duration::from_secs(5)).await;
}

#[tokio::test(start_paused = true)]
async fn thirty_second_tokens_serve_every_request_within_the_budget() {
    an_hour_at_one_request_per_second(Duration::from_secs(30)).await;
}

#[tokio::test(start_paused = true)]
async fn hour_long_tokens_serve_every_request_within_the_budget() {
    an_hour_at_one_request_per_second(Duration::from_secs(3600)).await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_whose_deadline_is_before_the_next_mint_is_told_when_at_once() {
    let (m, count) = manager(5, vec![], 10);
    m.token(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    // The next paced mint is 75 s after the first; this caller has 10 s.
    let asked = Instant::now();
    let e = m
        .token(Some(Instant::now() + Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert_eq!(Instant::now(), asked, "no waiting when waiting cannot help");
    assert!(matches!(e, TokenError::BudgetExhausted { .. }), "{e:?}");
    assert!(e.is_rate_limited());
    let retry = e.retry_in().unwrap();
    assert!(
        retry > Duration::from_secs(60) && retry < Duration::from_secs(75),
        "{retry:?}"
    );
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn an_accounts_outage_costs_no_budget_and_service_resumes_within_seconds() {
    let mut source = Scripted::new(Duration::from_secs(3600), vec![]);
    let start = Instant::now();
    source.down_until = Some(start + Duration::from_secs(250));
    let reached = source.reached.clone();
    let m = Arc::new(TokenManager::new(
        source,
        TokenSettings::new(Duration::from_secs(300), 10),
    ));
    run_loop(&m);
    // Clients keep asking once a second throughout.
    let mut first_ok = None;
    for _ in 0..300 {
        let deadline = Instant::now() + Duration::from_secs(2);
        match m.token(Some(deadline)).await {
            Ok(_) => {
                first_ok = Some(Instant::now());
                break;
            }
            Err(e) => assert!(
                matches!(&e, TokenError::Unreachable(_))
                    || matches!(&e, TokenError::BackingOff { last, .. } if matches!(**last, TokenError::Unreachable(_))),
                "{e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let back = first_ok.expect("a token once accounts came back") - start;
    assert!(
        back <= Duration::from_secs(250 + 8),
        "served again {}s after accounts came back",
        back.as_secs() - 250
    );
    assert_eq!(
        reached.lock().unwrap().len(),
        1,
        "refused connections reached nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_storm_keeps_the_token_and_stays_within_the_allowance() {
    let (m, count) = manager(3600, vec![], 10);
    run_loop(&m);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(&count), 1);
    // An endpoint answers 401 to every token, once a second, for 10 minutes.
    let mut kept = 0;
    for _ in 0..600 {
        let t = m.token(None).await.unwrap();
        match m.replace_rejected(&t, None).await {
            Ok(_) => {}
            Err(e) => {
                assert!(e.kept_token(), "{e:?}");
                kept += 1;
                // The token that was refused there is still served elsewhere.
                assert_eq!(m.current().unwrap().generation, t.generation);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let allowance = m.settings().rejection_allowance() as usize;
    assert_eq!(allowance, 2);
    assert_eq!(
        calls(&count),
        1 + allowance,
        "401s minted only the allowance"
    );
    assert!(kept >= 590);
    // Scheduled refreshes still have their share of the budget.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(calls(&count) > 1 + allowance);
    assert!(m.current().is_some());
}

#[tokio::test(start_paused = true)]
async fn a_hung_accounts_server_holds_a_caller_only_until_its_deadline() {
    let mut source = Scripted::new(Duration::from_secs(3600), vec![]);
    source.hung = true;
    let calls = source.calls.clone();
    let m = Arc::new(TokenManager::new(
        source,
        TokenSettings::new(Duration::from_secs(300), 10),
    ));
    let asked = Instant::now();
    let e = m
        .token(Some(asked + Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(matches!(e, TokenError::TimedOut { .. }), "{e:?}");
    assert_eq!(Instant::now() - asked, Duration::from_secs(2));
    // The request goes on without that caller; the accounts timeout (10 s)
    // ends it, and whoever waited for it hears so.
    let e = m.token(None).await.unwrap_err();
    assert!(
        matches!(&e, TokenError::BackingOff { last, .. } if matches!(**last, TokenError::TimedOut { .. })),
        "{e:?}"
    );
    assert_eq!(Instant::now() - asked, Duration::from_secs(10));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one request, shared");
}

#[test]
fn unreachable_backoff_is_capped_and_jittered() {
    assert_eq!(unreachable_backoff(1, 0), Duration::from_millis(500));
    assert_eq!(unreachable_backoff(2, 0), Duration::from_secs(1));
    assert_eq!(unreachable_backoff(20, 0), Duration::from_secs(5));
    let most = unreachable_backoff(20, u64::MAX);
    assert!(most > Duration::from_secs(7) && most <= Duration::from_millis(7500));
}

#[tokio::test(start_paused = true)]
async fn an_absurd_lifetime_is_capped_not_a_panic() {
    // Zoho's answer is untrusted input: `"expires_in": 18446744073709551615`
    // used to overflow `Instant + Duration` and panic the token manager.
    let (m, count) = manager(u64::MAX, vec![], 10);
    let token = m.token(None).await.unwrap();
    assert_eq!(token.expose(), "tok-1");
    assert!(token.expires_at <= Instant::now() + MAX_LIFETIME);
    assert_eq!(calls(&count), 1);
    // Kept fresh as a token of the longest lifetime believed.
    run_loop(&m);
    tokio::time::sleep(MAX_LIFETIME).await;
    assert_eq!(calls(&count), 2);
}
