//! Cheap, non-cryptographic numbers: a stable fingerprint of bytes (FNV-1a)
//! and a random number for jitter and throwaway names. Nothing here is a
//! security boundary: secrets come from `ring`'s generator (`clients::key`,
//! `coord::seal`).

/// 64-bit FNV-1a: a fingerprint that is the same in every build and process
/// (std's hasher is seeded per process and not stable across Rust versions).
/// The token cache names its credential with it; reload notices a changed
/// config file with it.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hash = Fnv64::default();
    hash.write(bytes);
    hash.finish()
}

/// [`fnv1a64`] as a [`std::hash::Hasher`], for maps whose keys are all
/// fixed when they are built (the route and catalog segment indexes): only
/// looked up afterwards, so colliding keys cannot be inserted to slow them
/// down, and a path segment hashes in a few instructions per byte instead of
/// SipHash's fixed cost.
#[derive(Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`Fnv64`] hashers.
pub type FnvBuild = std::hash::BuildHasherDefault<Fnv64>;

/// A number no caller can predict or repeat: SipHash (a keyed PRF) with
/// a random key per thread, over a per-thread counter. Anyone who sees
/// request IDs cannot work out the next ones without the key. Enough to
/// spread retries (jitter), name requests and tell runs apart; secrets come
/// from `ring`. About half the cost of a fresh key and the clock per call.
pub fn random() -> u64 {
    use std::cell::Cell;
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    thread_local! {
        static KEYED: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
    }
    KEYED.with(|(key, counter)| {
        let n = counter.get().wrapping_add(1);
        counter.set(n);
        key.hash_one(n)
    })
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
    fn the_hasher_is_fnv1a64() {
        use std::hash::{BuildHasher, Hasher};
        let mut h = FnvBuild::default().build_hasher();
        h.write(b"foo");
        h.write(b"bar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
    }

    #[test]
    fn random_numbers_differ_between_threads() {
        let here: Vec<u64> = (0..8).map(|_| random()).collect();
        let there: Vec<u64> = std::thread::spawn(|| (0..8).map(|_| random()).collect())
            .join()
            .unwrap();
        assert!(
            here.iter().all(|n| !there.contains(n)),
            "{here:?} {there:?}"
        );
    }

    #[test]
    fn random_numbers_differ_from_call_to_call() {
        let drawn: std::collections::HashSet<u64> = (0..64).map(|_| random()).collect();
        assert!(drawn.len() > 60, "{} distinct of 64", drawn.len());
    }
}
