//! Where a check's sessions live: keys, a manual clock, and the store (and server) of its
//! backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use session_core::store::{Fields, MemoryStore, RecordKey, RecordWrite, SessionStore, StoreFuture};
use session_core::time::OffsetDateTime;
use session_core::{Key, Keyring, ManualClock, SessionConfig};

#[cfg(feature = "redis")]
use crate::servers;

/// Where the sessions of a run live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// In the cookie (the default mode).
    Cookie,
    /// In a `MemoryStore`.
    Memory,
    /// In a real `redis-server`, started for the check (feature `redis`).
    Redis,
    /// In a real three-node Redis Cluster, started for the check (feature `redis`).
    RedisCluster,
    /// In a real `memcached`, started for the check (feature `memcached`).
    Memcached,
    /// In a real PostgreSQL, one server per suite run, a schema of its own per check
    /// (feature `sql`).
    Postgres,
    /// In an SQLite file of its own per check (feature `sql`).
    Sqlite,
}

impl Backend {
    /// Every backend, in the order the suite runs them.
    pub const ALL: &'static [Self] = &[
        Self::Cookie,
        Self::Memory,
        Self::Redis,
        Self::RedisCluster,
        Self::Memcached,
        Self::Postgres,
        Self::Sqlite,
    ];

    /// Why this backend cannot run here (a server is not installed, a feature is off).
    pub(crate) fn unavailable(self) -> Option<String> {
        let feature_off =
            |feature: &str| Some(format!("the `{feature}` feature of session-testing is off"));
        match self {
            Self::Cookie | Self::Memory => None,
            Self::Redis | Self::RedisCluster if !cfg!(feature = "redis") => feature_off("redis"),
            Self::Memcached if !cfg!(feature = "memcached") => feature_off("memcached"),
            Self::Postgres | Self::Sqlite if !cfg!(feature = "sql") => feature_off("sql"),
            Self::Postgres => crate::servers::postgres_missing(),
            Self::Sqlite => None,
            Self::Redis => crate::servers::missing(crate::servers::Kind::Redis, false),
            Self::RedisCluster => crate::servers::missing(crate::servers::Kind::Redis, true),
            Self::Memcached => crate::servers::missing(crate::servers::Kind::Memcached, false),
        }
    }

    /// Whether the store runs as a server process the suite can kill.
    pub(crate) fn has_server(self) -> bool {
        matches!(
            self,
            Self::Redis | Self::RedisCluster | Self::Memcached | Self::Postgres
        )
    }
}

#[cfg(feature = "sql")]
type SharedPostgres = Arc<std::sync::Mutex<crate::servers::Postgres>>;

#[cfg(feature = "sql")]
thread_local! {
    /// The PostgreSQL server of the suite running on this thread, while it runs its
    /// PostgreSQL checks (see [`SuiteServers`]). Per thread: the suites of several apps run on
    /// threads of their own at once, and one's outage check must not stop another's server.
    static SUITE_POSTGRES: std::cell::RefCell<Option<SharedPostgres>> =
        const { std::cell::RefCell::new(None) };
}

/// What a suite keeps running for all the checks of one backend: one PostgreSQL server
/// (starting one per check would cost a second each); each check's [`Fixture`] takes a schema
/// of its own on it. Stopped when dropped, after the backend's last check.
pub(crate) struct SuiteServers(());

impl SuiteServers {
    pub(crate) fn start(backend: Backend) -> Self {
        #[cfg(feature = "sql")]
        if backend == Backend::Postgres
            && let Some(server) = crate::servers::start_postgres()
        {
            SUITE_POSTGRES.with(|cell| {
                *cell.borrow_mut() = Some(Arc::new(std::sync::Mutex::new(server)));
            });
        }
        let _ = backend;
        Self(())
    }
}

impl Drop for SuiteServers {
    fn drop(&mut self) {
        #[cfg(feature = "sql")]
        SUITE_POSTGRES.with(|cell| cell.borrow_mut().take());
    }
}

/// A schema name no other check of this process uses.
#[cfg(feature = "sql")]
fn fresh_schema() -> String {
    static CHECKS: AtomicUsize = AtomicUsize::new(0);
    format!("check_{}", CHECKS.fetch_add(1, Ordering::Relaxed))
}

/// How long a store command may wait for an answer: generous, for a loaded machine; a killed
/// server refuses connections at once anyway.
#[cfg(any(feature = "redis", feature = "memcached", feature = "sql"))]
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

enum ServerHandle {
    None,
    #[cfg(any(feature = "redis", feature = "memcached"))]
    Single(crate::servers::Server),
    #[cfg(feature = "redis")]
    Cluster(crate::servers::Cluster),
    #[cfg(feature = "sql")]
    Postgres(SharedPostgres),
    /// The directory of an SQLite file, removed with the fixture.
    #[cfg(feature = "sql")]
    Directory(#[allow(dead_code)] tempfile::TempDir),
}

/// Keys, a manual clock, the store of the backend, and configurations built on them.
pub(crate) struct Fixture {
    pub(crate) keys: Vec<(String, Key)>,
    pub(crate) clock: ManualClock,
    store: Option<Arc<Counting>>,
    server: ServerHandle,
}

impl Fixture {
    /// A fixture on `backend`, whose server must be available (see [`Backend::unavailable`]).
    pub(crate) fn new(backend: Backend) -> Self {
        let (store, server): (Option<Arc<dyn SessionStore>>, ServerHandle) = match backend {
            Backend::Cookie => (None, ServerHandle::None),
            Backend::Memory => (Some(Arc::new(MemoryStore::new(10_000))), ServerHandle::None),
            #[cfg(feature = "redis")]
            Backend::Redis => {
                let server = servers::start(servers::Kind::Redis).expect("redis-server");
                let store = servers::runtime()
                    .block_on(session_store_redis::RedisStore::connect(
                        &server.url(),
                        STORE_TIMEOUT,
                    ))
                    .expect("connect to redis-server");
                (Some(Arc::new(store)), ServerHandle::Single(server))
            }
            #[cfg(feature = "redis")]
            Backend::RedisCluster => {
                let cluster = servers::start_cluster().expect("a Redis Cluster");
                let connection = servers::runtime()
                    .block_on(async {
                        redis::cluster::ClusterClient::builder(cluster.urls())
                            .response_timeout(STORE_TIMEOUT)
                            .build()?
                            .get_async_connection()
                            .await
                    })
                    .expect("a cluster connection");
                let store = session_store_redis::RedisStore::new(connection);
                (Some(Arc::new(store)), ServerHandle::Cluster(cluster))
            }
            #[cfg(feature = "memcached")]
            Backend::Memcached => {
                let server =
                    crate::servers::start(crate::servers::Kind::Memcached).expect("memcached");
                let store = crate::servers::runtime()
                    .block_on(session_store_memcached::MemcachedStore::connect(
                        &server.url(),
                        STORE_TIMEOUT,
                    ))
                    .expect("connect to memcached");
                (Some(Arc::new(store)), ServerHandle::Single(server))
            }
            #[cfg(feature = "sql")]
            Backend::Postgres => {
                // The suite's server, or one of this fixture's own outside a suite run.
                let server = SUITE_POSTGRES
                    .with(|cell| cell.borrow().clone())
                    .unwrap_or_else(|| {
                        let server = crate::servers::start_postgres().expect("PostgreSQL");
                        Arc::new(std::sync::Mutex::new(server))
                    });
                let url = server.lock().expect("the server").url();
                let store = crate::servers::runtime()
                    .block_on(async {
                        let store = session_store_sql::PostgresStore::connect(&url, STORE_TIMEOUT)
                            .await?
                            .with_schema(&fresh_schema())
                            .expect("a schema name");
                        store.migrate().await.map(|()| store)
                    })
                    .expect("connect to PostgreSQL");
                (Some(Arc::new(store)), ServerHandle::Postgres(server))
            }
            #[cfg(feature = "sql")]
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
                let store = crate::servers::runtime()
                    .block_on(async {
                        let store =
                            session_store_sql::SqliteStore::connect(&url, STORE_TIMEOUT).await?;
                        store.migrate().await.map(|()| store)
                    })
                    .expect("open the SQLite file");
                (Some(Arc::new(store)), ServerHandle::Directory(dir))
            }
            #[allow(unreachable_patterns)]
            other => panic!("{other:?} is not available: {:?}", other.unavailable()),
        };
        Self {
            keys: vec![("k1".to_owned(), Key::generate())],
            clock: ManualClock::new(OffsetDateTime::now_utc()),
            store: store.map(|inner| {
                Arc::new(Counting {
                    inner,
                    writes: AtomicUsize::new(0),
                })
            }),
            server,
        }
    }

    /// Whether sessions live in a store.
    pub(crate) fn stored(&self) -> bool {
        self.store.is_some()
    }

    /// How many writes (saves, deletes, index changes) the store has received.
    pub(crate) fn store_writes(&self) -> usize {
        self.store
            .as_ref()
            .map_or(0, |s| s.writes.load(Ordering::SeqCst))
    }

    /// Kills the store's server.
    pub(crate) fn kill_store(&mut self) {
        match &mut self.server {
            ServerHandle::None => panic!("the store runs in-process: nothing to kill"),
            #[cfg(any(feature = "redis", feature = "memcached"))]
            ServerHandle::Single(server) => server.kill(),
            #[cfg(feature = "redis")]
            ServerHandle::Cluster(cluster) => cluster.kill(),
            #[cfg(feature = "sql")]
            ServerHandle::Postgres(server) => server.lock().expect("the server").kill(),
            #[cfg(feature = "sql")]
            ServerHandle::Directory(_) => panic!("SQLite runs in-process: nothing to kill"),
        }
    }

    /// Starts the store's server again, on the same port(s).
    pub(crate) fn restart_store(&mut self) {
        match &mut self.server {
            ServerHandle::None => panic!("the store runs in-process: nothing to restart"),
            #[cfg(any(feature = "redis", feature = "memcached"))]
            ServerHandle::Single(server) => server.restart(),
            #[cfg(feature = "redis")]
            ServerHandle::Cluster(cluster) => cluster.restart(),
            #[cfg(feature = "sql")]
            ServerHandle::Postgres(server) => server.lock().expect("the server").restart(),
            #[cfg(feature = "sql")]
            ServerHandle::Directory(_) => panic!("SQLite runs in-process: nothing to restart"),
        }
    }

    pub(crate) fn ring(&self) -> Keyring {
        let mut entries = self.keys.iter();
        let (id, key) = entries.next().expect("one key");
        let mut ring = Keyring::new(id, key.clone()).expect("a keyring");
        for (id, key) in entries {
            ring = ring.with_verifier(id, key.clone()).expect("a keyring");
        }
        ring
    }

    pub(crate) fn config(&self) -> SessionConfig {
        let config = SessionConfig::new(self.ring()).clock(self.clock.clone());
        match &self.store {
            Some(store) => config.store(Arc::clone(store) as Arc<dyn SessionStore>),
            None => config,
        }
    }

    /// A manager with the same settings, to inspect tokens the server wrote.
    pub(crate) fn inspector(&self) -> session_core::SessionManager {
        session_core::SessionManager::new(self.config()).expect("config")
    }
}

/// Counts the writes a store receives, then passes them on.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn SessionStore>,
    writes: AtomicUsize,
}

impl Counting {
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

impl SessionStore for Counting {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        self.inner.load(key)
    }
    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        self.wrote();
        self.inner.save(key, write)
    }
    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        self.wrote();
        self.inner.delete(key)
    }
    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.wrote();
        self.inner.index_add(user, key, expires_at)
    }
    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        self.wrote();
        self.inner.index_remove(user, key)
    }
    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        self.inner.index_members(user)
    }
    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        self.inner.index_generation(user)
    }
    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.wrote();
        self.inner
            .index_set_generation(user, generation, keep_until)
    }
}
