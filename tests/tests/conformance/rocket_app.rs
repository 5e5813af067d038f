//! The conformance app on Rocket.

use rocket::{get, post, routes};
use session_rocket::{Session, SessionConfig, SessionFairing};

use crate::harness::{ConformanceSession as S, TestServer, free_port, wait_for};

/// Rocket renders guard failures with its own 500 page; the message naming the fairing is in
/// the log, not the body.
pub(crate) const MISSING_LAYER_HINT: Option<&str> = None;

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

fn serve(fairing: Option<SessionFairing<S>>) -> TestServer {
    let port = free_port();
    let config = rocket::Config {
        port,
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
    let mut app = rocket::custom(config).mount(
        "/",
        routes![
            write, read, untouched, peek, logout, renew, sudo_set, sudo, flash_set, flash
        ],
    );
    if let Some(fairing) = fairing {
        app = app.attach(fairing);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = rocket::execute(async move {
            let ignited = app.ignite().await?;
            tx.send(ignited.shutdown()).expect("handle");
            ignited.launch().await
        });
    });
    let shutdown = rx.recv().expect("rocket ignited");
    wait_for(port);
    TestServer {
        base: format!("http://127.0.0.1:{port}"),
        stop: Some(Box::new(move || shutdown.notify())),
    }
}

pub(crate) fn start(config: SessionConfig) -> TestServer {
    serve(Some(SessionFairing::new(config).expect("config")))
}

pub(crate) fn start_without_layer(_config: SessionConfig) -> TestServer {
    serve(None)
}
