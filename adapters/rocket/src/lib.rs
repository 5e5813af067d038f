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
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

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
    RotationPolicy, SameSite, Schema, SessionConfig, SessionData, SessionManager,
};
use session_core::{RequestOrigin, SessionHandle, SetCookie};

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

/// Where the session of one request waits between the fairing and the guard.
struct SessionSlot<T> {
    manager: SessionManager,
    dropped: bool,
    state: Mutex<SlotState<T>>,
}

enum SlotState<T> {
    Untouched,
    Ready(SessionHandle<T>),
    Lent,
}

impl<T> SessionSlot<T> {
    fn take(&self) -> SlotState<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *state, SlotState::Lent)
    }

    fn put(&self, handle: SessionHandle<T>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = SlotState::Ready(handle);
    }
}

/// What the request-local cache holds: `None` when the fairing is not attached.
type Cached<T> = Option<Arc<SessionSlot<T>>>;

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
        let dropped = self.manager.cookie_dropped_by_browsers(&RequestOrigin {
            scheme: None,
            host: header("host"),
            forwarded_proto: header("x-forwarded-proto"),
            forwarded: header("forwarded"),
        });
        let slot = Arc::new(SessionSlot::<T> {
            manager: self.manager.clone(),
            dropped,
            state: Mutex::new(SlotState::Untouched),
        });
        request.local_cache(|| -> Cached<T> { Some(slot) });
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(slot) = request.local_cache(|| -> Cached<T> { None }).clone() else {
            return;
        };
        let mut handle = match slot.take() {
            SlotState::Untouched => return,
            SlotState::Ready(handle) => handle,
            SlotState::Lent => {
                tracing::warn!(target: "session", "a Session<T> outlived its handler; its changes were not saved");
                return;
            }
        };
        match slot.manager.save(&mut handle).await {
            Ok(None) => {}
            Ok(Some(set_cookie)) => {
                response.adjoin_raw_header("Set-Cookie", set_cookie.into_header_value());
                response.set_raw_header("Cache-Control", SetCookie::CACHE_CONTROL);
                if slot.dropped {
                    slot.manager.warn_cookie_dropped_by_browsers();
                }
            }
            Err(error) => {
                // The handler's changes cannot be kept: say so instead of answering as if
                // they were.
                tracing::error!(target: "session", %error, "session not saved");
                const BODY: &str = "session could not be saved";
                response.set_status(Status::InternalServerError);
                response.set_sized_body(BODY.len(), std::io::Cursor::new(BODY));
            }
        }
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed.
pub struct Session<T: SessionData> {
    handle: Option<SessionHandle<T>>,
    slot: Arc<SessionSlot<T>>,
}

impl<T: SessionData> Session<T> {
    fn handle(&self) -> &SessionHandle<T> {
        self.handle.as_ref().expect("present until drop")
    }

    fn handle_mut(&mut self) -> &mut SessionHandle<T> {
        self.handle.as_mut().expect("present until drop")
    }

    /// Ends the session: the data is reset and the response removes the cookie.
    pub fn logout(&mut self) {
        self.handle_mut().logout();
    }

    /// Re-issues the session with a fresh issued-at, keeping the data. Call it at login and
    /// on privilege changes.
    pub fn renew(&mut self) {
        self.handle_mut().renew();
    }

    /// Leaves the cookie as it is for this response: no idle refresh, no re-issue, and changes
    /// are not saved. For routes that only look.
    pub fn leave_cookie_unchanged(&mut self) {
        self.handle_mut().leave_cookie_unchanged();
    }

    /// How this request's session came to be (new, loaded, or a refused cookie).
    pub fn status(&self) -> &LoadStatus {
        self.handle().status()
    }

    /// Whether the session started empty.
    pub fn is_new(&self) -> bool {
        self.handle().is_new()
    }
}

impl<T: SessionData> Deref for Session<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.handle().data()
    }
}

impl<T: SessionData> DerefMut for Session<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.handle_mut().data_mut()
    }
}

impl<T: SessionData> Drop for Session<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.slot.put(handle);
        }
    }
}

/// Why a [`Session<T>`] guard failed: a mistake in the application, not the client.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No [`SessionFairing<T>`] is attached for this `T`.
    MissingFairing {
        /// The session type asked for.
        type_name: &'static str,
    },
    /// The same request asked for the session twice at once.
    AlreadyExtracted,
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingFairing { type_name } => write!(
                f,
                "Session<{type_name}> needs its fairing: add `.attach(SessionFairing::<{type_name}>::new(config)?)` to the rocket"
            ),
            Self::AlreadyExtracted => f.write_str(
                "the session was extracted twice in one request; take one Session<T> per handler",
            ),
        }
    }
}

impl std::error::Error for SessionRejection {}

#[rocket::async_trait]
impl<'r, T: SessionData> FromRequest<'r> for Session<T> {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(slot) = request.local_cache(|| -> Cached<T> { None }).clone() else {
            let rejection = SessionRejection::MissingFairing {
                type_name: short_type_name::<T>(),
            };
            tracing::error!(target: "session", "{rejection}");
            return Outcome::Error((Status::InternalServerError, rejection));
        };
        let handle = match slot.take() {
            SlotState::Ready(handle) => handle,
            SlotState::Untouched => {
                slot.manager
                    .load::<T>(request.headers().get("cookie"))
                    .await
            }
            SlotState::Lent => {
                return Outcome::Error((
                    Status::InternalServerError,
                    SessionRejection::AlreadyExtracted,
                ));
            }
        };
        Outcome::Success(Self {
            handle: Some(handle),
            slot,
        })
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
