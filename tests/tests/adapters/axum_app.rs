//! The conformance app on axum.

use axum::Router;
use axum::routing::{get, post};
use session_axum::{Session, SessionConfig, SessionLayer};

use session_testing::adapter::{ConformanceApp, ConformanceSession as S, TestServer, bind};

/// The conformance app on axum.
pub(crate) struct Axum;

impl ConformanceApp for Axum {
    fn name(&self) -> &'static str {
        "axum"
    }
    fn missing_middleware_hint(&self) -> Option<&'static str> {
        Some("SessionLayer::<ConformanceSession>")
    }
    fn start(&self, config: Option<SessionConfig>) -> TestServer {
        match config {
            Some(config) => serve(routes().layer(SessionLayer::<S>::new(config).expect("config"))),
            None => serve(routes()),
        }
    }
}

fn routes() -> Router {
    Router::new()
        .route(
            "/write",
            get(|mut s: Session<S>| async move {
                s.counter += 1;
                s.counter.to_string()
            }),
        )
        .route(
            "/read",
            get(|s: Session<S>| async move { s.counter.to_string() }),
        )
        .route("/untouched", get(|| async { "ok" }))
        .route(
            "/peek",
            get(|mut s: Session<S>| async move {
                s.leave_cookie_unchanged();
                s.counter.to_string()
            }),
        )
        .route(
            "/logout",
            post(|mut s: Session<S>| async move {
                s.logout();
                "bye"
            }),
        )
        .route(
            "/renew",
            post(|mut s: Session<S>| async move {
                s.renew();
                "renewed"
            }),
        )
        .route(
            "/sudo/set",
            get(|mut s: Session<S>| async move {
                s.sudo.set(true);
                "ok"
            }),
        )
        .route(
            "/sudo",
            get(|s: Session<S>| async move { s.sudo.get().copied().unwrap_or(false).to_string() }),
        )
        .route(
            "/flash/set",
            get(|mut s: Session<S>| async move {
                s.notice.set("hello".into());
                "ok"
            }),
        )
        .route(
            "/fail",
            get(|mut s: Session<S>| async move {
                s.counter += 1;
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "failed")
            }),
        )
        .route(
            "/csrf",
            get(|mut s: Session<S>| async move { s.csrf.issue() }).post(
                |s: Session<S>, headers: axum::http::HeaderMap| async move {
                    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
                    if token.is_some_and(|t| s.csrf.verify(t)) {
                        (axum::http::StatusCode::OK, "ok")
                    } else {
                        (axum::http::StatusCode::FORBIDDEN, "bad token")
                    }
                },
            ),
        )
        .route(
            "/flash",
            get(
                |mut s: Session<S>| async move { s.notice.take().unwrap_or_else(|| "none".into()) },
            ),
        )
}

fn serve(app: Router) -> TestServer {
    let listener = bind();
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("serve");
        });
    });
    TestServer::new(addr, move || {
        let _ = stop_tx.send(());
    })
}
