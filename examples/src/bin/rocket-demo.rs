//! The demo app on Rocket: `cargo run -p examples --bin rocket-demo`, then open
//! <http://localhost:3000>. Same routes, pages and JSON as `axum-demo`.

use examples::{AppSession, EndSessionForm, LoginForm, PasswordForm};
use metrics_exporter_prometheus::PrometheusHandle;
use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::{State, get, post, routes};
use session_rocket::store::StoreError;
use session_rocket::{Session, SessionFairing};

#[derive(FromForm)]
struct LoginFields {
    username: String,
    password: String,
    remember: Option<String>,
}

#[derive(FromForm)]
struct PasswordFields {
    new_password: String,
}

#[derive(FromForm)]
struct EndSessionFields {
    session: String,
}

/// The request's `User-Agent`, for the device label.
struct UserAgent(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for UserAgent {
    type Error = std::convert::Infallible;

    async fn from_request(
        request: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(UserAgent(
            request.headers().get_one("user-agent").map(str::to_owned),
        ))
    }
}

type Json = (Status, (ContentType, String));

fn failed((status, body): (u16, serde_json::Value)) -> Json {
    json(status, &body)
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
    user_agent: UserAgent,
    fields: Form<LoginFields>,
) -> Result<Redirect, (Status, RawHtml<String>)> {
    let fields = fields.into_inner();
    let form = LoginForm {
        username: fields.username,
        password: fields.password,
        remember: fields.remember,
    };
    if examples::credentials_valid(&form) {
        session.renew();
        session.remember(form.remembers());
        // Cookie mode has no per-user index: there these answer `NoStore`.
        examples::ignore_no_store(session.set_user_key(&form.username));
        examples::ignore_no_store(
            session.set_device(examples::device_label(user_agent.0.as_deref())),
        );
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

/// The devices of the signed-in user, or the response to answer instead.
async fn devices_of(session: &Session<AppSession>) -> Result<Vec<examples::Device>, Json> {
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

#[get("/api/sessions")]
async fn sessions(session: Session<AppSession>) -> Json {
    match devices_of(&session).await {
        Ok(devices) => json(200, &examples::devices_json(&devices)),
        Err(response) => response,
    }
}

#[get("/devices")]
async fn devices_page(session: Session<AppSession>) -> Result<RawHtml<String>, Json> {
    let devices = devices_of(&session).await?;
    Ok(RawHtml(examples::devices_page(
        session.user.as_deref().unwrap_or_default(),
        &devices,
    )))
}

/// Ends the user's other sessions: in store mode through the store, in cookie mode through
/// the revocation check. Answers how many ended (`None`: not known, cookie mode).
async fn end_others(session: &mut Session<AppSession>) -> Result<Option<usize>, Json> {
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

#[post("/api/sessions/end-others")]
async fn end_others_api(mut session: Session<AppSession>) -> Json {
    match end_others(&mut session).await {
        Ok(ended) => json(200, &serde_json::json!({ "ended": ended })),
        Err(response) => response,
    }
}

#[post("/devices/end-others")]
async fn end_others_form(mut session: Session<AppSession>) -> Result<Redirect, Json> {
    end_others(&mut session).await?;
    Ok(Redirect::to("/devices"))
}

#[post("/devices/end", data = "<fields>")]
async fn end_one(
    session: Session<AppSession>,
    fields: Form<EndSessionFields>,
) -> Result<Redirect, Json> {
    if session.user.is_none() {
        return Err(failed(examples::anonymous()));
    }
    let form = EndSessionForm {
        session: fields.into_inner().session,
    };
    let Some(key) = examples::session_key(&form) else {
        return Err(json(
            400,
            &serde_json::json!({ "error": "not a session key" }),
        ));
    };
    match session.end_session(&key).await {
        Ok(_) => Ok(Redirect::to("/devices")),
        Err(error) => Err(failed(examples::store_failed(&error))),
    }
}

#[post("/password", data = "<fields>")]
async fn password(
    mut session: Session<AppSession>,
    fields: Form<PasswordFields>,
) -> Result<Redirect, Json> {
    let form = PasswordForm {
        new_password: fields.into_inner().new_password,
    };
    examples::change_password(&mut session, &form).map_err(failed)?;
    session.renew();
    // Store mode: the other sessions' records go now (the revocation check would refuse
    // them on their next request anyway).
    match session.end_other_sessions().await {
        Ok(_) | Err(StoreError::NoStore) => Ok(Redirect::to("/")),
        Err(error) => Err(failed(examples::store_failed(&error))),
    }
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
        .mount(
            "/",
            routes![
                home,
                login,
                logout,
                me,
                peek,
                sessions,
                end_others_api,
                devices_page,
                end_one,
                end_others_form,
                password,
                metrics
            ],
        )
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
