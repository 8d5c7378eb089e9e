//! The property checks, shared with the stable test suite
//! (`tests/fuzz_corpus.rs`, `tests/properties.rs`).
#[path = "../tests/props/mod.rs"]
pub mod props;
