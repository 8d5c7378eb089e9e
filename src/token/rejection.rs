//! Which 401 answers mean "this access token is dead" (refresh once, replay
//! once), product by product. Everything else, above all a scope or org
//! mismatch, passes through untouched: another token would not help.
//!
//! Each product puts its code somewhere else (sources in the README's token
//! section; *unverified* ones are marked):
//!
//! | product | where | dead token | never refresh (examples) |
//! |---|---|---|---|
//! | CRM, Bigin (*unverified*), CRM uploads | `code` | `INVALID_TOKEN`, `AUTHENTICATION_FAILURE` | `OAUTH_SCOPE_MISMATCH`, `NO_PERMISSION` |
//! | Books, Inventory, Invoice, Billing, Expense | `code` (number) | `57` | `6041` (org), `14` (no token sent) |
//! | Desk | `errorCode` | `INVALID_OAUTH` | `SCOPE_MISMATCH`, `OAUTH_ORG_MISMATCH` |
//! | Mail | `data.errorCode` | `INVALID_OAUTHTOKEN` | `INVALID_OAUTHSCOPE`, `INVALID_TICKET` |
//! | WorkDrive | `errors[].id` | `F7003` | `F7007` (scope), `F000` |
//! | Projects | `error.code` | `6401` (*unverified*) | `6890`, `6403` |
//! | Creator | `code` (number) | `1030` | `1000`, `2945` |
//! | People | not recognised: its expired-token code could not be verified | | `7218` |
//!
//! Books answers `57` for a token missing a scope as well: the 401 policy
//! (minimum token age, rejection allowance) keeps that from costing more
//! than a couple of mints, and the proxy refuses ungranted scopes itself.

use serde_json::Value;

use crate::dc::Upstream;

/// A Zoho product, as far as its error answers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Crm,
    Books,
    Desk,
    Mail,
    WorkDrive,
    Projects,
    Creator,
    People,
    Other,
}

impl Product {
    /// The product a request goes to: its upstream host, and on the shared
    /// API host the first path segment.
    pub fn of(upstream: Upstream, path: &str) -> Product {
        match upstream {
            Upstream::Content => Product::Crm,
            Upstream::Desk => Product::Desk,
            Upstream::Mail => Product::Mail,
            Upstream::Projects => Product::Projects,
            Upstream::People => Product::People,
            Upstream::Creator => Product::Creator,
            Upstream::Api => {
                let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
                match first {
                    "crm" | "bigin" => Product::Crm,
                    "books" | "inventory" | "invoice" | "billing" | "expense" => Product::Books,
                    "workdrive" => Product::WorkDrive,
                    // Creator v2.1 is served from the API domain.
                    "creator" => Product::Creator,
                    _ => Product::Other,
                }
            }
        }
    }

    /// Where the code is (a JSON pointer) and which values mean a dead token.
    fn dead_token(self) -> Option<(&'static str, &'static [&'static str])> {
        Some(match self {
            Product::Crm => ("/code", &["INVALID_TOKEN", "AUTHENTICATION_FAILURE"]),
            Product::Books => ("/code", &["57"]),
            Product::Desk => ("/errorCode", &["INVALID_OAUTH"]),
            Product::Mail => ("/data/errorCode", &["INVALID_OAUTHTOKEN"]),
            Product::WorkDrive => ("/errors/0/id", &["F7003"]),
            Product::Projects => ("/error/code", &["6401"]),
            Product::Creator => ("/code", &["1030"]),
            // Unknown hosts answer like CRM when they are Zoho's API.
            Product::Other => ("/code", &["INVALID_TOKEN"]),
            Product::People => return None,
        })
    }
}

/// Zoho's code when a 401 `body` from `product` says the token is dead.
pub fn dead_token_code(product: Product, body: &[u8]) -> Option<String> {
    let (pointer, codes) = product.dead_token()?;
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = match value.pointer(pointer)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    codes.contains(&code.as_str()).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead(upstream: Upstream, path: &str, body: &str) -> Option<String> {
        dead_token_code(Product::of(upstream, path), body.as_bytes())
    }

    #[test]
    fn crm_dead_tokens_refresh_scope_mismatch_does_not() {
        let p = "/crm/v8/Leads";
        assert_eq!(
            dead(Upstream::Api, p, r#"{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}"#).as_deref(),
            Some("INVALID_TOKEN")
        );
        assert!(dead(Upstream::Api, p, r#"{"code":"AUTHENTICATION_FAILURE"}"#).is_some());
        assert!(dead(
            Upstream::Api,
            p,
            r#"{"code":"OAUTH_SCOPE_MISMATCH","message":"invalid oauth scope to access this URL"}"#
        )
        .is_none());
        assert!(dead(
            Upstream::Content,
            "/crm/v8/files",
            r#"{"code":"INVALID_TOKEN"}"#
        )
        .is_some());
        assert!(dead(Upstream::Api, p, "<html>401</html>").is_none());
    }

    #[test]
    fn books_uses_a_numeric_code() {
        let p = "/books/v3/invoices";
        assert_eq!(
            dead(
                Upstream::Api,
                p,
                r#"{"code":57,"message":"You are not authorized to perform this operation"}"#
            )
            .as_deref(),
            Some("57")
        );
        assert!(dead(
            Upstream::Api,
            p,
            r#"{"code":6041,"message":"This user is not associated with the CompanyID"}"#
        )
        .is_none());
        assert!(dead(Upstream::Api, "/inventory/v1/items", r#"{"code":57}"#).is_some());
        // The same number means nothing to CRM.
        assert!(dead(Upstream::Api, "/crm/v8/Leads", r#"{"code":57}"#).is_none());
    }

    #[test]
    fn desk_mail_workdrive_projects_creator() {
        assert!(dead(
            Upstream::Desk,
            "/api/v1/tickets",
            r#"{"errorCode":"INVALID_OAUTH","message":"The OAuth Token you provided is invalid."}"#
        )
        .is_some());
        assert!(dead(
            Upstream::Desk,
            "/api/v1/tickets",
            r#"{"errorCode":"SCOPE_MISMATCH"}"#
        )
        .is_none());
        assert!(dead(
            Upstream::Desk,
            "/api/v1/tickets",
            r#"{"errorCode":"OAUTH_ORG_MISMATCH"}"#
        )
        .is_none());
        assert!(dead(Upstream::Mail, "/api/accounts", r#"{"data":{"errorCode":"INVALID_OAUTHTOKEN"},"status":{"code":401,"description":"Invalid Access"}}"#).is_some());
        assert!(dead(
            Upstream::Mail,
            "/api/accounts",
            r#"{"data":{"errorCode":"INVALID_OAUTHSCOPE"}}"#
        )
        .is_none());
        assert!(dead(
            Upstream::Api,
            "/workdrive/api/v1/files",
            r#"{"errors":[{"id":"F7003","title":"Invalid OAuth token."}]}"#
        )
        .is_some());
        assert!(dead(
            Upstream::Api,
            "/workdrive/api/v1/files",
            r#"{"errors":[{"id":"F7007","title":"Invalid OAuth scope."}]}"#
        )
        .is_none());
        assert!(dead(
            Upstream::Projects,
            "/restapi/portals/",
            r#"{"error":{"code":6401,"message":"Invalid OAuth access token."}}"#
        )
        .is_some());
        assert!(dead(
            Upstream::Projects,
            "/restapi/portals/",
            r#"{"error":{"code":6890}}"#
        )
        .is_none());
        assert!(dead(Upstream::Creator, "/api/v2/x/y/report/z", r#"{"code":1030,"description":"Authorization Failure. The access token is either invalid or has expired."}"#).is_some());
        assert!(dead(
            Upstream::Creator,
            "/api/v2/x/y/report/z",
            r#"{"code":1000}"#
        )
        .is_none());
        assert!(dead(
            Upstream::People,
            "/people/api/forms",
            r#"{"code":"INVALID_TOKEN"}"#
        )
        .is_none());
    }
}
