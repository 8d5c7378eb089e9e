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
//! ```

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
    child: Mutex<Option<Child>>,
}

impl RedisServer {
    /// Spawns `redis-server` on a free loopback port and waits until it
    /// answers PING. Panics with the install line if the binary is missing.
    pub fn start() -> RedisServer {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zp-redis-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create redis scratch dir");
        // Several servers may start at once: retry if another grabbed the port
        // between our probe and redis-server's bind.
        for _ in 0..10 {
            let port = free_port();
            let server = RedisServer {
                port,
                dir: dir.clone(),
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
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
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
