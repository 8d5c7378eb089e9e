//! Admissions and releases of one credential, sent to Redis in batches.
//!
//! Every admission is one round trip, but not one round trip each: whatever
//! queued while the previous batch was on its way goes out in one EVALSHA of
//! `admit.lua` (releases first, then the admissions in the order they came),
//! with one batch in flight per credential. Under load this divides Redis's
//! work per request (one script call, one `TIME`, one cool-down check and one
//! write per key for the whole batch) and the proxy's (one command to encode,
//! one socket write, one timer); when idle, a batch is one request and goes
//! out at once.
//!
//! No caller waits on Redis longer than the store's timeout: a batch is
//! bounded by the timeout of its oldest admission, and an admission whose
//! time ran out while the batch before it was in flight fails at once (the
//! caller falls back to its local share) without being sent.
//!
//! A batch that failed after it may have been sent (a timeout: Redis paused
//! or slow, a connection lost mid-call) may still be run by Redis, granting
//! slots to callers who have gone local. Its leases become orphans, released
//! at the head of the next batch that goes out (the script applies releases
//! first): without that, each held a slot of the cluster-wide pool for the
//! whole lease (15 s by default) after every stall.

use std::sync::{Arc, Mutex, Weak};
use tokio::time::Instant;

use redis::{Cmd, ErrorKind, RedisError, ServerErrorKind};
use tokio::sync::{oneshot, watch, Notify};

use super::{millis, Admission, AdmitRequest, Inner, Keys, LeaseId, StoreError, POOL_WAIT_CAP};

/// Admissions per script call (the rest wait for the next batch).
const MAX_ADMISSIONS: usize = 128;
/// Released leases per script call.
const MAX_RELEASES: usize = 512;
/// Orphaned leases kept while Redis fails (the oldest go first: they expire
/// on their own anyway).
const MAX_ORPHANS: usize = 4096;

pub(super) const SCRIPT: &str = include_str!("scripts/admit.lua");

/// The queue of one credential (hash tag): cheap to clone.
#[derive(Clone)]
pub struct Admitter {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Admitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitter").finish_non_exhaustive()
    }
}

struct Queue {
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Default)]
struct State {
    admissions: Vec<Pending>,
    releases: Vec<LeaseId>,
    /// Leases of failed batches that Redis may grant anyway: released with
    /// the next batch sent, never on their own (while Redis is down that
    /// would spin).
    orphans: Vec<LeaseId>,
}

struct Pending {
    entry: Entry,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Admission, StoreError>>,
}

/// One admission as the script takes it.
struct Entry {
    cost: u32,
    ttl_ms: u64,
    id: String,
    /// (key, emission interval ms, tolerance ms)
    rates: Vec<(String, u64, u64)>,
    /// (key, limit)
    pools: Vec<(String, u32)>,
}

impl Entry {
    /// The lease this admission holds if granted.
    fn into_lease(self) -> LeaseId {
        LeaseId {
            id: self.id,
            pools: self.pools.into_iter().map(|(k, _)| k).collect(),
        }
    }

    fn new(keys: &Keys, req: &AdmitRequest, id: String) -> Entry {
        let mut rates = Vec::new();
        let mut rate = |key: String, g: &super::Gcra| {
            let (emission, tolerance) = g.params();
            rates.push((key, emission, tolerance));
        };
        if let Some(g) = &req.rate {
            rate(keys.rate().to_owned(), g);
        }
        if let Some((route, g)) = &req.route_rate {
            rate(keys.route_rate(route), g);
        }
        let mut pools = Vec::new();
        if let Some(n) = req.max_concurrent {
            pools.push((keys.pool().to_owned(), n));
        }
        if let Some((route, n)) = &req.route_concurrent {
            pools.push((keys.route_pool(route), *n));
        }
        if let Some(n) = req.heavy {
            pools.push((keys.heavy().to_owned(), n));
        }
        Entry {
            cost: req.cost,
            ttl_ms: millis(req.lease_ttl).max(1),
            id,
            rates,
            pools,
        }
    }
}

impl Admitter {
    /// Starts the queue of `keys`'s credential; its task ends with the store.
    pub(super) fn start(inner: &Arc<Inner>, keys: Keys) -> Admitter {
        let queue = Arc::new(Queue {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        });
        tokio::spawn(run(
            Arc::downgrade(inner),
            keys,
            queue.clone(),
            inner.shutdown.subscribe(),
        ));
        Admitter { queue }
    }

    /// Queues one admission and waits for its batch's answer.
    pub(super) async fn admit(
        &self,
        keys: &Keys,
        req: &AdmitRequest,
        id: String,
    ) -> Result<Admission, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            entry: Entry::new(keys, req, id),
            enqueued: Instant::now(),
            reply,
        };
        lock(&self.queue.state).admissions.push(pending);
        self.queue.wake.notify_one();
        // The sender is only dropped unanswered when the store is gone.
        answer.await.unwrap_or(Err(StoreError::Down))
    }

    /// Queues a release: it goes out with the next batch (at once when no
    /// batch is in flight).
    pub fn release(&self, lease: LeaseId) {
        if lease.pools.is_empty() {
            return;
        }
        lock(&self.queue.state).releases.push(lease);
        self.queue.wake.notify_one();
    }
}

/// Sends the batches of one queue, one at a time, until the store is gone.
async fn run(inner: Weak<Inner>, keys: Keys, queue: Arc<Queue>, mut shutdown: watch::Receiver<()>) {
    loop {
        let batch = {
            let mut state = lock(&queue.state);
            let a = state.admissions.len().min(MAX_ADMISSIONS);
            let r = state.releases.len().min(MAX_RELEASES);
            if a + r == 0 {
                None
            } else {
                // Orphans only ride along with a batch that goes out anyway.
                let o = state.orphans.len().min(MAX_RELEASES - r);
                Some((
                    state.admissions.drain(..a).collect::<Vec<_>>(),
                    state.releases.drain(..r).collect::<Vec<_>>(),
                    state.orphans.drain(..o).collect::<Vec<_>>(),
                ))
            }
        };
        let Some((admissions, releases, orphans)) = batch else {
            tokio::select! {
                _ = queue.wake.notified() => continue,
                _ = shutdown.changed() => return,
            }
        };
        let Some(inner) = inner.upgrade() else { return };
        let sent = send(&inner, &keys, admissions, releases, orphans).await;
        let mut state = lock(&queue.state);
        state.releases.extend(sent.unclaimed);
        state.orphans.extend(sent.orphans);
        let over = state.orphans.len().saturating_sub(MAX_ORPHANS);
        state.orphans.drain(..over);
    }
}

/// What a batch leaves to release.
#[derive(Default)]
struct Sent {
    /// Granted to callers that stopped waiting: released with the next batch.
    unclaimed: Vec<LeaseId>,
    /// The batch failed, but Redis may run it yet: its admissions' leases,
    /// and the orphans it carried.
    orphans: Vec<LeaseId>,
}

/// One batch: the orphans' releases and `releases` first, then `admissions`.
async fn send(
    inner: &Arc<Inner>,
    keys: &Keys,
    mut admissions: Vec<Pending>,
    mut releases: Vec<LeaseId>,
    orphans: Vec<LeaseId>,
) -> Sent {
    let now = Instant::now();
    // Admissions whose time ran out behind the previous batch are not sent.
    // So are those whose caller stopped waiting.
    admissions.retain_mut(|p| {
        if p.reply.is_closed() {
            return false;
        }
        if p.enqueued + inner.timeout > now {
            return true;
        }
        let (reply, _) = oneshot::channel();
        let reply = std::mem::replace(&mut p.reply, reply);
        let _ = reply.send(Err(StoreError::Timeout(inner.timeout)));
        false
    });
    if admissions.is_empty() && releases.is_empty() {
        return Sent {
            orphans,
            ..Sent::default()
        };
    }
    releases.splice(0..0, orphans);
    let deadline = admissions.iter().map(|p| p.enqueued).min().unwrap_or(now) + inner.timeout;
    let cmd = command(inner, keys, &admissions, &releases);
    let op = if admissions.is_empty() {
        "release"
    } else {
        "admit"
    };
    let reply: Result<Vec<i64>, StoreError> = inner
        .run_until(op, deadline, |mut c| async move {
            match cmd.query_async(&mut c).await {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    load(&mut c).await?;
                    cmd.query_async(&mut c).await
                }
                other => other,
            }
        })
        .await;
    let reply = reply.and_then(|r| match r.split_first() {
        Some((reclaimed, answers)) if answers.len() == 2 * admissions.len() => {
            if *reclaimed > 0 {
                inner
                    .counters
                    .leases_expired
                    .fetch_add(*reclaimed as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(answers.to_vec())
        }
        _ => Err(StoreError::Protocol(format!("admit answered {r:?}"))),
    });
    let mut sent = Sent::default();
    // Not sent at all only when the breaker refused it.
    let maybe_run = !matches!(reply, Err(StoreError::Down));
    if reply.is_err() {
        sent.orphans = releases;
    }
    for (i, p) in admissions.into_iter().enumerate() {
        let answer = match &reply {
            Err(e) => {
                if maybe_run && !p.entry.pools.is_empty() {
                    sent.orphans.push(p.entry.into_lease());
                }
                Err(e.clone())
            }
            Ok(answers) => match answers.get(2 * i..2 * i + 2) {
                Some([1, _]) => Ok(Admission::Granted(p.entry.into_lease())),
                Some(&[0, wait]) if wait > 0 => Ok(Admission::Wait(
                    std::time::Duration::from_millis(wait as u64),
                )),
                other => Err(StoreError::Protocol(format!("admit answered {other:?}"))),
            },
        };
        if let Err(Ok(Admission::Granted(lease))) = p.reply.send(answer) {
            sent.unclaimed.push(lease);
        }
    }
    sent
}

/// EVALSHA of the batch: the keys it names once each, then the arguments.
fn command(inner: &Inner, keys: &Keys, admissions: &[Pending], releases: &[LeaseId]) -> Cmd {
    fn index<'a>(names: &mut Vec<&'a str>, key: &'a str) -> usize {
        match names.iter().position(|k| *k == key) {
            Some(i) => i + 1,
            None => {
                names.push(key);
                names.len()
            }
        }
    }
    let mut names: Vec<&str> = vec![keys.cool()];
    // Key indexes first (they borrow from the batch), arguments after.
    let release_keys: Vec<Vec<usize>> = releases
        .iter()
        .map(|l| l.pools.iter().map(|k| index(&mut names, k)).collect())
        .collect();
    let admission_keys: Vec<(Vec<usize>, Vec<usize>)> = admissions
        .iter()
        .map(|p| {
            let rates = p
                .entry
                .rates
                .iter()
                .map(|(k, ..)| index(&mut names, k))
                .collect();
            let pools = p
                .entry
                .pools
                .iter()
                .map(|(k, _)| index(&mut names, k))
                .collect();
            (rates, pools)
        })
        .collect();
    let count = 3
        + release_keys.iter().map(|k| 2 + k.len()).sum::<usize>()
        + admission_keys
            .iter()
            .map(|(r, p)| 5 + 3 * r.len() + 2 * p.len())
            .sum::<usize>();
    let mut batch = Vec::with_capacity(8 + 40 * (releases.len() + admissions.len()));
    msgpack::array(&mut batch, count);
    msgpack::uint(&mut batch, millis(POOL_WAIT_CAP));
    msgpack::uint(&mut batch, releases.len() as u64);
    msgpack::uint(&mut batch, admissions.len() as u64);
    for (lease, idx) in releases.iter().zip(&release_keys) {
        msgpack::str(&mut batch, &lease.id);
        msgpack::uint(&mut batch, idx.len() as u64);
        for i in idx {
            msgpack::uint(&mut batch, *i as u64);
        }
    }
    for (p, (rates, pools)) in admissions.iter().zip(&admission_keys) {
        let e = &p.entry;
        msgpack::uint(&mut batch, u64::from(e.cost));
        msgpack::str(&mut batch, &e.id);
        msgpack::uint(&mut batch, e.ttl_ms);
        msgpack::uint(&mut batch, rates.len() as u64);
        msgpack::uint(&mut batch, pools.len() as u64);
        for (i, (_, emission, tolerance)) in rates.iter().zip(&e.rates) {
            msgpack::uint(&mut batch, *i as u64);
            msgpack::uint(&mut batch, *emission);
            msgpack::uint(&mut batch, *tolerance);
        }
        for (i, (_, limit)) in pools.iter().zip(&e.pools) {
            msgpack::uint(&mut batch, *i as u64);
            msgpack::uint(&mut batch, u64::from(*limit));
        }
    }
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(inner.scripts.admit.get_hash()).arg(names.len());
    for name in &names {
        cmd.arg(*name);
    }
    cmd.arg(batch);
    cmd
}

/// The little of MessagePack the batch needs: arrays, unsigned integers and
/// strings (Redis decodes it with its bundled `cmsgpack`).
mod msgpack {
    pub fn array(out: &mut Vec<u8>, len: usize) {
        match len {
            0..=15 => out.push(0x90 | len as u8),
            16..=0xffff => {
                out.push(0xdc);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(0xdd);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
        }
    }

    pub fn uint(out: &mut Vec<u8>, v: u64) {
        match v {
            0..=0x7f => out.push(v as u8),
            0x80..=0xff => out.extend_from_slice(&[0xcc, v as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(v as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }

    pub fn str(out: &mut Vec<u8>, s: &str) {
        let len = s.len();
        match len {
            0..=31 => out.push(0xa0 | len as u8),
            32..=0xff => out.extend_from_slice(&[0xd9, len as u8]),
            0x100..=0xffff => {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(s.as_bytes());
    }

    #[cfg(test)]
    mod tests {
        /// Byte for byte what the MessagePack spec gives for each boundary.
        #[test]
        fn encodes_the_spec_forms() {
            let enc = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut v = Vec::new();
                f(&mut v);
                v
            };
            assert_eq!(enc(&|o| super::uint(o, 0)), [0x00]);
            assert_eq!(enc(&|o| super::uint(o, 127)), [0x7f]);
            assert_eq!(enc(&|o| super::uint(o, 128)), [0xcc, 0x80]);
            assert_eq!(enc(&|o| super::uint(o, 256)), [0xcd, 0x01, 0x00]);
            assert_eq!(
                enc(&|o| super::uint(o, 65_536)),
                [0xce, 0x00, 0x01, 0x00, 0x00]
            );
            assert_eq!(
                enc(&|o| super::uint(o, 1 << 32)),
                [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]
            );
            assert_eq!(enc(&|o| super::str(o, "ab")), [0xa2, b'a', b'b']);
            let s32 = "x".repeat(32);
            assert_eq!(enc(&|o| super::str(o, &s32))[..2], [0xd9, 32]);
            let s256 = "x".repeat(256);
            assert_eq!(enc(&|o| super::str(o, &s256))[..3], [0xda, 1, 0]);
            assert_eq!(enc(&|o| super::array(o, 15)), [0x9f]);
            assert_eq!(enc(&|o| super::array(o, 16)), [0xdc, 0, 16]);
            assert_eq!(enc(&|o| super::array(o, 70_000)), [0xdd, 0, 1, 0x11, 0x70]);
        }
    }
}

/// SCRIPT LOAD of `admit.lua` (after a NOSCRIPT: a restarted or flushed Redis).
async fn load(c: &mut super::conn::Conn) -> Result<(), RedisError> {
    let _: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(SCRIPT)
        .query_async(c)
        .await?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
