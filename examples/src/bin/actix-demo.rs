//! The demo app on actix-web: `cargo run -p examples --bin actix-demo`, then open
//! <http://localhost:3000>. Same routes, pages and JSON as `axum-demo`.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, guard, web};
use examples::{AppSession, LoginForm};
use metrics_exporter_prometheus::PrometheusHandle;
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

async fn login(mut session: Session<AppSession>, form: web::Form<LoginForm>) -> HttpResponse {
    if examples::credentials_valid(&form) {
        session.renew();
        // Cookie mode has no per-user index: there `set_user_key` answers `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
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
