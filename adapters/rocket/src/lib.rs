//! Typed, signed, versioned sessions for [Rocket](https://rocket.rs) 0.5.
//!
//! Attach [`SessionFairing`] and take [`Session<T>`] as a request guard; `T` is your session
//! struct. The session is decoded only when a handler asks for it, and the cookie is written
//! only when the session changed, a re-issue is due, or the handler logged out.
//!
//! ```no_run
//! use rocket::{get, routes};
//! use serde::{Deserialize, Serialize};
//! use session_rocket::{Keyring, Session, SessionConfig, SessionData, SessionFairing};
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "app")]
//! struct AppSession {
//!     visits: u64,
//! }
//!
//! #[get("/")]
//! fn home(mut session: Session<AppSession>) -> String {
//!     session.visits += 1;
//!     format!("visit {}", session.visits)
//! }
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let fairing = SessionFairing::<AppSession>::new(SessionConfig::new(Keyring::from_env("SESSION_KEYS")?))?;
//! rocket::execute(rocket::build().mount("/", routes![home]).attach(fairing).launch())?;
//! # Ok(()) }
//! ```
//!
//! A rejected cookie (tampered, expired, unknown key, another schema) never fails the
//! request: the handler gets a fresh session and one `tracing` event records why. Without the
//! fairing the guard fails with `500` and logs which fairing to attach.
//!
//! Feature `metrics` (off by default) counts sessions loaded, created, renewed and ended,
//! rejections by reason, and store latency and errors by operation through the `metrics`
//! facade crate: the table of names is in `session-core`'s crate docs, under "Metrics".
//!
//! # Testing your handlers
//! [`SessionFairing::cookie_for`] makes the `Cookie` of a given session under your own
//! configuration, and [`SessionFairing::session_from_set_cookie`] reads the session back out
//! of a response. With a [`ManualClock`], a test moves time past the session's deadlines. In
//! store mode both go through the store. A complete test, with Rocket's
//! `local::asynchronous::Client`:
//!
//! ```
//! use rocket::http::{Header, Status};
//! use rocket::local::asynchronous::Client;
//! use rocket::{get, routes};
//! use serde::{Deserialize, Serialize};
//! use session_rocket::time::{Duration, OffsetDateTime};
//! use session_rocket::{Keyring, ManualClock, Session, SessionConfig, SessionData, SessionFairing};
//!
//! #[derive(SessionData, Serialize, Deserialize, Default, Debug, PartialEq)]
//! #[session(name = "app")]
//! struct AppSession {
//!     user_id: Option<u64>,
//!     visits: u64,
//! }
//!
//! #[get("/")]
//! fn home(mut session: Session<AppSession>) -> String {
//!     session.visits += 1;
//!     format!("user {:?}, visit {}", session.user_id, session.visits)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # rocket::execute(async {
//! let clock = ManualClock::new(OffsetDateTime::now_utc());
//! let config = SessionConfig::new(Keyring::ephemeral_for_development())
//!     .idle_timeout(Some(Duration::minutes(30)))
//!     .clock(clock.clone());
//! let sessions = SessionFairing::<AppSession>::new(config)?;
//! let rocket = rocket::build().mount("/", routes![home]).attach(sessions.clone());
//! // Untracked: the test decides which cookies each request sends.
//! let client = Client::untracked(rocket).await?;
//!
//! // A logged-in user, without going through the login form.
//! let cookie = sessions.cookie_for(&AppSession { user_id: Some(7), visits: 0 }).await?;
//! let response = client.get("/").header(Header::new("Cookie", cookie.clone())).dispatch().await;
//! assert_eq!(response.status(), Status::Ok);
//! let set_cookie = response.headers().get_one("Set-Cookie").expect("a cookie").to_owned();
//! assert_eq!(response.into_string().await.as_deref(), Some("user Some(7), visit 1"));
//! // What the handler left in the session.
//! assert_eq!(
//!     sessions.session_from_set_cookie(&set_cookie).await?,
//!     Some(AppSession { user_id: Some(7), visits: 1 }),
//! );
//!
//! // An hour later the session has expired: the handler sees a fresh one.
//! clock.advance(Duration::hours(1));
//! let response = client.get("/").header(Header::new("Cookie", cookie)).dispatch().await;
//! assert_eq!(response.into_string().await.as_deref(), Some("user None, visit 1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

#![deny(missing_docs)]

use std::borrow::Cow;
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Header, HeaderMap, Method, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::route::Route;
use rocket::{Build, Data, Request, Response, Rocket};
use session_core::adapter::{
    HeaderAction, LendError, LentSession, Outcome as SessionOutcome, RequestFacts, RequestSession,
};
session_core::adapter::reexport_application_api!();

/// Why a [`Session<T>`] guard failed: the fairing is missing (500, logged), the session was
/// extracted twice (500), or the store is unavailable (503). Its `Debug` output is the full
/// message, because that is what Rocket prints when a request guard fails.
pub use session_core::adapter::LendError as SessionRejection;

session_core::adapter::middleware! {
    /// A fairing that gives handlers a [`Session<T>`] and writes the session cookie after them.
    SessionFairing
}

/// What the fairing leaves in the request-local cache, for the guard and for `on_response`:
/// one value per request (each lookup of Rocket's cache costs a type-map access).
enum Local<T: SessionData> {
    /// Nothing from the fairing: it is not attached.
    Missing,
    /// The request's session.
    Session(Arc<RequestSession<T>>),
    /// The request was refused before any handler: the outcome to answer.
    Refused(SessionOutcome),
}

/// Where the fairing sends a request it refused before any handler (Rocket's fairings cannot
/// answer a request themselves): a route of its own, mounted at ignite, ranked ahead of every
/// application route, so no application handler runs.
const REFUSED_PATH: &str = "/__session/refused-before-handler";
const REFUSED_ROUTE: &str = "session: request refused before the handler";

#[rocket::async_trait]
impl<T: SessionData> Fairing for SessionFairing<T> {
    fn info(&self) -> Info {
        Info {
            name: "typed sessions",
            kind: Kind::Ignite | Kind::Request | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        if rocket
            .routes()
            .any(|route| route.name.as_deref() == Some(REFUSED_ROUTE))
        {
            return Ok(rocket);
        }
        let mut route = Route::ranked(isize::MIN, Method::Post, REFUSED_PATH, refused);
        route.name = Some(REFUSED_ROUTE.into());
        Ok(rocket.mount("/", vec![route]))
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
        let started = {
            let facts = RequestFacts::new(
                request.method().as_str(),
                request.uri().path().as_str(),
                |name| header(request.headers(), name).map(str::as_bytes),
            )
            // Always false unless Rocket's `tls` feature is on and configured.
            .scheme(request.rocket().config().tls_enabled().then_some("https"));
            RequestSession::<T>::new(self.manager.clone(), &facts)
        };
        match started {
            Ok(session) => {
                request.local_cache(|| Local::Session(session));
            }
            Err(refusal) => {
                request.local_cache(|| Local::<T>::Refused(*refusal));
                request.set_method(Method::Post);
                request.set_uri(Origin::parse(REFUSED_PATH).expect("a valid path"));
            }
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        match request.local_cache(|| Local::<T>::Missing) {
            Local::Missing => {}
            Local::Refused(refusal) => apply(refusal.clone(), response),
            Local::Session(session) => {
                let status = response.status().code;
                apply(session.finish(status).await, response);
            }
        }
    }
}

/// The first value of the request header `name` (lowercase). One pass over the request's few
/// headers, comparing names: Rocket's `HeaderMap::get_one` hashes the name with SipHash on
/// every call, which cost more than everything else the fairing does per request.
fn header<'a>(headers: &'a HeaderMap<'_>, name: &str) -> Option<&'a str> {
    let found = headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    match found.value {
        Cow::Borrowed(value) => Some(value),
        // `HeaderMap::iter` builds each header from a borrow of the map's value, so this does
        // not happen; were it ever to, the lookup by name answers the same.
        Cow::Owned(_) => headers.get_one(name),
    }
}

/// The handler of [`REFUSED_PATH`]; `on_response` writes the refusal over its answer.
fn refused<'r>(request: &'r Request<'_>, _data: Data<'r>) -> rocket::route::BoxFuture<'r> {
    rocket::route::Outcome::from(request, Status::Forbidden).pin()
}

/// Applies core's outcome: its failure replaces the response, then its headers.
fn apply(outcome: SessionOutcome, response: &mut Response<'_>) {
    if let Some(failure) = outcome.failure() {
        let body = failure.body();
        *response = Response::new();
        response.set_status(Status::new(failure.status()));
        response.set_sized_body(body.len(), std::io::Cursor::new(body));
    }
    // Static values (`Vary`, `Cache-Control`) are not copied; a `Set-Cookie` hands its buffer
    // over.
    for change in outcome.into_headers() {
        let (name, action) = (change.name(), change.action());
        let header = Header::new(name, change.into_value());
        match action {
            HeaderAction::Append => response.adjoin_header(header),
            // One pass over the response's few headers instead of a SipHash of the name.
            HeaderAction::IfAbsent
                if response
                    .headers()
                    .iter()
                    .any(|h| h.name.as_str().eq_ignore_ascii_case(name)) => {}
            _ => drop(response.set_header(header)),
        }
    }
}

/// The session of the current request, typed as `T`. Derefs to
/// [`SessionHandle<T>`](session_core::SessionHandle) (the session methods), which derefs to
/// `T`; changing it through `DerefMut` marks the session as changed.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::adapter::session_extractor!(Session);

#[rocket::async_trait]
impl<'r, T: SessionData> FromRequest<'r> for Session<T> {
    type Error = LendError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Local::Session(session) = request.local_cache(|| Local::<T>::Missing) else {
            let error = RequestSession::<T>::not_installed(
                "Session<{T}> needs its fairing: add `.attach(SessionFairing::<{T}>::new(config)?)` to the rocket",
            );
            return Outcome::Error((Status::new(error.status()), error));
        };
        // Every `Cookie` header, not only the first: HTTP/2 clients send one per cookie.
        let cookies = request.headers().get("cookie").map(str::as_bytes);
        match session.lend(cookies).await {
            Ok(lent) => Outcome::Success(Self(lent)),
            Err(error) => Outcome::Error((Status::new(error.status()), error)),
        }
    }
}
