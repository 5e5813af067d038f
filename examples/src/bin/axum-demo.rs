//! The demo app on axum: `cargo run -p examples --bin axum-demo`, then open
//! <http://localhost:3000>.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use examples::{AppSession, EndSessionForm, LoginForm, PasswordForm};
use metrics_exporter_prometheus::PrometheusHandle;
use session_axum::{Session, SessionLayer};

async fn home(mut session: Session<AppSession>) -> Html<String> {
    Html(examples::home_page(&mut session))
}

async fn login(
    mut session: Session<AppSession>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if examples::credentials_valid(&form) {
        session.renew();
        session.remember(form.remembers());
        // Cookie mode has no per-user index: there these answer `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        examples::ignore_no_store(session.set_device(examples::device_label(user_agent)));
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

fn json(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

/// The devices of the signed-in user, or the response to answer instead.
async fn devices_of(session: &Session<AppSession>) -> Result<Vec<examples::Device>, Response> {
    if session.user.is_none() {
        let (status, body) = examples::anonymous();
        return Err(json(status, body));
    }
    examples::devices(
        session.sessions_of_user().await,
        session.issued_at(),
        session.last_active(),
    )
    .map_err(|e| {
        let (status, body) = examples::store_failed(&e);
        json(status, body)
    })
}

async fn sessions(session: Session<AppSession>) -> Response {
    match devices_of(&session).await {
        Ok(devices) => json(200, examples::devices_json(&devices)),
        Err(response) => response,
    }
}

async fn devices_page(session: Session<AppSession>) -> Response {
    match devices_of(&session).await {
        Ok(devices) => {
            let user = session.user.clone().unwrap_or_default();
            Html(examples::devices_page(&user, &devices)).into_response()
        }
        Err(response) => response,
    }
}

/// Ends the user's other sessions: in store mode through the store, in cookie mode through
/// the revocation check. Answers how many ended (`None`: not known, cookie mode).
async fn end_others(session: &mut Session<AppSession>) -> Result<Option<usize>, Response> {
    if session.user.is_none() {
        let (status, body) = examples::anonymous();
        return Err(json(status, body));
    }
    match session.end_other_sessions().await {
        Ok(ended) => Ok(Some(ended)),
        Err(session_axum::store::StoreError::NoStore) => {
            examples::end_other_cookie_sessions(session);
            Ok(None)
        }
        Err(error) => {
            let (status, body) = examples::store_failed(&error);
            Err(json(status, body))
        }
    }
}

async fn end_others_api(mut session: Session<AppSession>) -> Response {
    match end_others(&mut session).await {
        Ok(ended) => json(200, serde_json::json!({ "ended": ended })),
        Err(response) => response,
    }
}

async fn end_others_form(mut session: Session<AppSession>) -> Response {
    match end_others(&mut session).await {
        Ok(_) => Redirect::to("/devices").into_response(),
        Err(response) => response,
    }
}

async fn end_one(session: Session<AppSession>, Form(form): Form<EndSessionForm>) -> Response {
    if session.user.is_none() {
        let (status, body) = examples::anonymous();
        return json(status, body);
    }
    let Some(key) = examples::session_key(&form) else {
        return json(400, serde_json::json!({ "error": "not a session key" }));
    };
    match session.end_session(&key).await {
        Ok(_) => Redirect::to("/devices").into_response(),
        Err(error) => {
            let (status, body) = examples::store_failed(&error);
            json(status, body)
        }
    }
}

async fn password(mut session: Session<AppSession>, Form(form): Form<PasswordForm>) -> Response {
    if let Err((status, body)) = examples::change_password(&mut session, &form) {
        return json(status, body);
    }
    session.renew();
    // Store mode: the other sessions' records go now (the revocation check would refuse
    // them on their next request anyway).
    if let Err(error) = session.end_other_sessions().await
        && !matches!(error, session_axum::store::StoreError::NoStore)
    {
        let (status, body) = examples::store_failed(&error);
        return json(status, body);
    }
    Redirect::to("/").into_response()
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
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/end-others", post(end_others_api))
        .route("/devices", get(devices_page))
        .route("/devices/end", post(end_one))
        .route("/devices/end-others", post(end_others_form))
        .route("/password", post(password))
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
