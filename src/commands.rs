//! What the subcommands do, kept out of `main.rs` so they can be tested.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Config, ConfigError};
use crate::fake::FakeZoho;
use crate::server::{self, Running};

/// The effective settings of a config, as `check` prints them.
pub fn describe(config: &Config) -> String {
    let z = &config.zoho;
    let mut out = String::new();
    let _ = writeln!(out, "config: {} is valid", config.source);
    let _ = writeln!(
        out,
        "listen: {} (admin: {})",
        config.server.listen, config.admin.listen
    );
    let _ = writeln!(out, "data centre: {}", z.data_center);
    let _ = writeln!(out, "accounts: {}", z.token_url());
    match &z.api_url {
        Some(url) => {
            let _ = writeln!(out, "api: {} (api_url)", config::trim_slash(url));
        }
        None => {
            let _ = writeln!(
                out,
                "api: {} (the data centre's; a token's api_domain naming another Zoho API domain takes precedence)",
                z.data_center.upstream_url(crate::dc::Upstream::Api)
            );
        }
    }
    let _ = writeln!(
        out,
        "routes ({}, first match wins, anything else is refused):",
        config.routes.len()
    );
    for (i, r) in config.routes.iter().enumerate() {
        let scopes: Vec<String> = r.scopes.iter().map(|s| s.to_string()).collect();
        let requires = r
            .requires
            .as_ref()
            .map(|req| {
                req.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {}. {} {} {} -> {}\n     scopes: {}\n     requires: {}",
            i + 1,
            r.name,
            r.methods.names().join(","),
            r.pattern,
            r.upstream,
            if scopes.is_empty() {
                "-".into()
            } else {
                scopes.join(" ")
            },
            requires,
        );
    }
    out
}

/// `check --online`: one real refresh, and what it granted.
pub async fn check_online(config: Arc<Config>) -> Result<String, String> {
    let proxy = server::build_proxy(config).map_err(|e| e.to_string())?;
    let token = proxy
        .tokens()
        .refresh_now()
        .await
        .map_err(|e| format!("token refresh failed: {e}"))?;
    let lifetime = token
        .expires_at
        .saturating_duration_since(tokio::time::Instant::now());
    Ok(format!(
        "token refresh: ok (valid for {}s, api_domain {})\ngranted scopes: {}\n",
        lifetime.as_secs(),
        token.api_domain.as_deref().unwrap_or("-"),
        token.scope.as_deref().unwrap_or("(not reported by Zoho)"),
    ))
}

/// What `demo` allows: reading Leads, and full access to Contacts.
pub const DEMO_ROUTES: &str = r#"[[routes]]
name = "leads-read"
path = "/crm/v*/Leads/**"
methods = ["GET"]
scopes = ["ZohoCRM.modules.leads.READ"]
requires = "ZohoCRM.modules.leads.READ"

[[routes]]
name = "contacts"
path = "/crm/v*/Contacts/**"
scopes = ["ZohoCRM.modules.contacts.ALL"]
"#;

/// A running demo: the fake Zoho and the proxy in front of it.
pub struct Demo {
    pub fake: FakeZoho,
    pub running: Running,
}

/// Starts the fake Zoho and a proxy on `listen` that trusts only the fake's CA.
pub async fn start_demo(listen: SocketAddr) -> Result<Demo, String> {
    let fake = FakeZoho::start().await.map_err(|e| e.to_string())?;
    let text = fake.proxy_config(&listen.to_string(), "", "", DEMO_ROUTES);
    let mut config = config::compile(&text, "demo config", Path::new("."))
        .map_err(|e: ConfigError| e.to_string())?;
    config.zoho.extra_roots = vec![fake.ca_cert()];
    let running = server::start(Arc::new(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Demo { fake, running })
}

/// What `demo` prints once it runs.
pub fn demo_banner(demo: &Demo) -> String {
    let p = demo.running.proxy_addr;
    format!(
        "zoho-proxy demo: a fake Zoho (accounts + API over TLS, throwaway CA) is running at {fake},\n\
         and the proxy listens on http://{p} with routes: GET Leads (ZohoCRM.modules.leads.READ), all of Contacts.\n\
         Admin endpoints: http://{a}/healthz and /readyz\n\n\
         Try:\n\
         \x20 curl -s http://{p}/crm/v8/Leads?fields=Last_Name          # allowed: the proxy adds the token\n\
         \x20 curl -s -X DELETE http://{p}/crm/v8/Contacts/42           # allowed: full access to Contacts\n\
         \x20 curl -s -X POST http://{p}/crm/v8/Leads -d '{{}}'            # denied: 403 ROUTE_NOT_ALLOWED\n\
         \x20 curl -s http://{p}/crm/v8/Deals                          # denied: no route\n\
         \x20 curl -s 'http://{p}/crm/v8/Leads/%2e%2e/Deals'            # refused: 400 INVALID_PATH\n\n\
         Press Ctrl-C to stop.",
        fake = demo.fake.url(),
        a = demo.running.admin_addr,
    )
}
