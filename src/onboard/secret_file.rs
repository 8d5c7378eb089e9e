//! Writing a refresh token to the credential's secret file.
//!
//! The file is replaced atomically (a new file in the same directory, created
//! with mode 0600, then renamed over it), so a proxy reloading meanwhile reads
//! either the old token or the new one, never half of one. A token the file
//! held before is kept in `<file>.previous` (mode 0600), because a replaced
//! refresh token stays valid at Zoho until it is revoked: `revoke
//! --token-file <file>.previous` can still reach it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Secret;

/// What a write will do, checked before the browser flow so that a token
/// Zoho issued is never left without a place to go.
#[derive(Debug)]
pub struct Plan {
    pub path: PathBuf,
    /// Where the token the file holds now goes (if it holds one).
    pub previous: Option<PathBuf>,
}

fn previous_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".previous");
    path.with_file_name(name)
}

fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks that `path` can be written: its directory exists and takes new
/// files, and a token it holds now has somewhere to go.
pub fn plan(path: &Path) -> Result<Plan, String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!("{shown} is a directory, not a file"));
    }
    let current = match std::fs::read_to_string(path) {
        Ok(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let previous = current.map(|_| previous_path(path));
    if let Some(p) = previous.as_ref().filter(|p| p.exists()) {
        return Err(format!(
            "{} exists: it may hold a refresh token that is still valid; revoke it \
             (zoho-proxy revoke --token-file {}) and delete it, then run login again",
            p.display(),
            p.display()
        ));
    }
    // Prove the directory takes a new private file.
    let probe = temp_path(path);
    create_private(&probe, b"")
        .map_err(|e| format!("cannot create files in {}: {e}", directory(path).display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(Plan {
        path: path.to_owned(),
        previous,
    })
}

/// Writes `secret` as planned; returns where the previous token went.
pub fn write(plan: &Plan, secret: &Secret) -> Result<Option<PathBuf>, String> {
    let shown = plan.path.display();
    let temp = temp_path(&plan.path);
    let mut text = secret.expose().as_bytes().to_vec();
    text.push(b'\n');
    create_private(&temp, &text).map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    let mut moved = None;
    if let Some(previous) = &plan.previous {
        let old = std::fs::read(&plan.path).unwrap_or_default();
        if !old.is_empty() && old.trim_ascii() != secret.expose().as_bytes() {
            if let Err(e) = create_private(previous, &old) {
                let _ = std::fs::remove_file(&temp);
                return Err(format!(
                    "cannot keep the previous token in {}: {e}",
                    previous.display()
                ));
            }
            moved = Some(previous.clone());
        }
    }
    if let Err(e) = std::fs::rename(&temp, &plan.path) {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("cannot replace {shown}: {e}"));
    }
    // Make the rename durable where the platform allows it.
    if let Ok(dir) = std::fs::File::open(directory(&plan.path)) {
        let _ = dir.sync_all();
    }
    Ok(moved)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// A new file (never an existing one) readable and writable by its owner only.
fn create_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(content).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zp-secret-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_private_and_a_replaced_token_is_kept_aside() {
        let d = dir("replace");
        let path = d.join("refresh_token");
        let plan1 = plan(&path).unwrap();
        assert!(plan1.previous.is_none());
        assert_eq!(write(&plan1, &Secret::new("1000.first")).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1000.first\n");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);

        let plan2 = plan(&path).unwrap();
        let previous = d.join("refresh_token.previous");
        assert_eq!(plan2.previous.as_deref(), Some(previous.as_path()));
        assert_eq!(
            write(&plan2, &Secret::new("1000.second")).unwrap(),
            Some(previous.clone())
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1000.second\n");
        assert_eq!(std::fs::read_to_string(&previous).unwrap(), "1000.first\n");
        #[cfg(unix)]
        assert_eq!((mode(&path), mode(&previous)), (0o600, 0o600));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        // An unrevoked previous token is never overwritten.
        let e = plan(&path).unwrap_err();
        assert!(
            e.contains("refresh_token.previous exists") && e.contains("revoke"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unusable_place_is_refused_before_anything_is_written() {
        let d = dir("refuse");
        let e = plan(&d.join("missing-dir").join("refresh_token")).unwrap_err();
        assert!(e.contains("cannot create files in"), "{e}");
        let e = plan(&d).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        // An empty file holds no token: nothing to keep aside.
        let path = d.join("empty");
        std::fs::write(&path, "\n").unwrap();
        assert!(plan(&path).unwrap().previous.is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
