//! API credits: what each call costs ([`cost`]), what a credential and each
//! of its routes spent in the last 24 hours ([`window`]), and the budgets
//! that refuse a call before it reaches Zoho when it would overspend.
//!
//! - A call is charged when it is admitted ([`Credits::reserve`], checked
//!   and added at once, so concurrent calls cannot overshoot together); the
//!   charge is given back if no attempt reached Zoho, and charged again for
//!   every further attempt that did (a 401 replay, a retry).
//! - `daily_credits` bounds the credential; `reserve` keeps its last part
//!   for routes marked `priority`; a route's own budget is `daily_credits`
//!   or `credit_share` of the credential's.
//! - Zoho's word wins: `X-API-CREDITS-REMAINING` (CRM) and Books'
//!   `X-Rate-Limit-Remaining`/`-Reset` correct the estimate (never above
//!   the configured allowance), and a credit 429 means "spent" until the
//!   window rolls.
//! - With a token cache, the window is kept in a file beside it
//!   (`<token_cache>.credits.json`), so a restart does not forget the day.

pub mod cost;
mod persist;
pub mod report;
pub mod window;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use tokio::sync::Notify;

pub use persist::beside;
use window::{Window, MINUTES};

/// The field of a minute's shared counts that holds the credential's total.
const TOTAL: &str = "t";

/// How often a replica exchanges credit counts with the others.
pub const SHARE_EVERY: Duration = Duration::from_secs(1);

/// A credential's budget, from its config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditBudget {
    /// The org's allowance per rolling 24 h (`daily_credits`); `None`:
    /// credits are counted and shown, never refused.
    pub daily: Option<u64>,
    /// Credits of `daily` only `priority` routes may use (`reserve`).
    pub reserve: u64,
}

/// A route's credit settings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteCredits {
    /// `credits = N`: this price for every call, instead of the cost model.
    pub price: Option<u32>,
    pub budget: Option<RouteBudget>,
    /// May use the credential's `reserve`.
    pub priority: bool,
}

/// A route's own daily budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RouteBudget {
    /// `daily_credits = N`.
    Fixed(u64),
    /// `credit_share = "20%"` of the credential's `daily_credits`.
    Share(f64),
}

impl RouteCredits {
    /// The route's budget in credits, if it has one.
    pub fn limit(&self, credential: &CreditBudget) -> Option<u64> {
        match self.budget? {
            RouteBudget::Fixed(n) => Some(n),
            RouteBudget::Share(f) => credential.daily.map(|d| (d as f64 * f).floor() as u64),
        }
    }
}

/// A call refused for its budget: 429 `CREDIT_BUDGET_EXHAUSTED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// Which budget, for the message (`route "x" daily_credits 30`).
    pub budget: String,
    pub spent: u64,
    pub cost: u32,
    /// When enough credits will have left the window.
    pub retry_after: Duration,
}

/// Wall-clock milliseconds that follow Tokio's clock (so tests can pause and
/// advance time), anchored to the system time when the unit was made.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base_ms: u64,
    base: tokio::time::Instant,
}

impl Clock {
    fn new() -> Clock {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            base_ms,
            base: tokio::time::Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base_ms + self.base.elapsed().as_millis() as u64
    }
}

#[derive(Debug, Default)]
struct State {
    total: Window,
    routes: HashMap<String, Window>,
    /// Zoho said the daily allowance is spent until then (Books' reset).
    blocked_until_ms: u64,
    /// Per client (with `[[clients]]`).
    clients: HashMap<String, Window>,
    /// Budgets past 80 %, warned about once until they drop below again.
    warned: HashMap<String, bool>,
    dirty: bool,
    /// With `[cluster]`: changes not yet sent to Redis, by (minute, field):
    /// `t` the total, `r:<route>` a route.
    pending: Option<HashMap<(u64, String), i64>>,
}

impl State {
    /// Records a change for the other replicas (with `[cluster]`).
    fn note(&mut self, minute: u64, route: Option<&str>, n: i64) {
        if let Some(p) = &mut self.pending {
            *p.entry((minute, TOTAL.to_owned())).or_default() += n;
            if let Some(r) = route {
                *p.entry((minute, format!("r:{r}"))).or_default() += n;
            }
        }
    }

    fn note_client(&mut self, minute: u64, client: &str, n: i64) {
        if let Some(p) = &mut self.pending {
            *p.entry((minute, format!("c:{client}"))).or_default() += n;
        }
    }

    fn add_total(&mut self, minute: u64, n: u64) {
        self.total.add(minute, n);
        self.note(minute, None, n as i64);
    }

    fn advance(&mut self, minute: u64) {
        self.total.advance(minute);
        for w in self.routes.values_mut().chain(self.clients.values_mut()) {
            w.advance(minute);
        }
    }
}

/// One credential's credit account. Lives as long as the credential's name
/// does (reload keeps it: a config change does not reset the day).
#[derive(Debug)]
pub struct Credits {
    credential: String,
    clock: Clock,
    state: Mutex<State>,
    file: Option<PathBuf>,
    saved: Notify,
}

/// What `/credits` shows for one budget.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct Usage {
    pub spent: u64,
    pub budget: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds until the oldest credits leave the window (when any are held).
    pub next_refill_secs: Option<u64>,
}

impl Credits {
    /// A fresh account, loading the window from `file` if there is one.
    pub fn new(credential: &str, file: Option<PathBuf>) -> Arc<Credits> {
        let clock = Clock::new();
        let mut state = State::default();
        if let Some(path) = &file {
            match persist::load(path, credential) {
                Ok(Some(loaded)) => {
                    let minute = clock.now_ms() / 60_000;
                    for (m, n) in loaded.total {
                        if m + MINUTES > minute && m <= minute {
                            state.total.add(m, n);
                        }
                    }
                    for (route, buckets) in loaded.routes {
                        let w = state.routes.entry(route).or_default();
                        for (m, n) in buckets {
                            if m + MINUTES > minute && m <= minute {
                                w.add(m, n);
                            }
                        }
                    }
                    for (client, buckets) in loaded.clients {
                        let w = state.clients.entry(client).or_default();
                        for (m, n) in buckets {
                            if m + MINUTES > minute && m <= minute {
                                w.add(m, n);
                            }
                        }
                    }
                    state.blocked_until_ms = loaded.blocked_until_ms;
                    state.advance(minute);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(credential, file = %path.display(), error = %e, "credit window not loaded: counting from zero")
                }
            }
        }
        Arc::new(Credits {
            credential: credential.to_owned(),
            clock,
            state: Mutex::new(state),
            file,
            saved: Notify::new(),
        })
    }

    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_ref()
    }

    fn minute(&self) -> u64 {
        self.clock.now_ms() / 60_000
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges `cost` to `route` if every budget it falls under has room;
    /// otherwise nothing is charged and the caller refuses the call.
    pub fn reserve(
        self: &Arc<Self>,
        budget: &CreditBudget,
        route: &str,
        settings: &RouteCredits,
        client: Option<(&str, Option<u64>)>,
        cost: u32,
    ) -> Result<Charge, Exhausted> {
        let now_ms = self.clock.now_ms();
        let minute = now_ms / 60_000;
        let mut st = self.lock();
        st.advance(minute);
        let refill = |w: &Window, over: u64| {
            let at = w.frees_at(over).unwrap_or(minute + MINUTES);
            Duration::from_millis((at * 60_000).saturating_sub(now_ms).max(1000))
        };
        if let Some(daily) = budget.daily {
            if st.blocked_until_ms > now_ms {
                return Err(Exhausted {
                    budget: format!(
                        "credential \"{}\": Zoho reported its daily allowance spent",
                        self.credential
                    ),
                    spent: st.total.sum(),
                    cost,
                    retry_after: Duration::from_millis(st.blocked_until_ms - now_ms),
                });
            }
            let cap = if settings.priority {
                daily
            } else {
                daily.saturating_sub(budget.reserve)
            };
            let after = st.total.sum() + u64::from(cost);
            if after > cap {
                let what = if settings.priority || budget.reserve == 0 {
                    format!("credential \"{}\" daily_credits {daily}", self.credential)
                } else {
                    format!(
                        "credential \"{}\" daily_credits {daily} less its reserve of {} for priority routes",
                        self.credential, budget.reserve
                    )
                };
                return Err(Exhausted {
                    budget: what,
                    spent: st.total.sum(),
                    cost,
                    retry_after: refill(&st.total, after - cap),
                });
            }
        }
        if let Some(limit) = settings.limit(budget) {
            with_route(&mut st.routes, route, |w| {
                w.advance(minute);
                let after = w.sum() + u64::from(cost);
                if after > limit {
                    return Err(Exhausted {
                        budget: format!("route \"{route}\" daily_credits {limit}"),
                        spent: w.sum(),
                        cost,
                        retry_after: refill(w, after - limit),
                    });
                }
                Ok(())
            })?;
        }
        if let Some((name, Some(limit))) = client {
            with_route(&mut st.clients, name, |w| {
                w.advance(minute);
                let after = w.sum() + u64::from(cost);
                if after > limit {
                    return Err(Exhausted {
                        budget: format!("client \"{name}\" daily_credits {limit}"),
                        spent: w.sum(),
                        cost,
                        retry_after: refill(w, after - limit),
                    });
                }
                Ok(())
            })?;
        }
        let client = client.map(|(name, _)| name.to_owned());
        self.add(&mut st, minute, route, client.as_deref(), u64::from(cost));
        self.warn_if_high(&mut st, budget, route, settings);
        drop(st);
        Ok(Charge {
            credits: self.clone(),
            route: route.to_owned(),
            client,
            minute,
            cost: u64::from(cost),
            attempts: 0,
        })
    }

    fn add(&self, st: &mut State, minute: u64, route: &str, client: Option<&str>, n: u64) {
        st.total.add(minute, n);
        with_route(&mut st.routes, route, |w| w.add(minute, n));
        st.note(minute, Some(route), n as i64);
        if let Some(c) = client {
            with_route(&mut st.clients, c, |w| w.add(minute, n));
            st.note_client(minute, c, n as i64);
        }
        st.dirty = true;
        self.saved.notify_one();
    }

    fn refund(&self, route: &str, client: Option<&str>, minute: u64, n: u64) {
        let mut st = self.lock();
        st.total.remove(minute, n);
        if let Some(w) = st.routes.get_mut(route) {
            w.remove(minute, n);
        }
        st.note(minute, Some(route), -(n as i64));
        if let Some(c) = client {
            if let Some(w) = st.clients.get_mut(c) {
                w.remove(minute, n);
            }
            st.note_client(minute, c, -(n as i64));
        }
        st.dirty = true;
        self.saved.notify_one();
    }

    /// One warn line when a budget passes 80 %, again only after it fell below.
    fn warn_if_high(&self, st: &mut State, budget: &CreditBudget, route: &str, rc: &RouteCredits) {
        // Keyed by route name; "" is the credential's own budget.
        let mut check = |key: &str, spent: u64, limit: Option<u64>| {
            let Some(limit) = limit.filter(|l| *l > 0) else {
                return;
            };
            let high = spent * 5 >= limit * 4;
            let was = match st.warned.get_mut(key) {
                Some(w) => std::mem::replace(w, high),
                None if high => st.warned.insert(key.to_owned(), true).unwrap_or(false),
                None => false,
            };
            if high && !was {
                let budget = if key.is_empty() { "credential" } else { key };
                tracing::warn!(credential = %self.credential, budget, spent, limit, "credit budget past 80 %");
            }
        };
        let total = st.total.sum();
        let route_spent = st.routes.get(route).map_or(0, Window::sum);
        check("", total, budget.daily);
        check(route, route_spent, rc.limit(budget));
    }

    /// Corrects the estimate from what Zoho said in an answer's headers.
    pub fn learn(&self, budget: &CreditBudget, headers: &HeaderMap) {
        let Some(daily) = budget.daily else { return };
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        // CRM: credits left of the org's allowance (`daily_credits`). Books:
        // calls left of its own limit, which is the daily cap only when it
        // is above Books' per-minute limit of 100.
        let spent_by_zoho = match (
            number("x-api-credits-remaining"),
            number("x-rate-limit-remaining"),
            number("x-rate-limit-limit"),
        ) {
            (Some(remaining), _, _) => daily.saturating_sub(remaining),
            (None, Some(remaining), Some(limit)) if limit > 100 => limit.saturating_sub(remaining),
            _ => return,
        };
        // Never beyond the configured allowance.
        let spent_by_zoho = spent_by_zoho.min(daily);
        let remaining = daily - spent_by_zoho;
        let now_ms = self.clock.now_ms();
        let minute = now_ms / 60_000;
        let mut st = self.lock();
        st.advance(minute);
        let spent = st.total.sum();
        if spent_by_zoho > spent {
            // Spent elsewhere (other integrations of the org): counted now.
            st.add_total(minute, spent_by_zoho - spent);
        } else if spent_by_zoho < spent {
            for (m, n) in st.total.remove_oldest(spent - spent_by_zoho) {
                st.note(m, None, -(n as i64));
            }
        }
        if remaining == 0 {
            if let Some(reset) = number("x-rate-limit-reset") {
                st.blocked_until_ms = now_ms + reset * 1000;
            }
        }
        st.dirty = true;
        self.saved.notify_one();
    }

    /// A 429 that says the credits are gone: the day is spent until the
    /// window rolls (the estimate goes to the full allowance).
    pub fn zoho_exhausted(&self, budget: &CreditBudget) {
        let Some(daily) = budget.daily else { return };
        let minute = self.minute();
        let mut st = self.lock();
        st.advance(minute);
        let spent = st.total.sum();
        if spent < daily {
            st.add_total(minute, daily - spent);
        }
        st.dirty = true;
        self.saved.notify_one();
        tracing::warn!(credential = %self.credential, "Zoho reports the API credits spent: calls wait until the window rolls");
    }

    /// Spent, budget and refill of the credential and of each route named.
    pub fn usage<'a>(
        &self,
        budget: &CreditBudget,
        routes: impl IntoIterator<Item = (&'a str, &'a RouteCredits)>,
    ) -> (Usage, Vec<(String, Usage)>) {
        let now_ms = self.clock.now_ms();
        let minute = now_ms / 60_000;
        let mut st = self.lock();
        st.advance(minute);
        let usage = |w: Option<&Window>, limit: Option<u64>| {
            let spent = w.map_or(0, Window::sum);
            Usage {
                spent,
                budget: limit,
                remaining: limit.map(|l| l.saturating_sub(spent)),
                next_refill_secs: w
                    .and_then(|w| w.frees_at(1))
                    .filter(|_| spent > 0)
                    .map(|m| (m * 60_000).saturating_sub(now_ms) / 1000),
            }
        };
        let total = usage(Some(&st.total), budget.daily);
        let routes = routes
            .into_iter()
            .map(|(name, rc)| {
                (
                    name.to_owned(),
                    usage(st.routes.get(name), rc.limit(budget)),
                )
            })
            .collect();
        (total, routes)
    }

    /// What each client spent on this credential in the last 24 hours.
    pub fn clients_spent(&self) -> Vec<(String, u64)> {
        let minute = self.minute();
        let mut st = self.lock();
        st.advance(minute);
        let mut out: Vec<_> = st
            .clients
            .iter()
            .map(|(c, w)| (c.clone(), w.sum()))
            .collect();
        out.sort();
        out
    }

    /// Writes the window to its file now (if it has one and changed).
    pub fn save(&self) {
        let Some(path) = &self.file else { return };
        let snapshot = {
            let mut st = self.lock();
            if !st.dirty {
                return;
            }
            st.dirty = false;
            persist::Saved {
                credential: self.credential.clone(),
                total: st.total.buckets().collect(),
                routes: st
                    .routes
                    .iter()
                    .map(|(r, w)| (r.clone(), w.buckets().collect()))
                    .collect(),
                clients: st
                    .clients
                    .iter()
                    .map(|(c, w)| (c.clone(), w.buckets().collect()))
                    .collect(),
                blocked_until_ms: st.blocked_until_ms,
            }
        };
        if let Err(e) = persist::save(path, &snapshot) {
            tracing::warn!(credential = %self.credential, file = %path.display(), error = %e, "credit window not saved");
            self.lock().dirty = true;
        }
    }

    /// Saves the window at most once a second while it changes. Runs until
    /// aborted (the credential owns the task).
    pub async fn keep_saved(self: Arc<Self>) {
        if self.file.is_none() {
            return;
        }
        loop {
            self.saved.notified().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.save()).await;
        }
    }
}

impl Credits {
    /// With `[cluster]`: from now on, record every change for the others.
    pub fn share(&self) {
        let mut st = self.lock();
        if st.pending.is_none() {
            st.pending = Some(HashMap::new());
        }
    }

    /// Exchanges counts with the other replicas every [`SHARE_EVERY`]: sends
    /// this replica's changes and takes the shared counts of the current
    /// and previous minute (of the whole day on the first success). While
    /// Redis is unreachable changes wait here, and the estimate is this
    /// replica's alone. Runs until aborted (the credential owns the task).
    pub async fn keep_shared(
        self: Arc<Self>,
        store: crate::coord::redis::RedisStore,
        keys: crate::coord::redis::Keys,
    ) {
        self.share();
        let mut whole_day = true;
        loop {
            let minute = self.minute();
            let fetch: Vec<u64> = if whole_day {
                (minute.saturating_sub(MINUTES - 1)..=minute).collect()
            } else {
                vec![minute.saturating_sub(1), minute]
            };
            let deltas: Vec<(u64, String, i64)> = {
                let mut st = self.lock();
                let pending = st.pending.get_or_insert_with(HashMap::new);
                pending
                    .drain()
                    .filter(|(_, n)| *n != 0)
                    .map(|((m, f), n)| (m, f, n))
                    .collect()
            };
            match store.sync_credits(&keys, &deltas, &fetch).await {
                Ok(counts) => {
                    whole_day = false;
                    self.merge(counts);
                }
                Err(e) => {
                    tracing::debug!(credential = %self.credential, error = %e, "credit counts not shared this time");
                    let mut st = self.lock();
                    let pending = st.pending.get_or_insert_with(HashMap::new);
                    for (m, f, n) in deltas {
                        *pending.entry((m, f)).or_default() += n;
                    }
                }
            }
            tokio::time::sleep(SHARE_EVERY).await;
        }
    }

    /// Takes the shared counts of some minutes: each becomes what all
    /// replicas sent plus what this one changed since.
    fn merge(&self, counts: Vec<(u64, Vec<(String, i64)>)>) {
        let minute = self.minute();
        let mut st = self.lock();
        st.advance(minute);
        for (m, fields) in counts {
            let pending = |st: &State, f: &str| {
                st.pending
                    .as_ref()
                    .and_then(|p| p.get(&(m, f.to_owned())))
                    .copied()
                    .unwrap_or(0)
            };
            let value = |f: &str| fields.iter().find(|(k, _)| k == f).map_or(0, |(_, v)| *v);
            let total = (value(TOTAL) + pending(&st, TOTAL)).max(0) as u64;
            st.total.set(m, total);
            // Routes (`r:`) and clients (`c:`) this replica or another knows.
            for prefix in ["r:", "c:"] {
                let known = if prefix == "r:" {
                    &st.routes
                } else {
                    &st.clients
                };
                let mut names: Vec<String> = known.keys().cloned().collect();
                for (k, _) in &fields {
                    if let Some(r) = k.strip_prefix(prefix) {
                        if !known.contains_key(r) {
                            names.push(r.to_owned());
                        }
                    }
                }
                for name in names {
                    let field = format!("{prefix}{name}");
                    let n = (value(&field) + pending(&st, &field)).max(0) as u64;
                    let map = if prefix == "r:" {
                        &mut st.routes
                    } else {
                        &mut st.clients
                    };
                    let w = map.entry(name).or_default();
                    w.advance(minute);
                    w.set(m, n);
                }
            }
        }
        st.dirty = true;
        self.saved.notify_one();
    }
}

impl Drop for Credits {
    /// The last changes since `keep_saved`'s last write. A drop cannot await
    /// the blocking pool (and at shutdown a task spawned there may never
    /// run), so this writes in place (`blocking::in_place`: on one of the
    /// proxy's workers, its connections wait for this one small write).
    fn drop(&mut self) {
        if self.file.is_some() && self.lock().dirty {
            crate::blocking::in_place(|| self.save());
        }
    }
}

/// `f` on the window of `route`, created on first use (so a known route
/// costs no allocation).
fn with_route<R>(
    routes: &mut HashMap<String, Window>,
    route: &str,
    f: impl FnOnce(&mut Window) -> R,
) -> R {
    if let Some(w) = routes.get_mut(route) {
        return f(w);
    }
    let mut w = Window::default();
    let out = f(&mut w);
    routes.insert(route.to_owned(), w);
    out
}

/// Credits charged for one call; given back when dropped unless an attempt
/// reached Zoho.
#[derive(Debug)]
pub struct Charge {
    credits: Arc<Credits>,
    route: String,
    client: Option<String>,
    minute: u64,
    cost: u64,
    attempts: u32,
}

impl Charge {
    /// An attempt reached Zoho: the first is paid for already, each further
    /// one (a 401 replay, a retry) costs the price again.
    pub fn attempt_sent(&mut self) {
        self.attempts += 1;
        if self.attempts > 1 {
            let minute = self.credits.minute();
            let mut st = self.credits.lock();
            self.credits.add(
                &mut st,
                minute,
                &self.route,
                self.client.as_deref(),
                self.cost,
            );
        }
    }

    /// The price of one attempt.
    pub fn price(&self) -> u64 {
        self.cost
    }

    /// Credits this call has cost so far.
    pub fn spent(&self) -> u64 {
        self.cost * u64::from(self.attempts)
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.attempts == 0 {
            self.credits
                .refund(&self.route, self.client.as_deref(), self.minute, self.cost);
        }
    }
}

/// Whether a 429 is about credits (not concurrency): Books' daily cap
/// (code 45), CRM's remaining-credits header at 0, or a message that says so.
pub fn is_credit_429(headers: &HeaderMap, body: &[u8]) -> bool {
    if headers
        .get("x-api-credits-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
    {
        return true;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    if v.get("code").and_then(serde_json::Value::as_i64) == Some(45) {
        return true;
    }
    v.get("message")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("credit"))
}

#[cfg(test)]
mod tests;
