//! The conformance app on Rocket.

use rocket::{get, post, routes};
use session_rocket::{Session, SessionConfig, SessionFairing};

use session_testing::adapter::{ConformanceApp, ConformanceSession as S, TestServer};

/// The conformance app on Rocket.
pub(crate) struct Rocket;

impl ConformanceApp for Rocket {
    fn name(&self) -> &'static str {
        "rocket"
    }
    /// Rocket renders guard failures with its own 500 page; the message naming the fairing is
    /// in the log, not the body.
    fn missing_middleware_hint(&self) -> Option<&'static str> {
        None
    }
    fn start(&self, config: Option<SessionConfig>) -> TestServer {
        serve(config.map(|config| SessionFairing::new(config).expect("config")))
    }
}

#[get("/write")]
fn write(mut s: Session<S>) -> String {
    s.counter += 1;
    s.counter.to_string()
}
#[get("/read")]
fn read(s: Session<S>) -> String {
    s.counter.to_string()
}
#[get("/untouched")]
fn untouched() -> &'static str {
    "ok"
}
#[get("/peek")]
fn peek(mut s: Session<S>) -> String {
    s.leave_cookie_unchanged();
    s.counter.to_string()
}
#[post("/logout")]
fn logout(mut s: Session<S>) -> &'static str {
    s.logout();
    "bye"
}
#[post("/renew")]
fn renew(mut s: Session<S>) -> &'static str {
    s.renew();
    "renewed"
}
#[get("/sudo/set")]
fn sudo_set(mut s: Session<S>) -> &'static str {
    s.sudo.set(true);
    "ok"
}
#[get("/sudo")]
fn sudo(s: Session<S>) -> String {
    s.sudo.get().copied().unwrap_or(false).to_string()
}
#[get("/flash/set")]
fn flash_set(mut s: Session<S>) -> &'static str {
    s.notice.set("hello".into());
    "ok"
}
#[get("/flash")]
fn flash(mut s: Session<S>) -> String {
    s.notice.take().unwrap_or_else(|| "none".into())
}

#[get("/fail")]
fn fail(mut s: Session<S>) -> (rocket::http::Status, &'static str) {
    s.counter += 1;
    (rocket::http::Status::InternalServerError, "failed")
}
#[get("/csrf")]
fn csrf_issue(mut s: Session<S>) -> String {
    s.csrf.issue()
}
/// The `x-csrf-token` header, if any.
struct CsrfHeader(Option<String>);
#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for CsrfHeader {
    type Error = std::convert::Infallible;
    async fn from_request(
        request: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let token = request.headers().get_one("x-csrf-token").map(str::to_owned);
        rocket::request::Outcome::Success(Self(token))
    }
}
#[post("/csrf")]
fn csrf_verify(s: Session<S>, token: CsrfHeader) -> (rocket::http::Status, &'static str) {
    if token.0.is_some_and(|t| s.csrf.verify(&t)) {
        (rocket::http::Status::Ok, "ok")
    } else {
        (rocket::http::Status::Forbidden, "bad token")
    }
}

fn serve(fairing: Option<SessionFairing<S>>) -> TestServer {
    let config = rocket::Config {
        // Rocket binds port 0 to a free port and reports it at liftoff: no window for another
        // process to take it.
        port: 0,
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        workers: 1,
        log_level: rocket::config::LogLevel::Off,
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            grace: 0,
            mercy: 0,
            ..Default::default()
        },
        ..rocket::Config::debug_default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut app = rocket::custom(config)
        .mount(
            "/",
            routes![
                write,
                read,
                untouched,
                peek,
                logout,
                renew,
                sudo_set,
                sudo,
                flash_set,
                flash,
                fail,
                csrf_issue,
                csrf_verify
            ],
        )
        .attach(rocket::fairing::AdHoc::on_liftoff(
            "report the port",
            move |rocket| {
                let _ = tx.send((rocket.config().port, rocket.shutdown()));
                Box::pin(async {})
            },
        ));
    if let Some(fairing) = fairing {
        app = app.attach(fairing);
    }
    std::thread::spawn(move || {
        let _ = rocket::execute(app.launch());
    });
    let (port, shutdown) = rx.recv().expect("rocket lifted off");
    TestServer::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        move || shutdown.notify(),
    )
}
