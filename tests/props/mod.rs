//! Properties of the parsers that decide what reaches Zoho, shared by three
//! runners that must agree:
//!
//! - the cargo-fuzz targets in `fuzz/` (nightly, coverage-guided), which
//!   include this module by path;
//! - `tests/fuzz_corpus.rs`, which replays every committed corpus file
//!   (stable, in `cargo test`);
//! - `tests/properties.rs`, proptest with structured inputs (stable).
//!
//! Each `check` takes the fuzzer's raw bytes and panics when a property is
//! violated, so a regression fails CI the same way it fails the fuzzer. Only
//! the crate's public API is used: nothing here is in the production binary.
#![allow(dead_code)]

pub mod canon;
pub mod catalog;
pub mod config;
pub mod inspect;
pub mod route;
pub mod target;
pub mod token;

/// A target's property check: panics when the input breaks a property.
pub type Check = fn(&[u8]);

/// Every target: its name (the corpus directory `fuzz/corpus/<name>`) and
/// its property check.
pub const TARGETS: &[(&str, Check)] = &[
    ("canon", canon::check),
    ("route", route::check),
    ("config", config::check),
    ("token", token::check),
    ("catalog", catalog::check),
    ("target", target::check),
    ("coql", inspect::check_coql),
    ("inspect", inspect::check),
];

/// Percent-decodes `%HH` escapes (either hex case); anything else, including
/// a `%` not followed by two hex digits, is kept as is.
pub fn decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let hex = |j: usize| s.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The fuzzer's bytes as text: invalid UTF-8 becomes U+FFFD, so every input
/// exercises the parser (the server's inputs are text by then).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Splits an input into two texts at its first newline (the second is empty
/// if there is none).
pub fn two(data: &[u8]) -> (String, String) {
    let t = text(data);
    match t.split_once('\n') {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (t.into_owned(), String::new()),
    }
}
