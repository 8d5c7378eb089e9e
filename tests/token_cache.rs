//! `[zoho] token_cache`: a restarted proxy reuses the token instead of
//! spending one of Zoho's 10 token requests per 10 minutes, and only for the
//! credential it was minted for.

mod common;

use std::path::{Path, PathBuf};

use common::{Harness, ALLOW_ALL};
use http::StatusCode;
use zoho_proxy::fake::{FakeZoho, REFRESH_TOKEN};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zp-token-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cache_line(path: &Path) -> String {
    format!("token_cache = {:?}", path.display().to_string())
}

/// A proxy in front of a fresh fake Zoho, keeping its token in `cache`.
async fn start_with_cache(cache: &Path) -> Harness {
    Harness::start_with(
        FakeZoho::start().await.unwrap(),
        "",
        &cache_line(cache),
        ALLOW_ALL,
    )
    .await
}

/// The token a request carried to the fake.
fn token_of(fake: &FakeZoho, index: usize) -> String {
    fake.requests()[index].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Stops the proxy and hands back the fake, which keeps its minted tokens.
async fn stop(mut h: Harness) -> FakeZoho {
    h.running.take().unwrap().shutdown().await;
    h.fake
}

#[tokio::test]
async fn a_restart_reuses_the_cached_token_without_a_token_request() {
    let dir = temp_dir("restart");
    let cache = dir.join("token.json");
    let fake = FakeZoho::start().await.unwrap();
    let h = Harness::start_with(fake, "", &cache_line(&cache), ALLOW_ALL).await;
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.token_requests(), 1);
    let first = token_of(&h.fake, 0);

    // Written privately, and holding the token that is in use.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(first.ends_with(&format!(
        " {}",
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["access_token"]
            .as_str()
            .unwrap()
    )));
    assert!(!text.contains(REFRESH_TOKEN), "only a fingerprint of it");

    let fake = stop(h).await;
    let h = Harness::start_with(fake, "", &cache_line(&cache), ALLOW_ALL).await;
    // Ready at once: the cached token is held before any refresh.
    assert_eq!(h.admin_get("/readyz").await.status, StatusCode::OK);
    let resp = h.get("/crm/v8/Contacts").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.token_requests(), 1, "no new token was requested");
    assert_eq!(
        token_of(&h.fake, 1),
        first,
        "Zoho accepted the cached token"
    );

    // A changed refresh token does not reuse it: the proxy asks Zoho (which
    // refuses this made-up refresh token), and the cached token is never sent.
    let fake = stop(h).await;
    let text = fake
        .proxy_config("127.0.0.1:0", "", &cache_line(&cache), ALLOW_ALL)
        .replace(REFRESH_TOKEN, "1000.another-refresh-token");
    let mut config = zoho_proxy::config::compile(&text, "test.toml", Path::new(".")).unwrap();
    for c in &mut config.credentials {
        c.zoho.extra_roots = vec![fake.ca_cert()];
    }
    let running = zoho_proxy::server::start(std::sync::Arc::new(config))
        .await
        .unwrap();
    let (status, _, body) = common::raw_request(
        running.proxy_addr,
        "GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("invalid_code"), "{body}");
    assert!(fake.token_requests() >= 2, "a new token was requested");
    assert_eq!(fake.requests().len(), 2, "the cached token was not used");
    running.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn another_accounts_server_starts_fresh_and_takes_over_the_file() {
    let dir = temp_dir("other-fake");
    let cache = dir.join("token.json");
    let h = start_with_cache(&cache).await;
    assert_eq!(h.get("/crm/v8/Leads").await.status, StatusCode::OK);
    let old = token_of(&h.fake, 0);
    drop(stop(h).await);

    // Same client ID and refresh token, but a different accounts server.
    let h = start_with_cache(&cache).await;
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.token_requests(), 1);
    let new = token_of(&h.fake, 0);
    assert_ne!(new, old, "the first fake's token was never sent here");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(new.ends_with(
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["access_token"]
            .as_str()
            .unwrap()
    ));
    drop(stop(h).await);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_corrupt_cache_is_ignored_and_replaced() {
    let dir = temp_dir("corrupt");
    let cache = dir.join("token.json");
    std::fs::write(&cache, "{\"version\": 1, \"access_token\": ").unwrap();
    let h = start_with_cache(&cache).await;
    let resp = h.get("/crm/v8/Leads").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(h.fake.token_requests(), 1);
    let text = std::fs::read_to_string(&cache).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(token_of(&h.fake, 0).ends_with(json["access_token"].as_str().unwrap()));
    drop(stop(h).await);
    std::fs::remove_dir_all(&dir).unwrap();
}
