//! The access token on disk, so that a restart reuses it instead of spending
//! one of Zoho's 10 token requests per 10 minutes (a rolling restart of a few
//! replicas, or a crash loop, would otherwise burn the budget quickly).
//!
//! The file (`[zoho] token_cache`) is JSON: the token, its wall-clock expiry
//! in unix seconds, `api_domain` and `scope`, plus what it belongs to: the
//! client ID and a fingerprint of client ID, refresh token and accounts URL
//! ([`fnv1a64`], the same in every build, unlike std's hasher). A cache of another credential is ignored, so changing the
//! refresh token or the client starts fresh.
//!
//! It is written atomically (a temporary file with mode 0600 in the same
//! directory, fsync, rename) and only ever helps: a missing, unreadable,
//! corrupt or foreign file is ignored with a log line, never fatal. The file
//! holds a live access token: keep it on a private volume.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{trim_slash, Secret, ZohoConfig};
use crate::hash::fnv1a64;

const FORMAT_VERSION: u32 = 1;
/// A token cache file is a few hundred bytes; anything much larger is not one.
const MAX_FILE: u64 = 64 * 1024;

/// A token read from, or about to be written to, the cache.
pub struct CachedToken {
    pub access_token: Secret,
    /// Wall-clock expiry (survives restarts, unlike an `Instant`).
    pub expires_at: SystemTime,
    pub api_domain: Option<String>,
    pub scope: Option<String>,
}

/// Why a cache file was not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheMiss {
    #[error("no cache file yet")]
    Missing,
    #[error("cannot read it: {0}")]
    Unreadable(io::Error),
    #[error("it is not a token cache file ({0})")]
    Corrupt(String),
    #[error("it belongs to another credential (client {client_id}, or another refresh token or accounts server)")]
    Foreign { client_id: String },
    #[error("the cached token expires in {}s, within the refresh margin", .remaining.as_secs())]
    ExpiresSoon { remaining: Duration },
}

/// Why the cache could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct CacheError {
    action: &'static str,
    path: String,
    source: io::Error,
}

/// What is written to disk. No `Debug`: it holds the token.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    version: u32,
    client_id: String,
    /// `fnv1a64:<16 hex digits>` over client ID, refresh token, accounts URL.
    credential: String,
    access_token: String,
    /// Unix seconds.
    expires_at: u64,
    api_domain: Option<String>,
    scope: Option<String>,
}

/// The token cache of one credential.
#[derive(Debug, Clone)]
pub struct TokenCache {
    path: PathBuf,
    client_id: String,
    credential: String,
}

impl TokenCache {
    /// The cache at `path` for the credential `zoho` configures.
    pub fn new(path: PathBuf, zoho: &ZohoConfig) -> Self {
        Self::for_credential(
            path,
            &zoho.client_id,
            &zoho.refresh_token,
            &trim_slash(&zoho.accounts_url),
        )
    }

    pub fn for_credential(
        path: PathBuf,
        client_id: &str,
        refresh_token: &Secret,
        accounts_url: &str,
    ) -> Self {
        let mut material = Vec::new();
        for part in [client_id, refresh_token.expose(), accounts_url] {
            material.extend_from_slice(part.as_bytes());
            material.push(0);
        }
        TokenCache {
            path,
            client_id: client_id.to_owned(),
            credential: format!("fnv1a64:{:016x}", fnv1a64(&material)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached token if it belongs to this credential and stays valid for
    /// more than `min_validity`; otherwise `None`, with a log line saying why.
    pub fn load(&self, min_validity: Duration) -> Option<CachedToken> {
        let path = self.path.display();
        match self.read(min_validity) {
            Ok(token) => Some(token),
            Err(CacheMiss::Missing) => {
                tracing::debug!(%path, "no token cache yet");
                None
            }
            Err(miss @ CacheMiss::ExpiresSoon { .. }) => {
                tracing::info!(%path, reason = %miss, "not reusing the cached token");
                None
            }
            Err(miss) => {
                tracing::warn!(%path, reason = %miss, "ignoring the token cache");
                None
            }
        }
    }

    /// Reads and checks the file.
    pub fn read(&self, min_validity: Duration) -> Result<CachedToken, CacheMiss> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CacheMiss::Missing),
            Err(e) => return Err(CacheMiss::Unreadable(e)),
        };
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, MAX_FILE + 1), &mut bytes)
            .map_err(CacheMiss::Unreadable)?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(CacheMiss::Corrupt("larger than 64KiB".into()));
        }
        // The parser's message may quote a value; only its position is kept.
        let file: CacheFile = serde_json::from_slice(&bytes)
            .map_err(|e| CacheMiss::Corrupt(format!("line {}, column {}", e.line(), e.column())))?;
        if file.version != FORMAT_VERSION {
            return Err(CacheMiss::Corrupt(format!(
                "format version {}, expected {FORMAT_VERSION}",
                file.version
            )));
        }
        if file.client_id != self.client_id || file.credential != self.credential {
            return Err(CacheMiss::Foreign {
                client_id: file.client_id,
            });
        }
        if file.access_token.is_empty() {
            return Err(CacheMiss::Corrupt("empty access_token".into()));
        }
        let expires_at = UNIX_EPOCH
            .checked_add(Duration::from_secs(file.expires_at))
            .ok_or_else(|| CacheMiss::Corrupt("expires_at is out of range".into()))?;
        let remaining = expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        if remaining <= min_validity {
            return Err(CacheMiss::ExpiresSoon { remaining });
        }
        Ok(CachedToken {
            access_token: Secret::new(file.access_token),
            expires_at,
            api_domain: file.api_domain,
            scope: file.scope,
        })
    }

    /// Replaces the file atomically: a private temporary file in the same
    /// directory, written and fsynced, then renamed over the old one.
    pub fn store(&self, token: &CachedToken) -> Result<(), CacheError> {
        let file = CacheFile {
            version: FORMAT_VERSION,
            client_id: self.client_id.clone(),
            credential: self.credential.clone(),
            access_token: token.access_token.expose().to_owned(),
            expires_at: token
                .expires_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            api_domain: token.api_domain.clone(),
            scope: token.scope.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| self.error("encode", e.into()))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "token-cache".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_private(&tmp, &json).and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(self.error("write", e));
        }
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn error(&self, action: &'static str, source: io::Error) -> CacheError {
        CacheError {
            action,
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// Creates `path` readable by the owner only, writes `bytes` and fsyncs.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A leftover from a crash may have other permissions: start anew.
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests;
