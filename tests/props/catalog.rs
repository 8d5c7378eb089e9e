//! `catalog::lookup`: which scopes a call needs.
//!
//! Input: one byte picks the upstream, one the method, the rest is the path.

use zoho_proxy::canon::canonicalize;
use zoho_proxy::catalog::{self, Requirement};
use zoho_proxy::dc::Upstream;
use zoho_proxy::scope::Scope;

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get",
];

pub fn check(data: &[u8]) {
    let (upstream, method, path) = match data {
        [u, m, rest @ ..] => (
            Upstream::ALL[*u as usize % Upstream::ALL.len()],
            METHODS[*m as usize % METHODS.len()],
            super::text(rest),
        ),
        _ => return,
    };
    lookup(upstream, method, &path);
}

pub fn lookup(upstream: Upstream, method: &str, path: &str) {
    // Any text: an answer, never a panic.
    let found = catalog::lookup(upstream, method, path);
    let Ok(canonical) = canonicalize(path) else {
        return;
    };
    if canonical.as_str() != path {
        // The pipeline only ever asks with the canonical spelling.
        return;
    }
    let Some(req) = found else {
        return;
    };
    requirement(&req, upstream, method, path);
    // The same question gets the same answer.
    assert_eq!(catalog::lookup(upstream, method, path), Some(req));
}

fn requirement(req: &Requirement, upstream: Upstream, method: &str, path: &str) {
    let what = format!("{} {method} {path}", upstream.as_str());
    assert!(!req.scopes.is_empty(), "{what}: no scope");
    for s in &req.scopes {
        let again: Scope = s.to_string().parse().expect("a scope prints as a scope");
        assert_eq!(&again, s, "{what}");
    }
    assert!(!req.family.is_empty(), "{what}");
    assert!(req.doc.starts_with("https://"), "{what}: doc {}", req.doc);
    // Methods are matched as Zoho spells them: uppercase, never OPTIONS.
    assert!(
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].contains(&method),
        "{what}"
    );
    // A requirement is only ever given for a plainly spelled path: no
    // escapes or odd characters that could mean another endpoint to Zoho.
    assert!(
        path.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b)),
        "{what}: requirement for an unusual spelling"
    );
    // HEAD is a GET without a body: it needs exactly what GET needs.
    if method == "HEAD" || method == "GET" {
        let other = if method == "HEAD" { "GET" } else { "HEAD" };
        let twin = catalog::lookup(upstream, other, path).map(|r| r.scopes);
        assert_eq!(twin.as_ref(), Some(&req.scopes), "{what} vs {other}");
    }
}
