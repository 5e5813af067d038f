//! What every bench server shares: the typical session of the issue (user id, name, two roles,
//! a 32-character CSRF token, a counter), and the port from the command line.

use serde::{Deserialize, Serialize};
use session_core::SessionData;

/// The typical session.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "bench")]
pub struct Typical {
    /// User id.
    pub user_id: u64,
    /// Display name.
    pub name: String,
    /// Two roles.
    pub roles: Vec<String>,
    /// A 32-character CSRF token.
    pub csrf: String,
    /// The counter the write route increments.
    pub counter: u64,
}

impl Typical {
    /// The value every variant starts from (`GET /init`).
    pub fn sample() -> Self {
        Self {
            user_id: 12_345,
            name: "alice".into(),
            roles: vec!["admin".into(), "editor".into()],
            csrf: "q7GdX2mP9vLk4RsT8wYz1BnC6HjE3fUa".into(),
            counter: 0,
        }
    }
}

/// `<binary> <variant> <port>` from the command line; exits with usage on anything else.
pub fn args(variants: &[&str]) -> (String, u16) {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_default();
    let port = args.next().and_then(|p| p.parse().ok());
    match port {
        Some(port) if variants.contains(&variant.as_str()) => (variant, port),
        _ => {
            eprintln!("usage: <bench-server> <{}> <port>", variants.join("|"));
            std::process::exit(2)
        }
    }
}

/// A fixed 64-byte key for the peers that take raw key bytes (benchmarks only).
pub const PEER_KEY: [u8; 64] = *b"0123456789abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUV!@#$%^&*()";

/// The Redis server the store variants use: `BENCH_REDIS_URL`, default
/// `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The SQL databases of the store variants (feature `sql-stores`): one PostgreSQL database and
/// one SQLite file per variant, so that no variant reads or writes another's tables.
#[cfg(feature = "sql-stores")]
pub mod sql {
    use session_store_sql::sqlx::{self, Connection as _};

    /// The URL of this variant's own PostgreSQL database, created if missing on the server at
    /// `BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`, a
    /// database the server already has; the URL takes no query string): `bench_<variant>`
    /// with `-` as `_`.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses to create the database.
    pub async fn postgres_url(variant: &str) -> String {
        let admin = std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let database = format!("bench_{}", variant.replace('-', "_"));
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("postgres (BENCH_POSTGRES_URL)");
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&database)
                .fetch_optional(&mut connection)
                .await
                .expect("pg_database");
        if exists.is_none() {
            sqlx::query(&format!("CREATE DATABASE \"{database}\""))
                .execute(&mut connection)
                .await
                .expect("CREATE DATABASE");
        }
        connection.close().await.expect("close");
        let (server, _) = admin.rsplit_once('/').expect("a URL with a database");
        format!("{server}/{database}")
    }

    /// `BENCH_SQL_MAX_CONNECTIONS`, when set: the most connections a PostgreSQL pool of the
    /// bench opens (ours and the peer's alike). The instruction count of the database's
    /// backends sets it to 1, so that every life of a server opens the same connections.
    ///
    /// # Panics
    /// When it is set to something other than a positive number.
    pub fn max_connections() -> Option<u32> {
        std::env::var("BENCH_SQL_MAX_CONNECTIONS")
            .ok()
            .map(|n| n.parse().expect("BENCH_SQL_MAX_CONNECTIONS: a number"))
    }

    /// This variant's own SQLite file: `<BENCH_SQLITE_DIR>/<variant>.db` (default: the
    /// system's temporary directory).
    pub fn sqlite_path(variant: &str) -> std::path::PathBuf {
        std::env::var_os("BENCH_SQLITE_DIR")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
            .join(format!("{variant}.db"))
    }
}

/// Our session settings for a variant: `ours` (signed cookie), `ours-encrypted` (encrypted
/// cookie), `ours-memory`, `ours-redis`, and with the `sql-stores` feature `ours-postgres`
/// and `ours-sqlite` (each on its own database, [`sql`], migrated at start).
pub async fn our_config(variant: &str) -> session_core::SessionConfig {
    let keys = session_core::Keyring::new("k1", session_core::Key::generate()).expect("ring");
    let config = session_core::SessionConfig::new(keys);
    match variant {
        "ours-memory" => config.store(std::sync::Arc::new(
            session_core::store::MemoryStore::default(),
        )),
        "ours-redis" => {
            let store = session_store_redis::RedisStore::connect(
                &redis_url(),
                std::time::Duration::from_secs(2),
            )
            .await
            .expect("redis");
            config.store(std::sync::Arc::new(store))
        }
        #[cfg(feature = "sql-stores")]
        "ours-postgres" => {
            let url = sql::postgres_url(variant).await;
            let store = match sql::max_connections() {
                None => session_store_sql::PostgresStore::connect(
                    &url,
                    std::time::Duration::from_secs(2),
                )
                .await
                .expect("postgres"),
                // What `connect` sets up, with a pool of at most this many connections.
                Some(max) => {
                    use session_store_sql::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
                    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
                    let pool = PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(std::time::Duration::from_secs(2))
                        .connect_with(options.options([("statement_timeout", "2000ms")]))
                        .await
                        .expect("postgres");
                    session_store_sql::PostgresStore::new(pool)
                }
            };
            store.migrate().await.expect("migrate");
            config.store(std::sync::Arc::new(store))
        }
        #[cfg(feature = "sql-stores")]
        "ours-sqlite" => {
            let url = format!("sqlite://{}", sql::sqlite_path(variant).display());
            let store =
                session_store_sql::SqliteStore::connect(&url, std::time::Duration::from_secs(2))
                    .await
                    .expect("sqlite");
            store.migrate().await.expect("migrate");
            config.store(std::sync::Arc::new(store))
        }
        "ours-encrypted" => config.encrypt(true),
        _ => config,
    }
}
