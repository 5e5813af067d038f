//! actix-web bench server: `actix-bench <variant> <port>`; variants: `none`, `ours`,
//! `ours-encrypted`, `ours-memory`, `ours-redis`, `actix-session` (signed cookie),
//! `actix-session-private` (encrypted cookie), and with the `store-peers` feature
//! `actix-session-redis`. Redis variants use `BENCH_REDIS_URL`.
//! Routes: `GET /init`, `GET /write` (counter + 1), `GET /read`. One worker.

use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::Key;
use actix_web::{App, HttpServer, web};
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
    use session_actix::Session;

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

mod peer {
    use actix_session::Session;
    use bench::Typical;

    pub(crate) async fn init(session: Session) -> &'static str {
        session
            .insert("data", Typical::sample())
            .expect("serializes");
        "ok"
    }
    pub(crate) async fn write(session: Session) -> String {
        let mut value: Typical = session.get("data").ok().flatten().unwrap_or_default();
        value.counter += 1;
        session.insert("data", &value).expect("serializes");
        value.counter.to_string()
    }
    pub(crate) async fn read(session: Session) -> String {
        let value: Typical = session.get("data").ok().flatten().unwrap_or_default();
        value.name
    }
}

fn main() -> std::io::Result<()> {
    let (variant, port) = bench::args(&[
        "none",
        "ours",
        "ours-encrypted",
        "ours-memory",
        "ours-redis",
        "actix-session",
        "actix-session-private",
        #[cfg(feature = "store-peers")]
        "actix-session-redis",
    ]);
    actix_web::rt::System::new().block_on(async move {
        let ours =
            session_actix::SessionMiddleware::<Typical>::new(bench::our_config(&variant).await)
                .expect("config");
        let private = variant == "actix-session-private";
        let server = match variant.as_str() {
            "none" => HttpServer::new(|| {
                App::new()
                    .route("/init", web::get().to(none_init))
                    .route("/write", web::get().to(none_write))
                    .route("/read", web::get().to(none_read))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run(),
            "ours" | "ours-encrypted" | "ours-memory" | "ours-redis" => {
                HttpServer::new(move || {
                    App::new()
                        .wrap(ours.clone())
                        .route("/init", web::get().to(ours::init))
                        .route("/write", web::get().to(ours::write))
                        .route("/read", web::get().to(ours::read))
                })
                .workers(1)
                .bind(("127.0.0.1", port))?
                .run()
            }
            #[cfg(feature = "store-peers")]
            "actix-session-redis" => {
                let store = actix_session::storage::RedisSessionStore::new(bench::redis_url())
                    .await
                    .expect("redis");
                HttpServer::new(move || {
                    let middleware = actix_session::SessionMiddleware::new(
                        store.clone(),
                        Key::from(&bench::PEER_KEY),
                    );
                    App::new()
                        .wrap(middleware)
                        .route("/init", web::get().to(peer::init))
                        .route("/write", web::get().to(peer::write))
                        .route("/read", web::get().to(peer::read))
                })
                .workers(1)
                .bind(("127.0.0.1", port))?
                .run()
            }
            _ => HttpServer::new(move || {
                // `actix-session`: signed (not encrypted) cookies, like ours by default;
                // `actix-session-private`: encrypted (AES-256-GCM), beside `ours-encrypted`.
                let security = if private {
                    CookieContentSecurity::Private
                } else {
                    CookieContentSecurity::Signed
                };
                let store = actix_session::SessionMiddleware::builder(
                    CookieSessionStore::default(),
                    Key::from(&bench::PEER_KEY),
                )
                .cookie_content_security(security)
                .build();
                App::new()
                    .wrap(store)
                    .route("/init", web::get().to(peer::init))
                    .route("/write", web::get().to(peer::write))
                    .route("/read", web::get().to(peer::read))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run(),
        };
        server.await
    })
}
