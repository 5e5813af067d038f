//! Real `redis-server` and `memcached` processes for the store tests, each on a free loopback
//! port, stopped when dropped.
//!
//! When a binary is missing the tests that need it are skipped with a message on stderr;
//! with `CI=true` a missing binary fails the run instead (`.ci/run` installs both).

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Redis,
    Memcached,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Self::Redis => "redis-server",
            Self::Memcached => "memcached",
        }
    }
}

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    kind: Kind,
    child: Option<Child>,
    pub(crate) port: u16,
}

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether this run is CI, where a missing server fails a test instead of skipping it: `CI`
/// set to anything but empty, `0`, `false` or `no` (CI services set `true` or `1`).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false" || v == "no")
    })
}

fn installed(binary: &str) -> bool {
    Command::new(binary)
        .arg(if binary == "memcached" {
            "-V"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Starts a server, or answers `None` (after saying why on stderr) when its binary is not
/// installed and this is not CI.
pub(crate) fn start(kind: Kind) -> Option<Server> {
    let binary = kind.binary();
    if !installed(binary) {
        let message = format!(
            "{binary} is not installed (apt-get install {}); the tests that need it are skipped",
            if kind == Kind::Redis {
                "redis-server"
            } else {
                "memcached"
            }
        );
        assert!(!in_ci(), "CI=true: {message}");
        eprintln!("skipping: {message}");
        return None;
    }
    for _ in 0..5 {
        let mut server = Server {
            kind,
            child: None,
            port: free_port(),
        };
        if server.try_restart() {
            return Some(server);
        }
    }
    panic!("{binary} did not start on any of five free ports");
}

impl Server {
    /// `redis://127.0.0.1:PORT` or `127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Memcached => format!("127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub(crate) fn restart(&mut self) {
        assert!(
            self.try_restart(),
            "{:?} did not start on {}",
            self.kind,
            self.port
        );
    }

    /// Starts it and waits until *it* answers on the port (another test's server may have
    /// taken the port since it was picked); `false` when it exited first.
    fn try_restart(&mut self) -> bool {
        self.kill();
        let port = self.port.to_string();
        let mut command = Command::new(self.kind.binary());
        match self.kind {
            Kind::Redis => command.args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ]),
            // `-u root` only matters when running as root (as CI does); ignored otherwise.
            Kind::Memcached => command.args([
                "-l",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "0",
                "-m",
                "64",
                "-u",
                "root",
            ]),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.answers() {
                return true;
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| child.try_wait().is_ok_and(|status| status.is_some()));
            if exited || Instant::now() > deadline {
                self.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether a server of this kind answers its ping on the port.
    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let (ping, pong): (&[u8], &[u8]) = match self.kind {
            Kind::Redis => (b"PING\r\n", b"+PONG"),
            Kind::Memcached => (b"version\r\n", b"VERSION"),
        };
        let mut answer = [0u8; 16];
        stream.write_all(ping).is_ok()
            && stream
                .read(&mut answer)
                .is_ok_and(|n| answer[..n].starts_with(pong))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three masters (no replicas) on free loopback ports, in a temporary
/// directory; stopped when dropped.
pub(crate) struct Cluster {
    nodes: Vec<Child>,
    pub(crate) ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `redis://127.0.0.1:PORT` of every node.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

/// Starts a three-node Redis Cluster, or answers `None` like [`start`] when `redis-server` or
/// `redis-cli` is missing outside CI.
pub(crate) fn start_cluster() -> Option<Cluster> {
    for binary in ["redis-server", "redis-cli"] {
        if !installed(binary) {
            let message = format!(
                "{binary} is not installed (apt-get install redis-server redis-tools); the Redis Cluster tests are skipped"
            );
            assert!(!in_ci(), "CI=true: {message}");
            eprintln!("skipping: {message}");
            return None;
        }
    }
    // A node also listens on its port + 10000 (the cluster bus): either may be taken by the
    // time the node binds, so a node that exits means another set of ports.
    let cluster = (0..5)
        .find_map(start_cluster_nodes)
        .expect("three cluster nodes start on free ports");
    let addresses: Vec<String> = cluster
        .ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(created.success(), "redis-cli --cluster create failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = cluster.ports.iter().all(|port| {
            Command::new("redis-cli")
                .args(["-p", &port.to_string(), "cluster", "info"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
        });
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not become ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(cluster)
}

/// Three cluster nodes on free ports (each with a free bus port), once all listen; `None` when a
/// node exits first (a port was taken meanwhile).
fn start_cluster_nodes(_attempt: usize) -> Option<Cluster> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut ports = Vec::new();
    while ports.len() < 3 {
        let port = free_port();
        let bus_free =
            port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if bus_free && !ports.contains(&port) {
            ports.push(port);
        }
    }
    let nodes = ports
        .iter()
        .map(|port| {
            let port = port.to_string();
            Command::new("redis-server")
                .current_dir(dir.path())
                .args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("a cluster node starts")
        })
        .collect();
    let mut cluster = Cluster {
        nodes,
        ports,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..cluster.ports.len() {
        while std::net::TcpStream::connect(("127.0.0.1", cluster.ports[i])).is_err() {
            if cluster.nodes[i].try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "cluster node {} did not start",
                cluster.ports[i]
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Some(cluster)
}

/// One runtime for the stores' connections, shared by every app and test of the binary (the
/// Redis connection manager keeps a task on the runtime that created it).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    })
}
