//! The demo app on actix-web: `cargo run -p examples --bin actix-demo`, then open
//! <http://localhost:3000>. Same routes, pages and JSON as `axum-demo`.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, guard, web};
use examples::{AppSession, EndSessionForm, LoginForm, PasswordForm};
use metrics_exporter_prometheus::PrometheusHandle;
use session_actix::store::StoreError;
use session_actix::{Session, SessionMiddleware};

fn json(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).json(body)
}

fn redirect_home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", "/"))
        .finish()
}

async fn home(mut session: Session<AppSession>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(examples::home_page(&mut session))
}

async fn login(
    mut session: Session<AppSession>,
    request: actix_web::HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if examples::credentials_valid(&form) {
        session.renew();
        session.remember(form.remembers());
        // Cookie mode has no per-user index: there these answer `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok());
        examples::ignore_no_store(session.set_device(examples::device_label(user_agent)));
        examples::log_in(&mut session, &form.username);
        redirect_home()
    } else {
        HttpResponse::Unauthorized()
            .content_type("text/html; charset=utf-8")
            .body(examples::login_failed_page())
    }
}

async fn logout(mut session: Session<AppSession>) -> HttpResponse {
    session.logout();
    redirect_home()
}

async fn me(mut session: Session<AppSession>) -> HttpResponse {
    let (status, body) = examples::me(&mut session);
    json(status, body)
}

async fn peek(mut session: Session<AppSession>) -> HttpResponse {
    session.leave_cookie_unchanged();
    let (status, body) = examples::peek(&session);
    json(status, body)
}

fn redirect_devices() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", "/devices"))
        .finish()
}

fn failed(status_and_body: (u16, serde_json::Value)) -> HttpResponse {
    json(status_and_body.0, status_and_body.1)
}

/// The devices of the signed-in user, or the response to answer instead.
async fn devices_of(session: &Session<AppSession>) -> Result<Vec<examples::Device>, HttpResponse> {
    if session.user.is_none() {
        return Err(failed(examples::anonymous()));
    }
    examples::devices(
        session.sessions_of_user().await,
        session.issued_at(),
        session.last_active(),
    )
    .map_err(|e| failed(examples::store_failed(&e)))
}

async fn sessions(session: Session<AppSession>) -> HttpResponse {
    match devices_of(&session).await {
        Ok(devices) => json(200, examples::devices_json(&devices)),
        Err(response) => response,
    }
}

async fn devices_page(session: Session<AppSession>) -> HttpResponse {
    match devices_of(&session).await {
        Ok(devices) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(examples::devices_page(
                session.user.as_deref().unwrap_or_default(),
                &devices,
            )),
        Err(response) => response,
    }
}

/// Ends the user's other sessions: in store mode through the store, in cookie mode through
/// the revocation check. Answers how many ended (`None`: not known, cookie mode).
async fn end_others(session: &mut Session<AppSession>) -> Result<Option<usize>, HttpResponse> {
    if session.user.is_none() {
        return Err(failed(examples::anonymous()));
    }
    match session.end_other_sessions().await {
        Ok(ended) => Ok(Some(ended)),
        Err(StoreError::NoStore) => {
            examples::end_other_cookie_sessions(session);
            Ok(None)
        }
        Err(error) => Err(failed(examples::store_failed(&error))),
    }
}

async fn end_others_api(mut session: Session<AppSession>) -> HttpResponse {
    match end_others(&mut session).await {
        Ok(ended) => json(200, serde_json::json!({ "ended": ended })),
        Err(response) => response,
    }
}

async fn end_others_form(mut session: Session<AppSession>) -> HttpResponse {
    match end_others(&mut session).await {
        Ok(_) => redirect_devices(),
        Err(response) => response,
    }
}

async fn end_one(session: Session<AppSession>, form: web::Form<EndSessionForm>) -> HttpResponse {
    if session.user.is_none() {
        return failed(examples::anonymous());
    }
    let Some(key) = examples::session_key(&form) else {
        return json(400, serde_json::json!({ "error": "not a session key" }));
    };
    match session.end_session(&key).await {
        Ok(_) => redirect_devices(),
        Err(error) => failed(examples::store_failed(&error)),
    }
}

async fn password(mut session: Session<AppSession>, form: web::Form<PasswordForm>) -> HttpResponse {
    if let Err(answer) = examples::change_password(&mut session, &form) {
        return failed(answer);
    }
    session.renew();
    // Store mode: the other sessions' records go now (the revocation check would refuse
    // them on their next request anyway).
    match session.end_other_sessions().await {
        Ok(_) | Err(StoreError::NoStore) => redirect_home(),
        Err(error) => failed(examples::store_failed(&error)),
    }
}

/// `GET /metrics`: the session metrics in Prometheus' text format.
async fn metrics(metrics: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(examples::METRICS_CONTENT_TYPE)
        .body(metrics.render())
}

/// A route for `GET` that also answers `HEAD`, as axum and Rocket do for GET routes
/// (actix-web's `web::get()` matches `GET` only).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

fn main() {
    examples::init_logging();
    let metrics_handle =
        web::Data::new(examples::install_metrics().unwrap_or_else(|e| examples::exit_with(&e)));
    let settings = examples::settings_from_env().unwrap_or_else(|e| examples::exit_with(&e));
    let addr = settings.addr;
    let result = actix_web::rt::System::new().block_on(async move {
        let config = settings
            .session_config()
            .await
            .unwrap_or_else(|e| examples::exit_with(&e));
        let middleware = SessionMiddleware::<AppSession>::new(config)
            .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(middleware.clone())
                .route("/", get_or_head().to(home))
                .route("/login", web::post().to(login))
                .route("/logout", web::post().to(logout))
                .route("/api/me", get_or_head().to(me))
                .route("/api/peek", get_or_head().to(peek))
                .route("/api/sessions", get_or_head().to(sessions))
                .route("/api/sessions/end-others", web::post().to(end_others_api))
                .route("/devices", get_or_head().to(devices_page))
                .route("/devices/end", web::post().to(end_one))
                .route("/devices/end-others", web::post().to(end_others_form))
                .route("/password", web::post().to(password))
                .route("/metrics", get_or_head().to(metrics))
                .app_data(metrics_handle.clone())
        })
        .bind(addr)
        .unwrap_or_else(|e| examples::exit_with(&format!("cannot listen on {addr}: {e}")));
        tracing::info!("actix demo listening on http://localhost:{}", addr.port());
        server.run().await
    });
    if let Err(error) = result {
        examples::exit_with(&format!("server error: {error}"));
    }
}
