//! Every store of this workspace through the store contract suite of session-testing: the
//! in-process `MemoryStore`, a real `redis-server`, a real three-node Redis Cluster and a real
//! `memcached`, each started on free loopback ports. Redis's own behaviour (expiry by the
//! server, start-up errors) follows.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use session_core::store::{MemoryStore, StoreError};
use session_core::{Key, Keyring, SessionConfig, SessionData, SessionError, SessionManager};
use session_testing::servers::{self, Kind, runtime};
use session_testing::store::{StoreUnderTest, run_suite};
use time::Duration;

const TIMEOUT: StdDuration = StdDuration::from_secs(3);

#[test]
fn memory_store() {
    run_suite("MemoryStore", &|| {
        Some(StoreUnderTest::new(Arc::new(MemoryStore::new(10_000))))
    });
}

#[test]
fn redis_store() {
    run_suite("RedisStore", &|| {
        let server = servers::start(Kind::Redis)?;
        let store = runtime()
            .block_on(session_store_redis::RedisStore::connect(
                &server.url(),
                TIMEOUT,
            ))
            .expect("connect");
        Some(StoreUnderTest::new(Arc::new(store.with_prefix("test:"))).with_server(server))
    });
}

#[test]
fn redis_cluster_store() {
    run_suite("RedisStore on a Redis Cluster", &|| {
        let cluster = servers::start_cluster()?;
        let connection = runtime()
            .block_on(async {
                redis::cluster::ClusterClient::builder(cluster.urls())
                    .response_timeout(TIMEOUT)
                    .build()?
                    .get_async_connection()
                    .await
            })
            .expect("cluster connection");
        let store = session_store_redis::RedisStore::new(connection);
        Some(StoreUnderTest::new(Arc::new(store)).with_server(cluster))
    });
}

#[test]
fn memcached_store() {
    run_suite("MemcachedStore", &|| {
        let server = servers::start(Kind::Memcached)?;
        let store = runtime()
            .block_on(session_store_memcached::MemcachedStore::connect(
                &server.url(),
                TIMEOUT,
            ))
            .expect("connect");
        Some(StoreUnderTest::new(Arc::new(store)).with_server(server))
    });
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "redis")]
struct Profile {
    user: Option<String>,
    theme: String,
}

/// Records expire in Redis itself: nothing sweeps them.
#[test]
fn redis_expires_records_without_a_sweeper() {
    let Some(server) = servers::start(Kind::Redis) else {
        return;
    };
    let store = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &server.url(),
            std::time::Duration::from_millis(500),
        ))
        .expect("connect");
    let config = SessionConfig::new(Keyring::new("k1", Key::generate()).expect("ring"))
        .idle_timeout(Some(Duration::seconds(2)))
        .refresh_interval(Duration::seconds(1))
        .store(Arc::new(store));
    let manager = SessionManager::new(config).expect("config");
    let mut handle = runtime()
        .block_on(manager.load::<Profile>(None::<&str>))
        .expect("load");
    handle.data_mut().theme = "dark".into();
    runtime().block_on(manager.save(&mut handle)).expect("save");
    let count = || -> i64 {
        let client = redis::Client::open(server.url()).expect("client");
        let mut connection = client.get_connection().expect("connection");
        redis::cmd("DBSIZE").query(&mut connection).expect("dbsize")
    };
    assert_eq!(count(), 1);
    std::thread::sleep(std::time::Duration::from_millis(2600));
    assert_eq!(count(), 0, "Redis dropped the expired record on its own");
}

/// Kill redis-server mid-run: requests fail with a store error (503), nothing panics, and
/// once it is back the same store works again.
#[test]
fn redis_outage_and_recovery() {
    let Some(mut server) = servers::start(Kind::Redis) else {
        return;
    };
    let store = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &server.url(),
            std::time::Duration::from_millis(300),
        ))
        .expect("connect");
    let config = SessionConfig::new(Keyring::new("k1", Key::generate()).expect("ring"))
        .store(Arc::new(store));
    let manager = SessionManager::new(config).expect("config");
    let login = |manager: &SessionManager| -> Result<String, SessionError> {
        runtime().block_on(async {
            let mut handle = manager.load::<Profile>(None::<&str>).await?;
            handle.data_mut().user = Some("alice".into());
            Ok(manager
                .save(&mut handle)
                .await?
                .expect("cookie")
                .value()
                .to_owned())
        })
    };
    let token = login(&manager).expect("up");
    server.kill();
    let header = format!("session={token}");
    let started = std::time::Instant::now();
    let error = runtime()
        .block_on(manager.load::<Profile>([header.as_str()]))
        .expect_err("down");
    assert_eq!(error.status_code(), 503, "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast"
    );
    assert_eq!(login(&manager).expect_err("down").status_code(), 503);

    server.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let token = loop {
        match login(&manager) {
            Ok(token) => break token,
            Err(error) => {
                assert!(std::time::Instant::now() < deadline, "no recovery: {error}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    let header = format!("session={token}");
    let handle = runtime()
        .block_on(manager.load::<Profile>([header.as_str()]))
        .expect("recovered");
    assert_eq!(handle.data().user.as_deref(), Some("alice"));
}

/// Redis down at start-up: the error names Redis and the URL, hides the password, and reads
/// the same through `Debug` (what `?` in `main` prints).
#[test]
fn an_unreachable_redis_is_named_at_start_up() {
    let port = servers::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let error = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &url,
            std::time::Duration::from_millis(500),
        ))
        .expect_err("nothing listens there");
    assert!(matches!(error, StoreError::Connect { .. }), "{error}");
    let shown = format!("{error:?}");
    assert_eq!(shown, error.to_string());
    assert!(
        shown.contains(&format!(
            "Redis session store at redis://***@127.0.0.1:{port}"
        )),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}
