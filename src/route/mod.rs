//! The route table: the allowlist of what may reach Zoho.
//!
//! The decision, in order ([`RouteTable::decide`]):
//! 1. the first route whose path pattern and methods match (none: denied);
//! 2. the scopes the request requires: the route's `requires` if set, else
//!    what the scope catalog knows about this endpoint (unknown: denied);
//! 3. allowed only if the route's `scopes` cover every required scope.

pub mod pattern;

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::Method;

use crate::canon::CanonicalPath;
use crate::catalog;
use crate::dc::Upstream;
use crate::inspect::Inspect;
use crate::limit::Limit;
use crate::scope::{Scope, ScopeSet};
use crate::segment_index::SegmentIndex;
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
    /// The route's own rate/concurrency limit, on top of the credential's.
    pub limit: Option<Limit>,
    /// Index of its credential in `Config::credentials`.
    pub credential: usize,
    /// A literal leading part of the path that is not forwarded.
    pub strip_prefix: Option<String>,
    /// Its price and budget in API credits.
    pub credits: crate::credits::RouteCredits,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Routes filed under one of their patterns' fixed literals
    /// ([`PathPattern::fixed_literals`]): finding a path's route costs the
    /// same with a thousand routes as with one.
    index: SegmentIndex,
}

/// Why a request was refused before reaching Zoho.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No route matches this method and path.
    NoRoute,
    /// The route has no `requires` and the catalog does not know the endpoint.
    ScopeUnknown { route: String },
    /// The route's scopes do not cover what the request requires.
    ScopeNotAllowed {
        route: String,
        required: Vec<String>,
        missing: Vec<String>,
    },
}

/// An allowed request: its route and what it requires.
#[derive(Debug)]
pub struct Decision<'a> {
    pub route: &'a Route,
    /// The route's position in the table (as in [`RouteTable::iter`]).
    pub position: usize,
    /// The path as Zoho gets it: the request's, less the route's `strip_prefix`.
    pub forward: CanonicalPath,
    /// Every one of these is needed.
    pub required: Vec<Scope>,
    /// Counted against Zoho's sub-concurrency limit (COQL, bulk, upsert, ...).
    pub heavy: bool,
    /// The body names what the call touches ([`crate::inspect::check`]).
    pub inspect: Option<Inspect>,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        let literals: Vec<_> = routes.iter().map(|r| r.pattern.fixed_literals()).collect();
        let index = SegmentIndex::new(&literals);
        RouteTable { routes, index }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The routes that use credential `credential` (its index), in order.
    pub fn of_credential(&self, credential: usize) -> impl Iterator<Item = &Route> + Clone {
        self.routes
            .iter()
            .filter(move |r| r.credential == credential)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The first route whose pattern and methods match.
    pub fn find(&self, method: &Method, path: &CanonicalPath) -> Option<&Route> {
        self.position(method, path, |_| true)
            .and_then(|i| self.routes.get(i))
    }

    /// Where in the table the first route whose pattern and methods match
    /// is, among those whose index `usable` accepts.
    fn position(
        &self,
        method: &Method,
        path: &CanonicalPath,
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let routes = &self.routes;
        self.index.first(path.segments(), |i| {
            usable(i)
                && routes
                    .get(i)
                    .is_some_and(|r| r.methods.contains(method) && r.pattern.matches(path))
        })
    }

    /// Route match, then the required scopes, then covering; see the module docs.
    pub fn decide(&self, method: &Method, path: &CanonicalPath) -> Result<Decision<'_>, Denial> {
        self.decide_where(method, path, |_| true)
    }

    /// [`RouteTable::decide`] over the routes whose index `usable` accepts
    /// (a client's routes): the others do not exist for it.
    pub fn decide_where(
        &self,
        method: &Method,
        path: &CanonicalPath,
        usable: impl Fn(usize) -> bool,
    ) -> Result<Decision<'_>, Denial> {
        let position = self.position(method, path, usable).ok_or(Denial::NoRoute)?;
        let route = self.routes.get(position).ok_or(Denial::NoRoute)?;
        // The prefix only selects the route; Zoho's path is what follows it.
        let forward = match &route.strip_prefix {
            None => path.clone(),
            Some(prefix) => path.strip_prefix(prefix).ok_or(Denial::NoRoute)?,
        };
        let path = &forward;
        let known = catalog::lookup(route.upstream, method.as_str(), path.as_str());
        // Heavy is a property of the endpoint, whoever states the scopes.
        let heavy = known.as_ref().is_some_and(|k| k.heavy);
        // So is a body naming what the call touches.
        let inspect = known.as_ref().and_then(|k| k.inspect);
        let required = match (&route.requires, known) {
            (Some(required), _) => required.clone(),
            (None, Some(found)) => found.scopes,
            (None, None) => {
                return Err(Denial::ScopeUnknown {
                    route: route.name.clone(),
                })
            }
        };
        let missing = route.scopes.missing(&required);
        if !missing.is_empty() {
            return Err(Denial::ScopeNotAllowed {
                route: route.name.clone(),
                missing: missing.iter().map(|s| s.to_string()).collect(),
                required: required.iter().map(|s| s.to_string()).collect(),
            });
        }
        Ok(Decision {
            route,
            position,
            forward,
            required,
            heavy,
            inspect,
        })
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
            credential: 0,
            strip_prefix: None,
            upstream: Upstream::Api,
            limit: None,
            credits: Default::default(),
        }
    }

    fn decide<'a>(t: &'a RouteTable, m: &str, p: &str) -> Result<&'a str, Denial> {
        let path = canonicalize(p).unwrap();
        t.decide(&m.parse().unwrap(), &path)
            .map(|d| d.route.name.as_str())
    }

    #[test]
    fn first_match_wins_and_no_match_is_denied() {
        let t = RouteTable::new(vec![
            route(
                "leads-read",
                "/crm/v*/Leads/**",
                &["GET"],
                &["ZohoCRM.modules.leads.READ"],
                None,
            ),
            route(
                "contacts",
                "/crm/v*/Contacts/**",
                &[],
                &["ZohoCRM.modules.contacts.ALL"],
                None,
            ),
            route(
                "leads-any",
                "/crm/v*/Leads/**",
                &[],
                &["ZohoCRM.modules.leads.ALL"],
                None,
            ),
        ]);
        assert_eq!(decide(&t, "GET", "/crm/v2/Leads"), Ok("leads-read"));
        assert_eq!(decide(&t, "GET", "/crm/v8/Leads/123"), Ok("leads-read"));
        // POST skips the GET-only route and falls through to the next one.
        assert_eq!(decide(&t, "POST", "/crm/v2/Leads"), Ok("leads-any"));
        assert_eq!(decide(&t, "DELETE", "/crm/v8/Contacts/1"), Ok("contacts"));
        assert_eq!(decide(&t, "GET", "/crm/v2/Deals"), Err(Denial::NoRoute));
        assert_eq!(
            decide(&t, "GET", "/crm/v2/leads"),
            Err(Denial::NoRoute),
            "case-sensitive"
        );
        assert_eq!(
            decide(&t, "OPTIONS", "/crm/v2/Contacts"),
            Err(Denial::NoRoute),
            "OPTIONS only when listed"
        );
        // A client's own routes: the others do not exist for it, so the
        // first match among its routes decides.
        let only = |allowed: &'static [usize]| move |i: usize| allowed.contains(&i);
        let path = canonicalize("/crm/v8/Leads/1").unwrap();
        let get = Method::GET;
        let decided = t.decide_where(&get, &path, only(&[2])).unwrap();
        assert_eq!(decided.route.name, "leads-any");
        assert_eq!(
            t.decide_where(&get, &path, only(&[1])).unwrap_err(),
            Denial::NoRoute
        );
    }

    #[test]
    fn the_least_privilege_example_from_the_readme() {
        let scopes = [
            "ZohoCRM.modules.leads.READ",
            "ZohoCRM.modules.contacts.ALL",
            "ZohoCRM.coql.READ",
        ];
        let t = RouteTable::new(vec![route("crm", "/crm/**", &[], &scopes, None)]);
        assert_eq!(decide(&t, "GET", "/crm/v2/Leads"), Ok("crm"));
        assert_eq!(decide(&t, "DELETE", "/crm/v8/Contacts/1"), Ok("crm"));
        assert_eq!(decide(&t, "POST", "/crm/v8/coql"), Ok("crm"));
        for (m, p, needs) in [
            ("POST", "/crm/v2/Leads", "ZohoCRM.modules.leads.CREATE"),
            ("GET", "/crm/v2/Deals", "ZohoCRM.modules.deals.READ"),
            ("GET", "/crm/v2/users", "ZohoCRM.users.READ"),
            (
                "GET",
                "/crm/v2/settings/modules",
                "ZohoCRM.settings.modules.READ",
            ),
        ] {
            match decide(&t, m, p) {
                Err(Denial::ScopeNotAllowed { route, missing, .. }) => {
                    assert_eq!(route, "crm");
                    assert!(missing.iter().any(|s| s == needs), "{m} {p}: {missing:?}");
                }
                other => panic!("{m} {p}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_endpoints_are_denied_unless_the_route_says_what_they_require() {
        let t = RouteTable::new(vec![route(
            "crm",
            "/crm/**",
            &[],
            &["ZohoCRM.modules.ALL"],
            None,
        )]);
        assert_eq!(
            decide(&t, "GET", "/crm/v8/something_new/x"),
            Err(Denial::ScopeUnknown {
                route: "crm".into()
            })
        );
        let t = RouteTable::new(vec![route(
            "explicit",
            "/crm/**",
            &[],
            &["ZohoCRM.modules.ALL"],
            Some("ZohoCRM.modules.custom.READ"),
        )]);
        assert_eq!(decide(&t, "GET", "/crm/v8/something_new/x"), Ok("explicit"));
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
                required: vec!["ZohoCRM.modules.leads.CREATE".into()],
                missing: vec!["ZohoCRM.modules.leads.CREATE".into()],
            })
        );
        assert_eq!(decide(&t, "DELETE", "/crm/v2/Deals"), Ok("wide"));
    }

    #[test]
    fn heavy_calls_are_marked() {
        let t = RouteTable::new(vec![route(
            "crm",
            "/crm/**",
            &[],
            &["ZohoCRM.modules.ALL", "ZohoCRM.coql.READ"],
            None,
        )]);
        let path = canonicalize("/crm/v8/coql").unwrap();
        assert!(t.decide(&Method::POST, &path).unwrap().heavy);
        let path = canonicalize("/crm/v8/Leads").unwrap();
        assert!(!t.decide(&Method::GET, &path).unwrap().heavy);
        // A route that states its own requirement is still heavy where Zoho says so.
        let t = RouteTable::new(vec![route(
            "coql",
            "/crm/**",
            &[],
            &["ZohoCRM.coql.READ"],
            Some("ZohoCRM.coql.READ"),
        )]);
        let path = canonicalize("/crm/v8/coql").unwrap();
        assert!(t.decide(&Method::POST, &path).unwrap().heavy);
        // And its body is inspected whoever states the scopes.
        assert_eq!(
            t.decide(&Method::POST, &path).unwrap().inspect,
            Some(Inspect::Coql)
        );
    }

    #[test]
    fn a_thousand_routes_still_find_the_first_match() {
        let mut routes: Vec<Route> = (0..999)
            .map(|i| {
                route(
                    &format!("r{i}"),
                    &format!("/crm/v*/Custom_{i}/**"),
                    &[],
                    &["ZohoCRM.modules.ALL"],
                    None,
                )
            })
            .collect();
        routes.push(route("crm", "/crm/**", &[], &["ZohoCRM.modules.ALL"], None));
        let t = RouteTable::new(routes);
        assert_eq!(decide(&t, "GET", "/crm/v8/Leads"), Ok("crm"));
        assert_eq!(decide(&t, "GET", "/crm/v8/Custom_7/1"), Ok("r7"));
        assert_eq!(decide(&t, "GET", "/crm/v2/Custom_998"), Ok("r998"));
        assert_eq!(
            decide(&t, "GET", "/books/v3/invoices"),
            Err(Denial::NoRoute)
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SEGMENTS: &[&str] = &["crm", "books", "v2", "v*", "Leads", "*", "**", "x*s"];
        const PATH_SEGMENTS: &[&str] = &["crm", "books", "v2", "v8", "Leads", "Notes", "xs"];

        fn pattern() -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(SEGMENTS), 0..5)
                .prop_map(|segs| format!("/{}", segs.join("/")))
        }

        fn path() -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(PATH_SEGMENTS), 0..6)
                .prop_map(|segs| format!("/{}", segs.join("/")))
        }

        proptest! {
            /// Whatever the table, the index finds the route a scan of the
            /// whole table in order would.
            #[test]
            fn the_index_agrees_with_a_scan(
                patterns in prop::collection::vec((pattern(), prop::bool::ANY), 1..40),
                paths in prop::collection::vec((path(), prop::bool::ANY), 1..20),
                usable in prop::collection::vec(prop::bool::ANY, 40),
            ) {
                let routes: Vec<Route> = patterns
                    .iter()
                    .enumerate()
                    .map(|(i, (p, get_only))| {
                        let methods: &[&str] = if *get_only { &["GET"] } else { &[] };
                        route(&format!("r{i}"), p, methods, &["ZohoCRM.modules.ALL"], None)
                    })
                    .collect();
                let t = RouteTable::new(routes);
                for (p, post) in &paths {
                    let path = canonicalize(p).unwrap();
                    let method = if *post { Method::POST } else { Method::GET };
                    let scanned = t
                        .iter()
                        .find(|r| r.methods.contains(&method) && r.pattern.matches(&path))
                        .map(|r| r.name.as_str());
                    let found = t.find(&method, &path).map(|r| r.name.as_str());
                    prop_assert_eq!(found, scanned, "{} {}", method, p);
                    // Among a client's routes only (the others do not exist
                    // for it), the same.
                    let usable = |i: usize| usable.get(i).copied().unwrap_or(false);
                    let scanned = t
                        .iter()
                        .enumerate()
                        .position(|(i, r)| {
                            usable(i) && r.methods.contains(&method) && r.pattern.matches(&path)
                        });
                    prop_assert_eq!(t.position(&method, &path, usable), scanned, "{} {}", method, p);
                }
            }
        }
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
