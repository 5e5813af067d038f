//! Real `redis-server`, `memcached` and PostgreSQL processes (and a three-node Redis Cluster),
//! each on free loopback ports, stopped when dropped.
//!
//! When a binary is missing, [`start`], [`start_cluster`] and [`start_postgres`] answer `None`
//! and say why; the suites count those checks as skipped and say so at the end. Under CI
//! ([`in_ci`]) a missing binary fails the run instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `redis-server` (Debian package `redis-server`).
    Redis,
    /// `memcached` (Debian package `memcached`).
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
pub struct Server {
    kind: Kind,
    child: Option<Child>,
    /// The loopback port it listens on.
    pub port: u16,
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether this run is CI, where a missing server fails a test instead of skipping it: `CI`
/// set to anything but empty, `0`, `false` or `no` (CI services set `true` or `1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false" || v == "no")
    })
}

/// Says that something is skipped, straight to the terminal's stderr: the test harness captures
/// `eprintln!` of passing tests, and a skip must show in a run that passes.
pub fn skipping(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping: {reason}");
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

/// Waits until `ready` answers true (`true`), or until the process in `child` exits or
/// `patience` runs out (`false`; the caller stops what is left of it).
fn wait_until_ready(
    child: &mut Option<Child>,
    patience: Duration,
    ready: impl Fn() -> bool,
) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if ready() {
            return true;
        }
        let exited = child
            .as_mut()
            .is_some_and(|child| child.try_wait().is_ok_and(|status| status.is_some()));
        if exited || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a server, or answers `None` (after saying why on stderr) when its binary is not
/// installed and this is not CI.
pub fn start(kind: Kind) -> Option<Server> {
    let binary = kind.binary();
    if let Some(message) = missing(kind, false) {
        assert!(!in_ci(), "CI: {message}");
        skipping(&format!("{message}; the tests that need it are skipped"));
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
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::Memcached => format!("127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
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
        let (kind, port) = (self.kind, self.port);
        let ready = wait_until_ready(&mut self.child, Duration::from_secs(20), || {
            Self::answers(kind, port)
        });
        if !ready {
            self.kill();
        }
        ready
    }

    /// Whether a server of this kind answers its ping on the port.
    fn answers(kind: Kind, port: u16) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let (ping, pong): (&[u8], &[u8]) = match kind {
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
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<Child>,
    /// The nodes' loopback ports.
    pub ports: Vec<u16>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// `redis://127.0.0.1:PORT` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// Kills every node (SIGKILL).
    pub fn kill(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        self.nodes.clear();
    }

    /// Starts every node again on its port, from the cluster configuration it saved, and waits
    /// until the cluster is ready (its data is gone: nodes do not persist it).
    pub fn restart(&mut self) {
        self.kill();
        let nodes = self
            .ports
            .iter()
            .map(|port| spawn_cluster_node(&self.dir, *port))
            .collect();
        self.nodes = nodes;
        self.wait_until_ready();
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.ports.iter().all(|port| {
                Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|out| {
                        String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok")
                    })
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Why servers of `kind` (or a cluster, with `redis-cli`) cannot run here, with what to install;
/// `None` when they can.
pub fn missing(kind: Kind, cluster: bool) -> Option<String> {
    let (binary, package) = match kind {
        Kind::Redis if cluster && installed("redis-server") => ("redis-cli", "redis-tools"),
        Kind::Redis => ("redis-server", "redis-server"),
        Kind::Memcached => ("memcached", "memcached"),
    };
    (!installed(binary)).then(|| format!("{binary} is not installed (apt-get install {package})"))
}

/// Starts a three-node Redis Cluster, or answers `None` like [`start`] when `redis-server` or
/// `redis-cli` is missing outside CI.
pub fn start_cluster() -> Option<Cluster> {
    if let Some(message) = missing(Kind::Redis, true) {
        assert!(!in_ci(), "CI: {message}");
        skipping(&format!("{message}; the Redis Cluster tests are skipped"));
        return None;
    }
    // A node also listens on its port + 10000 (the cluster bus): either may be taken by the
    // time the node binds, or by the time the nodes meet, so a node that exits or a cluster
    // that does not form means another set of ports.
    let mut last_error = String::new();
    for _ in 0..5 {
        let Some(cluster) = start_cluster_nodes() else {
            last_error = "a node exited at start".to_owned();
            continue;
        };
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        if created.status.success() {
            cluster.wait_until_ready();
            return Some(cluster);
        }
        last_error = String::from_utf8_lossy(&created.stdout).into_owned()
            + &String::from_utf8_lossy(&created.stderr);
    }
    panic!("a Redis Cluster did not form on five sets of free ports; last: {last_error}");
}

fn spawn_cluster_node(dir: &tempfile::TempDir, port: u16) -> Child {
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
}

/// Three cluster nodes on free ports (each with a free bus port), once all listen; `None` when a
/// node exits first (a port was taken meanwhile).
fn start_cluster_nodes() -> Option<Cluster> {
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
        .map(|port| spawn_cluster_node(&dir, *port))
        .collect();
    let mut cluster = Cluster { nodes, ports, dir };
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
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// A PostgreSQL server of its own: a cluster made by `initdb` in a temporary directory, and
/// `postgres` on a free loopback port with its Unix socket in that directory, durability off
/// (`fsync` and `full_page_writes`: a commit reaches the kernel, which outlives a killed
/// server, never the disk) since nothing outlives the test.
/// Trust authentication for the user `postgres`. When the tests run as root (PostgreSQL
/// refuses to), both run as the user `nobody`, who then owns the directory. Stopped, and the
/// directory removed, when dropped.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// The uid and gid the server runs as, when not this process's.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    /// The loopback port it listens on.
    pub port: u16,
}

/// The directory with PostgreSQL's server binaries (`initdb` and `postgres`): on `PATH`, else
/// the newest of Debian's `/usr/lib/postgresql/<version>/bin` (the `postgresql` package puts
/// them there, off `PATH`).
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    debian.pop().map(|(_, bin)| bin)
}

/// Why a PostgreSQL server cannot run here, with what to install; `None` when it can.
pub fn postgres_missing() -> Option<String> {
    postgres_bin_dir().is_none().then(|| {
        "PostgreSQL is not installed (initdb and postgres are neither on PATH nor in \
         /usr/lib/postgresql/*/bin; apt-get install postgresql)"
            .to_owned()
    })
}

/// The uid and gid of `nobody`, from `/etc/passwd` (65534 when it does not say).
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut parts = line.split(':');
            (parts.next() == Some("nobody")).then_some(())?;
            let uid = parts.nth(1)?.parse().ok()?;
            let gid = parts.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .unwrap_or((65534, 65534))
}

/// Starts a PostgreSQL server of its own, or answers `None` (after saying why on stderr) when
/// PostgreSQL is not installed and this is not CI.
///
/// # Panics
/// Under CI when PostgreSQL is missing; when `initdb` fails, or the server does not start on
/// any of five free ports (the messages carry the server's log).
pub fn start_postgres() -> Option<Postgres> {
    if let Some(message) = postgres_missing() {
        assert!(!in_ci(), "CI: {message}");
        skipping(&format!("{message}; the tests that need it are skipped"));
        return None;
    }
    let bin = postgres_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("session-testing-postgres-")
        .tempdir()
        .expect("a temporary directory");
    let run_as = rustix::process::geteuid().is_root().then(nobody);
    if let Some((uid, gid)) = run_as {
        rustix::fs::chown(
            dir.path(),
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .expect("the temporary directory given to nobody");
    }
    let mut server = Postgres {
        bin,
        dir,
        run_as,
        child: None,
        port: 0,
    };
    let log = server.log_file("initdb.log");
    let mut initdb = server.command("initdb");
    initdb
        .arg("-D")
        .arg(server.data_dir())
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdout(log.try_clone().expect("the log"))
        .stderr(log);
    let status = initdb.status().expect("initdb runs");
    assert!(
        status.success(),
        "initdb failed ({status}):\n{}",
        server.log("initdb.log")
    );
    for _ in 0..5 {
        server.port = free_port();
        if server.try_start() {
            return Some(server);
        }
    }
    panic!(
        "postgres did not start on any of five free ports:\n{}",
        server.log("postgres.log")
    );
}

impl Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once, as a crash would: an immediate shutdown (SIGQUIT: every
    /// connection is cut, nothing is written back, the next start recovers from the WAL);
    /// SIGKILL if it has not exited within ten seconds.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().is_ok_and(|status| status.is_none()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port with the same data (whatever was committed before
    /// [`kill`](Self::kill) is there), and waits until it accepts sessions.
    ///
    /// # Panics
    /// When it does not (the message carries the server's log).
    pub fn restart(&mut self) {
        // The old server's processes may take a moment to let go of the port and of the data
        // directory.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.try_start() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start again on {}:\n{}",
                self.port,
                self.log("postgres.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(name))
            .expect("a log file")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// One of the server's binaries, as the user the server runs as, in its directory.
    fn command(&self, binary: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.bin.join(binary));
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            // Set in the child before it runs the binary; from root, this also drops the
            // supplementary groups.
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts `postgres` on `self.port` and waits until it accepts a session; `false` when it
    /// exited first (the port was taken, or the old server has not let go yet).
    fn try_start(&mut self) -> bool {
        self.kill();
        let log = self.log_file("postgres.log");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=100"])
            .args(["-c", "shared_buffers=32MB"])
            .args(["-c", "unix_socket_permissions=0700"])
            .stdout(log.try_clone().expect("the log"))
            .stderr(log);
        self.child = Some(command.spawn().expect("postgres starts"));
        let port = self.port;
        let ready = wait_until_ready(&mut self.child, Duration::from_secs(30), || {
            Self::accepts_sessions(port)
        });
        if !ready {
            self.kill();
        }
        ready
    }

    /// Whether the server on the port takes a session: it answers a startup message with an
    /// authentication request (`R`), not an error (`E`: still starting up or recovering).
    fn accepts_sessions(port: u16) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut body = Vec::new();
        body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
        body.extend_from_slice(b"user\0postgres\0database\0postgres\0\0");
        let mut message = u32::try_from(body.len() + 4)
            .expect("a short message")
            .to_be_bytes()
            .to_vec();
        message.extend_from_slice(&body);
        let mut answer = [0u8; 1];
        stream.write_all(&message).is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && answer[0] == b'R'
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}
