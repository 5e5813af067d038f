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

#![deny(missing_docs)]

use std::marker::PhantomData;
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::{Data, Request, Response};
/// session-core itself, for `#[derive(SessionData)]` in crates that depend only on this one.
#[doc(hidden)]
pub use session_core as __session_core;
#[doc(inline)]
pub use session_core::{
    ConfigError, CookieSettings, Expiring, Flash, Key, Keyring, LoadStatus, ManualClock,
    RotationPolicy, SameSite, Schema, SessionConfig, SessionData, SessionManager, store,
};
use session_core::{LendError, LentSession, RequestOrigin, RequestSession, SetCookie};

/// A fairing that gives handlers a [`Session<T>`] and writes the session cookie after them.
pub struct SessionFairing<T> {
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<T: SessionData> SessionFairing<T> {
    /// A fairing for `config`.
    ///
    /// # Errors
    /// A [`ConfigError`] when the settings contradict each other, so the application stops at
    /// start-up with a message that says how to fix them.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_manager(SessionManager::new(config)?))
    }

    /// A fairing sharing an existing manager (and its keys) with other code.
    pub fn from_manager(manager: SessionManager) -> Self {
        Self {
            manager,
            _data: PhantomData,
        }
    }
}

/// What the request-local cache holds: `None` when the fairing is not attached.
type Cached<T> = Option<Arc<RequestSession<T>>>;

#[rocket::async_trait]
impl<T: SessionData> Fairing for SessionFairing<T> {
    fn info(&self) -> Info {
        Info {
            name: "typed sessions",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
        let header = |name: &str| request.headers().get_one(name);
        let origin = RequestOrigin {
            // Always false unless Rocket's `tls` feature is on and configured.
            scheme: request.rocket().config().tls_enabled().then_some("https"),
            host: header("host"),
            forwarded_proto: header("x-forwarded-proto"),
            forwarded: header("forwarded"),
        };
        let session = RequestSession::<T>::new(self.manager.clone(), &origin);
        request.local_cache(|| -> Cached<T> { Some(session) });
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(session) = request.local_cache(|| -> Cached<T> { None }).clone() else {
            return;
        };
        match session.finish().await {
            Ok(None) => {}
            Ok(Some(set_cookie)) => {
                response.adjoin_raw_header("Set-Cookie", set_cookie.into_header_value());
                response.set_raw_header("Cache-Control", SetCookie::CACHE_CONTROL);
            }
            // Logged by core; the handler's changes are lost, so say so: 503 when the store
            // is down (retry later), 500 otherwise.
            Err(error) => {
                let (status, body) = if error.status_code() == 503 {
                    (Status::ServiceUnavailable, session_core::STORE_UNAVAILABLE)
                } else {
                    (Status::InternalServerError, "session could not be saved")
                };
                response.set_status(status);
                response.set_sized_body(body.len(), std::io::Cursor::new(body));
            }
        }
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::__session_extractor!(Session);

/// Why a [`Session<T>`] guard failed: a mistake in the application, not the client.
///
/// Its `Debug` output is the full message, because that is what Rocket prints when a request
/// guard fails ("Request guard `Session<AppSession>` failed: ...").
#[non_exhaustive]
pub enum SessionRejection {
    /// No [`SessionFairing<T>`] is attached for this `T`.
    MissingFairing {
        /// The session type asked for.
        type_name: &'static str,
    },
    /// The same request asked for the session twice at once.
    AlreadyExtracted,
    /// Store mode: the session store cannot be reached (already logged). The guard fails
    /// with `503 Service Unavailable`: going on without the session would log the user out.
    StoreUnavailable,
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFairing { type_name } => write!(
                f,
                "Session<{type_name}> needs its fairing: add `.attach(SessionFairing::<{type_name}>::new(config)?)` to the rocket"
            ),
            Self::AlreadyExtracted => std::fmt::Display::fmt(&session_core::AlreadyLent, f),
            Self::StoreUnavailable => f.write_str(session_core::STORE_UNAVAILABLE),
        }
    }
}

impl std::fmt::Debug for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SessionRejection {}

#[rocket::async_trait]
impl<'r, T: SessionData> FromRequest<'r> for Session<T> {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(session) = request.local_cache(|| -> Cached<T> { None }).clone() else {
            let rejection = SessionRejection::MissingFairing {
                type_name: RequestSession::<T>::type_name(),
            };
            tracing::error!(target: "session", "{rejection}");
            return Outcome::Error((Status::InternalServerError, rejection));
        };
        match session.lend(request.headers().get("cookie")).await {
            Ok(lent) => Outcome::Success(Self(lent)),
            Err(LendError::AlreadyLent(_)) => Outcome::Error((
                Status::InternalServerError,
                SessionRejection::AlreadyExtracted,
            )),
            Err(_) => Outcome::Error((
                Status::ServiceUnavailable,
                SessionRejection::StoreUnavailable,
            )),
        }
    }
}
