//! Secrets (client secret, refresh token, access tokens) and where they come from.
//!
//! [`Secret`] is the only type that holds secret text. Its `Debug` prints a
//! placeholder and it has no `Display`, so a secret cannot end up in a log line,
//! an error message or a response by accident: the one way out is
//! [`Secret::expose`], which is greppable.

use std::fmt;
use std::path::PathBuf;

/// A string that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret in the config comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the file itself (fine for tests and the demo; not for production).
    Inline(Secret),
    /// An environment variable.
    Env(String),
    /// A file, e.g. a mounted Kubernetes secret. Surrounding whitespace is trimmed.
    File(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    #[error("cannot read secret file {path}: {reason}")]
    FileUnreadable { path: String, reason: String },
    #[error("secret file {0} is empty")]
    FileEmpty(String),
    #[error("the inline secret is empty")]
    InlineEmpty,
}

impl SecretSource {
    /// Where the secret comes from, for messages (never the value).
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Inline(_) => "the config file itself (inline)".to_owned(),
            SecretSource::Env(var) => format!("environment variable {var}"),
            SecretSource::File(path) => format!("file {}", path.display()),
        }
    }

    /// Reads the secret now. The error names the variable or file, never the value.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Inline(s) if s.expose().trim().is_empty() => {
                Err(SecretError::InlineEmpty)
            }
            SecretSource::Inline(s) => Ok(s.clone()),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if v.trim().is_empty() => Err(SecretError::EnvEmpty(var.clone())),
                Ok(v) => Ok(Secret(v.trim().to_owned())),
                Err(_) => Err(SecretError::EnvMissing(var.clone())),
            },
            SecretSource::File(path) => {
                let shown = path.display().to_string();
                let text =
                    std::fs::read_to_string(path).map_err(|e| SecretError::FileUnreadable {
                        path: shown.clone(),
                        reason: e.kind().to_string(),
                    })?;
                let text = text.trim();
                if text.is_empty() {
                    return Err(SecretError::FileEmpty(shown));
                }
                Ok(Secret(text.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("1000.topsecret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let src = SecretSource::Inline(s);
        assert!(!format!("{src:?}").contains("topsecret"));
    }

    #[test]
    fn env_and_file_sources_name_what_is_missing() {
        let var = "ZOHO_PROXY_TEST_SURELY_UNSET_VAR";
        assert_eq!(
            SecretSource::Env(var.into()).resolve(),
            Err(SecretError::EnvMissing(var.into()))
        );
        let dir = std::env::temp_dir().join(format!("zp-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "  \n").unwrap();
        let err = SecretSource::File(empty.clone()).resolve().unwrap_err();
        assert_eq!(err, SecretError::FileEmpty(empty.display().to_string()));
        let full = dir.join("full");
        std::fs::write(&full, "s3cret\n").unwrap();
        assert_eq!(
            SecretSource::File(full).resolve().unwrap().expose(),
            "s3cret"
        );
        let missing = SecretSource::File(dir.join("nope")).resolve().unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
