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

#![deny(missing_docs)]

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, COOKIE, HOST, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
/// session-core itself, for `#[derive(SessionData)]` in crates that depend only on this one.
#[doc(hidden)]
pub use session_core as __session_core;
#[doc(inline)]
pub use session_core::{
    ConfigError, CookieSettings, Expiring, Flash, Key, Keyring, LoadStatus, ManualClock,
    RotationPolicy, SameSite, Schema, SessionConfig, SessionData, SessionManager, store,
};
use session_core::{LendError, LentSession, RequestOrigin, RequestSession, SetCookie};

/// A tower [`Layer`](tower_layer::Layer) that gives handlers a [`Session<T>`] and writes the
/// session cookie after them.
pub struct SessionLayer<T> {
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for SessionLayer<T> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            _data: PhantomData,
        }
    }
}

impl<T: SessionData> SessionLayer<T> {
    /// A layer for `config`.
    ///
    /// # Errors
    /// A [`ConfigError`] when the settings contradict each other, so the application stops at
    /// start-up with a message that says how to fix them.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_manager(SessionManager::new(config)?))
    }

    /// A layer sharing an existing manager (and its keys) with other code.
    pub fn from_manager(manager: SessionManager) -> Self {
        Self {
            manager,
            _data: PhantomData,
        }
    }
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
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let session = RequestSession::<T>::new(self.manager.clone(), &origin(&request));
        request.extensions_mut().insert(Arc::clone(&session));
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            match session.finish().await {
                Ok(None) => {}
                Ok(Some(set_cookie)) => {
                    if let Ok(value) = HeaderValue::try_from(set_cookie.into_header_value()) {
                        let headers = response.headers_mut();
                        headers.append(SET_COOKIE, value);
                        headers.insert(
                            CACHE_CONTROL,
                            HeaderValue::from_static(SetCookie::CACHE_CONTROL),
                        );
                    }
                }
                // Logged by core; the handler's changes are lost, so say so: 503 when the store
                // is down (retry later), 500 otherwise.
                Err(error) => {
                    let mut failed = http::Response::new(ResBody::default());
                    *failed.status_mut() = StatusCode::from_u16(error.status_code())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    return Ok(failed);
                }
            }
            Ok(response)
        })
    }
}

/// Parsed once: looking headers up by `&str` parses the name on every request.
static X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");

fn origin<B>(request: &Request<B>) -> RequestOrigin<'_> {
    let header =
        |name: &http::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    RequestOrigin {
        scheme: request.uri().scheme_str(),
        host: request
            .uri()
            .authority()
            .map(http::uri::Authority::as_str)
            .or_else(|| header(&HOST)),
        forwarded_proto: header(&X_FORWARDED_PROTO),
        forwarded: header(&http::header::FORWARDED),
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed.
///
/// Requires [`SessionLayer<T>`] on the router; without it the extractor answers
/// `500 Internal Server Error` and logs which layer to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::__session_extractor!(Session);

/// Why a [`Session<T>`] could not be extracted: a mistake in the application, not the client.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The router has no [`SessionLayer<T>`] for this `T`.
    MissingLayer {
        /// The session type asked for.
        type_name: &'static str,
    },
    /// The same request asked for the session twice at once.
    AlreadyExtracted,
    /// Store mode: the session store cannot be reached (already logged). Answered with
    /// `503 Service Unavailable`: going on without the session would log the user out.
    StoreUnavailable,
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingLayer { type_name } => write!(
                f,
                "Session<{type_name}> needs its layer: add `.layer(SessionLayer::<{type_name}>::new(config)?)` to the router, after the routes that use it"
            ),
            Self::AlreadyExtracted => std::fmt::Display::fmt(&session_core::AlreadyLent, f),
            Self::StoreUnavailable => f.write_str(session_core::STORE_UNAVAILABLE),
        }
    }
}

impl std::error::Error for SessionRejection {}

impl From<LendError> for SessionRejection {
    fn from(error: LendError) -> Self {
        match error {
            LendError::AlreadyLent(_) => Self::AlreadyExtracted,
            _ => Self::StoreUnavailable,
        }
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        if let Self::StoreUnavailable = self {
            return (StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response();
        }
        tracing::error!(target: "session", "{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync, T: SessionData> FromRequestParts<S> for Session<T> {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Arc<RequestSession<T>>>()
            .cloned()
            .ok_or(SessionRejection::MissingLayer {
                type_name: RequestSession::<T>::type_name(),
            })?;
        let cookies = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(Self(session.lend(cookies).await?))
    }
}
