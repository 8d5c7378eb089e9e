//! `config::compile`: any text is compiled or refused, never a panic, and a
//! refusal says where.

use std::path::Path;

use zoho_proxy::config::{self, ConfigError};

/// The name the config is compiled under (quoted in messages).
const NAME: &str = "fuzz.toml";

/// The one refusal that is about nothing written, so it has no line.
const NO_CREDENTIAL: &str = "no credential: add a [zoho] table or [[credentials]] entries";

pub fn check(data: &[u8]) {
    text(&super::text(data));
}

pub fn text(text: &str) {
    // Secret and CA files are read as the config says: keep the fuzzer away
    // from device files that never end (`/dev/zero`) or block (`/dev/stdin`).
    if text.contains("/dev") || text.contains("/proc") || text.contains("/sys") {
        return;
    }
    // Relative paths resolve in a directory that does not exist.
    match config::compile(text, NAME, Path::new("/nonexistent/zoho-proxy-fuzz")) {
        Ok(c) => compiled(&c),
        Err(e) => refused(text, &e),
    }
}

fn compiled(c: &config::Config) {
    assert!(!c.credentials.is_empty());
    for (i, a) in c.credentials.iter().enumerate() {
        assert!(
            c.credentials[..i].iter().all(|b| b.name != a.name),
            "{}",
            a.name
        );
        assert!(!a.zoho.client_secret.expose().trim().is_empty());
        assert!(!a.zoho.refresh_token.expose().trim().is_empty());
        assert_eq!(format!("{:?}", a.zoho.refresh_token), "Secret(<redacted>)");
    }
    assert!(c.server.listen.ip().is_loopback() || c.server.allow_remote);
    for r in c.routes.iter() {
        assert!(r.credential < c.credentials.len(), "{}", r.name);
        let again = r.pattern.as_str().parse();
        assert_eq!(again.as_ref(), Ok(&r.pattern));
    }
}

fn refused(text: &str, e: &ConfigError) {
    let lines = text.split('\n').count();
    let shown = e.to_string();
    match e {
        ConfigError::Invalid {
            path,
            line,
            column,
            message,
        } => {
            assert_eq!(path, NAME);
            assert!(
                (1..=lines).contains(line),
                "line {line} of {lines}: {shown}"
            );
            let width = text.split('\n').nth(line - 1).map_or(0, str::len);
            assert!((1..=width + 1).contains(column), "column {column}: {shown}");
            assert!(!message.trim().is_empty());
            assert!(
                shown.starts_with(&format!("{NAME}:{line}:{column}: ")),
                "{shown}"
            );
        }
        ConfigError::Syntax { path, message } => {
            assert_eq!(path, NAME);
            if message != NO_CREDENTIAL {
                let line = toml_line(message)
                    .unwrap_or_else(|| panic!("a syntax error without a line: {shown}"));
                assert!(
                    (1..=lines).contains(&line),
                    "line {line} of {lines}: {shown}"
                );
            }
        }
        ConfigError::Io { .. } => panic!("compile read the config file: {shown}"),
    }
}

/// `N` in toml's "TOML parse error at line N, column M".
fn toml_line(message: &str) -> Option<usize> {
    let rest = message.split_once("at line ")?.1;
    rest.split(',').next()?.trim().parse().ok()
}
