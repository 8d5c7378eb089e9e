//! `zoho-proxy demo`: a fake Zoho and the proxy in front of it, to try the
//! proxy without a Zoho account. Behind the default-on `demo` feature, with
//! the fake it runs (`crate::fake`) and the throwaway CA it trusts
//! (`crate::tls::TestCa`): a production build (`--no-default-features`) has
//! none of them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::commands::CommandError;
use crate::config;
use crate::fake::FakeZoho;
use crate::server::{self, Running};

/// What `demo` allows: reading Leads, and full access to Contacts, with the
/// `crm` credential; reading Leads of the sandbox org under `/sandbox`.
pub const DEMO_ROUTES: &str = r#"[[routes]]
name = "leads-read"
path = "/crm/v*/Leads/**"
methods = ["GET"]
credential = "crm"
scopes = ["ZohoCRM.modules.leads.READ"]

[[routes]]
name = "contacts"
path = "/crm/v*/Contacts/**"
credential = "crm"
scopes = ["ZohoCRM.modules.contacts.ALL"]

[[routes]]
name = "sandbox-leads-read"
path = "/sandbox/crm/v*/Leads/**"
strip_prefix = "/sandbox"
methods = ["GET"]
credential = "sandbox"
scopes = ["ZohoCRM.modules.leads.READ"]
"#;

/// A running demo: the fake Zoho and the proxy in front of it.
pub struct Demo {
    pub fake: FakeZoho,
    pub running: Running,
}

/// The demo's config: two credentials (`crm` and `sandbox`), both minting
/// from the fake, and [`DEMO_ROUTES`].
pub fn demo_config(fake: &FakeZoho, listen: SocketAddr) -> String {
    format!(
        "[server]\nlisten = \"{listen}\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n{}{}{DEMO_ROUTES}",
        fake.credential_block("crm", "rate_limit = { max_concurrent = 10 }"),
        fake.credential_block("sandbox", "rate_limit = { max_concurrent = 5 }"),
    )
}

/// Starts the fake Zoho and a proxy on `listen` that trusts only the fake's CA.
pub async fn start_demo(listen: SocketAddr) -> Result<Demo, CommandError> {
    let fake = FakeZoho::start().await?;
    let text = demo_config(&fake, listen);
    let mut config = config::compile(&text, "demo config", Path::new("."))?;
    for c in &mut config.credentials {
        c.zoho.extra_roots = vec![fake.ca_cert()];
    }
    let running = server::start(Arc::new(config)).await?;
    Ok(Demo { fake, running })
}

/// What `demo` prints once it runs.
pub fn demo_banner(demo: &Demo) -> String {
    let p = demo.running.proxy_addr;
    format!(
        "zoho-proxy demo: a fake Zoho (accounts + API over TLS, throwaway CA) is running at {fake},\n\
         and the proxy listens on http://{p} with two credentials: `crm` (GET Leads, all of Contacts)\n\
         and `sandbox` (GET Leads under /sandbox, forwarded without the prefix).\n\
         Admin endpoints: http://{a}/healthz and /readyz\n\n\
         Try:\n\
         \x20 curl -s http://{p}/crm/v8/Leads?fields=Last_Name          # allowed: the proxy adds the token\n\
         \x20 curl -s -X DELETE http://{p}/crm/v8/Contacts/42           # allowed: full access to Contacts\n\
         \x20 curl -s -X POST http://{p}/crm/v8/Leads -d '{{}}'            # denied: 403 ROUTE_NOT_ALLOWED\n\
         \x20 curl -s http://{p}/crm/v8/Deals                          # denied: no route\n\
         \x20 curl -s http://{p}/sandbox/crm/v8/Leads                  # the sandbox credential's token\n\
         \x20 curl -s 'http://{p}/crm/v8/Leads/%2e%2e/Deals'            # refused: 400 INVALID_PATH\n\n\
         Press Ctrl-C to stop.",
        fake = demo.fake.url(),
        a = demo.running.admin_addr,
    )
}
