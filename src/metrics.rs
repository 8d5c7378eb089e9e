//! Prometheus metrics, served on the admin listener at `/metrics`.
//!
//! Label values are bounded: route and client names come from the config
//! (or `none` for requests no route matched, or no client was identified), methods are the seven the proxy knows (else
//! `OTHER`), statuses are three digits, reasons and results are fixed words.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    client: String,
    credential: String,
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabel {
    credential: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialRouteLabels {
    credential: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientRouteLabels {
    client: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    credential: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyFailureLabels {
    reason: &'static str,
    held: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Request latencies: 5 ms .. ~80 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    ]
    .into_iter()
}

/// How token refreshes ended.
#[derive(Debug, Clone, Copy)]
pub enum RefreshResult {
    Ok,
    Error,
    Throttled,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<ClientRouteLabels, Histogram>,
    upstream_duration: Family<RouteLabel, Histogram>,
    token_refreshes: Family<ResultLabel, Counter>,
    token_expiry: Family<CredentialLabel, Gauge<f64, AtomicU64>>,
    retries: Family<ReasonLabel, Counter>,
    rate_limit_wait: Histogram,
    shed: Family<CredentialLabel, Counter>,
    key_failures: Family<KeyFailureLabels, Counter>,
    in_flight: Gauge<i64, AtomicI64>,
    cluster_up: Gauge<i64, AtomicI64>,
    leases_expired: Counter,
    credits_spent: Family<CredentialRouteLabels, Counter>,
    credits_remaining: Family<CredentialLabel, Gauge<i64, AtomicI64>>,
    redis_ops: Family<OpLabel, Histogram>,
    redis_errors: Family<OpLabel, Counter>,
    unrouted: Arc<RouteSeries>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zoho_proxy");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by client, credential, route, method and status (denials included)",
            requests.clone(),
        );
        let request_duration = Family::<ClientRouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "request_duration_seconds",
            "Whole request time, as the client saw it, by client and route",
            request_duration.clone(),
        );
        let upstream_duration = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register(
            "upstream_duration_seconds",
            "Time from sending to Zoho to its response head, per attempt",
            upstream_duration.clone(),
        );
        let token_refreshes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "token_refreshes",
            "Token requests to Zoho accounts, by credential and result (ok, error, throttled)",
            token_refreshes.clone(),
        );
        let token_expiry = Family::<CredentialLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "token_expiry_seconds",
            "Seconds until each credential's access token expires (0: none)",
            token_expiry.clone(),
        );
        let retries = Family::<ReasonLabel, Counter>::default();
        registry.register("retries", "Retries toward Zoho, by reason", retries.clone());
        let rate_limit_wait =
            Histogram::new([0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]);
        registry.register(
            "rate_limit_wait_seconds",
            "Time requests waited for a rate or concurrency slot",
            rate_limit_wait.clone(),
        );
        let shed = Family::<CredentialLabel, Counter>::default();
        registry.register(
            "shed",
            "Requests refused with 429 RATE_LIMITED after max_wait, by credential",
            shed.clone(),
        );
        let key_failures = Family::<KeyFailureLabels, Counter>::default();
        registry.register(
            "client_key_failures",
            "With [[clients]]: requests refused for a missing or invalid key, and whether the \
             answer was held because their peer keeps failing",
            key_failures.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "in_flight",
            "Requests being served right now",
            in_flight.clone(),
        );
        let cluster_up = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "cluster_up",
            "With [cluster]: 1 while Redis is reachable, 0 while this replica runs on its own share",
            cluster_up.clone(),
        );
        let credits_spent = Family::<CredentialRouteLabels, Counter>::default();
        registry.register(
            "credits_spent",
            "API credits spent by attempts that reached Zoho, by credential and route",
            credits_spent.clone(),
        );
        let credits_remaining = Family::<CredentialLabel, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "credits_remaining",
            "With daily_credits: the credential's credits left in the rolling 24 hours",
            credits_remaining.clone(),
        );
        let leases_expired = Counter::default();
        registry.register(
            "leases_expired",
            "With [cluster]: concurrency slots reclaimed because their holder died or stalled past its lease",
            leases_expired.clone(),
        );
        let redis_ops = Family::<OpLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
            ])
        });
        registry.register(
            "redis_op_duration_seconds",
            "Redis calls by operation (admit, read_token, ...), failed ones included",
            redis_ops.clone(),
        );
        let redis_errors = Family::<OpLabel, Counter>::default();
        registry.register(
            "redis_errors",
            "Redis calls that failed or timed out, by operation",
            redis_errors.clone(),
        );
        let unrouted = RouteSeries::new(
            RouteFamilies {
                requests: requests.clone(),
                request_duration: request_duration.clone(),
                upstream_duration: upstream_duration.clone(),
                credits_spent: credits_spent.clone(),
            },
            "none",
            "none",
        );
        Metrics {
            unrouted,
            cluster_up,
            leases_expired,
            credits_spent,
            credits_remaining,
            redis_ops,
            redis_errors,
            registry,
            requests,
            request_duration,
            upstream_duration,
            token_refreshes,
            token_expiry,
            retries,
            rate_limit_wait,
            shed,
            key_failures,
            in_flight,
        }
    }

    /// A request refused for its client key: `missing` or `invalid`, and
    /// whether its answer was held (its peer keeps failing).
    pub fn client_key_failure(&self, reason: &'static str, held: bool) {
        self.key_failures
            .get_or_create(&KeyFailureLabels {
                reason,
                held: if held { "true" } else { "false" },
            })
            .inc();
    }

    /// The series of route `route` (of credential `credential`), for a
    /// config generation to resolve once per route: a request then records
    /// its metrics without building or hashing label strings.
    pub fn route_series(&self, credential: &str, route: &str) -> Arc<RouteSeries> {
        RouteSeries::new(self.route_families(), credential, route)
    }

    fn route_families(&self) -> RouteFamilies {
        RouteFamilies {
            requests: self.requests.clone(),
            request_duration: self.request_duration.clone(),
            upstream_duration: self.upstream_duration.clone(),
            credits_spent: self.credits_spent.clone(),
        }
    }

    /// The series of requests no route matched (`credential="none"`,
    /// `route="none"`).
    pub fn unrouted(&self) -> &RouteSeries {
        &self.unrouted
    }

    pub fn token_refresh(&self, credential: &str, result: RefreshResult) {
        let result = match result {
            RefreshResult::Ok => "ok",
            RefreshResult::Error => "error",
            RefreshResult::Throttled => "throttled",
        };
        self.token_refreshes
            .get_or_create(&ResultLabel {
                credential: credential.to_owned(),
                result,
            })
            .inc();
    }

    pub fn retry(&self, reason: &'static str) {
        self.retries.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn waited(&self, took: Duration) {
        self.rate_limit_wait.observe(took.as_secs_f64());
    }

    /// One Redis call: its operation, how long it took, whether it worked.
    pub fn redis_op(&self, op: &'static str, took: Duration, ok: bool) {
        self.redis_ops
            .get_or_create(&OpLabel { op })
            .observe(took.as_secs_f64());
        if !ok {
            self.redis_errors.get_or_create(&OpLabel { op }).inc();
        }
    }

    /// With `[cluster]`: whether Redis is reachable now, and how many
    /// expired leases this replica's admissions reclaimed so far.
    /// What a credential has left (set when `/metrics` is rendered).
    pub fn credits_remaining(&self, credential: &str, remaining: u64) {
        self.credits_remaining
            .get_or_create(&CredentialLabel {
                credential: credential.to_owned(),
            })
            .set(i64::try_from(remaining).unwrap_or(i64::MAX));
    }

    pub fn cluster(&self, up: bool, leases_expired: u64) {
        self.cluster_up.set(i64::from(up));
        let seen = self.leases_expired.get();
        if leases_expired > seen {
            self.leases_expired.inc_by(leases_expired - seen);
        }
    }

    /// Makes a credential's series exist (at 0) before anything happens to it.
    pub fn credential(&self, credential: &str) {
        let label = CredentialLabel {
            credential: credential.to_owned(),
        };
        drop(self.shed.get_or_create(&label));
        drop(self.token_expiry.get_or_create(&label));
    }

    pub fn shed(&self, credential: &str) {
        self.shed
            .get_or_create(&CredentialLabel {
                credential: credential.to_owned(),
            })
            .inc();
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// The text exposition, with each credential's token lifetime as of now.
    pub fn render<'a>(
        &self,
        token_expires_in: impl IntoIterator<Item = (&'a str, Option<Duration>)>,
    ) -> String {
        for (credential, left) in token_expires_in {
            self.token_expiry
                .get_or_create(&CredentialLabel {
                    credential: credential.to_owned(),
                })
                .set(left.map_or(0.0, |d| d.as_secs_f64()));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// One route's series, resolved when a config generation starts (see
/// [`Metrics::route_series`]): its name and credential for the request log,
/// and its series, each looked up in its family once and then kept.
pub struct RouteSeries {
    credential: String,
    route: String,
    /// Looked up on first use, so a series appears in `/metrics` only once
    /// something happened on it.
    upstream_duration: OnceLock<Histogram>,
    credits_spent: OnceLock<Counter>,
    /// By client seen so far on this route (`none`: no client identified).
    clients: RwLock<Vec<ClientSeries>>,
    /// Where the series live.
    families: RouteFamilies,
}

/// The families a [`RouteSeries`] takes its series from.
struct RouteFamilies {
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<ClientRouteLabels, Histogram>,
    upstream_duration: Family<RouteLabel, Histogram>,
    credits_spent: Family<CredentialRouteLabels, Counter>,
}

/// One client's series on one route.
struct ClientSeries {
    client: Box<str>,
    duration: Histogram,
    /// Its `requests_total` counters seen so far: a handful (methods ×
    /// statuses).
    requests: Vec<(&'static str, u16, Counter)>,
}

impl ClientSeries {
    fn counter(&self, method: &'static str, status: u16) -> Option<&Counter> {
        self.requests
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)
            .map(|(_, _, c)| c)
    }
}

impl std::fmt::Debug for RouteSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSeries")
            .field("credential", &self.credential)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RouteSeries {
    fn new(families: RouteFamilies, credential: &str, route: &str) -> Arc<Self> {
        Arc::new(RouteSeries {
            credential: credential.to_owned(),
            route: route.to_owned(),
            upstream_duration: OnceLock::new(),
            credits_spent: OnceLock::new(),
            clients: RwLock::new(Vec::new()),
            families,
        })
    }

    pub fn route(&self) -> &str {
        &self.route
    }

    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// One answered request (of any kind). `client`: `None` when no client
    /// was identified (no `[[clients]]`, or its key was refused).
    pub fn request(
        &self,
        client: Option<&str>,
        method: &http::Method,
        status: u16,
        took: Duration,
    ) {
        let client = client.unwrap_or("none");
        let method = method_label(method);
        let took = took.as_secs_f64();
        {
            let seen = self.clients.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = seen.iter().find(|c| &*c.client == client) {
                if let Some(counter) = c.counter(method, status) {
                    counter.inc();
                    c.duration.observe(took);
                    return;
                }
            }
        }
        let mut seen = self.clients.write().unwrap_or_else(|e| e.into_inner());
        let at = match seen.iter().position(|c| &*c.client == client) {
            Some(at) => at,
            None => {
                let duration = self
                    .families
                    .request_duration
                    .get_or_create(&ClientRouteLabels {
                        client: client.to_owned(),
                        route: self.route.clone(),
                    })
                    .clone();
                seen.push(ClientSeries {
                    client: client.into(),
                    duration,
                    requests: Vec::new(),
                });
                seen.len() - 1
            }
        };
        let Some(c) = seen.get_mut(at) else { return };
        let counter = match c.counter(method, status) {
            Some(counter) => counter.clone(),
            None => {
                let counter = self
                    .families
                    .requests
                    .get_or_create(&RequestLabels {
                        client: client.to_owned(),
                        credential: self.credential.clone(),
                        route: self.route.clone(),
                        method,
                        status,
                    })
                    .clone();
                c.requests.push((method, status, counter.clone()));
                counter
            }
        };
        counter.inc();
        c.duration.observe(took);
    }

    /// One attempt's wait for Zoho's response head.
    pub fn upstream(&self, took: Duration) {
        self.upstream_duration
            .get_or_init(|| {
                self.families
                    .upstream_duration
                    .get_or_create(&RouteLabel {
                        route: self.route.clone(),
                    })
                    .clone()
            })
            .observe(took.as_secs_f64());
    }

    /// Credits an attempt that reached Zoho cost.
    pub fn credits_spent(&self, n: u64) {
        self.credits_spent
            .get_or_init(|| {
                self.families
                    .credits_spent
                    .get_or_create(&CredentialRouteLabels {
                        credential: self.credential.clone(),
                        route: self.route.clone(),
                    })
                    .clone()
            })
            .inc_by(n);
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight(Gauge<i64, AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn method_label(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_bounded_labels() {
        let m = Metrics::new();
        let leads = m.route_series("prod", "leads");
        leads.request(
            Some("billing"),
            &http::Method::GET,
            200,
            Duration::from_millis(30),
        );
        m.unrouted().request(
            None,
            &"FROB".parse().unwrap(),
            403,
            Duration::from_millis(1),
        );
        leads.upstream(Duration::from_millis(20));
        leads.credits_spent(3);
        m.token_refresh("prod", RefreshResult::Ok);
        m.retry("429");
        m.waited(Duration::from_millis(5));
        m.shed("prod");
        m.client_key_failure("invalid", true);
        let guard = m.in_flight();
        let text = m.render([("prod", Some(Duration::from_secs(3000))), ("sandbox", None)]);
        for needle in [
            r#"zoho_proxy_requests_total{client="billing",credential="prod",route="leads",method="GET",status="200"} 1"#,
            r#"zoho_proxy_requests_total{client="none",credential="none",route="none",method="OTHER",status="403"} 1"#,
            r#"zoho_proxy_request_duration_seconds_count{client="billing",route="leads"} 1"#,
            r#"zoho_proxy_upstream_duration_seconds_count{route="leads"} 1"#,
            r#"zoho_proxy_credits_spent_total{credential="prod",route="leads"} 3"#,
            r#"zoho_proxy_token_refreshes_total{credential="prod",result="ok"} 1"#,
            r#"zoho_proxy_token_expiry_seconds{credential="prod"} 3000"#,
            r#"zoho_proxy_token_expiry_seconds{credential="sandbox"} 0"#,
            r#"zoho_proxy_retries_total{reason="429"} 1"#,
            "zoho_proxy_rate_limit_wait_seconds_count 1",
            r#"zoho_proxy_shed_total{credential="prod"} 1"#,
            r#"zoho_proxy_client_key_failures_total{reason="invalid",held="true"} 1"#,
            "zoho_proxy_in_flight 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        drop(guard);
        assert!(m.render([]).contains("zoho_proxy_in_flight 0"));
    }

    #[test]
    fn a_reloaded_route_counts_on_in_the_same_series() {
        let m = Metrics::new();
        let before = m.route_series("prod", "leads");
        assert!(
            !m.render([]).contains(r#"route="leads""#),
            "no series before anything happened on it"
        );
        let get = http::Method::GET;
        let ms = Duration::from_millis(3);
        before.request(None, &get, 200, ms);
        before.request(Some("billing"), &get, 200, ms);
        // A reload resolves the route's series again: the counts go on, each
        // client's apart.
        let after = m.route_series("prod", "leads");
        after.request(None, &get, 200, ms);
        after.request(None, &http::Method::POST, 201, ms);
        after.request(Some("billing"), &get, 200, ms);
        after.request(Some("reports"), &get, 404, ms);
        after.upstream(Duration::from_millis(2));
        after.credits_spent(1);
        before.credits_spent(2);
        let text = m.render([]);
        for needle in [
            r#"zoho_proxy_requests_total{client="none",credential="prod",route="leads",method="GET",status="200"} 2"#,
            r#"zoho_proxy_requests_total{client="none",credential="prod",route="leads",method="POST",status="201"} 1"#,
            r#"zoho_proxy_requests_total{client="billing",credential="prod",route="leads",method="GET",status="200"} 2"#,
            r#"zoho_proxy_requests_total{client="reports",credential="prod",route="leads",method="GET",status="404"} 1"#,
            r#"zoho_proxy_request_duration_seconds_count{client="none",route="leads"} 3"#,
            r#"zoho_proxy_request_duration_seconds_count{client="billing",route="leads"} 2"#,
            r#"zoho_proxy_request_duration_seconds_count{client="reports",route="leads"} 1"#,
            r#"zoho_proxy_upstream_duration_seconds_count{route="leads"} 1"#,
            r#"zoho_proxy_credits_spent_total{credential="prod",route="leads"} 3"#,
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
