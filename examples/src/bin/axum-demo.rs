//! The demo app on axum: `cargo run -p examples --bin axum-demo`, then open
//! <http://localhost:3000>.

use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{AppSession, LoginForm};
use metrics_exporter_prometheus::PrometheusHandle;
use session_axum::{Session, SessionLayer};

async fn home(mut session: Session<AppSession>) -> Html<String> {
    Html(examples::home_page(&mut session))
}

async fn login(mut session: Session<AppSession>, Form(form): Form<LoginForm>) -> Response {
    if examples::credentials_valid(&form) {
        session.renew();
        // Cookie mode has no per-user index: there `set_user_key` answers `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
        examples::log_in(&mut session, &form.username);
        Redirect::to("/").into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Html(examples::login_failed_page()),
        )
            .into_response()
    }
}

async fn logout(mut session: Session<AppSession>) -> Redirect {
    session.logout();
    Redirect::to("/")
}

async fn me(mut session: Session<AppSession>) -> Response {
    let (status, body) = examples::me(&mut session);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

async fn peek(mut session: Session<AppSession>) -> Response {
    session.leave_cookie_unchanged();
    let (status, body) = examples::peek(&session);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

/// `GET /metrics`: the session metrics in Prometheus' text format.
async fn metrics(State(metrics): State<PrometheusHandle>) -> Response {
    (
        [(header::CONTENT_TYPE, examples::METRICS_CONTENT_TYPE)],
        metrics.render(),
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    examples::init_logging();
    let metrics_handle = examples::install_metrics().unwrap_or_else(|e| examples::exit_with(&e));
    let settings = examples::settings_from_env().unwrap_or_else(|e| examples::exit_with(&e));
    let config = settings
        .session_config()
        .await
        .unwrap_or_else(|e| examples::exit_with(&e));
    let layer = SessionLayer::<AppSession>::new(config)
        .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/peek", get(peek))
        .route("/metrics", get(metrics))
        .layer(layer)
        .with_state(metrics_handle);
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .unwrap_or_else(|e| {
            examples::exit_with(&format!("cannot listen on {}: {e}", settings.addr))
        });
    tracing::info!(
        "axum demo listening on http://localhost:{}",
        settings.addr.port()
    );
    if let Err(error) = axum::serve(listener, app).await {
        examples::exit_with(&format!("server error: {error}"));
    }
}
