//! The demo app on Rocket: `cargo run -p examples --bin rocket-demo`, then open
//! <http://localhost:3000>. Same routes, pages and JSON as `axum-demo`.

use examples::{AppSession, LoginForm};
use metrics_exporter_prometheus::PrometheusHandle;
use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{State, get, post, routes};
use session_rocket::{Session, SessionFairing};

#[derive(FromForm)]
struct LoginFields {
    username: String,
    password: String,
}

fn json(status: u16, body: &serde_json::Value) -> (Status, (ContentType, String)) {
    (
        Status::from_code(status).unwrap_or(Status::Ok),
        (ContentType::JSON, body.to_string()),
    )
}

#[get("/")]
fn home(mut session: Session<AppSession>) -> RawHtml<String> {
    RawHtml(examples::home_page(&mut session))
}

#[post("/login", data = "<fields>")]
fn login(
    mut session: Session<AppSession>,
    fields: Form<LoginFields>,
) -> Result<Redirect, (Status, RawHtml<String>)> {
    let fields = fields.into_inner();
    let form = LoginForm {
        username: fields.username,
        password: fields.password,
    };
    if examples::credentials_valid(&form) {
        session.renew();
        // Cookie mode has no per-user index: there `set_user_key` answers `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
        examples::log_in(&mut session, &form.username);
        Ok(Redirect::to("/"))
    } else {
        Err((Status::Unauthorized, RawHtml(examples::login_failed_page())))
    }
}

#[post("/logout")]
fn logout(mut session: Session<AppSession>) -> Redirect {
    session.logout();
    Redirect::to("/")
}

#[get("/api/me")]
fn me(mut session: Session<AppSession>) -> (Status, (ContentType, String)) {
    let (status, body) = examples::me(&mut session);
    json(status, &body)
}

#[get("/api/peek")]
fn peek(mut session: Session<AppSession>) -> (Status, (ContentType, String)) {
    session.leave_cookie_unchanged();
    let (status, body) = examples::peek(&session);
    json(status, &body)
}

/// `GET /metrics`: the session metrics in Prometheus' text format.
#[get("/metrics")]
fn metrics(metrics: &State<PrometheusHandle>) -> (ContentType, String) {
    let content_type =
        ContentType::parse_flexible(examples::METRICS_CONTENT_TYPE).unwrap_or(ContentType::Plain);
    (content_type, metrics.render())
}

/// `bytes` random bytes from the OS, as hex.
fn random_hex(bytes: usize) -> String {
    let key = session_core::Key::generate_with_len(bytes)
        .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key.to_base64().as_str(),
    )
    .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    examples::init_logging();
    let metrics_handle = examples::install_metrics().unwrap_or_else(|e| examples::exit_with(&e));
    let settings = examples::settings_from_env().unwrap_or_else(|e| examples::exit_with(&e));
    // Through figment rather than `rocket::Config { .. }`: when another crate in the build turns
    // on Rocket's `secrets` feature, a release build refuses to start without `secret_key`,
    // and that field only exists with the feature. The demo does not use Rocket's private
    // cookies; the key is random and unused.
    let addr = settings.addr;
    let config = rocket::Config::figment()
        .merge(("port", settings.addr.port()))
        .merge(("address", settings.addr.ip()))
        .merge(("log_level", rocket::config::LogLevel::Critical))
        .merge(("secret_key", random_hex(32)));
    let launch = async move {
        // Connected on the runtime that serves requests.
        let session = settings
            .session_config()
            .await
            .unwrap_or_else(|e| examples::exit_with(&e));
        let fairing = SessionFairing::<AppSession>::new(session)
            .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
        build(config, fairing, metrics_handle).launch().await
    };
    if let Err(error) = rocket::execute(launch) {
        // The same message as the other demos when the port is taken.
        let message = match error.kind() {
            rocket::error::ErrorKind::Bind(cause) => format!("cannot listen on {addr}: {cause}"),
            _ => format!("server error: {error}"),
        };
        examples::exit_with(&message);
    }
}

fn build(
    config: rocket::figment::Figment,
    fairing: SessionFairing<AppSession>,
    metrics_handle: PrometheusHandle,
) -> rocket::Rocket<rocket::Build> {
    rocket::custom(config)
        .mount("/", routes![home, login, logout, me, peek, metrics])
        .manage(metrics_handle)
        .attach(fairing)
        // Announced once the port is bound, like the other demos.
        .attach(AdHoc::on_liftoff("announce", |rocket| {
            Box::pin(async move {
                tracing::info!(
                    "rocket demo listening on http://localhost:{}",
                    rocket.config().port
                );
            })
        }))
}
