//! `canon::canonicalize`: one canonical string per path, or a refusal.

use zoho_proxy::canon::{canonicalize, CanonicalPath, PathError};

use super::decode;

/// Raw path bytes.
pub fn check(data: &[u8]) {
    path(&super::text(data));
}

/// Every property of one raw path.
pub fn path(raw: &str) {
    match canonicalize(raw) {
        Ok(p) => canonical(raw, &p),
        Err(e) => refusal(&e),
    }
}

/// `p` is what `raw` canonicalized to.
pub fn canonical(raw: &str, p: &CanonicalPath) {
    let s = p.as_str();
    // Idempotent: the canonical form is its own canonical form.
    assert_eq!(
        canonicalize(s).as_ref(),
        Ok(p),
        "{raw:?} -> {s:?} is not a fixed point"
    );
    // It means what the raw path meant: the same bytes once decoded.
    assert_eq!(
        decode(raw.as_bytes()),
        decode(s.as_bytes()),
        "{raw:?} -> {s:?} changed the meaning"
    );
    assert!(s.starts_with('/') && s.is_ascii(), "{s:?}");
    let segments: Vec<&str> = p.segments().collect();
    assert_eq!(format!("/{}", segments.join("/")), s, "segments of {s:?}");
    for seg in segments {
        segment(s, seg);
    }
}

/// One segment of the canonical path `s`.
fn segment(s: &str, seg: &str) {
    assert!(!seg.is_empty(), "empty segment in {s:?}");
    for b in seg.bytes() {
        assert!(
            b.is_ascii_graphic() && !matches!(b, b'\\' | b';' | b'?' | b'#' | b'/'),
            "raw {:?} in {s:?}",
            b as char
        );
    }
    let decoded = decode(seg.as_bytes());
    // No decoded `.`/`..`, separator, `;` or NUL survives.
    assert!(
        decoded != b"." && decoded != b"..",
        "dot segment {seg:?} in {s:?}"
    );
    for bad in [b'/', b'\\', b';', 0] {
        assert!(
            !decoded.contains(&bad),
            "{seg:?} decodes to {:?}",
            bad as char
        );
    }
    // Decoding twice changes nothing: no double encoding survives.
    assert_eq!(decode(&decoded), decoded, "{seg:?} in {s:?} decodes twice");
    // Escapes are normalised: uppercase hex, never of an unreserved byte, never
    // of a control character.
    let b = seg.as_bytes();
    for (i, _) in seg.match_indices('%') {
        let hex = b.get(i + 1..i + 3).unwrap_or(&[]);
        assert!(
            hex.len() == 2
                && hex
                    .iter()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)),
            "escape at {i} of {seg:?} is not %HH"
        );
        let v = decode(&b[i..i + 3])[0];
        assert!(
            !(v.is_ascii_alphanumeric() || b"-._~".contains(&v)),
            "%{v:02X} (unreserved) kept in {s:?}"
        );
        assert!(v >= 0x20 && v != 0x7F, "control escape in {s:?}");
    }
}

/// A refusal names a known reason in a bounded message.
pub fn refusal(e: &PathError) {
    let code = e.code();
    assert!(
        code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{code}"
    );
    let message = e.to_string();
    assert!(!message.is_empty());
    // Hostile input is quoted in at most 64 characters.
    assert!(message.len() < 1200, "{} bytes: {message}", message.len());
}
