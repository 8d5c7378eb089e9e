//! `[[clients]]` compiled: names, keys (hashed), route sets, limits.

use toml::Spanned;

use super::{is_name, raw, Compiler, ConfigError};
use crate::clients::{key, Client, Clients};
use crate::limit::Limit;
use crate::route::RouteTable;

impl Compiler<'_> {
    pub(super) fn clients(
        &self,
        raw: Vec<raw::RawClient>,
        routes: &RouteTable,
        replicas: u32,
    ) -> Result<Clients, ConfigError> {
        let mut out: Vec<Client> = Vec::with_capacity(raw.len());
        for entry in raw {
            let name = entry.name.get_ref().clone();
            if !is_name(&name) {
                return Err(self.at(
                    &entry.name,
                    format!("client name {name:?} must be [a-z0-9_-]+"),
                ));
            }
            if out.iter().any(|c| c.name == name) {
                return Err(self.at(&entry.name, format!("client name {name:?} is used twice")));
            }
            let key_span = entry.key.clone();
            let key = self.secret(entry.key, &format!("client {name}: key"))?;
            // Never echo the key.
            key::check_configured(key.expose())
                .map_err(|why| self.at(&key_span, format!("client {name}: the key {why}")))?;
            let allowed = entry
                .routes
                .as_ref()
                .map(|list| self.client_routes(&name, list, routes))
                .transpose()?;
            let limit = match &entry.rate_limit {
                None => None,
                Some(l) => {
                    let spec = self.own_limit(&format!("client {name}"), l.get_ref())?;
                    Some(Limit::shared(&name, spec, replicas))
                }
            };
            let daily_credits = match &entry.daily_credits {
                Some(d) if *d.get_ref() == 0 => {
                    return Err(self.at(
                        d,
                        format!("client {name}: daily_credits must be at least 1"),
                    ))
                }
                d => d.as_ref().map(|d| *d.get_ref()),
            };
            let mut client = Client::new(name, key.expose().as_bytes(), allowed, limit);
            client.daily_credits = daily_credits;
            if let Some(other) = out.iter().find(|c| c.same_key(&client)) {
                return Err(self.at(
                    &key_span,
                    format!(
                        "client {}: the key is the same as client {}'s; each client needs its own",
                        client.name, other.name
                    ),
                ));
            }
            out.push(client);
        }
        Ok(Clients::new(out))
    }

    /// The indices of the routes named in `list`, in table order.
    fn client_routes(
        &self,
        client: &str,
        list: &Spanned<Vec<Spanned<String>>>,
        routes: &RouteTable,
    ) -> Result<Vec<usize>, ConfigError> {
        if list.get_ref().is_empty() {
            return Err(self.at(
                list,
                format!(
                    "client {client}: routes is empty, so it could use nothing; leave routes \
                     out to allow every route, or remove the client"
                ),
            ));
        }
        for wanted in list.get_ref() {
            if !routes.iter().any(|r| r.name == *wanted.get_ref()) {
                return Err(self.at(
                    wanted,
                    format!("client {client}: no route is named {:?}", wanted.get_ref()),
                ));
            }
        }
        Ok(routes
            .iter()
            .enumerate()
            .filter(|(_, r)| list.get_ref().iter().any(|w| *w.get_ref() == r.name))
            .map(|(i, _)| i)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{compile, Config, ConfigError};

    const BASE: &str = r#"
[zoho]
client_id = "1000.ABC"
client_secret = "s"
refresh_token = "r"

[[routes]]
name = "leads"
path = "/crm/v8/Leads/**"
scopes = ["ZohoCRM.modules.leads.ALL"]

[[routes]]
name = "deals"
path = "/crm/v8/Deals/**"
scopes = ["ZohoCRM.modules.deals.ALL"]

[[routes]]
name = "leads"
path = "/crm/v2/Leads/**"
scopes = ["ZohoCRM.modules.leads.ALL"]
"#;

    fn compile_str(clients: &str) -> Result<Config, ConfigError> {
        compile(&format!("{BASE}\n{clients}"), "test.toml", Path::new("."))
    }

    fn err(clients: &str) -> String {
        compile_str(clients)
            .expect_err("config must be refused")
            .to_string()
    }

    /// The line of the first `[[clients]]`; the cases count from it (0-based).
    const FIRST: usize = 22;

    #[test]
    fn clients_compile_with_their_routes_limits_and_hashed_keys() {
        let c = compile_str(
            r#"
[[clients]]
name = "billing-sync"
key = "billing-key-0123456789"
routes = ["leads"]
rate_limit = { requests_per_minute = 30, max_concurrent = 2 }

[[clients]]
name = "reports"
key = "reports-key-0123456789"
"#,
        )
        .unwrap();
        let list: Vec<_> = c.clients.iter().collect();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "billing-sync");
        // Both routes named "leads", in table order.
        assert_eq!(list[0].routes(), Some(&[0, 2][..]));
        let spec = list[0].limit.as_ref().unwrap().spec();
        assert_eq!(spec.requests_per_minute.map(|n| n.get()), Some(30));
        assert_eq!(spec.max_concurrent, Some(2));
        assert_eq!(list[1].routes(), None, "default: every route");
        assert!(list[1].limit.is_none());
        assert!(!format!("{c:?}").contains("billing-key"), "keys are hashed");
        assert!(compile_str("").unwrap().clients.is_empty());
    }

    #[test]
    fn client_mistakes_are_refused_with_their_line() {
        let cases = [
            (
                "[[clients]]\nname = \"a\"\nkey = \"a-key-0123456789ab\"\nroutes = [\"leads\", \"contacts\"]\n",
                3,
                "client a: no route is named \"contacts\"",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = \"a-key-0123456789ab\"\nroutes = []\n",
                3,
                "routes is empty",
            ),
            (
                "[[clients]]\nname = \"Billing\"\nkey = \"a-key-0123456789ab\"\n",
                1,
                "client name \"Billing\" must be [a-z0-9_-]+",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = \"a-key-0123456789ab\"\n\n[[clients]]\nname = \"a\"\nkey = \"b-key-0123456789ab\"\n",
                5,
                "client name \"a\" is used twice",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = \"same-key-0123456789\"\n\n[[clients]]\nname = \"b\"\nkey = \"same-key-0123456789\"\n",
                6,
                "client b: the key is the same as client a's",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = \"short\"\n",
                2,
                "client a: the key is shorter than 16 characters",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = { env = \"ZOHO_PROXY_TEST_UNSET_CLIENT_KEY\" }\n",
                2,
                "client a: key: environment variable ZOHO_PROXY_TEST_UNSET_CLIENT_KEY is not set",
            ),
            (
                "[[clients]]\nname = \"a\"\nkey = \"a-key-0123456789ab\"\nrate_limit = { requests_per_minute = 0 }\n",
                3,
                "client a: rate_limit.requests_per_minute must be at least 1",
            ),
        ];
        for (clients, line, message) in cases {
            let e = err(clients);
            let at = format!("test.toml:{}:", FIRST + line);
            assert!(e.starts_with(&at), "{at} expected: {e}");
            assert!(e.contains(message), "{message:?} expected: {e}");
        }
        // Unknown keys (daily_credits is not part of this) are refused too.
        let e = err("[[clients]]\nname = \"a\"\nkey = \"a-key-0123456789ab\"\nbudget = 1\n");
        assert!(e.contains("budget"), "{e}");
        // The key is never echoed, even when refused.
        let e = err("[[clients]]\nname = \"a\"\nkey = \"has space 0123456789\"\n");
        assert!(
            e.contains("printable ASCII") && !e.contains("has space"),
            "{e}"
        );
    }

    #[test]
    fn keys_come_from_files_like_other_secrets() {
        let dir = std::env::temp_dir().join(format!("zp-client-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key"), "file-key-0123456789\n").unwrap();
        let text = format!("{BASE}\n[[clients]]\nname = \"a\"\nkey = {{ file = \"key\" }}\n");
        let c = compile(&text, "test.toml", &dir).unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-zoho-proxy-key",
            http::HeaderValue::from_static("file-key-0123456789"),
        );
        let client = c.clients.authenticate(&headers).unwrap().unwrap();
        assert_eq!(client.name, "a");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
