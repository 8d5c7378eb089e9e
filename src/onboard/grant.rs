//! `zoho-proxy grant`: the grant a credential's routes need, with least
//! privilege.
//!
//! A route allows a request when its `scopes` cover what the request
//! requires, so a token holding every route's `scopes` serves every allowed
//! request, and nothing more is needed. The grant is their union reduced so
//! that no scope in it is covered by another ([`ScopeSet::reduced`]),
//! comma-separated as the self-client "Generate Code" form and the
//! authorization URL's `scope` take it.

use std::fmt::Write as _;
use std::path::Path;

use super::{pick_credential, OnboardError};
use crate::config::{self, Config};
use crate::dc::DataCenter;
use crate::scope::ScopeSet;

/// What one credential's routes need.
#[derive(Debug)]
pub struct Grant {
    pub credential: String,
    pub client_id: String,
    pub data_center: DataCenter,
    /// The least set of scopes covering every route's scopes.
    pub scopes: ScopeSet,
    /// Each route of the credential and its own scopes, in config order.
    pub routes: Vec<(String, ScopeSet)>,
}

impl Grant {
    /// The grant of credential `index`.
    pub fn of(config: &Config, index: usize) -> Grant {
        let credential = &config.credentials[index];
        let routes: Vec<(String, ScopeSet)> = config
            .routes
            .of_credential(index)
            .map(|r| (r.name.clone(), r.scopes.clone()))
            .collect();
        let all = ScopeSet::new(
            routes
                .iter()
                .flat_map(|(_, scopes)| scopes.iter().cloned())
                .collect(),
        );
        Grant {
            credential: credential.name.clone(),
            client_id: credential.zoho.client_id.clone(),
            data_center: credential.zoho.data_center,
            scopes: all.reduced(),
            routes,
        }
    }

    /// `A,B,C`: Zoho's `scope` parameter and the console's Scope field.
    pub fn scope_param(&self) -> String {
        self.scopes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// An error when no route of the credential names a scope.
    pub fn require_some(&self) -> Result<(), OnboardError> {
        if self.scopes.is_empty() {
            return Err(OnboardError::Setup(format!(
                "no route of credential {} names a scope: there is nothing to grant \
                 (add routes with scopes first)",
                self.credential
            )));
        }
        Ok(())
    }

    /// What `grant` prints; `config` is the path to name in the hints.
    pub fn render(&self, config: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Credential {} (data centre {}): {} scope(s) cover its {} route(s), least privilege:\n",
            self.credential,
            self.data_center,
            self.scopes.iter().count(),
            self.routes.len()
        );
        let _ = writeln!(out, "    {}\n", self.scope_param());
        let _ = writeln!(out, "Per route:");
        let width = self.routes.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, scopes) in &self.routes {
            let needs: Vec<String> = scopes
                .iter()
                .map(|s| match self.scopes.covered_by(s) {
                    Some(wider) => format!("{s} (through {wider})"),
                    None => s.to_string(),
                })
                .collect();
            let needs = if needs.is_empty() {
                "- (no scopes: it allows nothing)".to_owned()
            } else {
                needs.join(" ")
            };
            let _ = writeln!(out, "  {name:<width$}  {needs}");
        }
        let _ = write!(
            out,
            "\nTo get a refresh token with exactly this grant:\n\
             \x20 - self-client: paste the scopes above into the Scope field of the Generate Code tab\n\
             \x20   at {console}, then\n\
             \x20   zoho-proxy exchange-code --data-center {dc} --client-id {client} --code <the code>\n\
             \x20 - server-based client: zoho-proxy login --config {config} --credential {name}\n",
            console = self.data_center.api_console_url(),
            dc = self.data_center,
            client = self.client_id,
            name = self.credential,
        );
        out
    }
}

/// `zoho-proxy grant --config FILE [--credential NAME]`.
pub fn run(path: &Path, credential: Option<&str>) -> Result<String, OnboardError> {
    let config =
        config::load_for_onboarding(path).map_err(|e| OnboardError::Setup(e.to_string()))?;
    let grant = Grant::of(&config, pick_credential(&config, credential)?);
    grant.require_some()?;
    Ok(grant.render(&path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(routes: &str) -> Config {
        let text = format!(
            "[[credentials]]\nname = \"crm\"\ndata_center = \"ae\"\nclient_id = \"1000.A\"\n\
             client_secret = \"s\"\nrefresh_token = \"r\"\n\n\
             [[credentials]]\nname = \"books\"\nclient_id = \"1000.B\"\n\
             client_secret = \"s\"\nrefresh_token = \"r\"\n\n{routes}"
        );
        config::compile(&text, "t.toml", Path::new(".")).unwrap()
    }

    #[test]
    fn the_grant_is_the_reduced_union_of_the_credentials_route_scopes() {
        let c = config(
            r#"
[[routes]]
name = "leads"
path = "/crm/v8/Leads/**"
credential = "crm"
scopes = ["ZohoCRM.modules.leads.READ", "ZohoCRM.coql.READ"]

[[routes]]
name = "books"
path = "/books/**"
credential = "books"
scopes = ["ZohoBooks.invoices.READ"]

[[routes]]
name = "everything"
path = "/crm/**"
credential = "crm"
scopes = ["ZohoCRM.modules.ALL", "ZohoCRM.coql.read"]

[[routes]]
name = "desk"
path = "/api/v1/**"
upstream = "desk"
credential = "crm"
scopes = ["Desk.tickets.CREATE", "Desk.tickets.WRITE"]
"#,
        );
        let grant = Grant::of(&c, 0);
        assert_eq!(
            grant.scope_param(),
            // WRITE covers CREATE only in CRM: Desk keeps both.
            "ZohoCRM.coql.READ,ZohoCRM.modules.ALL,Desk.tickets.CREATE,Desk.tickets.WRITE"
        );
        let text = grant.render("proxy.toml");
        assert!(
            text.contains(
                "\n    ZohoCRM.coql.READ,ZohoCRM.modules.ALL,Desk.tickets.CREATE,Desk.tickets.WRITE\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  leads       ZohoCRM.modules.leads.READ (through ZohoCRM.modules.ALL) ZohoCRM.coql.READ\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Desk.tickets.CREATE Desk.tickets.WRITE"),
            "{text}"
        );
        assert!(!text.contains("books"), "another credential's: {text}");
        assert!(text.contains("https://api-console.zoho.ae"), "{text}");
        assert!(
            text.contains("exchange-code --data-center ae --client-id 1000.A"),
            "{text}"
        );
        assert!(text.contains("login --config proxy.toml --credential crm"));

        let books = Grant::of(&c, 1);
        assert_eq!(books.scope_param(), "ZohoBooks.invoices.READ");
        assert!(books.render("p").contains("https://api-console.zoho.com"));
    }

    #[test]
    fn a_credential_without_scoped_routes_has_nothing_to_grant() {
        let c = config("");
        let e = Grant::of(&c, 1).require_some().unwrap_err().to_string();
        assert!(
            e.contains("credential books") && e.contains("nothing to grant"),
            "{e}"
        );
        let e = pick_credential(&c, None).unwrap_err().to_string();
        assert!(
            e.contains("--credential") && e.contains("crm, books"),
            "{e}"
        );
        let e = pick_credential(&c, Some("nope")).unwrap_err().to_string();
        assert!(e.contains("\"nope\"") && e.contains("crm, books"), "{e}");
        assert_eq!(pick_credential(&c, Some("books")).unwrap(), 1);
    }
}
