//! Client identity for shared deployments: `[[clients]]`.
//!
//! Without clients, whoever reaches the port uses every route (fine on
//! loopback or in a sidecar). With any, every request must present a key
//! ([`key::presented`]: `Authorization: Bearer` or `Zoho-oauthtoken`, or
//! `x-zoho-proxy-key`) before anything else is looked at, so an unknown
//! caller learns nothing about the routes. The key picks the [`Client`],
//! which may be limited to some routes and have a rate limit of its own on
//! top of the route's and the credential's.
//!
//! Keys are kept as SHA-256 hashes and compared in constant time against
//! every client. Failed attempts are counted per peer address and slowed
//! down past a few a minute ([`peers`]).

pub mod key;
pub mod peers;

use http::HeaderMap;

use crate::limit::Limit;
use key::{KeyHash, Presented};

/// One compiled `[[clients]]` entry.
#[derive(Debug)]
pub struct Client {
    /// `[a-z0-9_-]+`, unique: in logs, metrics and errors.
    pub name: String,
    key: KeyHash,
    /// Indices into the route table, in order; `None`: every route.
    routes: Option<Box<[usize]>>,
    /// On top of the route's and the credential's (this replica's share
    /// with `[cluster]`).
    pub limit: Option<Limit>,
    /// API credits it may spend per rolling 24 h on each credential.
    pub daily_credits: Option<u64>,
}

impl Client {
    /// `key` is hashed here and not kept.
    pub fn new(name: String, key: &[u8], routes: Option<Vec<usize>>, limit: Option<Limit>) -> Self {
        Client {
            name,
            key: KeyHash::of(key),
            routes: routes.map(Vec::into_boxed_slice),
            limit,
            daily_credits: None,
        }
    }

    /// Whether this client may use the route at `index` in the route table.
    pub fn may_use(&self, index: usize) -> bool {
        self.routes.as_ref().is_none_or(|r| r.contains(&index))
    }

    /// The routes it may use, by index; `None`: all.
    pub fn routes(&self) -> Option<&[usize]> {
        self.routes.as_deref()
    }

    /// Whether `other` has the same key (two clients may not).
    pub fn same_key(&self, other: &Client) -> bool {
        self.key.matches(&other.key)
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "this proxy serves known clients only: send your client key as \
         `Authorization: Bearer <key>`, `Authorization: Zoho-oauthtoken <key>` or \
         `x-zoho-proxy-key: <key>`"
    )]
    Missing,
    #[error("the client key is not valid")]
    Invalid,
    #[error("the request carries different client keys; send one")]
    Conflicting,
}

/// All `[[clients]]`; empty: no authentication.
#[derive(Debug, Default)]
pub struct Clients {
    list: Vec<Client>,
}

impl Clients {
    pub fn new(list: Vec<Client>) -> Self {
        Clients { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.list.iter()
    }

    /// The client whose key `headers` present: `Ok(None)` when there are no
    /// clients (nothing to check). Every client's hash is compared, whether
    /// or not an earlier one matched.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<&Client>, KeyError> {
        if self.list.is_empty() {
            return Ok(None);
        }
        let hash = match key::presented(headers) {
            Presented::Nothing => return Err(KeyError::Missing),
            Presented::Conflicting => return Err(KeyError::Conflicting),
            Presented::One(key) => KeyHash::of(key),
        };
        let mut found = None;
        for client in &self.list {
            if client.key.matches(&hash) {
                found = Some(client);
            }
        }
        found.map(Some).ok_or(KeyError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn no_clients_means_no_check() {
        assert_eq!(
            Clients::default()
                .authenticate(&HeaderMap::new())
                .map(|c| c.is_none()),
            Ok(true)
        );
    }

    #[test]
    fn the_key_picks_the_client_and_its_routes() {
        let clients = Clients::new(vec![
            Client::new(
                "billing".into(),
                b"billing-key-0123456789",
                Some(vec![0, 2]),
                None,
            ),
            Client::new("reports".into(), b"reports-key-0123456789", None, None),
        ]);
        let billing = clients
            .authenticate(&with("authorization", "Bearer billing-key-0123456789"))
            .unwrap()
            .unwrap();
        assert_eq!(billing.name, "billing");
        assert!(billing.may_use(0) && billing.may_use(2) && !billing.may_use(1));
        let reports = clients
            .authenticate(&with("x-zoho-proxy-key", "reports-key-0123456789"))
            .unwrap()
            .unwrap();
        assert_eq!(reports.name, "reports");
        assert!(reports.may_use(1) && reports.routes().is_none());
        assert_eq!(
            clients.authenticate(&HeaderMap::new()).unwrap_err(),
            KeyError::Missing
        );
        assert_eq!(
            clients
                .authenticate(&with("authorization", "Bearer billing-key-012345678"))
                .unwrap_err(),
            KeyError::Invalid
        );
        let mut both = with("authorization", "Bearer billing-key-0123456789");
        both.insert(
            "x-zoho-proxy-key",
            HeaderValue::from_static("reports-key-0123456789"),
        );
        assert_eq!(
            clients.authenticate(&both).unwrap_err(),
            KeyError::Conflicting
        );
    }

    #[test]
    fn messages_never_echo_a_key() {
        for e in [KeyError::Missing, KeyError::Invalid, KeyError::Conflicting] {
            assert!(!e.to_string().contains("0123456789"));
        }
        let c = Client::new("x".into(), b"secret-key-0123456789", None, None);
        assert!(!format!("{c:?}").contains("secret-key"));
    }
}
