//! The Redis store against a real `redis-server` (one per test).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::redis::RedisServer;
use tokio::sync::broadcast;
use tokio::time::Instant;
use zoho_proxy::coord::redis::{
    Admission, AdmitRequest, Event, Gcra, LeaseId, RedisSettings, RedisStore, StoreError,
    StoredToken,
};

const TIMEOUT: Duration = Duration::from_millis(100);
/// Scheduling slack on a loaded 2-core machine (a correctness bound, not a
/// benchmark).
const MARGIN: Duration = Duration::from_millis(150);

fn settings(server: &RedisServer) -> RedisSettings {
    let mut s = RedisSettings::new(server.url());
    s.key_prefix = "zpt".to_owned();
    s.timeout = TIMEOUT;
    s
}

async fn store(server: &RedisServer) -> RedisStore {
    let store = RedisStore::new(settings(server)).expect("store builds");
    wait_up(&store).await;
    store
}

async fn wait_up(store: &RedisStore) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !store.is_up() {
        assert!(Instant::now() < deadline, "breaker never closed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn pool_request(limit: u32, ttl: Duration) -> AdmitRequest {
    AdmitRequest {
        cost: 1,
        rate: None,
        route_rate: None,
        max_concurrent: Some(limit),
        route_concurrent: None,
        heavy: None,
        lease_ttl: ttl,
    }
}

fn granted(a: Admission) -> LeaseId {
    match a {
        Admission::Granted(lease) => lease,
        Admission::Wait(d) => panic!("expected a grant, got Wait({d:?})"),
    }
}

fn waited(a: Admission) -> Duration {
    match a {
        Admission::Wait(d) => d,
        Admission::Granted(l) => panic!("expected Wait, got a grant {l:?}"),
    }
}

/// Next event that is not a Resync, within `within`.
async fn next_event(rx: &mut broadcast::Receiver<Event>, within: Duration) -> Event {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Event::Resync)) => continue,
            Ok(Ok(e)) => return e,
            Ok(Err(e)) => panic!("event channel: {e}"),
            Err(_) => panic!("no event within {within:?}"),
        }
    }
}

/// Waits until the store's pub/sub connection is subscribed.
async fn listening(store: &RedisStore) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !store.is_listening() {
        assert!(Instant::now() < deadline, "pub/sub never subscribed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for the pub/sub connection to be resubscribed.
async fn resynced(rx: &mut broadcast::Receiver<Event>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Event::Resync)) => return,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => panic!("event channel: {e}"),
            Err(_) => panic!("no Resync within {within:?}"),
        }
    }
}

#[tokio::test]
async fn gcra_admits_exactly_n_per_window() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    // 4 per 2 s, 2 at once: emission ceil(2000/3) = 667 ms, so grants come at
    // 0, 0, 667, 1334 and the fifth at 2001, just past the window.
    let gcra = Gcra {
        limit: 4,
        burst: 2,
        period: Duration::from_secs(2),
    };
    let req = AdmitRequest {
        rate: Some(gcra),
        max_concurrent: None,
        ..pool_request(0, Duration::from_secs(5))
    };
    // (Redis time just before, just after) each grant.
    let mut grants: Vec<(u64, u64)> = Vec::new();
    let start = store.now_ms().await.unwrap();
    loop {
        let before = store.now_ms().await.unwrap();
        if before > start + 3_500 {
            break;
        }
        match store.admit(&keys, &req).await.unwrap() {
            Admission::Granted(_) => grants.push((before, store.now_ms().await.unwrap())),
            Admission::Wait(d) => {
                assert!(d <= Duration::from_millis(667), "hint {d:?}");
                tokio::time::sleep(d.min(Duration::from_millis(5))).await;
            }
        }
    }
    let first = grants[0];
    // The burst is immediate: two grants before the first interval passed.
    assert!(grants[1].0 < first.1 + 667, "{grants:?}");
    // The window that opens at the first grant holds exactly 4 grants: the
    // 4th is certainly inside it, the 5th certainly not before its end - 1ms.
    assert!(grants.len() >= 5, "{grants:?}");
    assert!(grants[3].1 < first.0 + 2_000, "4th grant late: {grants:?}");
    assert!(
        grants[4].1 >= first.0 + 1_999,
        "5th grant early: {grants:?}"
    );
    // No window of 2 s anywhere holds more than 4 grants that certainly
    // fall inside it.
    for (i, gi) in grants.iter().enumerate() {
        let inside = grants[i..].iter().filter(|gj| gj.1 < gi.0 + 2_000).count();
        assert!(inside <= 4, "window at {i} holds {inside}: {grants:?}");
    }
    // Sustained rate: in 3.5 s, 2 + floor(3500/667) = 7 grants at most.
    assert!(grants.len() <= 7, "{} grants: {grants:?}", grants.len());
}

#[tokio::test]
async fn gcra_and_pools_are_all_or_nothing() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = AdmitRequest {
        rate: Some(Gcra {
            limit: 100,
            burst: 100,
            period: Duration::from_secs(60),
        }),
        route_rate: Some((
            "leads".to_owned(),
            Gcra {
                limit: 1,
                burst: 1,
                period: Duration::from_secs(60),
            },
        )),
        ..pool_request(5, Duration::from_secs(5))
    };
    let lease = granted(store.admit(&keys, &req).await.unwrap());
    assert_eq!(lease.pools(), [keys.pool().to_owned()]);
    // The route rate is spent: Wait, and neither the credential rate nor the
    // pool were charged.
    let d = waited(store.admit(&keys, &req).await.unwrap());
    assert!(d > Duration::from_secs(50), "{d:?}");
    assert_eq!(server.cmd(&["ZCARD", keys.pool()]), "1");
    let other = AdmitRequest {
        route_rate: None,
        ..req.clone()
    };
    for _ in 0..4 {
        granted(store.admit(&keys, &other).await.unwrap());
    }
    // Pool of 5 now full: short hint, capped.
    let d = waited(store.admit(&keys, &other).await.unwrap());
    assert!(d <= Duration::from_millis(50), "{d:?}");
    assert_eq!(server.cmd(&["ZCARD", keys.pool()]), "5");
    // Heavy and route pools are separate keys that all must have room.
    let heavy = AdmitRequest {
        max_concurrent: None,
        route_concurrent: Some(("deals".to_owned(), 1)),
        heavy: Some(1),
        rate: None,
        route_rate: None,
        ..req.clone()
    };
    let h = granted(store.admit(&keys, &heavy).await.unwrap());
    assert_eq!(h.pools().len(), 2);
    waited(store.admit(&keys, &heavy).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_never_exceeds_its_limit_across_two_replicas() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    const LIMIT: usize = 3;
    let in_use = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let keys = keys.clone();
        let (in_use, peak, done) = (in_use.clone(), peak.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let req = pool_request(LIMIT as u32, Duration::from_secs(10));
            let mut served = 0;
            while served < 4 {
                match store.admit(&keys, &req).await {
                    Ok(Admission::Granted(lease)) => {
                        let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(3)).await;
                        in_use.fetch_sub(1, Ordering::SeqCst);
                        store.release(&keys, &lease);
                        served += 1;
                    }
                    Ok(Admission::Wait(d)) => {
                        tokio::time::sleep(d.min(Duration::from_millis(2))).await
                    }
                    // A 100 ms timeout can trip on a loaded machine; retry.
                    Err(StoreError::Timeout(_)) | Err(StoreError::Down) => {
                        tokio::time::sleep(Duration::from_millis(5)).await
                    }
                    Err(e) => panic!("admit: {e}"),
                }
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("admitters finish")
            .expect("admitter ok");
    }
    assert_eq!(done.load(Ordering::SeqCst), 16);
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= LIMIT, "peak {peak} > {LIMIT}");
    assert_eq!(
        peak, LIMIT,
        "the pool was never full: the test proves nothing"
    );
}

#[tokio::test]
async fn an_abandoned_lease_expires_and_release_frees_at_once() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let req = pool_request(1, Duration::from_millis(300));
    let abandoned = granted(a.admit(&keys, &req).await.unwrap());
    let t0 = Instant::now();
    waited(b.admit(&keys, &req).await.unwrap());
    // Never released: the slot comes back after the ttl, not before.
    let second = loop {
        match b.admit(&keys, &req).await.unwrap() {
            Admission::Granted(l) => break l,
            Admission::Wait(d) => {
                assert!(d <= Duration::from_millis(50));
                tokio::time::sleep(d).await;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "slot never reclaimed"
        );
    };
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    // Renewing the reclaimed lease fails: it lost its slot.
    assert!(!a
        .renew(&keys, &abandoned, Duration::from_secs(1))
        .await
        .unwrap());
    // The live lease renews, and release frees it at once.
    assert!(b
        .renew(&keys, &second, Duration::from_secs(30))
        .await
        .unwrap());
    waited(a.admit(&keys, &req).await.unwrap());
    b.release(&keys, &second);
    let t1 = Instant::now();
    loop {
        if let Admission::Granted(_) = a.admit(&keys, &req).await.unwrap() {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_millis(250),
            "release did not free the slot"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn renewal_keeps_a_lease_past_its_ttl() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(1, Duration::from_millis(300));
    let lease = granted(store.admit(&keys, &req).await.unwrap());
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(store
            .renew(&keys, &lease, Duration::from_millis(300))
            .await
            .unwrap());
    }
    // 500 ms after the grant, the 300 ms lease still holds its slot.
    waited(store.admit(&keys, &req).await.unwrap());
}

#[tokio::test]
async fn cool_down_on_one_replica_pauses_the_other() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let mut events = b.subscribe(&keys);
    listening(&b).await;
    let req = pool_request(10, Duration::from_secs(5));
    granted(b.admit(&keys, &req).await.unwrap());
    let now = a.now_ms().await.unwrap();
    a.cool_down(&keys, Duration::from_millis(800))
        .await
        .unwrap();
    let d = waited(b.admit(&keys, &req).await.unwrap());
    assert!(
        d > Duration::from_millis(500) && d <= Duration::from_millis(800),
        "{d:?}"
    );
    match next_event(&mut events, Duration::from_secs(2)).await {
        Event::CoolDown { until_ms } => {
            assert!(
                until_ms >= now + 800 && until_ms < now + 800 + 1_000,
                "{until_ms} vs {now}"
            )
        }
        e => panic!("unexpected {e:?}"),
    }
    // A shorter cool-down does not cut the longer one short.
    a.cool_down(&keys, Duration::from_millis(10)).await.unwrap();
    let d = waited(b.admit(&keys, &req).await.unwrap());
    assert!(d > Duration::from_millis(400), "{d:?}");
    // Over after its time.
    tokio::time::sleep(d + Duration::from_millis(20)).await;
    granted(b.admit(&keys, &req).await.unwrap());
}

#[tokio::test]
async fn publish_token_only_moves_forward_and_announces_the_generation() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let mut events = b.subscribe(&keys);
    listening(&b).await;
    assert_eq!(a.read_token(&keys).await.unwrap(), None);
    let now = a.now_ms().await.unwrap();
    let token = |generation, blob: &str| StoredToken {
        generation,
        blob: blob.as_bytes().to_vec(),
        expires_at_ms: now + 60_000,
    };
    assert!(a
        .publish_token(&keys, &token(5, "secret-five"))
        .await
        .unwrap());
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::Token { generation: 5 }
    );
    assert_eq!(
        b.read_token(&keys).await.unwrap(),
        Some(token(5, "secret-five"))
    );
    // Lower and equal generations are refused and not announced.
    assert!(!b.publish_token(&keys, &token(4, "stale")).await.unwrap());
    assert!(!b.publish_token(&keys, &token(5, "same")).await.unwrap());
    assert_eq!(
        a.read_token(&keys).await.unwrap(),
        Some(token(5, "secret-five"))
    );
    // Higher wins; the channel never carries the blob.
    assert!(b
        .publish_token(&keys, &token(6, "secret-six"))
        .await
        .unwrap());
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::Token { generation: 6 }
    );
    // The record expires with the token.
    let pttl: i64 = server.cmd(&["PTTL", keys.token()]).parse().unwrap();
    assert!(pttl > 50_000 && pttl <= 60_000, "{pttl}");
    // An expired token is not written.
    let expired = StoredToken {
        expires_at_ms: now - 1,
        ..token(9, "old")
    };
    assert!(!a.publish_token(&keys, &expired).await.unwrap());
    // Even after the record is gone, a stale generation stays refused.
    server.cmd(&["DEL", keys.token()]);
    assert!(!a.publish_token(&keys, &token(6, "again")).await.unwrap());
    assert!(a.publish_token(&keys, &token(7, "seven")).await.unwrap());
    assert!(matches!(
        a.publish_token(&keys, &token(0, "zero")).await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn invalidate_token_is_compare_and_delete() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let mut events = store.subscribe(&keys);
    listening(&store).await;
    let now = store.now_ms().await.unwrap();
    let t = StoredToken {
        generation: 3,
        blob: b"x".to_vec(),
        expires_at_ms: now + 60_000,
    };
    assert!(store.publish_token(&keys, &t).await.unwrap());
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::Token { generation: 3 }
    );
    // A 401 seen with an older generation does not drop the newer token.
    assert!(!store.invalidate_token(&keys, 2).await.unwrap());
    assert_eq!(store.read_token(&keys).await.unwrap(), Some(t));
    assert!(store.invalidate_token(&keys, 3).await.unwrap());
    assert_eq!(store.read_token(&keys).await.unwrap(), None);
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::TokenInvalidated { generation: 3 }
    );
    assert!(!store.invalidate_token(&keys, 3).await.unwrap());
}

#[tokio::test]
async fn mint_lease_is_exclusive_and_release_is_owner_checked() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let ttl = Duration::from_millis(300);
    let la = a
        .try_mint_lease(&keys, ttl)
        .await
        .unwrap()
        .expect("free lease");
    assert_eq!(b.try_mint_lease(&keys, ttl).await.unwrap(), None);
    // After it expires, b takes it; a's late release must not free b's lease.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let lb = b
        .try_mint_lease(&keys, ttl)
        .await
        .unwrap()
        .expect("expired lease");
    a.release_mint_lease(&keys, la).await.unwrap();
    assert_eq!(server.cmd(&["GET", keys.mint_lease()]), lb.owner());
    assert_eq!(a.try_mint_lease(&keys, ttl).await.unwrap(), None);
    b.release_mint_lease(&keys, lb).await.unwrap();
    assert!(a.try_mint_lease(&keys, ttl).await.unwrap().is_some());
}

#[tokio::test]
async fn charge_mint_enforces_the_window_across_replicas() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let window = Duration::from_millis(600);
    a.charge_mint(&keys, 3, window).await.unwrap().unwrap();
    b.charge_mint(&keys, 3, window).await.unwrap().unwrap();
    a.charge_mint(&keys, 3, window).await.unwrap().unwrap();
    let wait = b
        .charge_mint(&keys, 3, window)
        .await
        .unwrap()
        .expect_err("spent");
    assert!(
        wait <= window && wait > Duration::from_millis(400),
        "{wait:?}"
    );
    assert!(a.charge_mint(&keys, 3, window).await.unwrap().is_err());
    assert_eq!(
        server.cmd(&["ZCARD", keys.mints()]),
        "3",
        "refusals charge nothing"
    );
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let charge = b.charge_mint(&keys, 3, window).await.unwrap().unwrap();
    // A charge given back (the mint never reached Zoho) frees its place at once.
    let window = Duration::from_secs(60);
    let other = a.keys("refunds");
    a.charge_mint(&other, 2, window).await.unwrap().unwrap();
    let refundable = b.charge_mint(&other, 2, window).await.unwrap().unwrap();
    assert!(a.charge_mint(&other, 2, window).await.unwrap().is_err());
    b.refund_mint(&other, refundable).await.unwrap();
    assert_eq!(server.cmd(&["ZCARD", other.mints()]), "1");
    a.charge_mint(&other, 2, window).await.unwrap().unwrap();
    // Refunding a charge that already left the window is harmless.
    b.refund_mint(&keys, charge).await.unwrap();
}

/// Admissions queued together go out in one script call, with the same
/// outcome as one by one: releases first, then each admission in turn, all
/// or nothing, and a refused one charges nothing.
#[tokio::test]
async fn queued_admissions_share_one_call_and_keep_their_semantics() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    // Pool of 5; rate 100/min with a burst of 8 (emission 646 ms).
    let req = AdmitRequest {
        rate: Some(Gcra {
            limit: 100,
            burst: 8,
            period: Duration::from_secs(60),
        }),
        ..pool_request(5, Duration::from_secs(5))
    };
    let ops = store.stats().ops;
    // On this (current-thread) runtime all twelve are queued before the
    // queue's task runs, so they go out together.
    let first = futures_util::future::join_all((0..12).map(|_| store.admit(&keys, &req))).await;
    assert_eq!(store.stats().ops - ops, 1, "one call for the batch");
    let (held, refused): (Vec<_>, Vec<_>) = first
        .into_iter()
        .map(|a| a.unwrap())
        .partition(|a| matches!(a, Admission::Granted(_)));
    assert_eq!((held.len(), refused.len()), (5, 7));
    for a in refused {
        assert!(waited(a) <= Duration::from_millis(50), "a pool's hint");
    }
    assert_eq!(server.cmd(&["ZCARD", keys.pool()]), "5");
    // Release all five and admit twelve more: one call again, the releases
    // applied first (the pool is empty for this batch). The rate was charged
    // for the five grants only, so three of its burst of eight are left.
    for a in held {
        store.release(&keys, &granted(a));
    }
    let ops = store.stats().ops;
    let second = futures_util::future::join_all((0..12).map(|_| store.admit(&keys, &req))).await;
    assert_eq!(
        store.stats().ops - ops,
        1,
        "releases and admissions in one call"
    );
    let mut granted_now = 0;
    for a in second {
        match a.unwrap() {
            Admission::Granted(_) => granted_now += 1,
            Admission::Wait(d) => assert!(d > Duration::from_millis(100), "the rate's wait: {d:?}"),
        }
    }
    assert_eq!(granted_now, 3);
    assert_eq!(server.cmd(&["ZCARD", keys.pool()]), "3");
}

/// A caller that stops waiting does not keep the slot it was granted.
#[tokio::test]
async fn a_grant_nobody_waits_for_is_released() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(1, Duration::from_secs(30));
    // Queued (polled once), then abandoned before its batch answers. (Not a
    // zero timeout: that fires on the timer's next millisecond tick, and a
    // fast Redis answered first.)
    let gone = futures_util::FutureExt::now_or_never(store.admit(&keys, &req));
    assert!(gone.is_none(), "the caller gave up");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store.admit(&keys, &req).await.unwrap() {
            Admission::Granted(_) => break,
            Admission::Wait(d) => tokio::time::sleep(d).await,
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned grant held the slot"
        );
    }
}

#[tokio::test]
async fn admit_survives_script_flush() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(10, Duration::from_secs(5));
    granted(store.admit(&keys, &req).await.unwrap());
    assert_eq!(server.cmd(&["SCRIPT", "FLUSH"]), "OK");
    // EVALSHA now answers NOSCRIPT; the store reloads and runs the script.
    granted(store.admit(&keys, &req).await.unwrap());
    assert_eq!(server.cmd(&["ZCARD", keys.pool()]), "2");
    assert!(store.is_up());
}

#[tokio::test]
async fn killed_server_opens_the_breaker_and_a_restart_closes_it() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(10, Duration::from_secs(5));
    granted(store.admit(&keys, &req).await.unwrap());
    server.stop();
    let mut failures = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let r = store.admit(&keys, &req).await;
        assert!(
            t.elapsed() <= TIMEOUT + MARGIN,
            "a call took {:?}",
            t.elapsed()
        );
        match r {
            Err(StoreError::Down) => break,
            Err(_) => failures += 1,
            Ok(a) => panic!("admitted with Redis dead: {a:?}"),
        }
    }
    assert!(!store.is_up());
    assert_eq!(failures, 3, "the breaker opens at the third failure");
    for _ in 0..100 {
        let t = Instant::now();
        assert_eq!(store.admit(&keys, &req).await, Err(StoreError::Down));
        assert!(t.elapsed() < Duration::from_millis(20), "{:?}", t.elapsed());
    }
    let stats = store.stats();
    assert_eq!(stats.breaker_opens, 1);
    assert!(stats.rejected >= 100);
    server.restart();
    let t = Instant::now();
    wait_up(&store).await;
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    // Fresh server: the scripts load again (NOSCRIPT path) and admit works.
    granted(store.admit(&keys, &req).await.unwrap());
    assert!(store.now_ms().await.is_ok());
}

#[tokio::test]
async fn a_new_store_never_waits_for_a_dead_redis() {
    let server = RedisServer::start();
    server.stop();
    let store = RedisStore::new(settings(&server)).expect("builds with Redis down");
    assert!(!store.is_up());
    let keys = store.keys("acme");
    assert_eq!(store.now_ms().await, Err(StoreError::Down));
    server.restart();
    wait_up(&store).await;
    assert!(store.now_ms().await.is_ok());
    let _ = keys;
}

#[tokio::test]
async fn a_single_timeout_does_not_open_the_breaker() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(10, Duration::from_secs(5));
    for _ in 0..5 {
        // A pause short enough to stall one call.
        assert_eq!(server.cmd(&["CLIENT", "PAUSE", "250", "ALL"]), "OK");
        let t = Instant::now();
        let r = store.admit(&keys, &req).await;
        assert_eq!(r, Err(StoreError::Timeout(TIMEOUT)));
        assert!(t.elapsed() <= TIMEOUT + MARGIN, "{:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
        granted(store.admit(&keys, &req).await.unwrap());
        assert!(store.is_up(), "one timeout alone opened the breaker");
    }
}

/// A batch that timed out but that Redis ran once its pause ended granted a
/// slot to nobody; the next batch frees it first, instead of the slot
/// staying taken for the whole lease.
#[tokio::test]
async fn a_grant_redis_made_after_the_caller_timed_out_is_released() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let taken = |n: &'static str, what: &'static str| {
        let (server, pool) = (&server, keys.pool().to_owned());
        async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            while server.cmd(&["ZCARD", &pool]) != n {
                assert!(Instant::now() < deadline, "{what}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let one_slot = pool_request(1, Duration::from_secs(30));
    // Once first, so that the script is loaded (else the late batch fails
    // with NOSCRIPT and grants nothing).
    let first = granted(store.admit(&keys, &one_slot).await.unwrap());
    store.release(&keys, &first);
    taken("0", "the first lease was not released").await;
    assert_eq!(server.cmd(&["CLIENT", "PAUSE", "300", "ALL"]), "OK");
    assert_eq!(
        store.admit(&keys, &one_slot).await,
        Err(StoreError::Timeout(TIMEOUT))
    );
    taken("1", "Redis never ran the paused batch").await;
    // The next admission's batch releases that grant before admitting.
    let lease = granted(store.admit(&keys, &one_slot).await.unwrap());
    assert_eq!(
        server.cmd(&["ZCARD", keys.pool()]),
        "1",
        "only the new lease"
    );
    store.release(&keys, &lease);
    taken("0", "the new lease was not released").await;
}

#[tokio::test]
async fn client_pause_times_out_calls_and_opens_the_breaker() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let keys = store.keys("acme");
    let req = pool_request(10, Duration::from_secs(5));
    granted(store.admit(&keys, &req).await.unwrap());
    assert_eq!(server.cmd(&["CLIENT", "PAUSE", "2000", "ALL"]), "OK");
    let paused_at = Instant::now();
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(
            store.admit(&keys, &req).await,
            Err(StoreError::Timeout(TIMEOUT))
        );
        let took = t.elapsed();
        assert!(took >= TIMEOUT && took <= TIMEOUT + MARGIN, "{took:?}");
    }
    assert!(!store.is_up());
    let t = Instant::now();
    assert_eq!(store.admit(&keys, &req).await, Err(StoreError::Down));
    assert!(t.elapsed() < Duration::from_millis(20));
    assert!(store.stats().timeouts >= 3);
    // The pause ends; the probe closes the breaker.
    wait_up(&store).await;
    assert!(paused_at.elapsed() >= Duration::from_millis(1_500));
    granted(store.admit(&keys, &req).await.unwrap());
}

#[tokio::test]
async fn subscriptions_resume_after_a_restart() {
    let server = RedisServer::start();
    let a = store(&server).await;
    let b = store(&server).await;
    let keys = a.keys("acme");
    let other = a.keys("other");
    let mut events = b.subscribe(&keys);
    let mut other_events = b.subscribe(&other);
    listening(&b).await;
    a.cool_down(&keys, Duration::from_millis(10)).await.unwrap();
    assert!(matches!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::CoolDown { .. }
    ));
    server.restart();
    // The subscriber reconnects by itself and says so.
    resynced(&mut events, Duration::from_secs(10)).await;
    assert!(b.is_listening());
    // `a` made no call while Redis was down, so its breaker stayed closed;
    // its first call finds the connection broken (one failure) and the
    // manager reconnects for the next.
    let mut now = None;
    for _ in 0..3 {
        if let Ok(t) = a.now_ms().await {
            now = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = now.expect("a works again within 3 calls");
    assert!(a.is_up());
    let t = StoredToken {
        generation: 1,
        blob: b"x".to_vec(),
        expires_at_ms: now + 60_000,
    };
    assert!(a.publish_token(&keys, &t).await.unwrap());
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Event::Token { generation: 1 }
    );
    // Events are per credential: the other one hears the resync (its
    // subscription is live; a restart may bring more than one), never this
    // credential's token.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut resyncs = 0;
    loop {
        match tokio::time::timeout_at(deadline, other_events.recv()).await {
            Ok(Ok(Event::Resync)) => resyncs += 1,
            Ok(Ok(e)) => panic!("another credential's event reached this one: {e:?}"),
            Ok(Err(e)) => panic!("event channel: {e}"),
            Err(_) => break,
        }
    }
    assert!(
        resyncs >= 1,
        "the other credential's subscription came back"
    );
}

#[tokio::test]
async fn errors_never_show_the_password() {
    let server = RedisServer::start();
    server.cmd(&["CONFIG", "SET", "requirepass", "s3cret-pass"]);
    let mut s = settings(&server);
    s.url = format!("redis://:wrong-pass-42@127.0.0.1:{}/", server.port());
    let store = RedisStore::new(s).expect("builds");
    // The probe fails with a bad password: the breaker stays open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!store.is_up());
    assert_eq!(store.now_ms().await, Err(StoreError::Down));
    assert!(!format!("{store:?}").contains("wrong-pass"));
    // With the right password it works.
    let mut s = settings(&server);
    s.url = format!("redis://:s3cret-pass@127.0.0.1:{}/", server.port());
    let good = RedisStore::new(s).expect("builds");
    wait_up(&good).await;
    assert!(good.now_ms().await.is_ok());
}
