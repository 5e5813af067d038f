//! The conformance app on actix-web.

use actix_web::{App, HttpServer, web};
use session_actix::{Session, SessionConfig, SessionMiddleware};

use session_testing::adapter::{ConformanceApp, ConformanceSession as S, TestServer, bind};

/// The conformance app on actix-web.
pub(crate) struct Actix;

impl ConformanceApp for Actix {
    fn name(&self) -> &'static str {
        "actix"
    }
    fn missing_middleware_hint(&self) -> Option<&'static str> {
        Some(".wrap(SessionMiddleware::<ConformanceSession>")
    }
    fn start(&self, config: Option<SessionConfig>) -> TestServer {
        serve(config.map(|config| SessionMiddleware::new(config).expect("config")))
    }
}

async fn write(mut s: Session<S>) -> String {
    s.counter += 1;
    s.counter.to_string()
}
async fn read(s: Session<S>) -> String {
    s.counter.to_string()
}
async fn untouched() -> &'static str {
    "ok"
}
async fn peek(mut s: Session<S>) -> String {
    s.leave_cookie_unchanged();
    s.counter.to_string()
}
async fn logout(mut s: Session<S>) -> &'static str {
    s.logout();
    "bye"
}
async fn renew(mut s: Session<S>) -> &'static str {
    s.renew();
    "renewed"
}
async fn sudo_set(mut s: Session<S>) -> &'static str {
    s.sudo.set(true);
    "ok"
}
async fn sudo(s: Session<S>) -> String {
    s.sudo.get().copied().unwrap_or(false).to_string()
}
async fn flash_set(mut s: Session<S>) -> &'static str {
    s.notice.set("hello".into());
    "ok"
}
async fn flash(mut s: Session<S>) -> String {
    s.notice.take().unwrap_or_else(|| "none".into())
}

async fn fail(mut s: Session<S>) -> actix_web::HttpResponse {
    s.counter += 1;
    actix_web::HttpResponse::InternalServerError().body("failed")
}
async fn csrf_issue(mut s: Session<S>) -> String {
    s.csrf.issue()
}
async fn csrf_verify(s: Session<S>, request: actix_web::HttpRequest) -> actix_web::HttpResponse {
    let token = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok());
    if token.is_some_and(|t| s.csrf.verify(t)) {
        actix_web::HttpResponse::Ok().body("ok")
    } else {
        actix_web::HttpResponse::Forbidden().body("bad token")
    }
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/write", web::get().to(write))
        .route("/read", web::get().to(read))
        .route("/untouched", web::get().to(untouched))
        .route("/peek", web::get().to(peek))
        .route("/logout", web::post().to(logout))
        .route("/renew", web::post().to(renew))
        .route("/sudo/set", web::get().to(sudo_set))
        .route("/sudo", web::get().to(sudo))
        .route("/flash/set", web::get().to(flash_set))
        .route("/flash", web::get().to(flash))
        .route("/fail", web::get().to(fail))
        .route("/csrf", web::get().to(csrf_issue))
        .route("/csrf", web::post().to(csrf_verify));
}

fn serve(middleware: Option<SessionMiddleware<S>>) -> TestServer {
    let listener = bind();
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = match middleware {
                Some(middleware) => {
                    HttpServer::new(move || App::new().wrap(middleware.clone()).configure(routes))
                        .workers(1)
                        .disable_signals()
                        .listen(listener)
                        .expect("listen")
                        .run()
                }
                None => HttpServer::new(|| App::new().configure(routes))
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run(),
            };
            tx.send(server.handle()).expect("handle");
            server.await
        })
    });
    let handle = rx.recv().expect("server started");
    TestServer::new(addr, move || pollster::block_on(handle.stop(false)))
}
