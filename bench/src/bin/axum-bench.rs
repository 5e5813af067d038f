//! axum bench server: `axum-bench <variant> <port>`; variants: `none`, `ours`,
//! `ours-encrypted`, `ours-memory`, `ours-redis`, `layer-floor` (a layer's glue without a
//! session), `tower-sessions`, `signed-jar` (JSON value),
//! `signed-jar-postcard` (postcard + base64url value), `private-jar` (JSON value), and with the
//! `store-peers` feature `tower-sessions-redis`, with the `sql-stores` feature `ours-postgres`,
//! `tower-sessions-postgres`, `ours-sqlite`, `tower-sessions-sqlite`. Redis variants use
//! `BENCH_REDIS_URL`; PostgreSQL variants a database of their own on the server at
//! `BENCH_POSTGRES_URL`, SQLite variants a file of their own in `BENCH_SQLITE_DIR`.
//! Routes: `GET /init` (start a session with the typical data), `GET /write` (counter + 1),
//! `GET /read` (read the name, change nothing). One runtime thread.

use axum::Router;
use axum::routing::get;
use bench::Typical;

async fn none_init() -> &'static str {
    "ok"
}
// The baseline answers like the session handlers, without a session.
async fn none_write() -> String {
    1u64.to_string()
}
async fn none_read() -> String {
    String::from("alice")
}

mod ours {
    use bench::Typical;
    use session_axum::Session;

    pub(crate) async fn init(mut session: Session<Typical>) -> &'static str {
        *session = Typical::sample();
        "ok"
    }
    pub(crate) async fn write(mut session: Session<Typical>) -> String {
        session.counter += 1;
        session.counter.to_string()
    }
    pub(crate) async fn read(session: Session<Typical>) -> String {
        session.name.clone()
    }
}

/// The tower-sessions handlers, for one version of its `Session` type.
macro_rules! tower_sessions_handlers {
    ($session:ty) => {
        use bench::Typical;

        pub(crate) async fn init(session: $session) -> &'static str {
            session
                .insert("data", Typical::sample())
                .await
                .expect("store");
            "ok"
        }
        pub(crate) async fn write(session: $session) -> String {
            let mut value: Typical = session
                .get("data")
                .await
                .expect("store")
                .unwrap_or_default();
            value.counter += 1;
            session.insert("data", &value).await.expect("store");
            value.counter.to_string()
        }
        pub(crate) async fn read(session: $session) -> String {
            let value: Typical = session
                .get("data")
                .await
                .expect("store")
                .unwrap_or_default();
            value.name
        }
    };
}

mod peer_tower_sessions {
    tower_sessions_handlers!(tower_sessions::Session);
}

/// tower-sessions 0.14 with its Redis store (tower-sessions-redis-store 0.16 needs 0.14).
#[cfg(feature = "store-peers")]
mod peer_tower_sessions_redis {
    tower_sessions_handlers!(tower_sessions_014::Session);

    pub(crate) async fn router() -> axum::Router {
        use tower_sessions_redis_store::fred::prelude::*;
        let config = Config::from_url(&bench::redis_url()).expect("url");
        let pool = Pool::new(config, None, None, None, 1).expect("pool");
        let _connection = pool.connect();
        pool.wait_for_connect().await.expect("redis");
        let layer = tower_sessions_014::SessionManagerLayer::new(
            tower_sessions_redis_store::RedisStore::new(pool),
        );
        axum::Router::new()
            .route("/init", axum::routing::get(init))
            .route("/write", axum::routing::get(write))
            .route("/read", axum::routing::get(read))
            .layer(layer)
    }
}

/// tower-sessions 0.14 with its sqlx stores (tower-sessions-sqlx-store 0.15 is the release for
/// 0.14, on sqlx 0.8 like ours), each on a database of its own, migrated at start.
#[cfg(feature = "sql-stores")]
mod peer_tower_sessions_sql {
    tower_sessions_handlers!(tower_sessions_014::Session);

    fn router<S: tower_sessions_014::SessionStore + Clone>(store: S) -> axum::Router {
        axum::Router::new()
            .route("/init", axum::routing::get(init))
            .route("/write", axum::routing::get(write))
            .route("/read", axum::routing::get(read))
            .layer(tower_sessions_014::SessionManagerLayer::new(store))
    }

    /// As its README sets it up: a `PgPool` of sqlx's default options (at most
    /// `BENCH_SQL_MAX_CONNECTIONS` connections when set), then `migrate()`.
    pub(crate) async fn postgres(variant: &str) -> axum::Router {
        let url = bench::sql::postgres_url(variant).await;
        let mut options = tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions::new();
        if let Some(max) = bench::sql::max_connections() {
            options = options.max_connections(max);
        }
        let pool = options.connect(&url).await.expect("postgres");
        let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
        store.migrate().await.expect("migrate");
        router(store)
    }

    /// The pool options ours uses for a file (`SqliteStore::connect`): created if missing,
    /// write-ahead log, a busy timeout, no ping before each use, sqlx's defaults otherwise;
    /// then `migrate()`.
    pub(crate) async fn sqlite(variant: &str) -> axum::Router {
        use tower_sessions_sqlx_store::sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions,
        };
        let options = SqliteConnectOptions::new()
            .filename(bench::sql::sqlite_path(variant))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(2));
        let pool = SqlitePoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(2))
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .expect("sqlite");
        let store = tower_sessions_sqlx_store::SqliteStore::new(pool);
        store.migrate().await.expect("migrate");
        router(store)
    }
}

/// The cookie value formats we put into axum-extra's jars. The jar takes a string and leaves
/// the format to the application: `Json` is what we chose for the peer rows; `Postcard` is our
/// own format (postcard, then base64url), so the two jar rows separate format cost from the
/// jar's cost.
mod format {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use bench::Typical;

    pub(crate) fn json(value: &Typical) -> String {
        serde_json::to_string(value).expect("serializes")
    }
    pub(crate) fn from_json(text: &str) -> Option<Typical> {
        serde_json::from_str(text).ok()
    }
    pub(crate) fn postcard(value: &Typical) -> String {
        URL_SAFE_NO_PAD.encode(postcard::to_allocvec(value).expect("serializes"))
    }
    pub(crate) fn from_postcard(text: &str) -> Option<Typical> {
        postcard::from_bytes(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
    }
}

/// Handlers over one axum-extra jar type (`SignedCookieJar`, `PrivateCookieJar`) and one value
/// format (`format::json`/`from_json`, `format::postcard`/`from_postcard`).
macro_rules! jar_handlers {
    ($jar:ty, $encode:path, $decode:path) => {
        use axum_extra::extract::cookie::Cookie;
        use bench::Typical;

        fn load(jar: &$jar) -> Typical {
            jar.get("session")
                .and_then(|c| $decode(c.value()))
                .unwrap_or_default()
        }
        fn store(jar: $jar, value: &Typical) -> $jar {
            jar.add(
                Cookie::build(("session", $encode(value)))
                    .http_only(true)
                    .secure(true)
                    .path("/"),
            )
        }
        pub(crate) async fn init(jar: $jar) -> ($jar, &'static str) {
            (store(jar, &Typical::sample()), "ok")
        }
        pub(crate) async fn write(jar: $jar) -> ($jar, String) {
            let mut value = load(&jar);
            value.counter += 1;
            let body = value.counter.to_string();
            (store(jar, &value), body)
        }
        pub(crate) async fn read(jar: $jar) -> String {
            load(&jar).name
        }

        pub(crate) fn router() -> axum::Router {
            axum::Router::new()
                .route("/init", axum::routing::get(init))
                .route("/write", axum::routing::get(write))
                .route("/read", axum::routing::get(read))
                .with_state(axum_extra::extract::cookie::Key::from(&bench::PEER_KEY))
        }
    };
}

/// `signed-jar`: SignedCookieJar with a JSON value (our choice of format, not the jar's).
mod signed_jar {
    jar_handlers!(
        axum_extra::extract::cookie::SignedCookieJar,
        crate::format::json,
        crate::format::from_json
    );
}
/// `signed-jar-postcard`: SignedCookieJar with postcard + base64url, the format ours uses.
mod signed_jar_postcard {
    jar_handlers!(
        axum_extra::extract::cookie::SignedCookieJar,
        crate::format::postcard,
        crate::format::from_postcard
    );
}
/// `private-jar`: PrivateCookieJar (AES-256-GCM) with a JSON value (our choice).
mod private_jar {
    jar_handlers!(
        axum_extra::extract::cookie::PrivateCookieJar,
        crate::format::json,
        crate::format::from_json
    );
}

/// `layer-floor`: what a session layer with our response defaults costs before any session
/// work, the floor under target 1 of issue 11. The shape of `session_axum::SessionLayer`
/// (boxed future, an `Arc` in the request's extensions that the handler borrows) and its
/// headers (`Vary: Cookie` and `Cache-Control: private` on every response; a constant
/// `Set-Cookie` after a change). It reads no cookie and verifies, decodes, encodes and signs
/// nothing.
mod layer_floor {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use axum::extract::Request;
    use axum::http::{HeaderValue, header};
    use axum::response::Response;
    use axum::routing::get;
    use axum::{Extension, Router};

    /// Whether the handler changed "the session".
    #[derive(Default)]
    struct Changed(AtomicBool);

    #[derive(Clone)]
    struct Layer;

    impl<S> tower_layer::Layer<S> for Layer {
        type Service = Service<S>;
        fn layer(&self, inner: S) -> Service<S> {
            Service(inner)
        }
    }

    #[derive(Clone)]
    struct Service<S>(S);

    impl<S> tower_service::Service<Request> for Service<S>
    where
        S: tower_service::Service<Request, Response = Response>,
        S::Future: Send + 'static,
    {
        type Response = Response;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, mut request: Request) -> Self::Future {
            let changed = Arc::new(Changed::default());
            request.extensions_mut().insert(Arc::clone(&changed));
            let response = self.0.call(request);
            Box::pin(async move {
                let mut response = response.await?;
                let headers = response.headers_mut();
                if changed.0.load(Ordering::Relaxed) {
                    headers.append(
                        header::SET_COOKIE,
                        HeaderValue::from_static("id=floor; Path=/; HttpOnly; SameSite=Lax"),
                    );
                }
                headers.append(header::VARY, HeaderValue::from_static("cookie"));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
                Ok(response)
            })
        }
    }

    async fn write(Extension(changed): Extension<Arc<Changed>>) -> String {
        changed.0.store(true, Ordering::Relaxed);
        1u64.to_string()
    }
    async fn read(Extension(_): Extension<Arc<Changed>>) -> String {
        String::from("alice")
    }

    pub(crate) fn router() -> Router {
        Router::new()
            .route("/init", get(write))
            .route("/write", get(write))
            .route("/read", get(read))
            .layer(Layer)
    }
}

fn main() {
    let (variant, port) = bench::args(&[
        "none",
        "ours",
        "ours-encrypted",
        "ours-memory",
        "ours-redis",
        "layer-floor",
        "tower-sessions",
        "signed-jar",
        "signed-jar-postcard",
        "private-jar",
        #[cfg(feature = "store-peers")]
        "tower-sessions-redis",
        #[cfg(feature = "sql-stores")]
        "ours-postgres",
        #[cfg(feature = "sql-stores")]
        "tower-sessions-postgres",
        #[cfg(feature = "sql-stores")]
        "ours-sqlite",
        #[cfg(feature = "sql-stores")]
        "tower-sessions-sqlite",
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let app = match variant.as_str() {
            "none" => Router::new()
                .route("/init", get(none_init))
                .route("/write", get(none_write))
                .route("/read", get(none_read)),
            "ours" | "ours-encrypted" | "ours-memory" | "ours-redis" | "ours-postgres"
            | "ours-sqlite" => {
                let layer =
                    session_axum::SessionLayer::<Typical>::new(bench::our_config(&variant).await)
                        .expect("config");
                Router::new()
                    .route("/init", get(ours::init))
                    .route("/write", get(ours::write))
                    .route("/read", get(ours::read))
                    .layer(layer)
            }
            "tower-sessions" => {
                let layer = tower_sessions::SessionManagerLayer::new(
                    tower_sessions::MemoryStore::default(),
                );
                Router::new()
                    .route("/init", get(peer_tower_sessions::init))
                    .route("/write", get(peer_tower_sessions::write))
                    .route("/read", get(peer_tower_sessions::read))
                    .layer(layer)
            }
            #[cfg(feature = "store-peers")]
            "tower-sessions-redis" => peer_tower_sessions_redis::router().await,
            #[cfg(feature = "sql-stores")]
            "tower-sessions-postgres" => peer_tower_sessions_sql::postgres(&variant).await,
            #[cfg(feature = "sql-stores")]
            "tower-sessions-sqlite" => peer_tower_sessions_sql::sqlite(&variant).await,
            "layer-floor" => layer_floor::router(),
            "signed-jar" => signed_jar::router(),
            "signed-jar-postcard" => signed_jar_postcard::router(),
            _ => private_jar::router(),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}
