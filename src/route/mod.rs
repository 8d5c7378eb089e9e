//! The route table: the allowlist of what may reach Zoho.
//!
//! Routes are tried in order against the canonical path and the method; the
//! first match wins and no match is a denial. Whether the matched route's
//! scopes cover what the request needs is decided in [`decide`].

pub mod pattern;

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::Method;

use crate::canon::CanonicalPath;
use crate::dc::Upstream;
use crate::scope::{Scope, ScopeSet};
use pattern::PathPattern;

/// The methods a route accepts, as a small bit set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MethodSet(u8);

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl MethodSet {
    pub fn empty() -> Self {
        MethodSet(0)
    }

    /// GET HEAD POST PUT PATCH DELETE (OPTIONS only when listed).
    pub fn default_methods() -> Self {
        MethodSet(0b011_1111)
    }

    pub fn insert(&mut self, name: &str) -> Result<(), String> {
        let upper = name.trim().to_ascii_uppercase();
        let i = METHODS.iter().position(|m| *m == upper).ok_or_else(|| {
            format!(
                "unknown method {name:?}; expected some of {}",
                METHODS.join(" ")
            )
        })?;
        self.0 |= 1 << i;
        Ok(())
    }

    pub fn contains(&self, method: &Method) -> bool {
        METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn names(&self) -> Vec<&'static str> {
        (0..METHODS.len())
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| METHODS[i])
            .collect()
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// One compiled `[[routes]]` entry.
#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub pattern: PathPattern,
    pub methods: MethodSet,
    /// What this route may use (the allowlist).
    pub scopes: ScopeSet,
    /// What its requests need, all of them; `None` = not stated.
    pub requires: Option<Vec<Scope>>,
    /// Static headers sent upstream.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub upstream: Upstream,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// Why a request was refused before reaching Zoho.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No route matches this method and path.
    NoRoute,
    /// A route matched but its scopes do not cover what the request requires.
    ScopeNotAllowed { route: String, missing: Vec<String> },
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        RouteTable { routes }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The first route whose pattern and methods match.
    pub fn find(&self, method: &Method, path: &CanonicalPath) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.methods.contains(method) && r.pattern.matches(path))
    }

    /// Route match, then the scope decision. A route without `requires` allows
    /// whatever it matches (the scope catalog narrows this later).
    pub fn decide(&self, method: &Method, path: &CanonicalPath) -> Result<&Route, Denial> {
        let route = self.find(method, path).ok_or(Denial::NoRoute)?;
        if let Some(required) = &route.requires {
            let missing = route.scopes.missing(required);
            if !missing.is_empty() {
                return Err(Denial::ScopeNotAllowed {
                    route: route.name.clone(),
                    missing: missing.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
        Ok(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canon::canonicalize;

    fn route(
        name: &str,
        path: &str,
        methods: &[&str],
        scopes: &[&str],
        requires: Option<&str>,
    ) -> Route {
        let mut set = MethodSet::empty();
        for m in methods {
            set.insert(m).unwrap();
        }
        Route {
            name: name.into(),
            pattern: path.parse().unwrap(),
            methods: if methods.is_empty() {
                MethodSet::default_methods()
            } else {
                set
            },
            scopes: ScopeSet::new(scopes.iter().map(|s| s.parse().unwrap()).collect()),
            requires: requires.map(|r| vec![r.parse().unwrap()]),
            headers: vec![],
            upstream: Upstream::Api,
        }
    }

    fn decide<'a>(t: &'a RouteTable, m: &str, p: &str) -> Result<&'a str, Denial> {
        let path = canonicalize(p).unwrap();
        t.decide(&m.parse().unwrap(), &path)
            .map(|r| r.name.as_str())
    }

    #[test]
    fn first_match_wins_and_no_match_is_denied() {
        let t = RouteTable::new(vec![
            route(
                "leads-read",
                "/crm/v*/Leads/**",
                &["GET"],
                &["ZohoCRM.modules.leads.READ"],
                Some("ZohoCRM.modules.leads.READ"),
            ),
            route(
                "contacts",
                "/crm/v*/Contacts/**",
                &[],
                &["ZohoCRM.modules.contacts.ALL"],
                Some("ZohoCRM.modules.contacts.ALL"),
            ),
            route("leads-any", "/crm/v*/Leads/**", &[], &[], None),
        ]);
        assert_eq!(decide(&t, "GET", "/crm/v2/Leads"), Ok("leads-read"));
        assert_eq!(decide(&t, "GET", "/crm/v8/Leads/123"), Ok("leads-read"));
        // POST skips the GET-only route and falls through to the catch-all.
        assert_eq!(decide(&t, "POST", "/crm/v2/Leads"), Ok("leads-any"));
        assert_eq!(decide(&t, "DELETE", "/crm/v8/Contacts/1"), Ok("contacts"));
        assert_eq!(decide(&t, "GET", "/crm/v2/Deals"), Err(Denial::NoRoute));
        assert_eq!(
            decide(&t, "GET", "/crm/v2/leads"),
            Err(Denial::NoRoute),
            "matching is case-sensitive"
        );
        assert_eq!(
            decide(&t, "OPTIONS", "/crm/v2/Contacts"),
            Err(Denial::NoRoute),
            "OPTIONS only when listed"
        );
    }

    #[test]
    fn requires_must_be_covered_by_the_route_scopes() {
        let t = RouteTable::new(vec![
            route(
                "narrow",
                "/crm/v2/Leads",
                &["POST"],
                &["ZohoCRM.modules.leads.READ"],
                Some("ZohoCRM.modules.leads.CREATE"),
            ),
            route(
                "wide",
                "/crm/v2/Deals",
                &[],
                &["ZohoCRM.modules.ALL"],
                Some("ZohoCRM.modules.deals.DELETE"),
            ),
        ]);
        assert_eq!(
            decide(&t, "POST", "/crm/v2/Leads"),
            Err(Denial::ScopeNotAllowed {
                route: "narrow".into(),
                missing: vec!["ZohoCRM.modules.leads.CREATE".into()]
            })
        );
        assert_eq!(decide(&t, "DELETE", "/crm/v2/Deals"), Ok("wide"));
    }

    #[test]
    fn method_names_are_validated() {
        let mut m = MethodSet::empty();
        assert!(m.insert("get").is_ok());
        let err = m.insert("TRACE").unwrap_err();
        assert!(err.contains("TRACE"), "{err}");
        assert_eq!(m.names(), vec!["GET"]);
        assert_eq!(
            MethodSet::default_methods().names(),
            vec!["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        );
    }
}
