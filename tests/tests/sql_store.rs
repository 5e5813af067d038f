//! The SQL stores of `session-store-sql` through the store contract suite, on a real
//! PostgreSQL server (made by `initdb` and started on a free loopback port by the test) and on
//! SQLite files and in-memory databases; then their own behaviour: migrations, table names,
//! the sweeper and `delete_expired`, deadlines checked on read, rows they did not write,
//! start-up errors, and data that outlives a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use session_core::store::{RecordKey, RecordWrite, SessionStore, StoreError};
use session_store_sql::sqlx;
use session_store_sql::{PostgresStore, SqliteStore, Tables};
use session_testing::servers::{self, Postgres, runtime};
use session_testing::store::{ServerControl, StoreUnderTest, run_suite};
use time::OffsetDateTime;

const TIMEOUT: Duration = Duration::from_secs(1);

/// One PostgreSQL server for a whole suite run (each check gets a schema of its own on it),
/// which the outage check stops and starts again.
struct SharedServer(Arc<Mutex<Postgres>>);

impl ServerControl for SharedServer {
    fn stop(&mut self) {
        self.0.lock().expect("the server").kill();
    }
    fn restart(&mut self) {
        self.0.lock().expect("the server").restart();
    }
}

fn postgres_suite(name: &str, max_per_user: Option<usize>) {
    let server = servers::start_postgres().map(|server| Arc::new(Mutex::new(server)));
    let checks = AtomicUsize::new(0);
    run_suite(name, &|| {
        let server = server.as_ref()?;
        let url = server.lock().expect("the server").url();
        let schema = format!("check_{}", checks.fetch_add(1, Ordering::Relaxed));
        let store = runtime().block_on(async {
            let store = PostgresStore::connect(&url, TIMEOUT)
                .await
                .expect("connect")
                .with_schema(&schema)
                .expect("a schema name");
            let store = match max_per_user {
                Some(max) => store.with_max_sessions_per_user(max),
                None => store,
            };
            store.migrate().await.expect("migrate");
            store
        });
        let target =
            StoreUnderTest::new(Arc::new(store)).with_server(SharedServer(Arc::clone(server)));
        Some(match max_per_user {
            Some(max) => target.with_max_sessions_per_user(max),
            None => target,
        })
    });
}

#[test]
fn postgres_store() {
    postgres_suite("PostgresStore", None);
}

#[test]
fn postgres_store_with_a_small_cap() {
    postgres_suite("PostgresStore, 7 sessions per user", Some(7));
}

#[test]
fn sqlite_store_in_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let checks = AtomicUsize::new(0);
    run_suite("SqliteStore in a file", &|| {
        let file = dir.path().join(format!(
            "check-{}.db",
            checks.fetch_add(1, Ordering::Relaxed)
        ));
        let url = format!("sqlite://{}", file.display());
        let store = runtime().block_on(async {
            let store = SqliteStore::connect(&url, Duration::from_secs(5))
                .await
                .expect("connect");
            store.migrate().await.expect("migrate");
            store
        });
        Some(StoreUnderTest::new(Arc::new(store)))
    });
}

#[test]
fn sqlite_store_in_memory_with_a_small_cap() {
    run_suite("SqliteStore in memory, 3 sessions per user", &|| {
        let store = runtime().block_on(async {
            let store = SqliteStore::connect("sqlite::memory:", Duration::from_secs(5))
                .await
                .expect("connect")
                .with_max_sessions_per_user(3);
            store.migrate().await.expect("migrate");
            store
        });
        Some(StoreUnderTest::new(Arc::new(store)).with_max_sessions_per_user(3))
    });
}

// ---- the stores' own behaviour, on each database -------------------------------------------

/// A database to run one test on: a PostgreSQL server of its own, or an SQLite file.
enum Database {
    Postgres(Postgres),
    Sqlite(tempfile::TempDir),
}

/// A store on a [`Database`], with the methods the trait does not have.
#[derive(Clone)]
enum Sql {
    Postgres(PostgresStore),
    Sqlite(SqliteStore),
}

/// Runs `test` on a PostgreSQL server (when installed; under CI it must be) and on an SQLite
/// file.
fn on_each_database(test: impl Fn(&Database)) {
    if let Some(server) = servers::start_postgres() {
        test(&Database::Postgres(server));
    }
    test(&Database::Sqlite(
        tempfile::tempdir().expect("a temporary directory"),
    ));
}

impl Database {
    fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// A store with these tables (not migrated).
    fn open(&self, tables: Option<Tables>) -> Sql {
        runtime().block_on(async {
            match self {
                Self::Postgres(server) => {
                    let store = PostgresStore::connect(&server.url(), TIMEOUT)
                        .await
                        .expect("connect");
                    Sql::Postgres(match tables {
                        Some(tables) => store.with_tables(tables),
                        None => store,
                    })
                }
                Self::Sqlite(dir) => {
                    let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
                    let store = SqliteStore::connect(&url, Duration::from_secs(5))
                        .await
                        .expect("connect");
                    Sql::Sqlite(match tables {
                        Some(tables) => store.with_tables(tables),
                        None => store,
                    })
                }
            }
        })
    }

    /// A store with the default tables, migrated.
    fn migrated(&self) -> Sql {
        let store = self.open(None);
        store.migrate().expect("migrate");
        store
    }
}

impl Sql {
    fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        runtime().block_on(async {
            match self {
                Self::Postgres(store) => store.migrate().await,
                Self::Sqlite(store) => store.migrate().await,
            }
        })
    }

    fn migration_sql(&self) -> String {
        match self {
            Self::Postgres(store) => store.migration_sql(),
            Self::Sqlite(store) => store.migration_sql(),
        }
    }

    fn delete_expired(&self) -> u64 {
        runtime()
            .block_on(async {
                match self {
                    Self::Postgres(store) => store.delete_expired().await,
                    Self::Sqlite(store) => store.delete_expired().await,
                }
            })
            .expect("delete_expired")
    }

    fn with_sweep_batch(self, rows: u32) -> Self {
        match self {
            Self::Postgres(store) => Self::Postgres(store.with_sweep_batch(rows)),
            Self::Sqlite(store) => Self::Sqlite(store.with_sweep_batch(rows)),
        }
    }

    fn spawn_sweeper(&self, every: Duration) -> session_store_sql::Sweeper {
        let _runtime = runtime().enter();
        match self {
            Self::Postgres(store) => store.spawn_sweeper(every),
            Self::Sqlite(store) => store.spawn_sweeper(every),
        }
    }

    /// Runs statements as they are (no binds), as an operator would.
    fn execute(&self, sql: &str) {
        runtime()
            .block_on(async {
                match self {
                    Self::Postgres(store) => {
                        sqlx::raw_sql(sql).execute(store.pool()).await.map(drop)
                    }
                    Self::Sqlite(store) => sqlx::raw_sql(sql).execute(store.pool()).await.map(drop),
                }
            })
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// The one number a query answers.
    fn number(&self, sql: &str) -> i64 {
        runtime()
            .block_on(async {
                match self {
                    Self::Postgres(store) => {
                        sqlx::query_scalar::<_, i64>(sql)
                            .fetch_one(store.pool())
                            .await
                    }
                    Self::Sqlite(store) => {
                        sqlx::query_scalar::<_, i64>(sql)
                            .fetch_one(store.pool())
                            .await
                    }
                }
            })
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    fn rows(&self, table: &str) -> i64 {
        self.number(&format!("SELECT count(*) FROM {table}"))
    }

    /// `bytes` as a literal of this database.
    fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        match self {
            Self::Postgres(_) => format!("'\\x{hex}'::bytea"),
            Self::Sqlite(_) => format!("X'{hex}'"),
        }
    }
}

fn new_key() -> RecordKey {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("random bytes");
    RecordKey::from_bytes(bytes)
}

fn in_secs(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(seconds)
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).expect("ms")
}

fn write<'a>(
    create: bool,
    set: &'a [(&'a str, &'a [u8])],
    expires_at: OffsetDateTime,
) -> RecordWrite<'a> {
    RecordWrite {
        create,
        set,
        remove: &[],
        expires_at,
        push_expiry: true,
    }
}

/// Creates a record of two fields expiring at `expires_at`; answers its key.
fn record(store: &dyn SessionStore, expires_at: OffsetDateTime) -> RecordKey {
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("@meta", b"m"), ("user", b"alice")];
    assert!(
        runtime()
            .block_on(store.save(&key, write(true, set, expires_at)))
            .expect("create")
    );
    key
}

fn load(store: &dyn SessionStore, key: &RecordKey) -> Option<Vec<(String, Vec<u8>)>> {
    runtime()
        .block_on(store.load(key))
        .expect("load")
        .map(|fields| {
            let mut pairs: Vec<(String, Vec<u8>)> = fields
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect();
            pairs.sort();
            pairs
        })
}

#[test]
fn migrating_twice_keeps_the_tables_and_their_rows() {
    on_each_database(|db| {
        let sql = db.migrated();
        let store = sql.store();
        let key = record(&*store, in_secs(60));
        sql.migrate().expect("migrate again");
        assert!(load(&*store, &key).is_some(), "the record stayed");
        if let Sql::Postgres(postgres) = &sql {
            // Several servers starting at once, on a schema that does not exist yet.
            let fresh = postgres.clone().with_schema("fresh").expect("a name");
            let other = fresh.clone();
            let (one, two) =
                runtime().block_on(async { tokio::join!(fresh.migrate(), other.migrate()) });
            one.expect("first migrate");
            two.expect("second migrate");
        }
    });
}

#[test]
fn custom_table_names_and_schemas_keep_sessions_apart() {
    on_each_database(|db| {
        let tables = Tables::with_prefix("shop_").expect("a prefix");
        let mut custom = db.open(Some(tables));
        if let Sql::Postgres(store) = custom {
            custom = Sql::Postgres(store.with_schema("auth").expect("a schema"));
        }
        custom.migrate().expect("migrate");
        let default = db.migrated();
        let key = record(&*custom.store(), in_secs(60));
        let qualified = if db.is_postgres() {
            "auth.shop_session_records"
        } else {
            "shop_session_records"
        };
        assert_eq!(custom.rows(qualified), 1);
        assert_eq!(default.rows("session_records"), 0);
        assert_eq!(load(&*default.store(), &key), None, "another set of tables");
        assert!(load(&*custom.store(), &key).is_some());
        let shown = custom.migration_sql();
        assert!(shown.contains("CREATE TABLE IF NOT EXISTS"), "{shown}");
        assert!(shown.contains("shop_session_user_sessions"), "{shown}");
        assert_eq!(
            shown.contains("CREATE SCHEMA IF NOT EXISTS \"auth\""),
            db.is_postgres(),
            "{shown}"
        );
        // A reserved word is a table name like any other.
        let odd = db.open(Some(
            Tables::new("user", "order", "select", "table").expect("plain names"),
        ));
        odd.migrate().expect("migrate");
        let key = record(&*odd.store(), in_secs(60));
        assert!(load(&*odd.store(), &key).is_some());
    });
}

#[test]
fn delete_expired_removes_only_expired_rows_in_batches() {
    on_each_database(|db| {
        let sql = db.migrated().with_sweep_batch(10);
        let store = sql.store();
        for expired in [25u32, 20] {
            let gone: Vec<RecordKey> = (0..expired).map(|_| record(&*store, in_secs(-5))).collect();
            let kept: Vec<RecordKey> = (0..3).map(|_| record(&*store, in_secs(60))).collect();
            runtime().block_on(async {
                for (i, key) in gone.iter().enumerate() {
                    store
                        .index_add(&format!("user {i}"), key, in_secs(-5))
                        .await
                        .expect("add");
                }
                store
                    .index_add("bob", &kept[0], in_secs(60))
                    .await
                    .expect("add");
            });
            assert_eq!(sql.rows("session_records"), i64::from(expired) + 3);
            assert_eq!(sql.delete_expired(), u64::from(expired), "every batch ran");
            assert_eq!(sql.rows("session_records"), 3);
            assert_eq!(sql.rows("session_fields"), 6, "their fields went with them");
            assert_eq!(sql.rows("session_user_sessions"), 1, "bob's entry stayed");
            assert_eq!(sql.rows("session_users"), 1, "bob's row stayed");
            for key in &kept {
                assert!(load(&*store, key).is_some());
            }
            assert_eq!(sql.delete_expired(), 0, "nothing left to delete");
            for key in &kept {
                assert!(runtime().block_on(store.delete(key)).expect("delete"));
            }
            runtime()
                .block_on(store.index_remove("bob", &kept[0]))
                .expect("remove");
        }
    });
}

#[test]
fn the_sweeper_deletes_expired_rows_until_it_is_dropped() {
    on_each_database(|db| {
        let sql = db.migrated();
        let store = sql.store();
        let live = record(&*store, in_secs(60));
        for _ in 0..5 {
            record(&*store, in_secs(-5));
        }
        let sweeper = sql.spawn_sweeper(Duration::from_millis(50));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sql.rows("session_records") > 1 {
            assert!(Instant::now() < deadline, "the sweeper did not run");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(load(&*store, &live).is_some());
        assert!(!sweeper.is_finished());
        drop(sweeper);
        for _ in 0..5 {
            record(&*store, in_secs(-5));
        }
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(sql.rows("session_records"), 6, "stopped when dropped");
    });
}

#[test]
fn a_record_expired_in_the_database_is_never_returned() {
    on_each_database(|db| {
        let sql = db.migrated();
        let store = sql.store();
        let key = record(&*store, in_secs(60));
        let past = now_ms() - 1;
        sql.execute(&format!(
            "UPDATE session_records SET expires_unix_ms = {past}"
        ));
        assert_eq!(load(&*store, &key), None, "checked on read");
        assert_eq!(sql.rows("session_fields"), 2, "nothing deleted it yet");
        let set: &[(&str, &[u8])] = &[("user", b"mallory"), ("new", b"x")];
        let updated = runtime().block_on(store.save(&key, write(false, set, in_secs(60))));
        assert!(!updated.expect("update"), "no update revives it");
        let touched = runtime().block_on(store.save(&key, write(false, &[], in_secs(60))));
        assert!(!touched.expect("touch"));
        assert_eq!(load(&*store, &key), None);
        assert_eq!(
            sql.number("SELECT count(*) FROM session_fields WHERE name = 'new'"),
            0
        );
        assert_eq!(
            sql.number(&format!(
                "SELECT count(*) FROM session_records WHERE expires_unix_ms = {past}"
            )),
            1,
            "its deadline did not move"
        );
        assert!(
            !runtime().block_on(store.delete(&key)).expect("delete"),
            "it was not live"
        );

        // The index's rows too.
        runtime().block_on(async {
            store
                .index_add("alice", &key, in_secs(60))
                .await
                .expect("add");
            store
                .index_set_generation("alice", 42, in_secs(60))
                .await
                .expect("set");
        });
        sql.execute(&format!(
            "UPDATE session_user_sessions SET expires_unix_ms = {past}; \
             UPDATE session_users SET expires_unix_ms = {past}"
        ));
        runtime().block_on(async {
            assert!(
                store
                    .index_members("alice")
                    .await
                    .expect("members")
                    .is_empty()
            );
            assert_eq!(store.index_generation("alice").await.expect("g"), 0);
        });
    });
}

#[test]
fn an_update_of_a_deleted_record_writes_nothing() {
    on_each_database(|db| {
        let sql = db.migrated();
        let store = sql.store();
        let key = record(&*store, in_secs(60));
        assert!(runtime().block_on(store.delete(&key)).expect("delete"));
        assert_eq!(sql.rows("session_records"), 0);
        assert_eq!(sql.rows("session_fields"), 0);
        let set: &[(&str, &[u8])] = &[("user", b"mallory")];
        let remove: &[&str] = &["@meta"];
        let update = RecordWrite {
            create: false,
            set,
            remove,
            expires_at: in_secs(60),
            push_expiry: true,
        };
        assert!(
            !runtime()
                .block_on(store.save(&key, update))
                .expect("update")
        );
        assert_eq!(sql.rows("session_records"), 0, "no record made");
        assert_eq!(sql.rows("session_fields"), 0, "no field written");
    });
}

#[test]
fn rows_this_store_did_not_write_are_errors_not_panics() {
    on_each_database(|db| {
        let sql = db.migrated();
        let store = sql.store();
        let later = now_ms() + 60_000;
        sql.execute(&format!(
            "INSERT INTO session_user_sessions (user_key, record, expires_unix_ms) \
             VALUES ({}, {}, {later}); \
             INSERT INTO session_users (user_key, generation, expires_unix_ms) \
             VALUES ({}, -3, {later})",
            sql.blob(b"alice"),
            sql.blob(&[1, 2, 3]),
            sql.blob(b"alice"),
        ));
        runtime().block_on(async {
            match store.index_members("alice").await {
                Err(StoreError::Corrupt(message)) => {
                    assert!(message.contains("3 bytes"), "{message}");
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
            match store.index_generation("alice").await {
                Err(StoreError::Corrupt(message)) => assert!(message.contains("-3"), "{message}"),
                other => panic!("expected Corrupt, got {other:?}"),
            }
        });
        if !db.is_postgres() {
            // SQLite keeps any value in any column: a field name that is not text.
            let key = record(&*store, in_secs(60));
            sql.execute(&format!(
                "INSERT INTO session_fields (record, name, value) VALUES ({}, X'ff', X'00')",
                sql.blob(key.as_bytes())
            ));
            match runtime().block_on(store.load(&key)) {
                Err(StoreError::Corrupt(_)) => {}
                other => panic!("expected Corrupt, got {other:?}"),
            }
            assert!(runtime().block_on(store.delete(&key)).expect("delete"));
        }
    });
}

#[test]
fn a_database_without_the_tables_is_unavailable_until_migrated() {
    on_each_database(|db| {
        let sql = db.open(None);
        let store = sql.store();
        match runtime().block_on(store.load(&new_key())) {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
        sql.migrate().expect("migrate");
        assert_eq!(load(&*store, &new_key()), None);
    });
}

#[test]
fn sessions_outlive_a_restart() {
    if let Some(server) = servers::start_postgres() {
        let mut db = Database::Postgres(server);
        let key = record(&*db.migrated().store(), in_secs(60));
        if let Database::Postgres(server) = &mut db {
            server.kill();
            server.restart();
        }
        assert!(
            load(&*db.open(None).store(), &key).is_some(),
            "PostgreSQL kept it"
        );
    }
    let db = Database::Sqlite(tempfile::tempdir().expect("a temporary directory"));
    let key = {
        let sql = db.migrated();
        let key = record(&*sql.store(), in_secs(60));
        if let Sql::Sqlite(store) = &sql {
            runtime().block_on(store.pool().close());
        }
        key
    };
    assert!(
        load(&*db.open(None).store(), &key).is_some(),
        "the file kept it"
    );
}

#[test]
fn start_up_errors_name_the_store_and_hide_the_password() {
    let port = servers::free_port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app");
    let error = runtime()
        .block_on(PostgresStore::connect(&url, Duration::from_millis(300)))
        .expect_err("nothing listens there");
    assert!(matches!(error, StoreError::Connect { .. }), "{error}");
    let shown = format!("{error:?}");
    assert!(
        shown.contains(&format!(
            "PostgreSQL session store at postgres://***@127.0.0.1:{port}/app"
        )),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/missing/sessions.db", dir.path().display());
    let error = runtime()
        .block_on(SqliteStore::connect(&url, Duration::from_millis(300)))
        .expect_err("no such directory");
    let shown = format!("{error:?}");
    assert!(
        shown.contains(&format!("SQLite session store at {url}")),
        "{shown}"
    );
}
