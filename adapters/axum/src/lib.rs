//! Typed, signed, versioned sessions for [axum](https://docs.rs/axum) 0.8.
//!
//! Add [`SessionLayer`] to the router and take [`Session<T>`] in handlers; `T` is your session
//! struct. The session is decoded only when a handler asks for it, and the cookie is written
//! only when the session changed, a re-issue is due, or the handler logged out.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use serde::{Deserialize, Serialize};
//! use session_axum::{Keyring, Session, SessionConfig, SessionData, SessionLayer};
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "app")]
//! struct AppSession {
//!     visits: u64,
//! }
//!
//! async fn home(mut session: Session<AppSession>) -> String {
//!     session.visits += 1;
//!     format!("visit {}", session.visits)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?);
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .layer(SessionLayer::<AppSession>::new(config)?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! A rejected cookie (tampered, expired, unknown key, another schema) never fails the
//! request: the handler gets a fresh session and one `tracing` event records why.
//!
//! Feature `metrics` (off by default) counts sessions loaded, created, renewed and ended,
//! rejections by reason, and store latency and errors by operation through the `metrics`
//! facade crate: the table of names is in `session-core`'s crate docs, under "Metrics".
//!
//! # Testing your handlers
//! [`SessionLayer::cookie_for`] makes the `Cookie` of a given session under your own
//! configuration, and [`SessionLayer::session_from_set_cookie`] reads the session back out of
//! a response. With a [`ManualClock`], a test moves time past the session's deadlines. In
//! store mode both go through the store. A complete test, with `tower::ServiceExt::oneshot`:
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use axum::http::{Request, StatusCode, header};
//! use serde::{Deserialize, Serialize};
//! use session_axum::time::{Duration, OffsetDateTime};
//! use session_axum::{Keyring, ManualClock, Session, SessionConfig, SessionData, SessionLayer};
//! use tower::ServiceExt as _;
//!
//! #[derive(SessionData, Serialize, Deserialize, Default, Debug, PartialEq)]
//! #[session(name = "app")]
//! struct AppSession {
//!     user_id: Option<u64>,
//!     visits: u64,
//! }
//!
//! async fn home(mut session: Session<AppSession>) -> String {
//!     session.visits += 1;
//!     format!("user {:?}, visit {}", session.user_id, session.visits)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = ManualClock::new(OffsetDateTime::now_utc());
//! let config = SessionConfig::new(Keyring::ephemeral_for_development())
//!     .idle_timeout(Some(Duration::minutes(30)))
//!     .clock(clock.clone());
//! let sessions = SessionLayer::<AppSession>::new(config)?;
//! let app = Router::new().route("/", get(home)).layer(sessions.clone());
//!
//! // A logged-in user, without going through the login form.
//! let cookie = sessions.cookie_for(&AppSession { user_id: Some(7), visits: 0 }).await?;
//! let request = Request::get("/").header(header::COOKIE, &cookie).body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let set_cookie = response.headers()[header::SET_COOKIE].to_str()?.to_owned();
//! let body = axum::body::to_bytes(response.into_body(), 1 << 16).await?;
//! assert_eq!(&body[..], b"user Some(7), visit 1");
//! // What the handler left in the session.
//! assert_eq!(
//!     sessions.session_from_set_cookie(&set_cookie).await?,
//!     Some(AppSession { user_id: Some(7), visits: 1 }),
//! );
//!
//! // An hour later the session has expired: the handler sees a fresh one.
//! clock.advance(Duration::hours(1));
//! let request = Request::get("/").header(header::COOKIE, &cookie).body(Body::empty())?;
//! let body = axum::body::to_bytes(app.oneshot(request).await?.into_body(), 1 << 16).await?;
//! assert_eq!(&body[..], b"user None, visit 1");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::COOKIE;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use session_core::adapter::{LentSession, RequestFacts, RequestSession};
session_core::adapter::reexport_application_api!();

session_core::adapter::middleware! {
    /// A tower [`Layer`](tower_layer::Layer) that gives handlers a [`Session<T>`] and writes the
    /// session cookie after them.
    SessionLayer
}

impl<S, T> tower_layer::Layer<S> for SessionLayer<T> {
    type Service = SessionService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            _data: PhantomData,
        }
    }
}

/// The service [`SessionLayer`] wraps around the router.
pub struct SessionService<S, T> {
    inner: S,
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<S: Clone, T> Clone for SessionService<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            manager: self.manager.clone(),
            _data: PhantomData,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, T, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S, T>
where
    S: tower_service::Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    T: SessionData,
    ResBody: From<&'static str> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Names are static: `from_static` builds them without parsing into an allocation.
        let facts = RequestFacts::new(request.method().as_str(), request.uri().path(), |name| {
            let name = HeaderName::from_static(name);
            request.headers().get(name).map(HeaderValue::as_bytes)
        })
        .scheme(request.uri().scheme_str())
        .authority(request.uri().authority().map(http::uri::Authority::as_str));
        let session = match RequestSession::<T>::new(self.manager.clone(), &facts) {
            Ok(session) => session,
            // Refused before the handler (a cross-origin request): answer core's outcome.
            Err(refusal) => {
                let mut response = http::Response::new(ResBody::from(""));
                (*refusal).apply_to_response(&mut response);
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        request.extensions_mut().insert(Arc::clone(&session));
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            let status = response.status().as_u16();
            session
                .finish(status)
                .await
                .apply_to_response(&mut response);
            Ok(response)
        })
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed.
///
/// Requires [`SessionLayer<T>`] on the router; without it the extractor answers
/// `500 Internal Server Error` and logs which layer to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::adapter::session_extractor!(Session);

session_core::adapter::rejection! {
    /// Why a [`Session<T>`] could not be extracted: the layer is missing (500, logged), the
    /// session was extracted twice (500), or the store is unavailable (503). The body says which,
    /// and how to fix it.
    SessionRejection
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, self.to_string()).into_response()
    }
}

impl<S: Send + Sync, T: SessionData> FromRequestParts<S> for Session<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(session) = parts.extensions.get::<Arc<RequestSession<T>>>().cloned() else {
            return Err(SessionRejection::from(RequestSession::<T>::not_installed(
                "Session<{T}> needs its layer: add `.layer(SessionLayer::<{T}>::new(config)?)` to the router, after the routes that use it",
            )));
        };
        let cookies = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .map(HeaderValue::as_bytes);
        session
            .lend(cookies)
            .await
            .map(Self)
            .map_err(SessionRejection::from)
    }
}
