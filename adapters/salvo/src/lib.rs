//! Typed, signed, versioned sessions for [salvo](https://docs.rs/salvo) 0.85.
//!
//! Add [`SessionHandler`] to the router with `.hoop(..)` and take the [`Session<T>`] from the
//! [`Depot`] in handlers, with [`SessionDepotExt::session`]; `T` is your session struct. The
//! session is decoded only when a handler asks for it, and the cookie is written only when the
//! session changed, a re-issue is due, or the handler logged out.
//!
//! ```no_run
//! use salvo_core::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use session_salvo::{
//!     Keyring, SessionConfig, SessionData, SessionDepotExt, SessionHandler, SessionRejection,
//! };
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "app")]
//! struct AppSession {
//!     visits: u64,
//! }
//!
//! #[handler]
//! async fn home(req: &mut Request, depot: &mut Depot) -> Result<String, SessionRejection> {
//!     let mut session = depot.session::<AppSession>(req).await?;
//!     session.visits += 1;
//!     Ok(format!("visit {}", session.visits))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?);
//! let router = Router::new()
//!     .hoop(SessionHandler::<AppSession>::new(config)?)
//!     .get(home);
//! let acceptor = TcpListener::new("127.0.0.1:3000").bind().await;
//! Server::new(acceptor).serve(router).await;
//! # Ok(()) }
//! ```
//!
//! A rejected cookie (tampered, expired, unknown key, another schema) never fails the
//! request: the handler gets a fresh session and one `tracing` event records why.

#![deny(missing_docs)]

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use salvo_core::http::StatusCode;
use salvo_core::http::header::{COOKIE, HeaderName, HeaderValue};
use salvo_core::http::uri::Authority;
use salvo_core::{Depot, FlowCtrl, Handler, Request, Response, Scribe, async_trait};
/// session-core itself, for `#[derive(SessionData)]` in crates that depend only on this one.
#[doc(hidden)]
pub use session_core as __session_core;
use session_core::adapter::{HeaderAction, LendError, LentSession, RequestFacts, RequestSession};
#[doc(inline)]
pub use session_core::{
    ConfigError, CookieSettings, Expiring, Flash, Key, Keyring, LoadStatus, ManualClock,
    RotationPolicy, SameSite, Schema, SessionConfig, SessionData, SessionHandle, SessionManager,
    assert_schema, store, time,
};

/// A salvo hoop (middleware) that gives handlers a [`Session<T>`] through the [`Depot`] and
/// writes the session cookie after them. Add it with `Router::hoop` (it covers that router
/// and the routers pushed into it) or `Service::hoop`.
pub struct SessionHandler<T> {
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for SessionHandler<T> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            _data: PhantomData,
        }
    }
}

impl<T: SessionData> SessionHandler<T> {
    /// A hoop for `config`.
    ///
    /// # Errors
    /// A [`ConfigError`] when the settings contradict each other, so the application stops at
    /// start-up with a message that says how to fix them.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_manager(SessionManager::new(config)?))
    }

    /// A hoop sharing an existing manager (and its keys) with other code.
    pub fn from_manager(manager: SessionManager) -> Self {
        Self {
            manager,
            _data: PhantomData,
        }
    }
}

#[async_trait]
impl<T: SessionData> Handler for SessionHandler<T> {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        let facts =
            RequestFacts::from_headers(|name| req.headers().get(name).map(HeaderValue::as_bytes))
                // The URI's scheme, or `https` when the listener terminates TLS (salvo sets it).
                .scheme(Some(req.scheme().as_str()))
                .authority(req.uri().authority().map(Authority::as_str));
        let session = RequestSession::<T>::new(self.manager.clone(), &facts);
        depot.inject(Arc::clone(&session));
        ctrl.call_next(req, depot, res).await;
        let outcome = session.finish().await;
        if let Some(failure) = outcome.failure() {
            // A fresh response, as in the other adapters: nothing of the handler's is kept.
            *res = Response::new();
            res.status_code(
                StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
            res.body(failure.body());
        }
        let headers = res.headers_mut();
        for change in outcome.into_headers() {
            let name = HeaderName::from_static(change.name());
            let action = change.action();
            let Ok(value) = HeaderValue::try_from(change.into_value().into_owned()) else {
                continue;
            };
            match action {
                HeaderAction::Replace => {
                    headers.insert(name, value);
                }
                _ => {
                    headers.append(name, value);
                }
            }
        }
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed. Get it with [`SessionDepotExt::session`].
///
/// Requires [`SessionHandler<T>`] on the router; without it [`SessionDepotExt::session`]
/// answers `500 Internal Server Error` and logs which hoop to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::adapter::session_extractor!(Session);

/// Why a [`Session<T>`] could not be taken: the hoop is missing (500, logged), the session
/// was taken twice (500), or the store is unavailable (503). Return it from the handler (it is
/// a [`Scribe`], so `Result<_, SessionRejection>` is a `Writer`): the body says which, and how
/// to fix it.
#[derive(Debug)]
pub struct SessionRejection(LendError);

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SessionRejection {}

impl Scribe for SessionRejection {
    fn render(self, res: &mut Response) {
        res.status_code(
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        let _ = res.take_body();
        res.render(self.0.to_string());
    }
}

/// Takes the [`Session<T>`] of the current request from the [`Depot`], where
/// [`SessionHandler<T>`] put it.
///
/// salvo's `Extractible` sees only the `Request`, not the `Depot`, so the session is taken
/// with this method instead of as a handler argument.
pub trait SessionDepotExt {
    /// The session of the current request; `request` is the one the handler got (the session
    /// is loaded from its `Cookie` headers the first time). Hold one `Session<T>` at a time
    /// and drop it before the handler returns: it goes back to the hoop for saving then.
    ///
    /// # Errors
    /// A [`SessionRejection`] when [`SessionHandler<T>`] is missing, the session is already
    /// taken, or the store is unavailable.
    fn session<T: SessionData>(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Session<T>, SessionRejection>> + Send;
}

impl SessionDepotExt for Depot {
    fn session<T: SessionData>(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Session<T>, SessionRejection>> + Send {
        let session = self.obtain::<Arc<RequestSession<T>>>().ok().cloned();
        let headers = request.headers();
        async move {
            let Some(session) = session else {
                return Err(SessionRejection(RequestSession::<T>::not_installed(
                    "Session<{T}> needs its hoop: add `.hoop(SessionHandler::<{T}>::new(config)?)` to the router",
                )));
            };
            let cookies = headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes);
            session
                .lend(cookies)
                .await
                .map(Session)
                .map_err(SessionRejection)
        }
    }
}
