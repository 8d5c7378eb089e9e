//! zoho-proxy: an authenticating reverse proxy in front of Zoho's APIs.
//!
//! Plain HTTP comes in from legacy applications, curl and sidecars; a request
//! is forwarded only if a configured route allows it (least privilege in Zoho
//! scopes, matched on a canonical path), with a fresh OAuth access token
//! attached, to the right data centre, streaming both ways.
//!
//! Map of the crate:
//! - [`config`]: the file as written ([`config::raw`]) compiled into runtime types.
//! - [`clients`]: who is calling (`[[clients]]` keys), checked before anything else.
//! - [`canon`], [`route`], [`scope`]: what a request is and whether it is allowed;
//!   [`inspect`]: the same for the few calls whose body names what they touch.
//! - [`token`]: the access token, kept fresh within Zoho's minting limits.
//! - [`proxy`]: the request pipeline; [`error`]: the answers it makes itself.
//! - [`server`]: listeners, admin endpoints, graceful shutdown.
//! - [`coord`]: coordination between replicas ([`coord::redis`]: the shared Redis store).
//! - [`fake`]: an in-process fake Zoho (accounts + API over TLS) for `demo` and tests, and
//!   [`demo`]: the `demo` command; both behind the default-on `demo` feature.
//!
//! The allowlist decision in miniature: a path is canonicalized once, the
//! catalog says which scope the call needs, and the route's scopes must cover it.
//!
//! ```
//! use zoho_proxy::{canon::canonicalize, catalog, dc::Upstream, scope::{Scope, ScopeSet}};
//!
//! let path = canonicalize("/crm/v8/%4Ceads/42").unwrap();
//! assert_eq!(path.as_str(), "/crm/v8/Leads/42");
//! assert!(canonicalize("/crm/v8/Leads/%2e%2e/Deals").is_err());
//!
//! let needs = catalog::lookup(Upstream::Api, "DELETE", path.as_str()).unwrap();
//! assert_eq!(needs.scopes, vec!["ZohoCRM.modules.leads.DELETE".parse::<Scope>().unwrap()]);
//!
//! let route_scopes = ScopeSet::new(vec!["ZohoCRM.modules.leads.ALL".parse().unwrap()]);
//! assert!(route_scopes.missing(&needs.scopes).is_empty());
//! let read_only = ScopeSet::new(vec!["ZohoCRM.modules.leads.READ".parse().unwrap()]);
//! assert_eq!(read_only.missing(&needs.scopes).len(), 1);
//! ```

#![forbid(unsafe_code)]

pub mod accept;
pub mod base64;
pub mod blocking;
pub mod body;
pub mod canon;
pub mod catalog;
pub mod clients;
pub mod commands;
pub mod config;
pub mod coord;
pub mod credential;
pub mod credits;
pub mod dc;
pub mod deadline;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
#[cfg(feature = "demo")]
pub mod fake;
pub mod hash;
pub mod inspect;
pub mod limit;
pub mod logging;
pub mod metrics;
pub mod onboard;
pub mod probe;
pub mod proxy;
pub mod reload;
pub mod retry;
pub mod route;
pub mod scope;
pub mod segment_index;
pub mod server;
pub mod tls;
pub mod token;
pub mod upstream;
pub mod workers;
