//! Many replicas behaving as one: several real `zoho-proxy` processes share
//! one token and one set of Zoho limits through a real `redis-server`, and
//! keep serving when Redis dies. The fake Zoho counts token requests and
//! concurrent calls.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::binary::{temp_dir, Binary};
use common::redis::{RedisCluster, RedisServer};
use tokio::time::Instant;
use zoho_proxy::fake::{ApiReply, FakeZoho};

/// One proxy process.
struct Replica {
    bin: Binary,
    addr: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    dir: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        // The process is killed (SIGKILL) when `bin` drops, just after.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the replicas share their state: the `[cluster]` lines naming it.
trait Shared {
    fn config_lines(&self) -> String;
}

impl Shared for RedisServer {
    fn config_lines(&self) -> String {
        format!("redis_url = \"{}\"", self.url())
    }
}

impl Shared for RedisCluster {
    fn config_lines(&self) -> String {
        // The credential's own node last: the replicas must follow the slot map.
        format!(
            "redis_url = \"{}\"\nredis_cluster = true",
            self.seeds_avoiding("{zoho-proxy:default}")
        )
    }
}

/// A TLS `redis-server` (see [`RedisServer::start_tls`]) whose certificate
/// the fake Zoho's CA signed: replicas trust it through `ca_file`.
struct OverTls<'a>(&'a RedisServer, &'a str);

impl Shared for OverTls<'_> {
    fn config_lines(&self) -> String {
        format!(
            "redis_url = \"{}\"\nca_file = \"{}\"",
            self.0.tls_url(),
            self.1
        )
    }
}

/// Starts `n` replicas of one config (in front of `fake`, sharing `redis`).
async fn replicas(n: usize, fake: &FakeZoho, redis: &dyn Shared, extra: &str) -> Vec<Replica> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(Replica::start(i, fake, redis, n, extra).await);
    }
    out
}

impl Replica {
    async fn start(
        i: usize,
        fake: &FakeZoho,
        redis: &dyn Shared,
        n: usize,
        extra: &str,
    ) -> Replica {
        Replica::start_with(i, fake, redis, n, extra, |c| c).await
    }

    /// The same, with the config text passed through `edit` first.
    async fn start_with(
        i: usize,
        fake: &FakeZoho,
        redis: &dyn Shared,
        n: usize,
        extra: &str,
        edit: impl Fn(String) -> String,
    ) -> Replica {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = temp_dir(&format!(
            "cluster-{}-{i}",
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(dir.join("ca.pem"), fake.ca_pem()).unwrap();
        let mut config = fake.proxy_config(
            "127.0.0.1:0",
            "",
            "ca_file = \"ca.pem\"\nrejected_token_min_age = \"0s\"",
            common::ALLOW_ALL,
        );
        config.push_str(&format!(
            "\n[cluster]\n{}\nreplicas = {n}\ntimeout = \"100ms\"\nlease = \"2s\"\n{extra}\n",
            redis.config_lines()
        ));
        std::fs::write(dir.join("proxy.toml"), edit(config)).unwrap();
        let mut bin = Binary::spawn(&dir, None);
        let (addr, admin) = bin.addrs().await;
        Replica {
            bin,
            addr,
            admin,
            dir,
        }
    }

    async fn get(&self, path: &str) -> u16 {
        common::raw_request(
            self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await
        .0
    }

    fn log(&self) -> String {
        self.bin.logs()
    }
}

/// Sends `per_replica` concurrent GETs to every replica; returns the statuses.
async fn burst(replicas: &[Replica], per_replica: usize, path: &str) -> Vec<u16> {
    let tasks: Vec<_> = replicas
        .iter()
        .flat_map(|r| (0..per_replica).map(move |_| r.addr))
        .map(|addr| {
            let path = path.to_owned();
            tokio::spawn(async move {
                common::raw_request(
                    addr,
                    &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                )
                .await
                .0
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_replicas_starting_together_mint_one_token_and_share_it() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let rs = replicas(5, &fake, &redis, "").await;
    let statuses = burst(&rs, 10, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 1, "one mint for five replicas");
    // They all sent the same token.
    let tokens: std::collections::HashSet<_> = fake
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(tokens.len(), 1);
    // What Redis holds is not the token in clear.
    let token = tokens.into_iter().next().unwrap();
    let token = token
        .to_str()
        .unwrap()
        .trim_start_matches("Zoho-oauthtoken ");
    let keys = redis.cmd(&["KEYS", "*"]);
    assert!(keys.contains("{zoho-proxy:default}"), "{keys}");
    for key in keys.lines() {
        let value = match redis.cmd(&["TYPE", key]).as_str() {
            "hash" => redis.cmd(&["HGETALL", key]),
            "string" => redis.cmd(&["GET", key]),
            "zset" => redis.cmd(&["ZRANGE", key, "0", "-1"]),
            other => other.to_owned(),
        };
        assert!(!value.contains(token), "{key} holds the token in clear");
        assert!(!value.contains(zoho_proxy::fake::REFRESH_TOKEN), "{key}");
        assert!(!value.contains(zoho_proxy::fake::CLIENT_SECRET), "{key}");
    }
    // Each replica reports the cluster and its Redis calls.
    let (status, _, metrics) = common::raw_request(
        rs[2].admin,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(metrics.contains("zoho_proxy_cluster_up 1"), "{metrics}");
    assert!(
        metrics.contains(r#"zoho_proxy_redis_op_duration_seconds_count{op="admit"}"#),
        "{metrics}"
    );
    // Every key of the credential is in one hash slot (one tag).
    for key in keys.lines() {
        assert!(key.starts_with("{zoho-proxy:default}"), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_seen_by_every_replica_mints_once() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let rs = replicas(4, &fake, &redis, "").await;
    assert!(burst(&rs, 1, "/crm/v8/Leads")
        .await
        .iter()
        .all(|s| *s == 200));
    assert_eq!(fake.token_requests(), 1);
    // Zoho evicts the token: every replica sees 401 with the same generation.
    fake.revoke_tokens();
    let statuses = burst(&rs, 5, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 2, "one mint for the whole 401 storm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_one_pool_across_replicas_and_a_killed_replica_frees_its_slots() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let limits = "\n[rate_limit]\nmax_concurrent = 4\nmax_wait = \"30s\"";
    let mut rs = replicas(3, &fake, &redis, limits).await;
    assert!(burst(&rs, 1, "/crm/v8/Leads")
        .await
        .iter()
        .all(|s| *s == 200));
    for _ in 0..24 {
        fake.script_api(ApiReply::slow(Duration::from_millis(300)));
    }
    let statuses = burst(&rs, 8, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let most = fake.max_in_flight();
    assert!(most <= 4, "the org's 4 slots were exceeded: {most} at once");
    assert!(most >= 3, "the pool was shared, not split: {most} at once");

    // Replica 0 takes all four slots on calls that hang, and is killed.
    for _ in 0..4 {
        fake.script_api(ApiReply::slow(Duration::from_secs(60)));
    }
    let before = fake.requests().len();
    let addr = rs[0].addr;
    for _ in 0..4 {
        tokio::spawn(async move {
            let _ = common::raw_request(
                addr,
                "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await;
        });
    }
    while fake.requests().len() < before + 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dead = rs.remove(0);
    drop(dead); // SIGKILL: no release reaches Redis
    let asked = Instant::now();
    assert_eq!(rs[1].get("/crm/v8/Leads").await, 200);
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "the dead replica's slots came back after their 2 s lease, not {waited:?}"
    );
    // The replica that reclaimed them says so.
    let (_, _, metrics) = common::raw_request(
        rs[1].admin,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let expired: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("zoho_proxy_leases_expired_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(expired >= 1, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_is_one_limit_across_replicas() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    // 600 a minute (10 a second), burst 5, for three replicas together.
    let limits = "\n[rate_limit]\nrequests_per_minute = 600\nburst = 5\nmax_concurrent = 50\nmax_wait = \"60s\"";
    let rs = Arc::new(replicas(3, &fake, &redis, limits).await);
    assert_eq!(rs[0].get("/crm/v8/Leads").await, 200);
    let before = fake.requests().len();
    let run_for = Duration::from_secs(10);
    let started = Instant::now();
    // Drive every replica hard: 8 workers each, until the time is up.
    let mut workers = Vec::new();
    for r in 0..3 {
        for _ in 0..8 {
            let rs = rs.clone();
            workers.push(tokio::spawn(async move {
                while started.elapsed() < run_for {
                    let _ = rs[r].get("/crm/v8/Leads").await;
                }
            }));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let reached = (fake.requests().len() - before) as f64;
    // GCRA allows the burst plus the rate over the time that passed.
    let allowed = 5.0 + 10.0 * elapsed.as_secs_f64();
    assert!(
        reached <= allowed * 1.05,
        "{reached} calls reached Zoho in {elapsed:?}; the limit allows {allowed}"
    );
    assert!(
        reached >= allowed * 0.85,
        "{reached} calls reached Zoho in {elapsed:?}: the replicas did not use the shared rate ({allowed})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_replica_makes_the_others_wait() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let rs = replicas(2, &fake, &redis, "\n[retry]\nmax_attempts = 1").await;
    assert!(burst(&rs, 1, "/crm/v8/Leads")
        .await
        .iter()
        .all(|s| *s == 200));
    fake.script_api(
        ApiReply::status(
            429,
            r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"x","status":"error"}"#,
        )
        .with_header("retry-after", "3"),
    );
    assert_eq!(rs[0].get("/crm/v8/Leads").await, 429);
    let seen = fake.requests().len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The other replica holds back until the cool-down is over.
    let asked = Instant::now();
    assert_eq!(rs[1].get("/crm/v8/Leads").await, 200);
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "replica 1 did not wait out replica 0's 429: {waited:?}"
    );
    assert_eq!(fake.requests().len(), seen + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_under_load_fails_no_request_and_sharing_resumes_when_it_returns() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let rs = Arc::new(replicas(3, &fake, &redis, "").await);
    assert!(burst(&rs, 1, "/crm/v8/Leads")
        .await
        .iter()
        .all(|s| *s == 200));
    assert_eq!(fake.token_requests(), 1);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for r in 0..3 {
        for _ in 0..2 {
            let (rs, stop) = (rs.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    let status = rs[r].get("/crm/v8/Leads").await;
                    statuses.push((status, asked.elapsed()));
                }
                statuses
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Degraded, not unready: Kubernetes must not pull every pod.
    let (status, _, body) = common::raw_request(
        rs[0].admin,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""cluster":"degraded""#), "{body}");
    redis.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Paused rather than dead: calls hang instead of failing.
    redis.cmd(&["CLIENT", "PAUSE", "1500", "ALL"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    assert!(all.len() > 50, "the load ran: {}", all.len());
    let failed: Vec<_> = all.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} requests failed: {failed:?}",
        failed.len()
    );
    let slowest = all.iter().map(|(_, took)| *took).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(1),
        "a request hung on Redis for {slowest:?}"
    );
    // The cached token served throughout: no mint storm.
    assert!(
        fake.token_requests() <= 1 + 3,
        "{} mints",
        fake.token_requests()
    );
    // Redis came back empty; the replicas gave it their token back, so a
    // replica starting now takes it instead of minting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mints = fake.token_requests();
    let late = Replica::start(7, &fake, &redis, 3, "").await;
    assert_eq!(late.get("/crm/v8/Leads").await, 200);
    assert_eq!(fake.token_requests(), mints, "{}", late.log());
    // Sharing resumed: a 401 now costs one mint for all replicas again.
    fake.revoke_tokens();
    let statuses = burst(&rs, 3, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), mints + 1, "{}", rs[0].log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_reports_redis_and_fails_without_it() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let r = Replica::start(0, &fake, &redis, 1, "").await;
    let config = r.dir.join("proxy.toml");
    let check = |config: PathBuf| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
                .args(["check", "--online", "--config"])
                .arg(config)
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        })
    };
    let out = check(config.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cluster: Redis 7.") && stdout.contains("reachable"),
        "{stdout}"
    );
    redis.stop();
    let out = check(config).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cluster: Redis not usable"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_while_minting_costs_one_lease_then_one_more_mint() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    // The first mint hangs at the accounts server; its replica dies holding the lease.
    fake.script_token(zoho_proxy::fake::TokenReply::Slow(Duration::from_secs(120)));
    let first = Replica::start(0, &fake, &redis, 2, "").await;
    while fake.token_requests() < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(first); // SIGKILL, lease still held in Redis
    let second = Replica::start(1, &fake, &redis, 2, "").await;
    let asked = Instant::now();
    assert_eq!(second.get("/crm/v8/Leads").await, 200, "{}", second.log());
    let waited = asked.elapsed();
    assert_eq!(fake.token_requests(), 2, "exactly one more mint");
    assert!(
        waited < Duration::from_secs(20),
        "the dead holder's mint lease (15 s) was waited out, not more: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_outage_spends_none_of_the_shared_mint_budget() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    // The accounts server refuses connections: a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = |config: String| {
        config.replacen(
            &format!("accounts_url = \"{}\"", fake.url()),
            &format!("accounts_url = \"https://127.0.0.1:{port}\""),
            1,
        )
    };
    let rs = [
        Replica::start_with(0, &fake, &redis, 2, "", unreachable).await,
        Replica::start_with(1, &fake, &redis, 2, "", unreachable).await,
    ];
    // Each replica retries (0.5 s doubling to 5 s) for a while.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let tried = rs
        .iter()
        .map(|r| r.log().matches("token refresh failed").count())
        .sum::<usize>();
    assert!(tried >= 4, "the replicas kept trying: {tried}");
    assert_eq!(
        redis.cmd(&["ZCARD", "{zoho-proxy:default}:mints"]),
        "0",
        "refused connections minted nothing, so they cost nothing"
    );
}

/// Runs `zoho-proxy check --online` on a replica's config.
async fn check_online(config: PathBuf) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_zoho-proxy"))
            .args(["check", "--online", "--config"])
            .arg(config)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_shares_the_token_the_limits_and_the_cool_down() {
    let fake = FakeZoho::start().await.unwrap();
    let cluster = RedisCluster::start(3);
    let limits = "\n[rate_limit]\nrequests_per_minute = 600\nburst = 5\nmax_concurrent = 50\nmax_wait = \"60s\"\n[retry]\nmax_attempts = 1";
    let rs = Arc::new(replicas(3, &fake, &cluster, limits).await);

    // Cold start: one mint for all three.
    let statuses = burst(&rs, 5, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 1, "{}", rs[0].log());

    // Every key lives in the credential's one slot, on its node, as the
    // cluster itself computes slots; none holds the token in clear.
    let keys = cluster.keys();
    assert!(keys.len() >= 3, "{keys:?}");
    let owner = cluster.owner_of("{zoho-proxy:default}").port();
    let slot = cluster.nodes[0].cmd(&["CLUSTER", "KEYSLOT", "{zoho-proxy:default}"]);
    for key in &keys {
        assert_eq!(
            cluster.nodes[0].cmd(&["CLUSTER", "KEYSLOT", key]),
            slot,
            "{key}"
        );
        assert_eq!(cluster.owner_of(key).port(), owner, "{key}");
    }
    let token = fake.requests()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .trim_start_matches("Zoho-oauthtoken ")
        .to_owned();
    let node = cluster.owner_of("{zoho-proxy:default}");
    for key in &keys {
        let value = match node.cmd(&["TYPE", key]).as_str() {
            "hash" => node.cmd(&["HGETALL", key]),
            "string" => node.cmd(&["GET", key]),
            "zset" => node.cmd(&["ZRANGE", key, "0", "-1"]),
            other => other.to_owned(),
        };
        assert!(!value.contains(&token), "{key} holds the token in clear");
    }

    // Scripts flushed on every node: reloaded on NOSCRIPT, nothing fails.
    for n in &cluster.nodes {
        assert_eq!(n.cmd(&["SCRIPT", "FLUSH"]), "OK");
    }
    // A 401 seen everywhere: one more mint.
    fake.revoke_tokens();
    let statuses = burst(&rs, 3, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 2, "{}", rs[1].log());

    // One rate for all replicas: 10/s with a burst of 5.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = fake.requests().len();
    let run_for = Duration::from_secs(4);
    let started = Instant::now();
    let mut workers = Vec::new();
    for r in 0..3 {
        for _ in 0..6 {
            let rs = rs.clone();
            workers.push(tokio::spawn(async move {
                while started.elapsed() < run_for {
                    let _ = rs[r].get("/crm/v8/Leads").await;
                }
            }));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Every slot is given back (releases are pipelined per hash slot). An
    // expired lease is only swept by an admission, and none runs now, so
    // the pool empties only through releases.
    let deadline = Instant::now() + Duration::from_secs(5);
    while node.cmd(&["ZCARD", "{zoho-proxy:default}:conc"]) != "0" {
        assert!(Instant::now() < deadline, "leases were never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reached = (fake.requests().len() - before) as f64;
    let allowed = 5.0 + 10.0 * elapsed;
    assert!(
        reached <= allowed * 1.05 && reached >= allowed * 0.8,
        "{reached} calls reached Zoho in {elapsed:.1}s; the shared limit allows {allowed:.0}"
    );

    // A 429 on one replica pauses the others (the cool-down is shared).
    fake.script_api(
        ApiReply::status(
            429,
            r#"{"code":"TOO_MANY_REQUESTS","details":{},"message":"x","status":"error"}"#,
        )
        .with_header("retry-after", "2"),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rs[0].get("/crm/v8/Leads").await, 429);
    // Shared within 100 ms (replica 0 records it after answering its client).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    assert_eq!(rs[2].get("/crm/v8/Leads").await, 200);
    assert!(
        asked.elapsed() >= Duration::from_millis(1500),
        "replica 2 did not wait out replica 0's 429: {:?}",
        asked.elapsed()
    );

    // check --online talks to every node.
    let out = check_online(rs[0].dir.join("proxy.toml")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(3 nodes)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_verified_against_the_configured_ca() {
    let fake = FakeZoho::start().await.unwrap();
    let (cert, key) = fake.server_pem();
    let redis = RedisServer::start_tls(cert, key);
    // Trusting the CA that signed Redis's certificate: shared as usual.
    let rs = replicas(2, &fake, &OverTls(&redis, "ca.pem"), "").await;
    let statuses = burst(&rs, 5, "/crm/v8/Leads").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(fake.token_requests(), 1, "{}", rs[0].log());
    let (_, _, metrics) = common::raw_request(
        rs[1].admin,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(metrics.contains("zoho_proxy_cluster_up 1"), "{metrics}");
    let out = check_online(rs[0].dir.join("proxy.toml")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Trusting another CA: the connection is refused, never used. The
    // replica still serves (degraded, its own token) and says why.
    let other = temp_dir("other-ca");
    let other_ca = zoho_proxy::tls::TestCa::generate().unwrap();
    std::fs::write(other.join("ca.pem"), &other_ca.ca_pem).unwrap();
    let path = other.join("ca.pem").display().to_string();
    let stranger = Replica::start(5, &fake, &OverTls(&redis, &path), 2, "").await;
    assert_eq!(stranger.get("/crm/v8/Leads").await, 200);
    let (status, _, body) = common::raw_request(
        stranger.admin,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""cluster":"degraded""#), "{body}");
    let out = check_online(stranger.dir.join("proxy.toml")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cluster: Redis not usable"), "{stderr}");
    let _ = std::fs::remove_dir_all(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_credit_budget() {
    let fake = FakeZoho::start().await.unwrap();
    let redis = RedisServer::start();
    let budget = |c: String| {
        c.replace(
            "rejected_token_min_age = \"0s\"",
            "rejected_token_min_age = \"0s\"\ndaily_credits = 20",
        )
    };
    let a = Replica::start_with(0, &fake, &redis, 2, "", budget).await;
    let b = Replica::start_with(1, &fake, &redis, 2, "", budget).await;
    for _ in 0..10 {
        assert_eq!(a.get("/crm/v8/Leads").await, 200);
    }
    let spent = |r: &Replica| {
        let admin = r.admin;
        async move {
            let (_, _, body) = common::raw_request(
                admin,
                "GET /credits HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v["credentials"]["default"]["spent"].as_u64().unwrap()
        }
    };
    // Within a couple of exchanges, replica b counts replica a's calls.
    let deadline = Instant::now() + Duration::from_secs(5);
    while spent(&b).await < 10 {
        assert!(Instant::now() < deadline, "b never saw a's credits");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..10 {
        assert_eq!(b.get("/crm/v8/Leads").await, 200, "call {i} on b");
    }
    // The budget is spent for both: b refuses at once, a after the exchange.
    assert_eq!(b.get("/crm/v8/Leads").await, 429);
    let deadline = Instant::now() + Duration::from_secs(5);
    while spent(&a).await < 20 {
        assert!(Instant::now() < deadline, "a never saw b's credits");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reached = fake.requests().len();
    assert_eq!(a.get("/crm/v8/Leads").await, 429);
    assert_eq!(fake.requests().len(), reached, "nothing more reached Zoho");
    // The shared counts live under the credential's hash tag.
    let keys = redis.cmd(&["KEYS", "*:cr:*"]);
    assert!(keys.starts_with("{zoho-proxy:default}:cr:"), "{keys}");
}
