//! Config reload: on SIGHUP (see `main.rs`) and when the file changes.
//!
//! The new file is parsed and validated first; only a valid config is
//! swapped in, atomically, for requests that start afterwards: in-flight
//! requests finish with the config they started with, and the token is kept
//! unless the credential changed. An invalid file leaves the old config in
//! place and the reason in the log.
//!
//! Changes are noticed by polling the file's content, which also works for
//! Kubernetes ConfigMaps (updated by swapping a symlink) and editors that
//! replace files instead of writing them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{self, ConfigError};
use crate::credential::CredentialError;
use crate::proxy::{Proxy, Reloaded};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("new config refused, keeping the old one: {0}")]
    Invalid(#[from] ConfigError),
    #[error("new config refused, keeping the old one: {0}")]
    Credential(#[from] CredentialError),
}

/// Reads, validates and applies the config at `path`, on the blocking pool:
/// it reads the config file and the secret, CA and cache files it names, and
/// no request waits for that disk.
pub async fn reload(proxy: Arc<Proxy>, path: PathBuf) -> Result<Reloaded, ReloadError> {
    crate::blocking::run(move || reload_from(&proxy, &path)).await
}

fn reload_from(proxy: &Proxy, path: &Path) -> Result<Reloaded, ReloadError> {
    let new = config::load(path)?;
    let old = proxy.config();
    if new.server.listen != old.server.listen || new.admin.listen != old.admin.listen {
        tracing::warn!(
            "listen addresses cannot change without a restart; the old ones stay in use"
        );
    }
    if new.server.workers != old.server.workers {
        tracing::warn!(
            workers = old.server.workers,
            "workers cannot change without a restart; the old count stays"
        );
    }
    let (routes, clients) = (new.routes.len(), new.clients.len());
    let new = Arc::new(new);
    let outcome = proxy.reload(new.clone())?;
    tracing::info!(path = %path.display(), routes, clients, ?outcome, "config reloaded");
    crate::server::warn_if_open(&new);
    Ok(outcome)
}

/// [`reload`], logging the outcome; never fails the process.
pub async fn reload_and_log(proxy: Arc<Proxy>, path: PathBuf) {
    if let Err(e) = reload(proxy, path.clone()).await {
        tracing::error!(path = %path.display(), error = %e, "config reload failed");
    }
}

/// A cheap fingerprint of the file's content (FNV-1a); `None` if unreadable.
async fn fingerprint(path: &Path) -> Option<u64> {
    let bytes = tokio::fs::read(path).await.ok()?;
    Some(crate::hash::fnv1a64(&bytes))
}

/// Watches `path` every `interval` (in a task) until `stop` says so; a
/// change that has stayed the same for one more interval (debounce) triggers
/// a reload. Returns once the file as it is now is the baseline: any change
/// made after that is noticed.
pub async fn watch_file(
    proxy: Arc<Proxy>,
    path: PathBuf,
    interval: Duration,
    stop: watch::Receiver<bool>,
) {
    let applied = fingerprint(&path).await;
    tokio::spawn(poll(proxy, path, interval, stop, applied));
}

async fn poll(
    proxy: Arc<Proxy>,
    path: PathBuf,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    mut applied: Option<u64>,
) {
    let mut pending: Option<u64> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = fingerprint(&path).await;
        if now.is_none() || now == applied {
            pending = None;
            continue;
        }
        if pending != now {
            // Changed since the last look: wait until it settles.
            pending = now;
            continue;
        }
        pending = None;
        applied = now;
        reload_and_log(proxy.clone(), path.clone()).await;
    }
}
