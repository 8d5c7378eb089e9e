//! The credit window on disk: JSON beside the token cache, written whole to a
//! temporary file and renamed (a crash leaves the old file or the new one),
//! owner-only like the token cache. It holds counts, never a secret.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    pub credential: String,
    /// (minute since the epoch, credits), oldest first.
    pub total: Vec<(u64, u64)>,
    pub routes: HashMap<String, Vec<(u64, u64)>>,
    #[serde(default)]
    pub clients: HashMap<String, Vec<(u64, u64)>>,
    #[serde(default)]
    pub blocked_until_ms: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(flatten)]
    saved: Saved,
}

/// The credits file of a token cache: `token.json` → `token.credits.json`.
pub fn beside(token_cache: &Path) -> PathBuf {
    let stem = token_cache
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token".to_owned());
    token_cache.with_file_name(format!("{stem}.credits.json"))
}

/// The saved window, `None` if there is no file yet. A file of another
/// credential (a renamed config) is ignored rather than misattributed.
pub(super) fn load(path: &Path, credential: &str) -> Result<Option<Saved>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let file: File =
        serde_json::from_slice(&text).map_err(|e| format!("not a credits file: {e}"))?;
    if file.version != VERSION {
        return Err(format!("unknown version {}", file.version));
    }
    if file.saved.credential != credential {
        return Err(format!(
            "it belongs to credential \"{}\"",
            file.saved.credential
        ));
    }
    Ok(Some(file.saved))
}

pub(super) fn save(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let text = serde_json::to_vec(&FileRef {
        version: VERSION,
        saved,
    })
    .map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[derive(Serialize)]
struct FileRef<'a> {
    version: u32,
    #[serde(flatten)]
    saved: &'a Saved,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_credentials_file() {
        let dir = std::env::temp_dir().join(format!("zp-credits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = beside(&dir.join("token.json"));
        assert_eq!(path.file_name().unwrap(), "token.credits.json");
        let saved = Saved {
            credential: "crm".into(),
            total: vec![(10, 3), (11, 4)],
            routes: HashMap::from([("r".to_owned(), vec![(10, 3)])]),
            clients: HashMap::new(),
            blocked_until_ms: 0,
        };
        save(&path, &saved).unwrap();
        let back = load(&path, "crm").unwrap().unwrap();
        assert_eq!(back.total, saved.total);
        assert_eq!(back.routes, saved.routes);
        assert!(load(&path, "books").unwrap_err().contains("\"crm\""));
        assert!(load(&dir.join("none.json"), "crm").unwrap().is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
