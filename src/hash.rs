//! Cheap, non-cryptographic numbers: a stable fingerprint of bytes (FNV-1a)
//! and a random number for jitter and throwaway names. Nothing here is a
//! security boundary: secrets come from `ring`'s generator (`clients::key`,
//! `coord::seal`).

/// 64-bit FNV-1a: a fingerprint that is the same in every build and process
/// (std's hasher is seeded per process and not stable across Rust versions).
/// The token cache names its credential with it; reload notices a changed
/// config file with it.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A number no caller can predict or repeat, from std's randomly seeded
/// hasher over the clock: enough to spread retries (jitter) and to tell runs
/// apart, never enough for a secret.
pub fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn random_numbers_differ_from_call_to_call() {
        let drawn: std::collections::HashSet<u64> = (0..64).map(|_| random()).collect();
        assert!(drawn.len() > 60, "{} distinct of 64", drawn.len());
    }
}
