//! A real `redis-server` for tests: its own port and scratch directory,
//! no persistence, killed on drop. Dependency-free (std only) so any test
//! crate can use it.
//!
//! ```ignore
//! let server = RedisServer::start();
//! let url = server.url();           // redis://127.0.0.1:<port>/
//! server.stop();                    // the port is now closed
//! server.restart();                 // same port, empty data set
//! assert_eq!(server.cmd(&["PING"]), "PONG");
//! let tls = RedisServer::start_tls(cert_pem, key_pem); // + rediss:// on tls_url()
//! let cluster = RedisCluster::start(3); // three masters, all slots covered
//! ```

// Sync on purpose (usable from any test, and from Drop): it waits for a real
// process on the real clock, which paused tokio time must not skip.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INSTALL: &str = "redis-server is not installed (or not on PATH); install it with: \
     apt-get install -y redis-server";

/// One `redis-server` process bound to 127.0.0.1 on a port of its own.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    mode: Mode,
    child: Mutex<Option<Child>>,
}

/// What kind of server to run (besides the plain port every kind has, which
/// the helpers here use).
#[derive(Clone)]
enum Mode {
    Plain,
    /// Also TLS on this port, with `tls.crt`/`tls.key` in the scratch dir.
    Tls {
        port: u16,
    },
    /// A Redis Cluster node (`nodes.conf` in the scratch dir).
    ClusterNode,
}

impl RedisServer {
    /// Spawns `redis-server` on a free loopback port and waits until it
    /// answers PING. Panics with the install line if the binary is missing.
    pub fn start() -> RedisServer {
        RedisServer::start_in(scratch_dir(), || Mode::Plain)
    }

    /// A server that also speaks TLS (`rediss://`, see [`RedisServer::tls_url`])
    /// with this certificate chain and key (PEM); clients need not present one.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> RedisServer {
        let dir = scratch_dir();
        std::fs::write(dir.join("tls.crt"), cert_pem).expect("write tls.crt");
        std::fs::write(dir.join("tls.key"), key_pem).expect("write tls.key");
        RedisServer::start_in(dir, || Mode::Tls { port: free_port() })
    }

    /// `rediss://localhost:<tls port>/` (the name the test CA signs).
    pub fn tls_url(&self) -> String {
        match self.mode {
            Mode::Tls { port } => format!("rediss://localhost:{port}/"),
            _ => panic!("not a TLS server"),
        }
    }

    fn start_in(dir: PathBuf, mode: impl Fn() -> Mode) -> RedisServer {
        // Several servers may start at once: retry if another grabbed the port
        // between our probe and redis-server's bind.
        for _ in 0..10 {
            let port = free_port();
            let server = RedisServer {
                port,
                dir: dir.clone(),
                mode: mode(),
                child: Mutex::new(None),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on any of 10 free ports");
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Kills the server (SIGKILL) and waits until the port refuses connections.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&self.addr(), Duration::from_millis(100)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "redis-server port still open after kill"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server if it runs, then starts a fresh one (empty data set)
    /// on the same port and waits until it answers.
    pub fn restart(&self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one command (RESP array of bulk strings) on a new connection and
    /// returns the reply rendered as text: simple strings and bulk strings as
    /// is, integers as digits, errors as `ERR …`, nil as `(nil)`, arrays as
    /// their elements joined by newlines.
    pub fn cmd(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(self.addr()).expect("connect to redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set read timeout");
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        stream.write_all(req.as_bytes()).expect("send command");
        let mut reader = BufReader::new(stream);
        read_reply(&mut reader)
    }

    /// Starts the process; true once it answers PING, false if it exited
    /// (typically: the port was taken).
    fn spawn(&self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir);
        match &self.mode {
            Mode::Plain => {}
            Mode::Tls { port } => {
                command
                    .args(["--tls-port", &port.to_string()])
                    .args(["--tls-cert-file", "tls.crt", "--tls-key-file", "tls.key"])
                    .args(["--tls-ca-cert-file", "tls.crt", "--tls-auth-clients", "no"]);
            }
            Mode::ClusterNode => {
                command
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-config-file", "nodes.conf"])
                    .args(["--cluster-node-timeout", "2000"]);
            }
        }
        let child = command
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL}"),
            Err(e) => panic!("cannot spawn redis-server: {e}; {INSTALL}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if self.ping() {
                *self.child.lock().unwrap() = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server on port {} never answered PING", self.port);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
            return false;
        }
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("+PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.child.lock() {
            if let Some(mut child) = guard.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Three (or `n`) Redis Cluster masters on loopback, every slot covered,
/// ready (`cluster_state:ok` on every node) when `start` returns.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(n: usize) -> RedisCluster {
        assert!(n >= 1);
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| RedisServer::start_in(scratch_dir(), || Mode::ClusterNode))
            .collect();
        let per = 16384 / n;
        for (i, node) in nodes.iter().enumerate() {
            let (lo, hi) = (i * per, if i + 1 == n { 16383 } else { (i + 1) * per - 1 });
            assert_eq!(
                node.cmd(&["CLUSTER", "ADDSLOTSRANGE", &lo.to_string(), &hi.to_string()]),
                "OK"
            );
            assert_eq!(
                node.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()]),
                "OK"
            );
        }
        for node in &nodes[1..] {
            assert_eq!(
                nodes[0].cmd(&["CLUSTER", "MEET", "127.0.0.1", &node.port.to_string()]),
                "OK"
            );
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_ok();
        cluster
    }

    /// Every node says `cluster_state:ok` and knows all the others.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let want = format!("cluster_known_nodes:{}", self.nodes.len());
        loop {
            let ok = self.nodes.iter().all(|node| {
                let info = node.cmd(&["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok") && info.contains(&want)
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "the Redis Cluster never formed");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The seed URLs, comma-separated (what `redis_url` takes in cluster mode).
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The seed URLs with the node serving `key` last, so a client must
    /// follow the cluster's slot map (a plain client would get `MOVED`).
    pub fn seeds_avoiding(&self, key: &str) -> String {
        let owner = self.owner_of(key).port;
        let mut nodes: Vec<&RedisServer> = self.nodes.iter().collect();
        nodes.sort_by_key(|n| n.port == owner);
        nodes.iter().map(|n| n.url()).collect::<Vec<_>>().join(",")
    }

    /// Every key on every node.
    pub fn keys(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .nodes
            .iter()
            .flat_map(|n| {
                n.cmd(&["KEYS", "*"])
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    /// The node that serves `key`'s slot.
    pub fn owner_of(&self, key: &str) -> &RedisServer {
        let slot: usize = self.nodes[0]
            .cmd(&["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("CLUSTER KEYSLOT answers a number");
        let per = 16384 / self.nodes.len();
        &self.nodes[(slot / per).min(self.nodes.len() - 1)]
    }
}

fn scratch_dir() -> PathBuf {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "zp-redis-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create redis scratch dir");
    dir
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn read_reply(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read reply");
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" | ":" => rest.to_owned(),
        "-" => rest.to_owned(),
        "$" => {
            let len: i64 = rest.parse().expect("bulk length");
            if len < 0 {
                return "(nil)".to_owned();
            }
            let mut buf = vec![0u8; len as usize + 2];
            std::io::Read::read_exact(r, &mut buf).expect("read bulk");
            buf.truncate(len as usize);
            String::from_utf8_lossy(&buf).into_owned()
        }
        "*" => {
            let n: i64 = rest.parse().expect("array length");
            if n < 0 {
                return "(nil)".to_owned();
            }
            (0..n).map(|_| read_reply(r)).collect::<Vec<_>>().join("\n")
        }
        other => panic!("unexpected RESP type {other:?} in {line:?}"),
    }
}
