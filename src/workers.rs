//! Thread per core: the proxy's port served by `[server] workers` threads,
//! each running its own single-threaded tokio runtime and accepting on its
//! own socket bound to the one port (on Linux `SO_REUSEPORT`, so the kernel
//! spreads new connections over them; elsewhere they share one socket). A
//! connection is served to its end by the thread that accepted it, and its
//! requests use that thread's upstream connections (`upstream` keeps one
//! pool per worker, by [`current`]): no request hops threads, no scheduler
//! steals work, which is how nginx's workers serve. Against tokio's
//! work-stealing runtime on the same two cores this cost 20 % less CPU per
//! request (bench/README.md).
//!
//! Worker 0 is the thread that called [`crate::server::start`]: it also
//! runs everything else (admin endpoints, token refresh, reload, Redis
//! upkeep). Tasks a request starts on another worker (a lease renewer, an
//! admission queue, a token refresh) run on that worker's runtime, which
//! therefore lives until every worker has drained ([`Workers::finish`]).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// At most this many workers (`[server] workers`).
pub const MAX_WORKERS: usize = 1024;

/// The listen backlog, as tokio's `TcpListener::bind` sets it.
const BACKLOG: i32 = 1024;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The worker serving on this thread: 0 on the thread that started the
/// proxy, and on any thread that is not a worker's.
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// Marks this thread as worker `n`'s (tests make threads play workers).
pub(crate) fn set_current(n: usize) {
    WORKER.with(|w| w.set(n));
}

/// One worker per CPU this process may use (`available_parallelism` counts
/// a cgroup's CPU quota, so a pod limited to 1.5 CPUs gets 1).
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS))
}

/// `n` listening sockets on `addr`'s one port (with port 0, the first picks
/// it), non-blocking, for [`spawn`] and the caller; and the address bound.
pub fn bind(addr: SocketAddr, n: usize) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    let first = listen(addr, n > 1)?;
    let addr = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..n {
        all.push(if cfg!(target_os = "linux") {
            listen(addr, true)?
        } else {
            // Without Linux's balancing, a second socket on the port may get
            // every connection (BSD) or none: share the one socket instead.
            all[0].try_clone()?
        });
    }
    Ok((addr, all))
}

fn listen(addr: SocketAddr, shared: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As tokio's bind: a restarted proxy rebinds while old connections linger.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    // Only processes of the same user can join the port.
    #[cfg(target_os = "linux")]
    if shared {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = shared;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The worker threads beyond the caller's.
pub struct Workers {
    threads: Vec<Worker>,
    /// Sent (or dropped) once all have drained: the threads may end.
    release: watch::Sender<bool>,
}

struct Worker {
    drained: oneshot::Receiver<()>,
    thread: JoinHandle<()>,
}

/// Starts one worker thread per listener (workers 1, 2, …): each runs
/// `serve(listener)` on its own runtime until it returns.
pub fn spawn<F, Fut>(listeners: Vec<std::net::TcpListener>, serve: F) -> io::Result<Workers>
where
    F: Fn(TcpListener) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let (release, released) = watch::channel(false);
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let n = i + 1;
        // Built here, so that a failure fails the start.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(crate::logging::flush_here)
            .build()?;
        let (done, drained) = oneshot::channel();
        let (serve, mut released) = (serve.clone(), released.clone());
        let thread = std::thread::Builder::new()
            .name(format!("zoho-proxy-worker-{n}"))
            .spawn(move || {
                set_current(n);
                // Its log lines go out when it waits for work (the park
                // hook above), and when the thread ends.
                crate::logging::batch_here();
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener).await,
                        Err(e) => tracing::error!(worker = n, error = %e, "worker cannot listen"),
                    }
                    let _ = done.send(());
                    let _ = released.wait_for(|r| *r).await;
                });
            })?;
        threads.push(Worker { drained, thread });
    }
    Ok(Workers { threads, release })
}

impl Workers {
    /// Waits until every worker's `serve` has returned, then lets their
    /// runtimes go and waits for the threads to end.
    pub async fn finish(mut self) {
        for w in &mut self.threads {
            let _ = (&mut w.drained).await;
        }
        let _ = self.release.send(true);
        let threads: Vec<_> = self.threads.into_iter().map(|w| w.thread).collect();
        crate::blocking::run(move || {
            for t in threads {
                if t.join().is_err() {
                    tracing::error!("a worker thread panicked");
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn workers_share_one_port_and_each_knows_its_number() {
        let (addr, mut listeners) = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert!(listeners.iter().all(|l| l.local_addr().unwrap() == addr));
        let first = TcpListener::from_std(listeners.remove(0)).unwrap();
        // Which worker accepted each connection.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let accept = {
            let (seen, stopped) = (seen.clone(), stopped.clone());
            move |listener: TcpListener| {
                let (seen, mut stopped) = (seen.clone(), stopped.clone());
                async move {
                    loop {
                        tokio::select! {
                            Ok(_) = listener.accept() => seen.lock().unwrap().push(current()),
                            _ = stopped.wait_for(|s| *s) => return,
                        }
                    }
                }
            }
        };
        let workers = spawn(listeners, accept.clone()).unwrap();
        let here = tokio::spawn(accept(first));
        let mut conns = Vec::new();
        for _ in 0..96 {
            conns.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.lock().unwrap().len() < 96 {
            assert!(tokio::time::Instant::now() < deadline, "not all accepted");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let _ = stop.send(true);
        here.await.unwrap();
        workers.finish().await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        seen.dedup();
        if cfg!(target_os = "linux") {
            // The kernel hashes each connection to one socket: all three
            // get some of 96 (all in two of them: 3 × (2/3)^96 ≈ 10^-16).
            assert_eq!(seen, [0, 1, 2]);
        } else {
            assert!(seen.iter().all(|w| *w < 3), "{seen:?}");
        }
    }

    #[tokio::test]
    async fn a_worker_runtime_outlives_its_own_drain_until_finish() {
        let (_, listeners) = bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let (go, wait) = watch::channel(false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // Worker 1 drains at once, leaving a task behind that waits for
        // `go`: one that another worker's drain may still need.
        let workers = spawn(listeners.into_iter().skip(1).collect(), move |_| {
            let (tx, mut wait) = (tx.clone(), wait.clone());
            async move {
                struct Cancelled(tokio::sync::mpsc::UnboundedSender<&'static str>);
                impl Drop for Cancelled {
                    fn drop(&mut self) {
                        let _ = self.0.send("cancelled");
                    }
                }
                let _ = tx.send("drained");
                tokio::spawn(async move {
                    let guard = Cancelled(tx);
                    let _ = wait.wait_for(|g| *g).await;
                    let _ = guard.0.send("ran");
                    std::mem::forget(guard);
                });
            }
        })
        .unwrap();
        assert_eq!(rx.recv().await, Some("drained"));
        // Were the runtime dropped with the drain, its task would be
        // cancelled within this wait.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let _ = go.send(true);
        assert_eq!(rx.recv().await, Some("ran"));
        workers.finish().await;
    }
}
