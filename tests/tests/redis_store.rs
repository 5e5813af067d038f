//! The store's own behaviour against a real `redis-server` on a free loopback port: what an
//! update writes (and never revives), with and without moving the expiry, the scripts
//! reloaded after a flush, and the per-thread connections of threads that serve requests on
//! their own single-threaded runtime. The store contract suite runs in `stores.rs`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore};
use session_store_redis::RedisStore;
use session_store_redis::redis;
use time::OffsetDateTime;

use session_testing::servers::{self, Kind, Server};

const TIMEOUT: Duration = Duration::from_secs(3);

/// A `redis-server` on a free loopback port, killed when dropped.
struct Redis(Server);

impl Redis {
    /// Starts one, or answers `None` (after saying why) when `redis-server` is not installed
    /// and this is not CI.
    fn start() -> Option<Self> {
        servers::start(Kind::Redis).map(Self)
    }

    fn url(&self) -> String {
        self.0.url()
    }

    /// One command over a connection of its own.
    fn query<T: redis::FromRedisValue>(&self, command: &[&str]) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection()?;
        let mut cmd = redis::cmd(command[0]);
        for arg in &command[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut connection)
    }

    /// How many clients are connected, this query's own connection not counted.
    fn clients(&self) -> usize {
        let list: String = self.query(&["CLIENT", "LIST"]).expect("client list");
        list.lines().count() - 1
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn key(byte: u8) -> RecordKey {
    RecordKey::from_bytes([byte; 32])
}

fn in_secs(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(seconds)
}

fn write<'a>(
    create: bool,
    set: &'a [(&'a str, &'a [u8])],
    remove: &'a [&'a str],
    expires_at: OffsetDateTime,
) -> RecordWrite<'a> {
    RecordWrite {
        create,
        set,
        remove,
        expires_at,
        push_expiry: true,
    }
}

fn sorted(fields: Option<Fields>) -> Option<Vec<(String, Vec<u8>)>> {
    fields.map(|fields| {
        let mut pairs: Vec<(String, Vec<u8>)> = fields
            .iter()
            .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()))
            .collect();
        pairs.sort();
        pairs
    })
}

fn field(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    (name.to_owned(), bytes.to_vec())
}

/// Creates the record under `key` with `@meta`, `x` and `y`, expiring in 60 s; answers its
/// Redis key.
async fn create_xy(store: &RedisStore, key: &RecordKey) -> String {
    let set: &[(&str, &[u8])] = &[("@meta", b"m"), ("x", b"1"), ("y", b"2")];
    let created = store.save(key, write(true, set, &[], in_secs(60)));
    assert!(created.await.expect("create"));
    format!("session:{}", key.to_hex())
}

#[test]
fn updates_write_only_records_that_exist() {
    let Some(server) = Redis::start() else {
        return;
    };
    let runtime = current_thread();
    runtime.block_on(async {
        let store = RedisStore::connect(&server.url(), TIMEOUT)
            .await
            .expect("connect");
        let (a, gone) = (key(1), key(2));
        let record = create_xy(&store, &a).await;

        // Sets and removes, in one write.
        let set: &[(&str, &[u8])] = &[("x", b"3"), ("z", b"4")];
        assert!(
            store
                .save(&a, write(false, set, &["y"], in_secs(120)))
                .await
                .expect("update")
        );
        let expected = vec![field("@meta", b"m"), field("x", b"3"), field("z", b"4")];
        assert_eq!(
            sorted(store.load(&a).await.expect("load")),
            Some(expected.clone())
        );
        let ttl: i64 = server.query(&["PTTL", &record]).expect("pttl");
        assert!(
            (110_000..=120_000).contains(&ttl),
            "the expiry moved: {ttl} ms"
        );

        // Removes only, then the expiry only.
        assert!(
            store
                .save(&a, write(false, &[], &["z"], in_secs(120)))
                .await
                .expect("remove")
        );
        assert!(
            store
                .save(&a, write(false, &[], &[], in_secs(300)))
                .await
                .expect("expiry")
        );
        let ttl: i64 = server.query(&["PTTL", &record]).expect("pttl");
        assert!(
            (290_000..=300_000).contains(&ttl),
            "the expiry moved: {ttl} ms"
        );
        assert_eq!(
            sorted(store.load(&a).await.expect("load")),
            Some(vec![field("@meta", b"m"), field("x", b"3")])
        );

        // A record that is gone stays gone, whatever the write.
        for (set, remove) in [
            (&[("x", b"5".as_slice())][..], &[][..]),
            (&[][..], &["x"][..]),
            (&[][..], &[][..]),
        ] {
            let written = store.save(&gone, write(false, set, remove, in_secs(60)));
            assert!(!written.await.expect("update"), "{set:?} {remove:?}");
        }
        assert!(store.delete(&a).await.expect("delete"));
        let set: &[(&str, &[u8])] = &[("x", b"6")];
        assert!(
            !store
                .save(&a, write(false, set, &[], in_secs(60)))
                .await
                .expect("update")
        );
        assert_eq!(store.load(&a).await.expect("load"), None);
        let keys: Vec<String> = server.query(&["KEYS", "*"]).expect("keys");
        assert!(keys.is_empty(), "nothing revived: {keys:?}");

        // A deadline already passed ends the record, and says whether it was there.
        let set: &[(&str, &[u8])] = &[("@meta", b"m")];
        assert!(
            store
                .save(&a, write(true, set, &[], in_secs(60)))
                .await
                .expect("create")
        );
        let past = in_secs(-1);
        assert!(
            store
                .save(&a, write(false, &[("x", b"7")], &[], past))
                .await
                .expect("update")
        );
        assert_eq!(store.load(&a).await.expect("load"), None);
        assert!(
            !store
                .save(&a, write(false, &[("x", b"7")], &[], past))
                .await
                .expect("update")
        );
        assert!(
            store
                .save(&a, write(true, set, &[], past))
                .await
                .expect("create")
        );
        let keys: Vec<String> = server.query(&["KEYS", "*"]).expect("keys");
        assert!(keys.is_empty(), "expired at once: {keys:?}");
    });
}

/// An update between two pushes of the idle deadline keeps the record's expiry, and like every
/// update it never brings back a record that is gone: missing, deleted or expired in Redis,
/// whether it sets fields the record has, fields it lacks, or a name twice.
#[test]
fn updates_that_keep_the_expiry_write_only_records_that_exist() {
    let Some(server) = Redis::start() else {
        return;
    };
    fn keep<'a>(set: &'a [(&'a str, &'a [u8])], remove: &'a [&'a str]) -> RecordWrite<'a> {
        RecordWrite {
            push_expiry: false,
            ..write(false, set, remove, in_secs(600))
        }
    }
    let ttl = |record: &str| -> i64 { server.query(&["PTTL", record]).expect("pttl") };
    let keys = || -> Vec<String> { server.query(&["KEYS", "*"]).expect("keys") };
    current_thread().block_on(async {
        let store = RedisStore::connect(&server.url(), TIMEOUT)
            .await
            .expect("connect");
        let (a, gone) = (key(4), key(5));
        let record = create_xy(&store, &a).await;

        // A field the record has, one it lacks, both; then a removal (the other script).
        for set in [
            &[("x", b"3".as_slice())][..],
            &[("z", b"4".as_slice())][..],
            &[("x", b"5".as_slice()), ("w", b"6".as_slice())][..],
        ] {
            assert!(store.save(&a, keep(set, &[])).await.expect("update"));
            let left = ttl(&record);
            assert!((50_000..=60_000).contains(&left), "{set:?}: {left} ms");
        }
        assert!(store.save(&a, keep(&[], &["y"])).await.expect("remove"));
        let expected = vec![
            field("@meta", b"m"),
            field("w", b"6"),
            field("x", b"5"),
            field("z", b"4"),
        ];
        assert_eq!(sorted(store.load(&a).await.expect("load")), Some(expected));

        // Gone stays gone: never created, deleted, expired in Redis.
        let writes: [&[(&str, &[u8])]; 3] = [
            &[("x", b"7")],
            &[("@meta", b"m"), ("x", b"7")],
            &[("x", b"7"), ("x", b"8")],
        ];
        for set in writes {
            assert!(!store.save(&gone, keep(set, &[])).await.expect("update"));
        }
        assert_eq!(keys(), vec![record.clone()], "nothing revived");
        assert!(store.delete(&a).await.expect("delete"));
        for set in writes {
            assert!(!store.save(&a, keep(set, &[])).await.expect("update"));
        }
        assert!(keys().is_empty(), "nothing revived: {:?}", keys());
        create_xy(&store, &a).await;
        let _: i64 = server.query(&["PEXPIRE", &record, "1"]).expect("pexpire");
        tokio::time::sleep(Duration::from_millis(20)).await;
        for set in writes {
            assert!(!store.save(&a, keep(set, &[])).await.expect("update"));
        }
        assert!(keys().is_empty(), "nothing revived: {:?}", keys());
    });
}

#[test]
fn the_update_script_is_loaded_again_after_a_flush() {
    let Some(server) = Redis::start() else {
        return;
    };
    current_thread().block_on(async {
        let store = RedisStore::connect(&server.url(), TIMEOUT)
            .await
            .expect("connect");
        let a = key(3);
        create_xy(&store, &a).await;
        // Both update scripts: one that moves the expiry, one that keeps it.
        for (value, push_expiry) in [(b"2", true), (b"3", false), (b"4", true), (b"5", false)] {
            let _: () = server.query(&["SCRIPT", "FLUSH"]).expect("flush");
            let set: &[(&str, &[u8])] = &[("x", value)];
            let update = RecordWrite {
                push_expiry,
                ..write(false, set, &[], in_secs(60))
            };
            assert!(store.save(&a, update).await.expect("update"));
        }
        let expected = vec![field("@meta", b"m"), field("x", b"5"), field("y", b"2")];
        assert_eq!(sorted(store.load(&a).await.expect("load")), Some(expected));
    });
}

/// Runs `store` commands on a thread of its own with a current-thread runtime, as an
/// actix-web worker does, until `commands` closes; answers each with whether it succeeded.
fn worker(
    store: RedisStore,
    commands: mpsc::Receiver<Option<u8>>,
    answers: mpsc::Sender<bool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut runtime = current_thread();
        for command in commands {
            let Some(byte) = command else {
                // A new runtime on the same thread: the old one's connection is gone with it.
                runtime = current_thread();
                answers.send(true).expect("answer");
                continue;
            };
            let ok = runtime.block_on(async {
                let set: &[(&str, &[u8])] = &[("@meta", b"m")];
                let created = store
                    .save(&key(byte), write(true, set, &[], in_secs(60)))
                    .await;
                let loaded = store.load(&key(byte)).await;
                // Time for the connection being made in the background.
                tokio::time::sleep(Duration::from_millis(20)).await;
                created.is_ok() && loaded.is_ok_and(|fields| fields.is_some())
            });
            answers.send(ok).expect("answer");
        }
    })
}

#[test]
fn threads_with_a_runtime_of_their_own_get_their_own_connection() {
    let Some(server) = Redis::start() else {
        return;
    };
    // The application's runtime, on its own thread, as actix-web's `System` on `main`.
    let (stores, store) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let url = server.url();
    let home = std::thread::spawn(move || {
        current_thread().block_on(async move {
            let store = RedisStore::connect(&url, TIMEOUT).await.expect("connect");
            stores.send(store).expect("send");
            let _ = stopped.await;
        });
    });
    let store: RedisStore = store.recv().expect("store");
    assert_eq!(server.clients(), 1);

    let (commands, work) = mpsc::channel();
    let (answers, answer) = mpsc::channel();
    let thread = worker(store.clone(), work, answers);
    let run = |command| {
        commands.send(command).expect("command");
        answer.recv().expect("answer")
    };
    let until = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !check() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert!(
        run(Some(10)),
        "the first commands go through the store's own connection"
    );
    until("the worker's own connection", &|| server.clients() == 2);
    for byte in 11..20 {
        assert!(run(Some(byte)));
    }
    assert_eq!(server.clients(), 2, "one connection per thread, made once");

    // The worker's runtime replaced: its commands go on, over a connection on the new one.
    assert!(run(None));
    for byte in 20..25 {
        assert!(run(Some(byte)));
    }
    until("the old connection closed, the new one made", &|| {
        server.clients() == 2
    });

    // The application's runtime stopped: the worker does not need it.
    stop.send(()).expect("stop");
    home.join().expect("home");
    until("the store's own connection closed", &|| {
        server.clients() == 1
    });
    for byte in 25..30 {
        assert!(run(Some(byte)), "over the worker's own connection");
    }
    drop(commands);
    thread.join().expect("worker");
}

#[test]
fn multi_threaded_runtimes_share_the_connection() {
    let Some(server) = Redis::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = runtime
        .block_on(RedisStore::connect(&server.url(), TIMEOUT))
        .expect("connect");
    let tasks: Vec<_> = (0..8u8)
        .map(|byte| {
            let store = store.clone();
            runtime.spawn(async move {
                let set: &[(&str, &[u8])] = &[("@meta", b"m")];
                let record = key(byte);
                let written = store.save(&record, write(true, set, &[], in_secs(60)));
                written.await.expect("create");
                store
                    .load(&key(byte))
                    .await
                    .expect("load")
                    .expect("a record");
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).expect("task");
    }
    assert_eq!(server.clients(), 1);
}
