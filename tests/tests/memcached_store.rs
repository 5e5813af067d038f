//! `MemcachedStore` against a real memcached, through the `SessionStore` trait.
//!
//! What is particular to memcached (the keys it holds, evicted fields, a server that never
//! answers); the store contract itself runs in `stores.rs`. Each test starts its own
//! `memcached` on a free loopback port and kills it when done (without the binary the tests
//! say so and skip, except under CI).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError};
use session_store_memcached::MemcachedStore;
use time::OffsetDateTime;

use session_testing::servers::{self, Kind, Server};

const TIMEOUT: Duration = Duration::from_millis(500);

/// A memcached process on a loopback port, killed on drop.
struct Memcached(Server);

impl Memcached {
    /// A running memcached, or `None` (after saying so) when it is not installed.
    fn start() -> Option<Self> {
        servers::start(Kind::Memcached).map(Self)
    }

    fn stop(&mut self) {
        self.0.kill();
    }

    fn restart(&mut self) {
        self.0.restart();
    }

    fn addr(&self) -> String {
        self.0.url()
    }

    async fn store(&self) -> MemcachedStore {
        MemcachedStore::connect(&self.addr(), TIMEOUT)
            .await
            .expect("connect to memcached")
    }

    /// Sends one command line to memcached directly and answers its first line.
    fn command(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.0.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        write!(stream, "{command}\r\n").expect("send the command");
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .expect("read the answer");
        line.trim_end().to_owned()
    }

    /// Whether memcached holds `key`.
    fn holds(&self, key: &str) -> bool {
        match self.command(&format!("mg {key}")).as_str() {
            "HD" => true,
            "EN" => false,
            other => panic!("unexpected answer to mg: {other:?}"),
        }
    }
}

fn new_key() -> RecordKey {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("random bytes");
    RecordKey::from_bytes(bytes)
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

fn create<'a>(set: &'a [(&'a str, &'a [u8])], expires_at: OffsetDateTime) -> RecordWrite<'a> {
    RecordWrite {
        create: true,
        set,
        remove: &[],
        expires_at,
        push_expiry: true,
    }
}

fn update<'a>(set: &'a [(&'a str, &'a [u8])], remove: &'a [&'a str]) -> RecordWrite<'a> {
    RecordWrite {
        create: false,
        set,
        remove,
        expires_at: in_an_hour(),
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

fn fields(pairs: &[(&str, &[u8])]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut fields: Vec<(String, Vec<u8>)> = pairs
        .iter()
        .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
        .collect();
    fields.sort();
    Some(fields)
}

fn field_key(key: &RecordKey, name: &str) -> String {
    format!("session:{}:{name}", key.to_hex())
}

#[tokio::test]
async fn created_records_load_back() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    assert_eq!(store.load(&key).await.expect("load"), None);

    let long_name = "n".repeat(300);
    let binary: &[u8] = &[0, 13, 10, 255, b' '];
    let set: Vec<(&str, &[u8])> = vec![
        ("user", b"alice"),
        ("@meta", b"\x01\x02"),
        ("@deadline:3", b"1700000000"),
        ("empty", b""),
        ("binary", binary),
        ("with space", b"s"),
        ("#hash", b"h"),
        (long_name.as_str(), b"long"),
    ];
    assert!(
        store
            .save(&key, create(&set, in_an_hour()))
            .await
            .expect("create")
    );
    assert_eq!(sorted(store.load(&key).await.expect("load")), fields(&set));
    assert!(server.holds(&field_key(&key, "user")));
    assert!(server.holds(&field_key(&key, "@deadline:3")));
    assert!(server.holds(&format!("session:{}", key.to_hex())));

    // Creating again replaces the record.
    let set: &[(&str, &[u8])] = &[("user", b"bob")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("replace")
    );
    assert_eq!(sorted(store.load(&key).await.expect("load")), fields(set));

    // An empty record exists too.
    let empty = new_key();
    assert!(
        store
            .save(&empty, create(&[], in_an_hour()))
            .await
            .expect("create")
    );
    assert_eq!(store.load(&empty).await.expect("load"), Some(Fields::new()));

    // Prefixes keep applications apart.
    let other = server.store().await.with_prefix("other-app:");
    assert_eq!(other.load(&key).await.expect("load"), None);
}

#[tokio::test]
async fn updating_a_missing_record_writes_nothing() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    let written = store
        .save(&key, update(&[("a", b"1"), ("b", b"2")], &[]))
        .await
        .expect("update");
    assert!(!written);
    assert_eq!(store.load(&key).await.expect("load"), None);
    assert!(!server.holds(&field_key(&key, "a")));
    assert!(!server.holds(&field_key(&key, "b")));
    assert!(!server.holds(&format!("session:{}", key.to_hex())));

    // Nor after a delete.
    assert!(
        store
            .save(&key, create(&[("a", b"1")], in_an_hour()))
            .await
            .expect("create")
    );
    store.delete(&key).await.expect("delete");
    assert!(
        !store
            .save(&key, update(&[("a", b"2")], &[]))
            .await
            .expect("update")
    );
    assert_eq!(store.load(&key).await.expect("load"), None);
    assert!(!server.holds(&field_key(&key, "a")));
}

#[tokio::test]
async fn updates_set_and_remove_fields() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2"), ("c", b"3")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );

    let written = store
        .save(
            &key,
            update(&[("b", b"20"), ("d", b"4")], &["c", "never-there"]),
        )
        .await
        .expect("update");
    assert!(written);
    assert_eq!(
        sorted(store.load(&key).await.expect("load")),
        fields(&[("a", b"1"), ("b", b"20"), ("d", b"4")])
    );
    assert!(!server.holds(&field_key(&key, "c")));

    // A write with no fields only pushes the expiry.
    assert!(store.save(&key, update(&[], &[])).await.expect("touch"));
    // Set and removed in one write: removed.
    assert!(
        store
            .save(&key, update(&[("a", b"x")], &["a"]))
            .await
            .expect("update")
    );
    assert_eq!(
        sorted(store.load(&key).await.expect("load")),
        fields(&[("b", b"20"), ("d", b"4")])
    );
    // Remove everything: the record still exists, empty.
    assert!(
        store
            .save(&key, update(&[], &["b", "d"]))
            .await
            .expect("update")
    );
    assert_eq!(store.load(&key).await.expect("load"), Some(Fields::new()));
}

#[tokio::test]
async fn concurrent_updates_of_different_fields_both_survive() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let other = server.store().await;
    for round in 0..50u32 {
        let key = new_key();
        let set: &[(&str, &[u8])] = &[("a", b"0"), ("b", b"0")];
        assert!(
            store
                .save(&key, create(set, in_an_hour()))
                .await
                .expect("create")
        );
        let value = round.to_string();
        let value = value.as_bytes();
        // Each changes an existing field and adds a new one, so both also change the head.
        let first = [("a", value), ("x", value)];
        let second = [("b", value), ("y", value)];
        let (one, two) = tokio::join!(
            store.save(&key, update(&first, &[])),
            other.save(&key, update(&second, &[])),
        );
        assert!(one.expect("first update") && two.expect("second update"));
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&[("a", value), ("b", value), ("x", value), ("y", value)]),
            "round {round}"
        );

        // The same field: one of the two values wins, and the record stays whole.
        let (one, two) = tokio::join!(
            store.save(&key, update(&[("a", b"first")], &["x"])),
            other.save(&key, update(&[("a", b"second")], &["y"])),
        );
        assert!(one.expect("first update") && two.expect("second update"));
        let loaded = sorted(store.load(&key).await.expect("load")).expect("record");
        let a = &loaded.iter().find(|(name, _)| name == "a").expect("a").1;
        assert!(a == b"first" || a == b"second", "round {round}: {a:?}");
        assert_eq!(loaded.len(), 2, "round {round}: {loaded:?}");

        // One sets a field while the other removes it, both when it is listed and when it is
        // new: either may win, but the record stays readable.
        let set_z = [("z", value)];
        for _ in 0..2 {
            let (one, two) = tokio::join!(
                store.save(&key, update(&set_z, &[])),
                other.save(&key, update(&[], &["z"])),
            );
            assert!(one.expect("set") && two.expect("remove"));
            let loaded = sorted(store.load(&key).await.expect("load"));
            let loaded = loaded.unwrap_or_else(|| panic!("round {round}: record lost"));
            assert!(loaded.len() == 2 || loaded.len() == 3, "{loaded:?}");
        }
    }
}

#[tokio::test]
async fn a_record_missing_a_field_is_never_read() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );
    // As if memcached had evicted one field.
    assert_eq!(
        server.command(&format!("md {}", field_key(&key, "b"))),
        "HD"
    );
    assert_eq!(store.load(&key).await.expect("load"), None);

    // A head that does not decode is reported, and can still be deleted.
    let corrupt = new_key();
    let head = format!("session:{}", corrupt.to_hex());
    assert_eq!(server.command(&format!("ms {head} 3 T60\r\nxyz")), "HD");
    match store.load(&corrupt).await {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
    store.delete(&corrupt).await.expect("delete");
    assert_eq!(store.load(&corrupt).await.expect("load"), None);
}

#[tokio::test]
async fn delete_removes_the_record() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );
    store.delete(&key).await.expect("delete");
    assert_eq!(store.load(&key).await.expect("load"), None);
    assert!(!server.holds(&format!("session:{}", key.to_hex())));
    assert!(!server.holds(&field_key(&key, "a")));
    assert!(!server.holds(&field_key(&key, "b")));
    // Deleting what is not there is fine.
    store.delete(&key).await.expect("delete again");
}

#[tokio::test]
async fn records_expire_at_their_deadline() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let short = new_key();
    let pushed = new_key();
    let soon = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let set: &[(&str, &[u8])] = &[("a", b"1")];
    assert!(store.save(&short, create(set, soon)).await.expect("create"));
    assert!(
        store
            .save(&pushed, create(set, soon))
            .await
            .expect("create")
    );
    assert!(store.load(&short).await.expect("load").is_some());
    // An update pushes the expiry of every field, changed or not.
    assert!(
        store
            .save(&pushed, update(&[("b", b"2")], &[]))
            .await
            .expect("update")
    );
    for name in ["a", "b"] {
        let answer = server.command(&format!("mg {} t", field_key(&pushed, name)));
        let ttl: i64 = answer
            .strip_prefix("HD t")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("unexpected answer to mg: {answer:?}"));
        assert!(ttl > 3000, "field {name} expires in {ttl} s");
    }

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(store.load(&short).await.expect("load"), None);
    // An expired record is not brought back by an update.
    assert!(!store.save(&short, update(set, &[])).await.expect("update"));
    assert_eq!(store.load(&short).await.expect("load"), None);
    assert_eq!(
        sorted(store.load(&pushed).await.expect("load")),
        fields(&[("a", b"1"), ("b", b"2")])
    );
}

#[tokio::test]
async fn per_user_index() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let long_user = format!("user with spaces {}", "x".repeat(300));
    for user in ["alice", long_user.as_str()] {
        let (one, two) = (new_key(), new_key());
        assert_eq!(store.index_members(user).await.expect("members"), vec![]);
        store
            .index_add(user, &one, in_an_hour())
            .await
            .expect("add");
        store
            .index_add(user, &two, in_an_hour())
            .await
            .expect("add");
        store
            .index_add(user, &one, in_an_hour())
            .await
            .expect("add again");
        let mut members = store.index_members(user).await.expect("members");
        members.sort();
        let mut expected = vec![one, two];
        expected.sort();
        assert_eq!(members, expected);

        store.index_remove(user, &one).await.expect("remove");
        assert_eq!(store.index_members(user).await.expect("members"), vec![two]);
        store.index_remove(user, &one).await.expect("remove again");
        store.index_remove(user, &two).await.expect("remove");
        assert_eq!(store.index_members(user).await.expect("members"), vec![]);
    }

    // Concurrent additions all land.
    let keys: Vec<RecordKey> = (0..8).map(|_| new_key()).collect();
    let other = server.store().await;
    let (a, b, c, d) = tokio::join!(
        store.index_add("bob", &keys[0], in_an_hour()),
        other.index_add("bob", &keys[1], in_an_hour()),
        store.index_add("bob", &keys[2], in_an_hour()),
        other.index_add("bob", &keys[3], in_an_hour()),
    );
    for result in [a, b, c, d] {
        result.expect("add");
    }
    let mut members = store.index_members("bob").await.expect("members");
    members.sort();
    let mut expected = keys[..4].to_vec();
    expected.sort();
    assert_eq!(members, expected);

    // The index lives as long as its longest-lived member: a shorter deadline does not cut
    // it, and the member with the shorter one is no longer listed past it.
    let soon = OffsetDateTime::now_utc() + time::Duration::seconds(1);
    store
        .index_add("carol", &keys[4], in_an_hour())
        .await
        .expect("add");
    store.index_add("carol", &keys[5], soon).await.expect("add");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        store.index_members("carol").await.expect("members"),
        vec![keys[4]]
    );
}

/// The security review's case: many logins of one user. The index item stays small (at most
/// the cap, ended entries dropped whenever it is rewritten), far from memcached's 1 MB item
/// limit, and its memcached expiry follows its latest live deadline.
#[tokio::test]
async fn the_user_index_item_stays_small_and_expires_with_its_sessions() {
    let Some(server) = Memcached::start() else {
        return;
    };
    let store = server.store().await.with_max_sessions_per_user(50);
    let soon = OffsetDateTime::now_utc() + time::Duration::seconds(2);
    for _ in 0..500 {
        store
            .index_add("alice", &new_key(), soon)
            .await
            .expect("add");
    }
    assert_eq!(
        store.index_members("alice").await.expect("members").len(),
        50
    );
    // `mg <key> s t`: "HD s<size> t<seconds left>".
    let meta = |server: &Memcached| server.command("mg session:user:alice s t");
    let answer = meta(&server);
    let flag = |answer: &str, flag: char| -> i64 {
        answer
            .split(' ')
            .find_map(|part| part.strip_prefix(flag))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {flag} in {answer:?}"))
    };
    assert!(flag(&answer, 's') < 50 * 48, "{answer}");
    assert!(
        (1..=4).contains(&flag(&answer, 't')),
        "expires with its latest session (2 s, plus memcached's margin): {answer}"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let key = new_key();
    store
        .index_add("alice", &key, in_an_hour())
        .await
        .expect("add");
    assert_eq!(
        store.index_members("alice").await.expect("members"),
        vec![key]
    );
    let answer = meta(&server);
    assert!(
        flag(&answer, 's') < 100,
        "the ended entries were dropped: {answer}"
    );
    assert!(flag(&answer, 't') > 3500, "{answer}");
    store.index_remove("alice", &key).await.expect("remove");
    assert!(
        !server.holds("session:user:alice"),
        "gone with its last entry"
    );
}

fn unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_outage_fails_fast_and_the_store_recovers() {
    let Some(mut server) = Memcached::start() else {
        return;
    };
    let store = server.store().await;
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("a", b"1")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );

    server.stop();
    let started = Instant::now();
    unavailable(store.load(&key).await);
    unavailable(store.save(&key, create(set, in_an_hour())).await);
    unavailable(store.save(&key, update(set, &[])).await);
    unavailable(store.delete(&key).await);
    unavailable(store.index_add("alice", &key, in_an_hour()).await);
    unavailable(store.index_members("alice").await);
    assert!(
        started.elapsed() < TIMEOUT * 6 + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    server.restart();
    // memcached lost everything, and the same store object works again.
    assert_eq!(store.load(&key).await.expect("load after restart"), None);
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );
    assert_eq!(sorted(store.load(&key).await.expect("load")), fields(set));

    // Also when the restart happens while connections are kept: no error at all.
    let (one, two) = tokio::join!(store.load(&key), store.load(&key));
    one.expect("load");
    two.expect("load");
    server.restart();
    assert_eq!(
        store.load(&key).await.expect("load after a quiet restart"),
        None
    );
    assert_eq!(store.load(&key).await.expect("load"), None);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections (the kernel does, from the backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("tcp://{}", listener.local_addr().expect("address"));
    let store = MemcachedStore::connect(&addr, TIMEOUT)
        .await
        .expect("connect");
    let started = Instant::now();
    unavailable(store.load(&new_key()).await);
    // A hang guard, not a measurement: the timeout ended the wait.
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    drop(listener);

    // Nothing listens: connecting fails at once, naming memcached and the address.
    let port = servers::free_port();
    match MemcachedStore::connect(&format!("127.0.0.1:{port}"), TIMEOUT).await {
        Err(error @ StoreError::Connect { .. }) => {
            let shown = format!("{error:?}");
            assert!(
                shown.contains(&format!(
                    "memcached session store at tcp://127.0.0.1:{port}"
                )),
                "{shown}"
            );
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}
