//! The token cache file, and the token manager restoring from and writing to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::token::{TokenError, TokenGrant, TokenManager, TokenSettings, TokenSource};

const ACCOUNTS: &str = "https://accounts.zoho.eu";
const MARGIN: Duration = Duration::from_secs(300);

/// A fresh, empty directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zp-token-cache-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn cache_in(dir: &Path, refresh_token: &str) -> TokenCache {
    TokenCache::for_credential(
        dir.join("token.json"),
        "1000.CLIENT",
        &Secret::new(refresh_token),
        ACCOUNTS,
    )
}

fn token(secret: &str, valid_for: Duration) -> CachedToken {
    CachedToken {
        access_token: Secret::new(secret),
        expires_at: SystemTime::now() + valid_for,
        api_domain: Some("https://www.zohoapis.eu".into()),
        scope: Some("ZohoCRM.modules.leads.READ".into()),
    }
}

#[test]
fn a_stored_token_reads_back_with_its_expiry_domain_and_scope() {
    let d = dir("roundtrip");
    let cache = cache_in(&d, "1000.refresh");
    let written = token("1000.access-abc", Duration::from_secs(3600));
    cache.store(&written).unwrap();
    let read = cache.read(MARGIN).unwrap();
    assert_eq!(read.access_token.expose(), "1000.access-abc");
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs(read.expires_at), secs(written.expires_at));
    assert_eq!(read.api_domain.as_deref(), Some("https://www.zohoapis.eu"));
    assert_eq!(read.scope.as_deref(), Some("ZohoCRM.modules.leads.READ"));
    // A second store replaces the first, and no temporary file is left over.
    cache
        .store(&token("1000.access-def", Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(
        cache.read(MARGIN).unwrap().access_token.expose(),
        "1000.access-def"
    );
    let names: Vec<_> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["token.json"]);
    fs::remove_dir_all(&d).unwrap();
}

#[cfg(unix)]
#[test]
fn the_file_is_private_even_when_an_old_one_was_not() {
    use std::os::unix::fs::PermissionsExt;
    let d = dir("mode");
    let cache = cache_in(&d, "1000.refresh");
    fs::write(cache.path(), "old").unwrap();
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o644)).unwrap();
    cache
        .store(&token("1000.access", Duration::from_secs(3600)))
        .unwrap();
    let mode = fs::metadata(cache.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn another_credential_does_not_reuse_the_token() {
    let d = dir("foreign");
    cache_in(&d, "1000.refresh")
        .store(&token("1000.access", Duration::from_secs(3600)))
        .unwrap();
    let path = d.join("token.json");
    let others = [
        cache_in(&d, "1000.other-refresh"),
        TokenCache::for_credential(
            path.clone(),
            "1000.OTHER",
            &Secret::new("1000.refresh"),
            ACCOUNTS,
        ),
        TokenCache::for_credential(
            path.clone(),
            "1000.CLIENT",
            &Secret::new("1000.refresh"),
            "https://accounts.zoho.com",
        ),
    ];
    for other in others {
        let miss = other.read(MARGIN).err().expect("foreign cache refused");
        assert!(matches!(miss, CacheMiss::Foreign { .. }), "{miss:?}");
        assert!(other.load(MARGIN).is_none());
    }
    // The fingerprint, not the refresh token, is what the file stores.
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("1000.refresh"), "{text}");
    assert!(text.contains("\"credential\": \"fnv1a64:"), "{text}");
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn missing_corrupt_and_unreadable_files_are_misses_not_errors() {
    let d = dir("corrupt");
    let cache = cache_in(&d, "1000.refresh");
    assert!(matches!(cache.read(MARGIN), Err(CacheMiss::Missing)));
    cache
        .store(&token("1000.access", Duration::from_secs(3600)))
        .unwrap();
    let good = fs::read_to_string(cache.path()).unwrap();
    let cases = [
        String::new(),
        "garbage".into(),
        good[..good.len() / 2].to_owned(),
        good.replace("\"version\": 1", "\"version\": 2"),
        good.replace(
            "\"access_token\": \"1000.access\"",
            "\"access_token\": \"\"",
        ),
        "x".repeat(100 * 1024),
        // Past what a SystemTime holds: used to panic (overflow) at start.
        good.replace(
            &format!("\"expires_at\": {}", expires_at(&good)),
            "\"expires_at\": 18446744073709551615",
        ),
    ];
    for text in cases {
        fs::write(cache.path(), &text).unwrap();
        let miss = cache.read(MARGIN).err().expect("corrupt cache refused");
        assert!(
            matches!(miss, CacheMiss::Corrupt(_)),
            "{miss:?} for {text:.40}"
        );
        assert!(cache.load(MARGIN).is_none());
    }
    // A directory where the file should be.
    fs::remove_file(cache.path()).unwrap();
    fs::create_dir(cache.path()).unwrap();
    assert!(cache.load(MARGIN).is_none());
    fs::remove_dir_all(&d).unwrap();
}

/// The `expires_at` number written in `file`.
fn expires_at(file: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(file).unwrap();
    v["expires_at"].as_u64().unwrap()
}

#[test]
fn a_malformed_file_is_described_without_quoting_its_values() {
    let d = dir("quote");
    let cache = cache_in(&d, "1000.refresh");
    fs::write(
        cache.path(),
        r#"{"version":1,"client_id":"1000.CLIENT","credential":"x","access_token":"t","expires_at":"1000.secret-value","api_domain":null,"scope":null}"#,
    )
    .unwrap();
    let miss = cache.read(MARGIN).err().unwrap();
    assert!(matches!(miss, CacheMiss::Corrupt(_)), "{miss:?}");
    let text = miss.to_string();
    assert!(!text.contains("secret-value"), "{text}");
    assert!(text.contains("line 1, column"), "{text}");
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_token_expiring_within_the_margin_is_not_reused() {
    let d = dir("soon");
    let cache = cache_in(&d, "1000.refresh");
    cache
        .store(&token("1000.access", MARGIN - Duration::from_secs(10)))
        .unwrap();
    assert!(matches!(
        cache.read(MARGIN),
        Err(CacheMiss::ExpiresSoon { .. })
    ));
    cache
        .store(&token("1000.access", Duration::from_secs(3600)))
        .unwrap();
    assert!(cache.read(MARGIN).is_ok());
    // Long expired (a clock before the expiry, or a file from last week).
    cache
        .store(&CachedToken {
            expires_at: UNIX_EPOCH + Duration::from_secs(1_000_000_000),
            ..token("1000.access", Duration::ZERO)
        })
        .unwrap();
    assert!(matches!(
        cache.read(MARGIN),
        Err(CacheMiss::ExpiresSoon { remaining }) if remaining.is_zero()
    ));
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_directory_that_cannot_be_written_is_an_error_naming_the_path() {
    let d = dir("nodir");
    let cache = TokenCache::for_credential(
        d.join("missing").join("token.json"),
        "1000.CLIENT",
        &Secret::new("1000.refresh"),
        ACCOUNTS,
    );
    let e = cache
        .store(&token("1000.access-xyz", Duration::from_secs(3600)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing/token.json"), "{e}");
    assert!(!e.contains("access-xyz"), "{e}");
    fs::remove_dir_all(&d).unwrap();
}

/// Mints `fresh-N` tokens valid for an hour; counts calls.
struct Counting(Arc<AtomicUsize>);

impl TokenSource for Counting {
    fn fetch(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<TokenGrant, TokenError>> + Send + '_>,
    > {
        Box::pin(async move {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(TokenGrant {
                access_token: Secret::new(format!("fresh-{n}")),
                expires_in: Duration::from_secs(3600),
                api_domain: Some("https://www.zohoapis.eu".into()),
                scope: None,
            })
        })
    }
}

fn manager(cache: TokenCache) -> (Arc<TokenManager>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let settings = TokenSettings::new(MARGIN, 10);
    let m = TokenManager::new(Counting(calls.clone()), settings).with_cache(cache);
    (Arc::new(m), calls)
}

#[tokio::test(start_paused = true)]
async fn a_restart_reuses_the_cached_token_and_refreshes_it_on_schedule() {
    let d = dir("restart");
    let cache = cache_in(&d, "1000.refresh");
    cache
        .store(&token("1000.cached", Duration::from_secs(1800)))
        .unwrap();
    let (m, calls) = manager(cache.clone());
    // Usable at once, without a token request.
    let t = m.token(None).await.unwrap();
    assert_eq!(t.expose(), "1000.cached");
    assert_eq!(t.scope.as_deref(), Some("ZohoCRM.modules.leads.READ"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Refreshed `refresh_before_expiry` before the cached expiry.
    let until_refresh = t.refresh_at - tokio::time::Instant::now();
    assert!(
        until_refresh <= Duration::from_secs(1500) && until_refresh > Duration::from_secs(1490),
        "{until_refresh:?}"
    );
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(m.clone().run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(1400)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the loop waits for refresh_at"
    );
    tokio::time::sleep(Duration::from_secs(101)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(m.current().unwrap().expose(), "fresh-1");
    // The new token replaced the cached one on disk.
    assert_eq!(cache.read(MARGIN).unwrap().access_token.expose(), "fresh-1");
    fs::remove_dir_all(&d).unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_a_usable_cache_the_first_token_is_fetched_and_written() {
    let d = dir("cold");
    let cache = cache_in(&d, "1000.refresh");
    cache
        .store(&token("1000.stale", Duration::from_secs(60)))
        .unwrap();
    let (m, calls) = manager(cache.clone());
    assert!(
        m.current().is_none(),
        "a token within the margin is not reused"
    );
    assert_eq!(m.token(None).await.unwrap().expose(), "fresh-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stored = cache.read(MARGIN).unwrap();
    assert_eq!(stored.access_token.expose(), "fresh-1");
    let left = stored.expires_at.duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(3590), "{left:?}");
    // A credential change (another refresh token) ignores that file.
    let (other, other_calls) = manager(cache_in(&d, "1000.rotated"));
    assert!(other.current().is_none());
    assert_eq!(other.token(None).await.unwrap().expose(), "fresh-1");
    assert_eq!(other_calls.load(Ordering::SeqCst), 1);
    fs::remove_dir_all(&d).unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unwritable_cache_never_stops_the_token_from_being_used() {
    let d = dir("unwritable");
    let cache = TokenCache::for_credential(
        d.join("no-such-dir").join("token.json"),
        "1000.CLIENT",
        &Secret::new("1000.refresh"),
        ACCOUNTS,
    );
    let (m, calls) = manager(cache);
    assert_eq!(m.token(None).await.unwrap().expose(), "fresh-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    fs::remove_dir_all(&d).unwrap();
}
