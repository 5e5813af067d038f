//! The demo app on Rocket: `cargo run -p examples --bin rocket-demo`, then open
//! <http://localhost:3000>. Same routes, pages and JSON as `axum-demo`.

use examples::{AppSession, LoginForm};
use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{get, post, routes};
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

fn main() {
    examples::init_logging();
    let settings = examples::settings_from_env().unwrap_or_else(|e| examples::exit_with(&e));
    let fairing = SessionFairing::<AppSession>::new(settings.session)
        .unwrap_or_else(|e| examples::exit_with(&e.to_string()));
    let config = rocket::Config {
        port: settings.addr.port(),
        address: settings.addr.ip(),
        log_level: rocket::config::LogLevel::Critical,
        ..rocket::Config::release_default()
    };
    tracing::info!(
        "rocket demo listening on http://localhost:{}",
        settings.addr.port()
    );
    let app = rocket::custom(config)
        .mount("/", routes![home, login, logout, me, peek])
        .attach(fairing);
    if let Err(error) = rocket::execute(app.launch()) {
        examples::exit_with(&format!("server error: {error}"));
    }
}
