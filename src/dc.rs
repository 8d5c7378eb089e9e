//! Zoho data centres and the hosts each one serves.
//!
//! One table, so that every product host of a data centre is derived in one
//! place. Source: `shared/zoho-reference.md` ("Data centres"), which follows
//! Zoho's multi-DC documentation and the official SDKs' `DataCenter` classes.
//! Canada is the odd one out: its accounts and product hosts live under
//! `zohocloud.ca`, not `zoho.ca`.
//!
//! The UAE (`ae`) data centre: `www.zohoapis.ae` is in Zoho's WorkDrive
//! multi-DC table (domain `zoho.ae`). `accounts.zoho.ae` is not yet in Zoho's
//! accounts multi-DC page, but Zoho's live `accounts.zoho.com/oauth/serverinfo`
//! lists it (as reported by integrations that read it), and integrations for
//! Desk, Mail, Projects and People use `desk.zoho.ae`, `mail.zoho.ae`,
//! `projectsapi.zoho.ae`, `people.zoho.ae` and `api-console.zoho.ae`: the
//! `zoho.<tld>` pattern of the other data centres. `creator.zoho.ae` and
//! `content.zohoapis.ae` follow the same pattern with no published source
//! (unverified, like the UK's API domain); `upstreams` overrides any of them.

use std::fmt;
use std::str::FromStr;

/// A Zoho data centre, named as in the config file (`data_center = "eu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataCenter {
    Us,
    Eu,
    In,
    Au,
    Jp,
    Cn,
    Ca,
    Sa,
    Uk,
    Ae,
}

/// Which Zoho host a route forwards to. `Api` is `www.zohoapis.<tld>`, home
/// of CRM, Books, Inventory, Invoice, Billing, Expense, WorkDrive and Bigin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Upstream {
    Api,
    Content,
    Desk,
    Mail,
    Projects,
    People,
    Creator,
}

impl Upstream {
    pub const ALL: [Upstream; 7] = [
        Upstream::Api,
        Upstream::Content,
        Upstream::Desk,
        Upstream::Mail,
        Upstream::Projects,
        Upstream::People,
        Upstream::Creator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Api => "api",
            Upstream::Content => "content",
            Upstream::Desk => "desk",
            Upstream::Mail => "mail",
            Upstream::Projects => "projects",
            Upstream::People => "people",
            Upstream::Creator => "creator",
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Upstream {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Upstream::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown upstream {s:?}; expected one of: {}",
                    Upstream::ALL.map(Upstream::as_str).join(", ")
                )
            })
    }
}

impl DataCenter {
    pub const ALL: [DataCenter; 10] = [
        DataCenter::Us,
        DataCenter::Eu,
        DataCenter::In,
        DataCenter::Au,
        DataCenter::Jp,
        DataCenter::Cn,
        DataCenter::Ca,
        DataCenter::Sa,
        DataCenter::Uk,
        DataCenter::Ae,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DataCenter::Us => "us",
            DataCenter::Eu => "eu",
            DataCenter::In => "in",
            DataCenter::Au => "au",
            DataCenter::Jp => "jp",
            DataCenter::Cn => "cn",
            DataCenter::Ca => "ca",
            DataCenter::Sa => "sa",
            DataCenter::Uk => "uk",
            DataCenter::Ae => "ae",
        }
    }

    /// The top-level domain Zoho uses for this DC (`com`, `eu`, `com.au`, ...).
    fn tld(self) -> &'static str {
        match self {
            DataCenter::Us => "com",
            DataCenter::Eu => "eu",
            DataCenter::In => "in",
            DataCenter::Au => "com.au",
            DataCenter::Jp => "jp",
            DataCenter::Cn => "com.cn",
            DataCenter::Ca => "ca",
            DataCenter::Sa => "sa",
            DataCenter::Uk => "uk",
            DataCenter::Ae => "ae",
        }
    }

    /// The domain under which accounts and product hosts (Desk, Mail, ...) live.
    fn zoho_domain(self) -> String {
        match self {
            DataCenter::Ca => "zohocloud.ca".to_owned(),
            dc => format!("zoho.{}", dc.tld()),
        }
    }

    /// The DC whose API domain is exactly `url` (`https://www.zohoapis.eu`):
    /// how a token's `api_domain` is checked before credentials go there.
    pub fn from_api_domain(url: &str) -> Option<DataCenter> {
        let tld = url
            .trim_end_matches('/')
            .strip_prefix("https://www.zohoapis.")?;
        DataCenter::ALL.into_iter().find(|dc| dc.tld() == tld)
    }

    /// `https://accounts.zoho.<tld>` (Canada: `accounts.zohocloud.ca`).
    pub fn accounts_url(self) -> String {
        format!("https://accounts.{}", self.zoho_domain())
    }

    /// The DC whose accounts server is exactly `url` (`https://accounts.zoho.eu`,
    /// any case, a trailing slash allowed): how the `accounts-server` Zoho
    /// names in a login redirect is checked before a code goes there.
    pub fn from_accounts_url(url: &str) -> Option<DataCenter> {
        let url = url.trim_end_matches('/');
        DataCenter::ALL
            .into_iter()
            .find(|dc| dc.accounts_url().eq_ignore_ascii_case(url))
    }

    /// `https://api-console.zoho.<tld>`: where clients are registered and
    /// self-client codes generated (Canada: `api-console.zohocloud.ca`).
    pub fn api_console_url(self) -> String {
        format!("https://api-console.{}", self.zoho_domain())
    }

    /// The base URL of a product host in this DC.
    pub fn upstream_url(self, upstream: Upstream) -> String {
        let tld = self.tld();
        let zoho = self.zoho_domain();
        match upstream {
            Upstream::Api => format!("https://www.zohoapis.{tld}"),
            Upstream::Content => match self {
                DataCenter::Ca => "https://upload.zohocloud.ca".to_owned(),
                DataCenter::Sa => "https://files.zoho.sa".to_owned(),
                _ => format!("https://content.zohoapis.{tld}"),
            },
            Upstream::Desk => format!("https://desk.{zoho}"),
            Upstream::Mail => format!("https://mail.{zoho}"),
            Upstream::Projects => format!("https://projectsapi.{zoho}"),
            Upstream::People => format!("https://people.{zoho}"),
            Upstream::Creator => format!("https://creator.{zoho}"),
        }
    }
}

impl fmt::Display for DataCenter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataCenter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // "com" is what people copy from the URL; accept it as an alias of "us".
        let s = s.trim().to_ascii_lowercase();
        let s = match s.as_str() {
            "com" => "us",
            "com.au" => "au",
            "com.cn" => "cn",
            other => other,
        };
        DataCenter::ALL
            .into_iter()
            .find(|dc| dc.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown data centre {s:?}; expected one of: {}",
                    DataCenter::ALL.map(DataCenter::as_str).join(" ")
                )
            })
    }
}

/// Why a URL is not a bare `https://host[:port]` origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnOrigin {
    #[error("is not a URL: {0}")]
    NotAUrl(String),
    #[error("must be an https:// URL")]
    NotHttps,
    #[error("has no host")]
    NoHost,
    #[error("must be a bare origin like https://host[:port]")]
    NotBare,
}

/// An accounts or API server as configured: `https://host[:port]`, nothing
/// after it but an optional `/` (paths are the proxy's, never the config's).
/// The one check for `accounts_url`, `api_url`, `upstreams` and
/// `--accounts-url`.
pub fn https_origin(text: &str) -> Result<http::Uri, NotAnOrigin> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| NotAnOrigin::NotAUrl(e.to_string()))?;
    if uri.scheme_str() != Some("https") {
        return Err(NotAnOrigin::NotHttps);
    }
    if uri.host().is_none() {
        return Err(NotAnOrigin::NoHost);
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err(NotAnOrigin::NotBare);
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_bare_https_hosts() {
        for ok in ["https://accounts.zoho.eu", "https://localhost:8443/"] {
            assert!(https_origin(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://accounts.zoho.eu", NotAnOrigin::NotHttps),
            (
                "https://accounts.zoho.eu/oauth/v2/token",
                NotAnOrigin::NotBare,
            ),
            ("https://accounts.zoho.eu/?a=b", NotAnOrigin::NotBare),
            ("/oauth", NotAnOrigin::NotHttps),
        ] {
            assert_eq!(https_origin(bad).unwrap_err(), why, "{bad}");
        }
        assert!(matches!(
            https_origin("not a url"),
            Err(NotAnOrigin::NotAUrl(_))
        ));
    }

    #[test]
    fn every_dc_has_its_documented_hosts() {
        let cases = [
            (
                "us",
                "https://accounts.zoho.com",
                "https://www.zohoapis.com",
            ),
            ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
            ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
            (
                "au",
                "https://accounts.zoho.com.au",
                "https://www.zohoapis.com.au",
            ),
            ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
            (
                "cn",
                "https://accounts.zoho.com.cn",
                "https://www.zohoapis.com.cn",
            ),
            (
                "ca",
                "https://accounts.zohocloud.ca",
                "https://www.zohoapis.ca",
            ),
            ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
            ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
            ("ae", "https://accounts.zoho.ae", "https://www.zohoapis.ae"),
        ];
        for (name, accounts, api) in cases {
            let dc: DataCenter = name.parse().unwrap();
            assert_eq!(dc.accounts_url(), accounts, "{name}");
            assert_eq!(dc.upstream_url(Upstream::Api), api, "{name}");
        }
    }

    #[test]
    fn product_hosts_follow_the_dc_and_canada_uses_zohocloud() {
        let eu = DataCenter::Eu;
        assert_eq!(eu.upstream_url(Upstream::Desk), "https://desk.zoho.eu");
        assert_eq!(
            eu.upstream_url(Upstream::Content),
            "https://content.zohoapis.eu"
        );
        assert_eq!(
            eu.upstream_url(Upstream::Projects),
            "https://projectsapi.zoho.eu"
        );
        let ca = DataCenter::Ca;
        assert_eq!(ca.upstream_url(Upstream::Desk), "https://desk.zohocloud.ca");
        assert_eq!(ca.upstream_url(Upstream::Mail), "https://mail.zohocloud.ca");
        assert_eq!(
            ca.upstream_url(Upstream::Content),
            "https://upload.zohocloud.ca"
        );
        assert_eq!(
            DataCenter::Sa.upstream_url(Upstream::Content),
            "https://files.zoho.sa"
        );
        let ae = DataCenter::Ae;
        assert_eq!(ae.upstream_url(Upstream::Desk), "https://desk.zoho.ae");
        assert_eq!(ae.upstream_url(Upstream::Mail), "https://mail.zoho.ae");
        assert_eq!(
            ae.upstream_url(Upstream::Projects),
            "https://projectsapi.zoho.ae"
        );
        assert_eq!(ae.upstream_url(Upstream::People), "https://people.zoho.ae");
    }

    #[test]
    fn accounts_servers_and_api_consoles_are_the_dcs_own() {
        for dc in DataCenter::ALL {
            assert_eq!(DataCenter::from_accounts_url(&dc.accounts_url()), Some(dc));
        }
        assert_eq!(
            DataCenter::from_accounts_url("https://Accounts.Zoho.AE/"),
            Some(DataCenter::Ae)
        );
        for bad in [
            "https://accounts.zoho.ca",
            "http://accounts.zoho.eu",
            "https://accounts.zoho.eu.evil.example",
            "https://accounts.zoho.eu/oauth",
            "https://localhost:8443",
        ] {
            assert_eq!(DataCenter::from_accounts_url(bad), None, "{bad}");
        }
        assert_eq!(
            DataCenter::Us.api_console_url(),
            "https://api-console.zoho.com"
        );
        assert_eq!(
            DataCenter::Ae.api_console_url(),
            "https://api-console.zoho.ae"
        );
        assert_eq!(
            DataCenter::Ca.api_console_url(),
            "https://api-console.zohocloud.ca"
        );
        assert_eq!(
            DataCenter::Cn.api_console_url(),
            "https://api-console.zoho.com.cn"
        );
    }

    #[test]
    fn only_zohos_own_api_domains_are_recognised() {
        assert_eq!(
            DataCenter::from_api_domain("https://www.zohoapis.eu"),
            Some(DataCenter::Eu)
        );
        assert_eq!(
            DataCenter::from_api_domain("https://www.zohoapis.com.au/"),
            Some(DataCenter::Au)
        );
        for bad in [
            "https://www.zohoapis.evil.com",
            "http://www.zohoapis.com",
            "https://www.zohoapis.com.evil",
            "https://evil.example",
        ] {
            assert_eq!(DataCenter::from_api_domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_dc_is_an_error_listing_the_valid_ones() {
        let err = "mars".parse::<DataCenter>().unwrap_err();
        assert!(
            err.contains("mars") && err.contains("us eu in au jp cn ca sa uk ae"),
            "{err}"
        );
        assert_eq!("COM".parse::<DataCenter>().unwrap(), DataCenter::Us);
    }
}
