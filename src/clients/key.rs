//! Client keys: how a request presents one, how the proxy keeps them (their
//! SHA-256 only, compared in constant time), and new ones for `gen-key`.

use std::fmt;

use http::header::{self, HeaderMap};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// The proxy's own header for a client key (removed before forwarding, like
/// `Authorization`).
pub const KEY_HEADER: &str = "x-zoho-proxy-key";

/// The `Authorization` schemes that carry a client key, compared ignoring
/// ASCII case. `Zoho-oauthtoken`: an application written to send a Zoho
/// token sends its client key as that "token" and needs no other change.
const SCHEMES: [&[u8]; 2] = [b"bearer", b"zoho-oauthtoken"];

/// What a request's headers present as its client key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No key in any accepted form.
    Nothing,
    /// One key (possibly sent in several accepted forms, all the same).
    One(&'a [u8]),
    /// Different keys in different (or repeated) headers.
    Conflicting,
}

/// Reads the key from `Authorization: Bearer <key>`,
/// `Authorization: Zoho-oauthtoken <key>` and `x-zoho-proxy-key: <key>`.
/// Other `Authorization` schemes and empty values present nothing.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let from_authorization = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| in_authorization(v.as_bytes()));
    let from_own_header = headers
        .get_all(KEY_HEADER)
        .iter()
        .map(|v| trim(v.as_bytes()))
        .filter(|k| !k.is_empty());
    let mut found = Presented::Nothing;
    for key in from_authorization.chain(from_own_header) {
        found = match found {
            Presented::Nothing => Presented::One(key),
            Presented::One(seen) if seen == key => Presented::One(seen),
            _ => return Presented::Conflicting,
        };
    }
    found
}

/// The key in one `Authorization` value (`<scheme> 1*(SP / HTAB) <key>`),
/// if its scheme is one of [`SCHEMES`] and a key follows.
pub fn in_authorization(value: &[u8]) -> Option<&[u8]> {
    let value = trim(value);
    let end = value
        .iter()
        .position(|b| matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(end);
    if !SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    Some(trim(rest)).filter(|k| !k.is_empty())
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// A key as the proxy keeps it: its SHA-256, never the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn of(key: &[u8]) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, key).as_ref());
        KeyHash(out)
    }

    /// Equality in time independent of where the two differ.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(<redacted>)")
    }
}

/// Why a configured key is refused (the message never shows the key).
pub fn check_configured(key: &str) -> Result<(), &'static str> {
    if key.len() < MIN_KEY_LEN {
        return Err(
            "is shorter than 16 characters: make one with `zoho-proxy gen-key` (32 random bytes)",
        );
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces (it travels in an HTTP header)");
    }
    Ok(())
}

const MIN_KEY_LEN: usize = 16;

/// A new key: 32 bytes from the system's secure generator, base64url
/// without padding (43 characters).
pub fn generate() -> Result<String, &'static str> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed")?;
    Ok(crate::base64::url_unpadded(&bytes))
}

/// A client name as `gen-key --name` takes it: `[a-z0-9_-]+`.
pub fn client_name(s: &str) -> Result<String, String> {
    if crate::config::is_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not a client name: use [a-z0-9_-]+"))
    }
}

/// What `zoho-proxy gen-key --name NAME` prints: a new key, once, and a
/// `[[clients]]` entry that reads it from the environment.
pub fn gen_key_text(name: &str) -> Result<String, &'static str> {
    let key = generate()?;
    let var = format!(
        "ZOHO_PROXY_KEY_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    Ok(format!(
        "# A new client key (32 random bytes, base64url). It is shown only now: give it to\n\
         # the application (as its Bearer or Zoho-oauthtoken token, or in x-zoho-proxy-key)\n\
         # and to the proxy through {var}, not in the config file.\n\
         {var}={key}\n\
         \n\
         [[clients]]\n\
         name = \"{name}\"\n\
         key = {{ env = \"{var}\" }}\n\
         # routes = [\"...\"]                           # the routes it may use (default: all)\n\
         # rate_limit = {{ requests_per_minute = 60 }}  # on top of the routes' and credentials'\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    #[test]
    fn each_accepted_form_presents_the_key() {
        for (name, value) in [
            ("authorization", &b"Bearer k-123"[..]),
            ("authorization", b"bearer k-123"),
            ("authorization", b"BEARER \t k-123 "),
            ("authorization", b"Zoho-oauthtoken k-123"),
            ("authorization", b"zoho-OAuthToken k-123"),
            ("x-zoho-proxy-key", b"k-123"),
            ("x-zoho-proxy-key", b"  k-123\t"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(presented(&h), Presented::One(b"k-123"), "{name}: {value:?}");
        }
    }

    #[test]
    fn other_schemes_and_empty_values_present_nothing() {
        for (name, value) in [
            ("authorization", &b"Basic dXNlcjpwYXNz"[..]),
            ("authorization", b"Bearer"),
            ("authorization", b"Bearer   "),
            ("authorization", b"Bearerk-123"),
            ("authorization", b"Zoho-oauthtokenk-123"),
            ("authorization", b"Token k-123"),
            ("x-zoho-proxy-key", b""),
            ("x-zoho-proxy-key", b"   "),
            ("x-other-key", b"k-123"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(presented(&h), Presented::Nothing, "{name}: {value:?}");
        }
        assert_eq!(presented(&HeaderMap::new()), Presented::Nothing);
    }

    #[test]
    fn the_same_key_twice_is_one_and_two_keys_conflict() {
        let same = headers(&[
            ("authorization", b"Bearer k-1"),
            ("x-zoho-proxy-key", b"k-1"),
        ]);
        assert_eq!(presented(&same), Presented::One(b"k-1"));
        // Basic credentials for something else do not get in the way.
        let with_basic = headers(&[
            ("authorization", b"Basic abc"),
            ("x-zoho-proxy-key", b"k-1"),
        ]);
        assert_eq!(presented(&with_basic), Presented::One(b"k-1"));
        for pairs in [
            &[
                ("authorization", &b"Bearer k-1"[..]),
                ("x-zoho-proxy-key", b"k-2"),
            ][..],
            &[
                ("authorization", b"Bearer k-1"),
                ("authorization", b"Zoho-oauthtoken k-2"),
            ],
            &[("x-zoho-proxy-key", b"k-1"), ("x-zoho-proxy-key", b"k-2")],
        ] {
            assert_eq!(presented(&headers(pairs)), Presented::Conflicting);
        }
    }

    #[test]
    fn hashes_compare_by_content_and_never_print() {
        let a = KeyHash::of(b"key-one-0123456789");
        assert!(a.matches(&KeyHash::of(b"key-one-0123456789")));
        assert!(!a.matches(&KeyHash::of(b"key-one-0123456788")));
        assert_eq!(format!("{a:?}"), "KeyHash(<redacted>)");
    }

    #[test]
    fn configured_keys_must_be_long_and_header_safe() {
        assert!(check_configured("0123456789abcdef").is_ok());
        assert!(check_configured("short").unwrap_err().contains("gen-key"));
        assert!(check_configured("0123456789 abcdef").is_err());
        assert!(check_configured("0123456789abcdé!").is_err());
    }

    #[test]
    fn generated_keys_are_random_43_character_base64url() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert!(check_configured(&a).is_ok());
        let text = gen_key_text("billing-sync").unwrap();
        assert!(text.contains("name = \"billing-sync\""));
        assert!(text.contains("key = { env = \"ZOHO_PROXY_KEY_BILLING_SYNC\" }"));
        let line = text
            .lines()
            .find(|l| l.starts_with("ZOHO_PROXY_KEY_BILLING_SYNC="))
            .unwrap();
        assert_eq!(line.split_once('=').unwrap().1.len(), 43);
    }

    proptest! {
        /// Whatever the spacing and the case of the scheme, an accepted
        /// scheme yields exactly the key; any other scheme yields nothing.
        #[test]
        fn authorization_parsing(
            scheme in prop_oneof![
                Just("Bearer".to_owned()),
                Just("Zoho-oauthtoken".to_owned()),
                "[A-Za-z][A-Za-z0-9-]{0,20}",
            ],
            flips in proptest::collection::vec(any::<bool>(), 20),
            gap in "[ \t]{1,4}",
            key in "[!-~]{1,64}",
            lead in "[ \t]{0,3}",
            tail in "[ \t]{0,3}",
        ) {
            let cased: String = scheme
                .chars()
                .zip(flips.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            let value = format!("{lead}{cased}{gap}{key}{tail}");
            let accepted = ["bearer", "zoho-oauthtoken"].contains(&scheme.to_ascii_lowercase().as_str());
            let got = in_authorization(value.as_bytes());
            if accepted {
                prop_assert_eq!(got, Some(key.as_bytes()));
            } else {
                prop_assert_eq!(got, None);
            }
        }

        /// Arbitrary bytes never panic, and what is found is trimmed and non-empty.
        #[test]
        fn any_value_parses_without_panic(value in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Some(key) = in_authorization(&value) {
                prop_assert!(!key.is_empty());
                prop_assert!(!matches!(key[0], b' ' | b'\t'));
                prop_assert!(!matches!(key[key.len() - 1], b' ' | b'\t'));
            }
        }
    }
}
