//! Key names of one credential, and the Redis Cluster hash slot they map to.
//!
//! Every key and the event channel of a credential start with the hash tag
//! `{<prefix>:<credential>}`, so Redis Cluster keeps them in one slot and a
//! script may touch any of them together (no CROSSSLOT).

/// Redis Cluster has this many hash slots.
pub const SLOTS: u16 = 16384;

/// The names of every key (and the pub/sub channel) of one credential.
///
/// Build it with [`super::RedisStore::keys`] (or [`Keys::new`]); it is cheap to
/// clone and holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Keys {
    tag: String,
    token: String,
    generation: String,
    mint_lease: String,
    mints: String,
    cool: String,
    rate: String,
    pool: String,
    heavy: String,
    events: String,
}

impl Keys {
    /// The keys of `credential` under `prefix`. `{`, `}` and `%` in either
    /// are percent-escaped so they can never end the hash tag early.
    pub fn new(prefix: &str, credential: &str) -> Keys {
        let tag = format!("{{{}:{}}}", escape(prefix), escape(credential));
        let k = |suffix: &str| format!("{tag}:{suffix}");
        Keys {
            token: k("tok"),
            generation: k("gen"),
            mint_lease: k("mintlock"),
            mints: k("mints"),
            cool: k("cool"),
            rate: k("gcra"),
            pool: k("conc"),
            heavy: k("conc:heavy"),
            events: k("events"),
            tag,
        }
    }

    /// The hash tag, braces included: `{<prefix>:<credential>}`.
    pub fn tag(&self) -> &str {
        &self.tag
    }
    /// Hash of the shared token: `gen`, `blob`, `exp`.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// The highest token generation ever written (never expires).
    pub fn generation(&self) -> &str {
        &self.generation
    }
    /// The mint lease (`SET NX PX`, value: the owner).
    pub fn mint_lease(&self) -> &str {
        &self.mint_lease
    }
    /// ZSET of mint times: the shared mint budget.
    pub fn mints(&self) -> &str {
        &self.mints
    }
    /// The cool-down key; its PTTL is the remaining pause.
    pub fn cool(&self) -> &str {
        &self.cool
    }
    /// GCRA state of the credential-wide rate.
    pub fn rate(&self) -> &str {
        &self.rate
    }
    /// GCRA state of one route's rate.
    pub fn route_rate(&self, route: &str) -> String {
        format!("{}:gcra:r:{}", self.tag, route)
    }
    /// Lease ZSET of the credential-wide concurrency pool.
    pub fn pool(&self) -> &str {
        &self.pool
    }
    /// Lease ZSET of one route's concurrency pool.
    pub fn route_pool(&self, route: &str) -> String {
        format!("{}:conc:r:{}", self.tag, route)
    }
    /// Lease ZSET of Zoho's heavy-call sub-pool.
    pub fn heavy(&self) -> &str {
        &self.heavy
    }
    /// The API credits this credential's replicas spent in one minute.
    pub fn credits_minute(&self, minute: u64) -> String {
        format!("{}:cr:{minute}", self.tag)
    }
    /// The pub/sub channel of this credential's events.
    pub fn events(&self) -> &str {
        &self.events
    }

    /// Every fixed key and the channel (route keys come from the methods above).
    pub fn fixed(&self) -> [&str; 9] {
        [
            &self.token,
            &self.generation,
            &self.mint_lease,
            &self.mints,
            &self.cool,
            &self.rate,
            &self.pool,
            &self.heavy,
            &self.events,
        ]
    }
}

/// The PSUBSCRIBE pattern that matches the event channel of every credential
/// under `prefix` (glob metacharacters in the prefix are escaped).
pub(crate) fn events_pattern(prefix: &str) -> String {
    let mut p = String::from("{");
    for c in escape(prefix).chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str(":*}:events");
    p
}

/// The hash tag a key starts with (`{...}`), or the whole key without one:
/// keys with equal tags are in one slot.
pub(crate) fn tag_of(key: &str) -> &str {
    match key.find('}') {
        Some(end) if key.starts_with('{') => &key[..=end],
        _ => key,
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
    out
}

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum
/// Redis Cluster uses for key slots.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The Redis Cluster slot of `key`, as `CLUSTER KEYSLOT` computes it: only
/// the part between the first `{` and the next `}` is hashed, if non-empty.
pub fn hash_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_reference_vector() {
        // The check value of CRC-16/XMODEM, quoted in the Redis Cluster spec.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn hash_slot_follows_the_cluster_spec() {
        // Values from `CLUSTER KEYSLOT` on a real cluster / the Redis docs.
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"bar"), 5061);
        assert_eq!(hash_slot(b"hello"), 866);
        assert_eq!(
            hash_slot(b"{user1000}.following"),
            hash_slot(b"{user1000}.followers")
        );
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        // Empty tag: the whole key is hashed; only the first tag counts.
        assert_eq!(hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(hash_slot(b"foo{{bar}}zap"), crc16(b"{bar") % SLOTS);
        assert_eq!(hash_slot(b"foo{bar}{zap}"), hash_slot(b"bar"));
    }

    #[test]
    fn every_key_of_a_credential_shares_one_slot() {
        for (prefix, cred) in [
            ("zp", "acme"),
            ("zp", "we}ird{name%"),
            ("p{x}", "c"),
            ("", ""),
        ] {
            let keys = Keys::new(prefix, cred);
            let tag = keys.tag();
            assert!(tag.starts_with('{') && tag.ends_with('}'));
            assert_eq!(tag.matches('{').count(), 1, "{tag}");
            assert_eq!(tag.matches('}').count(), 1, "{tag}");
            let slot = hash_slot(&tag.as_bytes()[1..tag.len() - 1]);
            let mut all: Vec<String> = keys.fixed().iter().map(|k| k.to_string()).collect();
            all.push(keys.route_rate("leads{}"));
            all.push(keys.route_pool("deals"));
            for k in &all {
                assert!(k.starts_with(tag), "{k}");
                assert_eq!(hash_slot(k.as_bytes()), slot, "{k}");
            }
        }
        // Different credentials do not collide by construction of the tag.
        assert_ne!(Keys::new("zp", "a}b").tag(), Keys::new("zp", "a").tag());
    }

    #[test]
    fn tag_of_groups_a_credentials_keys() {
        let keys = Keys::new("zp", "acme");
        assert_eq!(tag_of(keys.pool()), "{zp:acme}");
        assert_eq!(tag_of(&keys.route_pool("x}y")), "{zp:acme}");
        assert_eq!(tag_of("plain"), "plain");
    }

    #[test]
    fn the_events_pattern_escapes_glob_characters() {
        assert_eq!(events_pattern("zp"), "{zp:*}:events");
        assert_eq!(events_pattern("a*b[c]"), "{a\\*b\\[c\\]:*}:events");
    }
}
