//! How store-mode cost grows with the number of live sessions (issue 11, "How cost grows").
//!
//! `growth [--memory 1000,100000,1000000] [--redis 100000] [--reads 200000] [--json FILE]`
//!
//! - **MemoryStore:** for each count, a fresh process-local `MemoryStore` filled through
//!   `SessionManager` with that many typical sessions, logged in (one per user, so each has a
//!   per-user index too) and anonymous. Reports the resident memory the sessions added (from
//!   `/proc/self/statm`) per session, and the time of one read (`load` of a session cookie,
//!   deadlines checked, the record fetched and decoded) over a random sample of the sessions.
//! - **Redis:** starts its own `redis-server` on a free loopback port (no persistence), fills it
//!   the same way through our `RedisStore`, and reports `MEMORY USAGE` of one record and of one
//!   per-user index, and the growth of `used_memory` per session (what a capacity plan needs:
//!   it includes Redis's own per-key overhead).
//!
//! One thread, one current-thread runtime. Timings here are wall time of a CPU-bound loop on an
//! otherwise quiet machine; run it alone.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::Typical;
use session_core::store::MemoryStore;
use session_core::{Key, Keyring, SessionConfig, SessionManager};
use session_store_redis::{RedisStore, redis};
use session_testing::servers::{self, Kind};

/// Sessions whose cookies are kept for the read measurement.
const SAMPLE: usize = 1024;

fn main() {
    let mut memory_counts = vec![1_000usize, 100_000, 1_000_000];
    let mut redis_count = Some(100_000usize);
    let mut reads = 200_000usize;
    let mut json_path = None;
    let mut one_row = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--memory" => memory_counts = counts(&value()),
            "--redis" => {
                let v = value();
                redis_count = (v != "0").then(|| counts(&v)[0]);
            }
            "--reads" => reads = counts(&value())[0],
            "--json" => json_path = Some(value()),
            // Internal: one MemoryStore row in this (fresh) process, as `COUNT:logged-in|anonymous`.
            "--one-memory-row" => one_row = Some(value()),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    if let Some(row) = one_row {
        let (count, kind) = row.split_once(':').unwrap_or_else(|| usage("bad row"));
        let row = runtime.block_on(memory_growth(counts(count)[0], reads, kind == "logged-in"));
        println!("{} {}", row.bytes_per_session, row.read_ns);
        return;
    }

    let mut results = Vec::new();
    println!("| store | sessions | live sessions | memory per session | read (load) |");
    println!("|---|---|---|---|---|");
    for logged_in in [true, false] {
        let kind = if logged_in { "logged in" } else { "anonymous" };
        for &count in &memory_counts {
            // Each row in a process of its own: memory freed by an earlier row stays with the
            // allocator and would be reused without growing the resident size.
            let row = memory_row_in_own_process(count, reads, logged_in);
            println!(
                "| MemoryStore | {kind} | {} | {} B | {:.0} ns |",
                thousands(count),
                row.bytes_per_session,
                row.read_ns
            );
            results.push(format!(
                r#"{{"store":"memory","logged_in":{logged_in},"sessions":{count},"bytes_per_session":{},"read_ns":{:.1}}}"#,
                row.bytes_per_session, row.read_ns
            ));
        }
    }
    if let Some(count) = redis_count {
        let row = runtime.block_on(redis_growth(count, reads));
        println!(
            "| Redis (`used_memory` growth) | logged in | {} | {} B | {:.0} ns (wall, with the round trip) |",
            thousands(count),
            row.used_memory_per_session,
            row.read_ns
        );
        println!();
        println!(
            "Redis `MEMORY USAGE`: one record {} B, one per-user index {} B (sum {} B); \
             `used_memory` grew {} B per session.",
            row.record_usage,
            row.index_usage,
            row.record_usage + row.index_usage,
            row.used_memory_per_session
        );
        results.push(format!(
            r#"{{"store":"redis","sessions":{count},"record_memory_usage":{},"index_memory_usage":{},"used_memory_per_session":{},"read_ns":{:.1}}}"#,
            row.record_usage, row.index_usage, row.used_memory_per_session, row.read_ns
        ));
    }
    if let Some(path) = json_path {
        std::fs::write(&path, format!("[\n{}\n]\n", results.join(",\n"))).expect("write JSON");
        println!("\nwrote {path}");
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!("usage: growth [--memory N,N,..] [--redis N|0] [--reads N] [--json FILE]");
    std::process::exit(2)
}

fn counts(text: &str) -> Vec<usize> {
    text.split(',')
        .map(|n| {
            n.trim()
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| usage(&format!("not a count: {n}")))
        })
        .collect()
}

fn thousands(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn manager(config: SessionConfig) -> SessionManager {
    SessionManager::new(config).expect("bench configuration")
}

fn keyring() -> Keyring {
    Keyring::new("k1", Key::generate()).expect("ring")
}

/// Creates `count` logged-in typical sessions; keeps the cookies of `SAMPLE` of them, spread
/// over the whole fill.
async fn fill(manager: &SessionManager, count: usize, logged_in: bool) -> Vec<String> {
    let every = (count / SAMPLE).max(1);
    let mut sample = Vec::with_capacity(SAMPLE.min(count));
    for i in 0..count {
        let mut handle = manager.load::<Typical>([]).await.expect("load");
        *handle.data_mut() = Typical::sample();
        if logged_in {
            handle.set_user_key(format!("user-{i}")).expect("user key");
        }
        let cookie = manager
            .save(&mut handle)
            .await
            .expect("save")
            .expect("a new session sets a cookie");
        if i % every == 0 && sample.len() < SAMPLE {
            sample.push(format!("session={}", cookie.value()));
        }
    }
    sample
}

/// Nanoseconds per `load` of a sampled session, in a random order (xorshift, fixed seed).
async fn time_reads(manager: &SessionManager, sample: &[String], reads: usize) -> f64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Warm up: every sampled cookie once.
    for cookie in sample {
        let handle = manager
            .load::<Typical>([cookie.as_str()])
            .await
            .expect("load");
        assert!(!handle.is_new(), "a sampled session must still be there");
    }
    let started = Instant::now();
    for _ in 0..reads {
        let cookie = &sample[(next() % sample.len() as u64) as usize];
        let handle = manager
            .load::<Typical>([cookie.as_str()])
            .await
            .expect("load");
        std::hint::black_box(&handle);
        debug_assert!(!handle.is_new());
    }
    started.elapsed().as_nanos() as f64 / reads as f64
}

fn memory_row_in_own_process(count: usize, reads: usize, logged_in: bool) -> MemoryRow {
    let kind = if logged_in { "logged-in" } else { "anonymous" };
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .args(["--reads", &reads.to_string()])
        .args(["--one-memory-row", &format!("{count}:{kind}")])
        .stderr(Stdio::inherit())
        .output()
        .expect("run a row");
    assert!(output.status.success(), "the {count} {kind} row failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    let mut next = || words.next().and_then(|w| w.parse::<f64>().ok());
    match (next(), next()) {
        (Some(bytes), Some(read_ns)) => MemoryRow {
            bytes_per_session: bytes as usize,
            read_ns,
        },
        _ => panic!("unexpected row output: {text}"),
    }
}

struct MemoryRow {
    bytes_per_session: usize,
    read_ns: f64,
}

/// Resident memory of this process, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

async fn memory_growth(count: usize, reads: usize, logged_in: bool) -> MemoryRow {
    let store = Arc::new(MemoryStore::new(2 * count as u64));
    let manager = manager(SessionConfig::new(keyring()).store(store));
    // The verified-token cache fills up to its bound on the first reads: not per session.
    let warm = fill(&manager, SAMPLE.min(count), logged_in).await;
    for cookie in &warm {
        let _ = manager
            .load::<Typical>([cookie.as_str()])
            .await
            .expect("load");
    }
    let before = resident();
    let sample = fill(&manager, count, logged_in).await;
    let bytes_per_session = resident().saturating_sub(before) / count;
    let read_ns = time_reads(&manager, &sample, reads).await;
    MemoryRow {
        bytes_per_session,
        read_ns,
    }
}

struct RedisRow {
    record_usage: i64,
    index_usage: i64,
    used_memory_per_session: i64,
    read_ns: f64,
}

fn query<T: redis::FromRedisValue>(connection: &mut redis::Connection, args: &[&str]) -> T {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(connection).expect("redis query")
}

fn used_memory(connection: &mut redis::Connection) -> i64 {
    let info: String = query(connection, &["INFO", "memory"]);
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("used_memory in INFO")
}

async fn redis_growth(count: usize, reads: usize) -> RedisRow {
    let server = servers::start(Kind::Redis)
        .unwrap_or_else(|| panic!("redis-server is required: apt-get install -y redis-server"));
    let url = server.url();
    let mut direct = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .expect("connect");
    let store = RedisStore::connect(&url, Duration::from_secs(2))
        .await
        .expect("connect");
    let manager = manager(SessionConfig::new(keyring()).store(Arc::new(store)));
    let before = used_memory(&mut direct);
    let sample = fill(&manager, count, true).await;
    let used_memory_per_session = (used_memory(&mut direct) - before) / count as i64;
    let (_, records): (String, Vec<String>) = query(
        &mut direct,
        &["SCAN", "0", "MATCH", "session:[0-9a-f]*", "COUNT", "1000"],
    );
    let record = records.first().expect("a record key");
    let record_usage: i64 = query(&mut direct, &["MEMORY", "USAGE", record, "SAMPLES", "0"]);
    let index_usage: i64 = query(
        &mut direct,
        &["MEMORY", "USAGE", "session:user:user-0", "SAMPLES", "0"],
    );
    let read_ns = time_reads(&manager, &sample, reads / 10).await;
    drop(server);
    RedisRow {
        record_usage,
        index_usage,
        used_memory_per_session,
        read_ns,
    }
}
