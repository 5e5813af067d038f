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
//!
//! Feature `metrics` (off by default) counts sessions loaded, created, renewed and ended,
//! rejections by reason, and store latency and errors by operation through the `metrics`
//! facade crate: the table of names is in `session-core`'s crate docs, under "Metrics".

#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;

use salvo_core::http::StatusCode;
use salvo_core::http::header::{COOKIE, HeaderValue};
use salvo_core::http::uri::Authority;
use salvo_core::{Depot, FlowCtrl, Handler, Request, Response, Scribe, async_trait};
use session_core::adapter::{LentSession, RequestFacts, RequestSession};
session_core::adapter::reexport_application_api!();

session_core::adapter::middleware! {
    /// A salvo hoop (middleware) that gives handlers a [`Session<T>`] through the [`Depot`] and
    /// writes the session cookie after them. Add it with `Router::hoop` (it covers that router
    /// and the routers pushed into it) or `Service::hoop`.
    SessionHandler
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
        let facts = RequestFacts::new(req.method().as_str(), req.uri().path(), |name| {
            req.headers().get(name).map(HeaderValue::as_bytes)
        })
        // The URI's scheme, or `https` when the listener terminates TLS (salvo sets it).
        .scheme(Some(req.scheme().as_str()))
        .authority(req.uri().authority().map(Authority::as_str));
        let outcome = match RequestSession::<T>::new(self.manager.clone(), &facts) {
            Ok(session) => {
                depot.inject(Arc::clone(&session));
                ctrl.call_next(req, depot, res).await;
                let status = res.status_code.unwrap_or(StatusCode::OK).as_u16();
                session.finish(status).await
            }
            // Refused before the handler (a cross-origin request): answer core's outcome.
            Err(refusal) => {
                ctrl.skip_rest();
                *refusal
            }
        };
        if let Some(failure) = outcome.failure() {
            // A fresh response, as in the other adapters: nothing of the handler's is kept.
            *res = Response::new();
            res.status_code(
                StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
            res.body(failure.body());
        }
        outcome.apply_to_headers(res.headers_mut());
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed. Get it with [`SessionDepotExt::session`].
///
/// Requires [`SessionHandler<T>`] on the router; without it [`SessionDepotExt::session`]
/// answers `500 Internal Server Error` and logs which hoop to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::adapter::session_extractor!(Session);

session_core::adapter::rejection! {
    /// Why a [`Session<T>`] could not be taken: the hoop is missing (500, logged), the session
    /// was taken twice (500), or the store is unavailable (503). Return it from the handler (it is
    /// a [`Scribe`], so `Result<_, SessionRejection>` is a `Writer`): the body says which, and how
    /// to fix it.
    SessionRejection
}

impl Scribe for SessionRejection {
    fn render(self, res: &mut Response) {
        res.status_code(
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        let _ = res.take_body();
        res.render(self.to_string());
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
                return Err(SessionRejection::from(RequestSession::<T>::not_installed(
                    "Session<{T}> needs its hoop: add `.hoop(SessionHandler::<{T}>::new(config)?)` to the router",
                )));
            };
            let cookies = headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes);
            session
                .lend(cookies)
                .await
                .map(Session)
                .map_err(SessionRejection::from)
        }
    }
}
