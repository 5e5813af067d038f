//! actix-web bench server: `actix-bench <variant> <port>`; variants: `none`, `ours`,
//! `ours-encrypted`, `ours-memory`, `ours-redis`, `layer-floor` (a middleware's glue without a
//! session), `actix-session` (signed cookie),
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

/// `layer-floor`: what a session middleware with our response defaults costs before any
/// session work, the floor under target 1 of issue 11. The shape of
/// `session_actix::SessionMiddleware` (an `Rc` of the inner service, a boxed future, an `Arc`
/// in the request's extensions that the handler takes) and its headers (`Vary: Cookie` and
/// `Cache-Control: private` on every response; a constant `Set-Cookie` after a change). It
/// reads no cookie and verifies, decodes, encodes and signs nothing.
mod layer_floor {
    use std::future::{Future, Ready, ready};
    use std::pin::Pin;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
    use actix_web::http::header::{self, HeaderValue};
    use actix_web::{Error, HttpMessage, HttpRequest};

    /// Whether the handler changed "the session".
    #[derive(Default)]
    struct Changed(AtomicBool);

    #[derive(Clone)]
    pub(crate) struct Floor;

    impl<S, B> Transform<S, ServiceRequest> for Floor
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
        B: 'static,
    {
        type Response = ServiceResponse<B>;
        type Error = Error;
        type Transform = FloorService<S>;
        type InitError = ();
        type Future = Ready<Result<Self::Transform, ()>>;

        fn new_transform(&self, service: S) -> Self::Future {
            ready(Ok(FloorService {
                service: Rc::new(service),
            }))
        }
    }

    pub(crate) struct FloorService<S> {
        service: Rc<S>,
    }

    impl<S, B> Service<ServiceRequest> for FloorService<S>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
        B: 'static,
    {
        type Response = ServiceResponse<B>;
        type Error = Error;
        type Future = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, Error>>>>;

        forward_ready!(service);

        fn call(&self, request: ServiceRequest) -> Self::Future {
            let changed = Arc::new(Changed::default());
            request.extensions_mut().insert(Arc::clone(&changed));
            let service = Rc::clone(&self.service);
            Box::pin(async move {
                let mut response = service.call(request).await?;
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

    fn changed(request: &HttpRequest) -> Arc<Changed> {
        let extensions = request.extensions();
        Arc::clone(
            extensions
                .get::<Arc<Changed>>()
                .expect("the floor middleware"),
        )
    }

    pub(crate) async fn write(request: HttpRequest) -> String {
        changed(&request).0.store(true, Ordering::Relaxed);
        1u64.to_string()
    }
    pub(crate) async fn read(request: HttpRequest) -> String {
        drop(changed(&request));
        String::from("alice")
    }
}

fn main() -> std::io::Result<()> {
    let (variant, port) = bench::args(&[
        "none",
        "ours",
        "ours-encrypted",
        "ours-memory",
        "ours-redis",
        "layer-floor",
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
            "layer-floor" => HttpServer::new(|| {
                App::new()
                    .wrap(layer_floor::Floor)
                    .route("/init", web::get().to(layer_floor::write))
                    .route("/write", web::get().to(layer_floor::write))
                    .route("/read", web::get().to(layer_floor::read))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run(),
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
