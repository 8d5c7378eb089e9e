//! The shared token as Redis keeps it: sealed with AES-256-GCM under a key
//! derived (HKDF-SHA256) from the credential's client secret and refresh
//! token, so reading Redis is not enough to call Zoho, and a blob of one
//! credential or generation cannot pass for another's.
//!
//! Blob: 12-byte random nonce, then the ciphertext of a small JSON document
//! with its tag. The generation and the credential's name are the AAD.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

const SALT: &[u8] = b"zoho-proxy shared token v1";

/// What a replica learns from the shared token.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedGrant {
    pub access_token: Secret,
    pub api_domain: Option<String>,
    pub scope: Option<String>,
    /// Wall-clock expiry, milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
    /// When it was minted (wall clock, ms): its age on every replica.
    pub minted_at_ms: u64,
}

impl std::fmt::Debug for SharedGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGrant")
            .field("api_domain", &self.api_domain)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    t: String,
    d: Option<String>,
    s: Option<String>,
    e: u64,
    #[serde(default)]
    m: u64,
}

/// Seals and opens one credential's shared tokens.
pub struct TokenSeal {
    key: LessSafeKey,
    credential: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSeal")
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl TokenSeal {
    /// `None` only if the crypto library refuses a 32-byte AES-256 key.
    pub fn new(client_secret: &Secret, refresh_token: &Secret, credential: &str) -> Option<Self> {
        let mut ikm =
            Vec::with_capacity(client_secret.expose().len() + refresh_token.expose().len() + 1);
        ikm.extend_from_slice(client_secret.expose().as_bytes());
        ikm.push(0);
        ikm.extend_from_slice(refresh_token.expose().as_bytes());
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(&ikm);
        let info = [credential.as_bytes()];
        let mut key = [0u8; 32];
        prk.expand(&info, KeyLen).ok()?.fill(&mut key).ok()?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).ok()?;
        Some(TokenSeal {
            key: LessSafeKey::new(unbound),
            credential: credential.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    fn aad(&self, generation: u64) -> Vec<u8> {
        let mut aad = generation.to_be_bytes().to_vec();
        aad.extend_from_slice(self.credential.as_bytes());
        aad
    }

    /// The blob for `grant` as generation `generation`; `None` only if the
    /// system's random source fails.
    pub fn seal(&self, generation: u64, grant: &SharedGrant) -> Option<Vec<u8>> {
        let wire = Wire {
            t: grant.access_token.expose().to_owned(),
            d: grant.api_domain.clone(),
            s: grant.scope.clone(),
            e: grant.expires_at_ms,
            m: grant.minted_at_ms,
        };
        let mut data = serde_json::to_vec(&wire).ok()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(generation)),
                &mut data,
            )
            .ok()?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&data);
        Some(blob)
    }

    /// The grant in `blob`, if it was sealed by this credential as `generation`.
    pub fn open(&self, generation: u64, blob: &[u8]) -> Option<SharedGrant> {
        if blob.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(self.aad(generation)), &mut data)
            .ok()?;
        let wire: Wire = serde_json::from_slice(plain).ok()?;
        Some(SharedGrant {
            access_token: Secret::new(wire.t),
            api_domain: wire.d,
            scope: wire.s,
            expires_at_ms: wire.e,
            minted_at_ms: wire.m,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> SharedGrant {
        SharedGrant {
            access_token: Secret::new("1000.secret-access-token"),
            api_domain: Some("https://www.zohoapis.eu".into()),
            scope: Some("ZohoCRM.modules.ALL".into()),
            expires_at_ms: 1_800_000_000_000,
            minted_at_ms: 1_799_996_400_000,
        }
    }

    fn seal(secret: &str, refresh: &str, name: &str) -> TokenSeal {
        TokenSeal::new(&Secret::new(secret), &Secret::new(refresh), name).unwrap()
    }

    #[test]
    fn a_sealed_token_opens_only_with_the_same_credential_and_generation() {
        let s = seal("client-secret", "1000.refresh", "prod");
        let blob = s.seal(7, &grant()).unwrap();
        assert_eq!(s.open(7, &blob), Some(grant()));
        // The token is not in the blob in clear.
        let text = String::from_utf8_lossy(&blob);
        assert!(!text.contains("secret-access-token"), "{text}");
        assert!(!blob.windows(4).any(|w| w == b"1000"));
        // Another generation, credential, secret or refresh token: nothing.
        assert_eq!(s.open(8, &blob), None);
        assert_eq!(
            seal("client-secret", "1000.refresh", "sandbox").open(7, &blob),
            None
        );
        assert_eq!(
            seal("other-secret", "1000.refresh", "prod").open(7, &blob),
            None
        );
        assert_eq!(
            seal("client-secret", "1000.other", "prod").open(7, &blob),
            None
        );
        // Tampering and truncation are refused.
        let mut bad = blob.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(s.open(7, &bad), None);
        assert_eq!(s.open(7, &blob[..10]), None);
        assert_eq!(s.open(7, b""), None);
        // Every seal uses a fresh nonce.
        assert_ne!(s.seal(7, &grant()).unwrap(), blob);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let text = format!("{:?} {:?}", grant(), seal("client-secret", "r", "prod"));
        assert!(
            !text.contains("secret-access-token") && !text.contains("client-secret"),
            "{text}"
        );
    }
}
