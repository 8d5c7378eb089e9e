//! Route patterns: parse + match, and what a route forwards.
//!
//! Input: `pattern\npath`.

use std::path::Path;

use http::Method;
use zoho_proxy::canon::{canonicalize, CanonicalPath};
use zoho_proxy::config::{self, ConfigError};
use zoho_proxy::route::pattern::PathPattern;

pub fn check(data: &[u8]) {
    let (pattern, path) = super::two(data);
    pattern_and_path(&pattern, &path);
}

pub fn pattern_and_path(pattern: &str, path: &str) {
    let parsed = PathPattern::parse(pattern);
    if let Ok(p) = &parsed {
        // Round trip: the pattern is kept as written and parses again the same.
        assert_eq!(p.as_str(), pattern);
        assert_eq!(PathPattern::parse(&p.to_string()).as_ref(), Ok(p));
        // A pattern without wildcards is a canonical path: it can only match itself.
        if !pattern.contains('*') {
            let canonical = canonicalize(pattern).map(|c| c.as_str().to_owned());
            assert_eq!(
                canonical.as_deref(),
                Ok(pattern),
                "literal pattern not canonical"
            );
        }
    }
    let path = canonicalize(path).ok();
    if let (Ok(p), Some(path)) = (&parsed, &path) {
        matching(p, path);
    }
    routed(pattern, parsed.is_ok(), path.as_ref());
}

/// The matcher agrees with an independent (memoised, exhaustive) one.
fn matching(p: &PathPattern, path: &CanonicalPath) {
    let got = p.matches(path);
    if !p.as_str().contains('*') {
        assert_eq!(got, p.as_str() == path.as_str(), "{p} vs {path}");
    }
    let pattern: Vec<&str> = p.as_str()[1..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let segments: Vec<&str> = path.segments().collect();
    if let Some(want) = reference(&pattern, &segments) {
        assert_eq!(got, want, "pattern {p} vs path {path}");
    }
}

/// `pattern` (segments as written) against `path` segments, by dynamic
/// programming over (pattern position, path position); `None` when the
/// table would be too large to be quick.
fn reference(pattern: &[&str], path: &[&str]) -> Option<bool> {
    let (np, ns) = (pattern.len(), path.len());
    if (np + 1) * (ns + 1) > 200_000 {
        return None;
    }
    // m[i][j]: pattern[i..] matches path[j..].
    let mut m = vec![vec![false; ns + 1]; np + 1];
    m[np][ns] = true;
    for i in (0..np).rev() {
        for j in (0..=ns).rev() {
            m[i][j] = match pattern[i] {
                "**" => m[i + 1][j] || (j < ns && m[i][j + 1]),
                seg => j < ns && glob(seg.as_bytes(), path[j].as_bytes())? && m[i + 1][j + 1],
            };
        }
    }
    Some(m[0][0])
}

/// `*` matches any run of bytes, everything else itself (dynamic programming).
fn glob(g: &[u8], t: &[u8]) -> Option<bool> {
    if (g.len() + 1) * (t.len() + 1) > 1_000_000 {
        return None;
    }
    let mut m = vec![vec![false; t.len() + 1]; g.len() + 1];
    m[g.len()][t.len()] = true;
    for i in (0..g.len()).rev() {
        for j in (0..=t.len()).rev() {
            m[i][j] = if g[i] == b'*' {
                m[i + 1][j] || (j < t.len() && m[i][j + 1])
            } else {
                j < t.len() && g[i] == t[j] && m[i + 1][j + 1]
            };
        }
    }
    Some(m[0][0])
}

/// A TOML basic string holding `s` exactly.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const CREDENTIAL: &str =
    "[zoho]\nclient_id = \"id\"\nclient_secret = \"s\"\nrefresh_token = \"r\"\n";
const SCOPE: &str = "ZohoCRM.modules.ALL";

/// The pattern in a config, alone and with its first segment as
/// `strip_prefix`: compile agrees with the pattern parser, names the line of
/// `path` when it refuses, and an allowed request forwards exactly the path
/// that matched (less the prefix).
fn routed(pattern: &str, pattern_ok: bool, path: Option<&CanonicalPath>) {
    let mut prefixes = vec![None];
    if let Some((first, rest)) = pattern.get(1..).and_then(|r| r.split_once('/')) {
        let literal = !first.is_empty()
            && !first.contains(['*', '?', '%', '\\'])
            && first != "."
            && first != ".."
            && !rest.is_empty();
        if literal {
            prefixes.push(Some(format!("/{first}")));
        }
    }
    for prefix in prefixes {
        let strip = prefix
            .as_deref()
            .map(|p| format!("strip_prefix = {}\n", toml_string(p)))
            .unwrap_or_default();
        // `path` is on line 6.
        let text = format!(
            "{CREDENTIAL}[[routes]]\npath = {}\nscopes = [\"{SCOPE}\"]\nrequires = \"{SCOPE}\"\n{strip}",
            toml_string(pattern)
        );
        let config = match config::compile(&text, "route.toml", Path::new("/nonexistent")) {
            Ok(c) => c,
            Err(ConfigError::Invalid { line, message, .. }) => {
                assert!(!pattern_ok || prefix.is_some(), "{pattern:?}: {message}");
                if !pattern_ok && prefix.is_none() {
                    assert_eq!(line, 6, "{message}");
                    assert!(message.contains("bad path pattern"), "{message}");
                }
                continue;
            }
            Err(e) => panic!("{pattern:?}: {e}"),
        };
        assert!(pattern_ok, "compile accepted the bad pattern {pattern:?}");
        let Some(path) = path else { continue };
        let route = config.routes.iter().next().expect("one route");
        let matched = route.pattern.matches(path);
        match config.routes.decide(&Method::GET, path) {
            Ok(d) => {
                assert!(matched, "{pattern:?} allowed {path} without matching it");
                assert_eq!(canonicalize(d.forward.as_str()).as_ref(), Ok(&d.forward));
                let whole = format!("{}{}", prefix.as_deref().unwrap_or(""), d.forward);
                assert_eq!(whole, path.as_str(), "forwarded {} for {path}", d.forward);
            }
            Err(denial) => {
                // Only a miss, or a prefix with nothing after it, is denied.
                let prefix_ok = prefix
                    .as_deref()
                    .is_none_or(|p| path.strip_prefix(p).is_some());
                assert!(!matched || !prefix_ok, "{pattern:?} {path}: {denial:?}");
            }
        }
    }
}
