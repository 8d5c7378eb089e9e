//! What the subcommands do, kept out of `main.rs` so they can be tested.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::canon::canonicalize;
use crate::catalog;
use crate::config::{self, Config, ConfigError};
use crate::credential::Refresh;
use crate::dc::{DataCenter, Upstream};
use crate::scope::{Scope, ScopeSet};
use crate::server;

/// Why a subcommand failed: what `main` prints after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The proxy (credentials, clients, shaping) could not be built.
    #[error(transparent)]
    Start(#[from] server::StartError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An online check failed: the report shows it next to those that passed.
    #[error("{report}")]
    Failed { report: String },
    /// `scopes PATH`: a path the proxy would refuse.
    #[error("{path}: {reason}")]
    Path {
        path: String,
        reason: crate::canon::PathError,
    },
    /// The demo's fake Zoho could not set up its TLS.
    #[error(transparent)]
    Fake(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Request(#[from] http::Error),
}

/// The effective settings of a config, as `check` prints them.
pub fn describe(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config: {} is valid", config.source);
    let _ = writeln!(
        out,
        "listen: {} (admin: {}), {} worker thread{}",
        config.server.listen,
        config.admin.listen,
        config.server.workers,
        if config.server.workers == 1 { "" } else { "s" }
    );
    for c in &config.credentials {
        let z = &c.zoho;
        let _ = writeln!(out, "credential {}:", c.name);
        let _ = writeln!(out, "  data centre: {}", z.data_center);
        let _ = writeln!(out, "  accounts: {}", z.token_url());
        let api_source = if z.api_url.is_some() {
            "api_url"
        } else {
            "the data centre's; the token's api_domain is used if it names this data centre's API domain"
        };
        let _ = writeln!(
            out,
            "  api: {} ({api_source})",
            z.base_url(Upstream::Api, None)
        );
    }
    let _ = writeln!(
        out,
        "routes ({}, first match wins, anything else is refused):",
        config.routes.len()
    );
    for (i, r) in config.routes.iter().enumerate() {
        let requires = r
            .requires
            .as_ref()
            .map(|req| join(req.iter()))
            .unwrap_or_else(|| "(from the scope catalog)".into());
        let credential = &config.credentials[r.credential];
        let strip = r
            .strip_prefix
            .as_deref()
            .map(|p| format!(" (without {p})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}. {} {} {} -> {} {}{strip} [credential {}]\n     scopes: {}\n     requires: {}",
            i + 1,
            r.name,
            r.methods.names().join(","),
            r.pattern,
            r.upstream,
            credential.zoho.base_url(r.upstream, None),
            credential.name,
            if r.scopes.is_empty() {
                "-".into()
            } else {
                join(r.scopes.iter())
            },
            requires,
        );
    }
    describe_clients(config, &mut out);
    out
}

/// `[[clients]]`: who may call, through which routes.
fn describe_clients(config: &Config, out: &mut String) {
    if config.clients.is_empty() {
        let _ = writeln!(out, "clients: none (no client key is asked for)");
        return;
    }
    let _ = writeln!(
        out,
        "clients ({}, every request must carry one's key):",
        config.clients.len()
    );
    let names: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    for c in config.clients.iter() {
        let routes = match c.routes() {
            None => "every route".to_owned(),
            Some(list) => format!("routes {}", join(list.iter().map(|i| names[*i]))),
        };
        let limit = match c.limit.as_ref().map(|l| l.spec()) {
            None => String::new(),
            Some(s) => {
                let mut parts = Vec::new();
                if let Some(rpm) = s.requests_per_minute {
                    parts.push(format!("{rpm}/min"));
                }
                if let Some(b) = s.burst {
                    parts.push(format!("burst {b}"));
                }
                if let Some(n) = s.max_concurrent {
                    parts.push(format!("{n} at once"));
                }
                format!("; rate_limit {}", parts.join(", "))
            }
        };
        let _ = writeln!(out, "  {}: {routes}{limit}", c.name);
    }
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|s| s.to_string()).collect::<Vec<_>>().join(" ")
}

/// `check --online`: one real refresh per credential, what each granted,
/// and how that compares with what its routes use (least privilege).
pub async fn check_online(config: Arc<Config>) -> Result<String, CommandError> {
    let proxy = server::build_proxy(config.clone(), Refresh::OnDemand)?;
    let mut out = String::new();
    let mut failed = Vec::new();
    if let Some(cluster) = &config.cluster {
        match check_redis(cluster, proxy.metrics()).await {
            Ok(line) => out.push_str(&line),
            Err(line) => {
                out.push_str(&line);
                failed.push("cluster".to_owned());
            }
        }
    }
    for (index, credential) in proxy.credentials().iter().enumerate() {
        let name = credential.name();
        let token = match credential.tokens().refresh_now().await {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "credential {name}: token refresh failed: {e}");
                failed.push(name.to_owned());
                continue;
            }
        };
        let lifetime = token
            .expires_at
            .saturating_duration_since(tokio::time::Instant::now());
        let _ = write!(
            out,
            "credential {name}: token refresh: ok (valid for {}s, api_domain {})\ngranted scopes: {}\n",
            lifetime.as_secs(),
            token.api_domain.as_deref().unwrap_or("-"),
            token.scope.as_deref().unwrap_or("(not reported by Zoho)"),
        );
        let zoho = credential.zoho();
        if let Some(domain) = token
            .api_domain
            .as_deref()
            .filter(|_| zoho.api_url.is_none())
        {
            if DataCenter::from_api_domain(domain) != Some(zoho.data_center) {
                let _ = writeln!(
                    out,
                    "warning: the token's api_domain {domain} is not data centre {}'s API domain; check data_center",
                    zoho.data_center
                );
            }
        }
        if let Some(granted) = &token.granted {
            out.push_str(&grant_report(&config, index, granted));
        }
    }
    if failed.is_empty() {
        Ok(out)
    } else {
        Err(CommandError::Failed { report: out })
    }
}

/// `[cluster]`: can Redis be reached, and which version is it.
async fn check_redis(
    cluster: &config::ClusterConfig,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Result<String, String> {
    let c =
        crate::credential::Cluster::new(cluster, metrics).map_err(|e| format!("cluster: {e}\n"))?;
    // The store connects in the background; give it the first-contact time.
    c.store().wait_up(std::time::Duration::from_secs(2)).await;
    match c.store().server_version().await {
        Ok(v) => Ok(format!(
            "cluster: Redis {v} reachable (keys {{{}:<credential>}}, {} replicas)\n",
            cluster.key_prefix, cluster.replicas
        )),
        Err(e) => Err(format!("cluster: Redis not usable: {e}\n")),
    }
}

/// Per route of credential `credential` (its index), which of its scopes
/// were granted; then the warnings.
pub fn grant_report(config: &Config, credential: usize, granted: &ScopeSet) -> String {
    let mut out = String::from("routes against the grant:\n");
    let mut lacking = Vec::new();
    let routes = config.routes.of_credential(credential);
    for r in routes.clone() {
        let _ = writeln!(out, "  {}:", r.name);
        for s in r.scopes.iter() {
            let ok = granted.covers(s);
            let _ = writeln!(
                out,
                "    {} {s}",
                if ok { "granted    " } else { "NOT GRANTED" }
            );
            if !ok {
                lacking.push(format!("{s} (route {})", r.name));
            }
        }
    }
    for l in &lacking {
        let _ = writeln!(
            out,
            "warning: route scope {l} was not granted: such requests will be refused"
        );
    }
    let route_scopes: Vec<&Scope> = routes.flat_map(|r| r.scopes.iter()).collect();
    for g in granted.iter() {
        if !route_scopes.iter().any(|s| g.covers(s) || s.covers(g)) {
            let _ = writeln!(out, "warning: granted scope {g} is used by no route: for least privilege, leave it out of the grant");
        }
    }
    out
}

/// `zoho-proxy scopes PATH [METHOD]`: what the catalog says a call needs.
pub fn scopes_report(
    upstream: Upstream,
    path: &str,
    method: Option<&str>,
) -> Result<String, CommandError> {
    let canonical = canonicalize(path).map_err(|reason| CommandError::Path {
        path: path.to_owned(),
        reason,
    })?;
    let methods: Vec<String> = match method {
        Some(m) => vec![m.to_ascii_uppercase()],
        None => ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .map(String::from)
            .to_vec(),
    };
    let mut out = String::new();
    if canonical.as_str() != path {
        let _ = writeln!(out, "canonical path: {canonical}");
    }
    let mut known = false;
    for m in &methods {
        match catalog::lookup(upstream, m, canonical.as_str()) {
            Some(req) => {
                known = true;
                let _ = writeln!(out, "{m:<6} {canonical}  needs {req}");
                let _ = writeln!(out, "       doc: {}", req.doc);
                if let Some(note) = req.note {
                    let _ = writeln!(out, "       note: {note}");
                }
            }
            None => {
                let _ = writeln!(out, "{m:<6} {canonical}  unknown to the catalog: a route needs `requires = \"...\"` to allow it");
            }
        }
    }
    if !known
        && method.is_none()
        && upstream == Upstream::Api
        && !canonical.as_str().starts_with("/crm/")
    {
        let _ = writeln!(
            out,
            "hint: Desk, Mail and other products live on their own hosts: try --upstream desk"
        );
    }
    Ok(out)
}

/// `zoho-proxy scopes --list`: the whole catalog, one row per entry and
/// operation in match order (the first matching row decides), with the Zoho
/// page each was taken from, then what the placeholders and name tables mean.
pub fn scopes_list() -> String {
    let rows = catalog::list::rows();
    let methods: Vec<String> = rows.iter().map(|r| r.methods.join(",")).collect();
    let width = |f: &dyn Fn(usize) -> usize| (0..rows.len()).map(f).max().unwrap_or(0);
    let (mw, pw) = (width(&|i| methods[i].len()), width(&|i| rows[i].path.len()));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The scope catalog: {} rows, tried in this order; the first row whose upstream, method and \
path match decides what a call requires (all the scopes listed). A call no row matches is refused \
unless its route states `requires`.",
        rows.len()
    );
    let _ = writeln!(
        out,
        "# upstream  methods  path  requires  [flags]  source (the Zoho page the row was taken from)"
    );
    for (r, m) in rows.iter().zip(&methods) {
        let mut flags = Vec::new();
        if r.heavy {
            flags.push("heavy".to_string());
        }
        if let Some(i) = r.inspect {
            flags.push(format!("body: + {}", i.what()));
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join("; "))
        };
        let _ = writeln!(
            out,
            "{:<8}{m:<mw$}  {:<pw$}  {}{flags}  {}",
            r.upstream.as_str(),
            r.path,
            r.requires,
            r.source
        );
        if let Some(note) = r.note {
            let _ = writeln!(out, "{:8}note: {note}", "");
        }
    }
    let _ = writeln!(
        out,
        "\n# Placeholders in paths (and, captured, in requires)"
    );
    for (p, what) in catalog::list::PLACEHOLDERS {
        let _ = writeln!(out, "{p:<16}{what}");
    }
    for (p, table) in catalog::list::name_tables() {
        let _ = writeln!(out, "\n# {p}: path segment -> scope name");
        for (seg, scope) in table {
            let _ = writeln!(out, "{seg:<40}{scope}");
        }
    }
    out
}
