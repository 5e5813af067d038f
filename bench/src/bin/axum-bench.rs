//! axum bench server: `axum-bench <variant> <port>`; variants: `none`, `ours`, `ours-memory`,
//! `ours-redis`, `tower-sessions`, `signed-jar`, and with the `store-peers` feature
//! `tower-sessions-redis`. Redis variants use `BENCH_REDIS_URL`.
//! Routes: `GET /init` (start a session with the typical data), `GET /write` (counter + 1),
//! `GET /read` (read the name, change nothing). One runtime thread.

use axum::Router;
use axum::routing::get;
use axum_extra::extract::cookie::{Cookie, Key, SignedCookieJar};
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

fn load(jar: &SignedCookieJar) -> Typical {
    jar.get("session")
        .and_then(|c| serde_json::from_str(c.value()).ok())
        .unwrap_or_default()
}
fn store(jar: SignedCookieJar, value: &Typical) -> SignedCookieJar {
    let json = serde_json::to_string(value).expect("serializes");
    jar.add(
        Cookie::build(("session", json))
            .http_only(true)
            .secure(true)
            .path("/"),
    )
}
async fn jar_init(jar: SignedCookieJar) -> (SignedCookieJar, &'static str) {
    (store(jar, &Typical::sample()), "ok")
}
async fn jar_write(jar: SignedCookieJar) -> (SignedCookieJar, String) {
    let mut value = load(&jar);
    value.counter += 1;
    let body = value.counter.to_string();
    (store(jar, &value), body)
}
async fn jar_read(jar: SignedCookieJar) -> String {
    load(&jar).name
}

fn main() {
    let (variant, port) = bench::args(&[
        "none",
        "ours",
        "ours-memory",
        "ours-redis",
        "tower-sessions",
        "signed-jar",
        #[cfg(feature = "store-peers")]
        "tower-sessions-redis",
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
            "ours" | "ours-memory" | "ours-redis" => {
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
            _ => Router::new()
                .route("/init", get(jar_init))
                .route("/write", get(jar_write))
                .route("/read", get(jar_read))
                .with_state(Key::from(&bench::PEER_KEY)),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}
