//! The conformance app on axum.

use axum::Router;
use axum::routing::{get, post};
use session_axum::{Session, SessionConfig, SessionLayer};

use crate::harness::{ConformanceSession as S, TestServer, free_port, wait_for};

pub(crate) const MISSING_LAYER_HINT: Option<&str> = Some("SessionLayer::<ConformanceSession>");

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
            "/flash",
            get(
                |mut s: Session<S>| async move { s.notice.take().unwrap_or_else(|| "none".into()) },
            ),
        )
}

fn serve(app: Router) -> TestServer {
    let port = free_port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .expect("bind");
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("serve");
        });
    });
    wait_for(port);
    TestServer {
        base: format!("http://127.0.0.1:{port}"),
        stop: Some(Box::new(move || {
            let _ = stop_tx.send(());
        })),
    }
}

pub(crate) fn start(config: SessionConfig) -> TestServer {
    serve(routes().layer(SessionLayer::<S>::new(config).expect("config")))
}

pub(crate) fn start_without_layer(_config: SessionConfig) -> TestServer {
    serve(routes())
}
