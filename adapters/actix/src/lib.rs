//! Typed, signed, versioned sessions for [actix-web](https://docs.rs/actix-web) 4.
//!
//! Wrap the app in [`SessionMiddleware`] and take [`Session<T>`] in handlers; `T` is your
//! session struct. The session is decoded only when a handler asks for it, and the cookie is
//! written only when the session changed, a re-issue is due, or the handler logged out.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use serde::{Deserialize, Serialize};
//! use session_actix::{Keyring, Session, SessionConfig, SessionData, SessionMiddleware};
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
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let middleware = SessionMiddleware::<AppSession>::new(SessionConfig::new(Keyring::from_env("SESSION_KEYS")?))?;
//! actix_web::rt::System::new().block_on(async move {
//!     HttpServer::new(move || App::new().wrap(middleware.clone()).route("/", web::get().to(home)))
//!         .bind(("127.0.0.1", 3000))?
//!         .run()
//!         .await
//! })?;
//! # Ok(()) }
//! ```
//!
//! A rejected cookie (tampered, expired, unknown key, another schema) never fails the
//! request: the handler gets a fresh session and one `tracing` event records why.

#![deny(missing_docs)]

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, COOKIE, FORWARDED, HOST, HeaderValue, SET_COOKIE, X_FORWARDED_PROTO,
};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

/// session-core itself, for `#[derive(SessionData)]` in crates that depend only on this one.
#[doc(hidden)]
pub use session_core as __session_core;
#[doc(inline)]
pub use session_core::{
    ConfigError, CookieSettings, Expiring, Flash, Key, Keyring, LoadStatus, ManualClock,
    RotationPolicy, SameSite, Schema, SessionConfig, SessionData, SessionManager, store,
};
use session_core::{LendError, LentSession, RequestOrigin, RequestSession, SetCookie};

/// Middleware that gives handlers a [`Session<T>`] and writes the session cookie after them.
pub struct SessionMiddleware<T> {
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<T> Clone for SessionMiddleware<T> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            _data: PhantomData,
        }
    }
}

impl<T: SessionData> SessionMiddleware<T> {
    /// A middleware for `config`.
    ///
    /// # Errors
    /// A [`ConfigError`] when the settings contradict each other, so the application stops at
    /// start-up with a message that says how to fix them.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_manager(SessionManager::new(config)?))
    }

    /// A middleware sharing an existing manager (and its keys) with other code.
    pub fn from_manager(manager: SessionManager) -> Self {
        Self {
            manager,
            _data: PhantomData,
        }
    }
}

impl<S, B, T> Transform<S, ServiceRequest> for SessionMiddleware<T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    T: SessionData,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S, T>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service: Rc::new(service),
            manager: self.manager.clone(),
            _data: PhantomData,
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the app.
pub struct SessionService<S, T> {
    service: Rc<S>,
    manager: SessionManager,
    _data: PhantomData<fn() -> T>,
}

impl<S, B, T> Service<ServiceRequest> for SessionService<S, T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    T: SessionData,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let origin = RequestOrigin {
            // A server bound with TLS (`bind_rustls_*`, `bind_openssl`) knows it; the request
            // line of HTTP/1 carries no scheme.
            scheme: if request.app_config().secure() {
                Some("https")
            } else {
                request.uri().scheme_str()
            },
            host: header(HOST),
            forwarded_proto: header(X_FORWARDED_PROTO),
            forwarded: header(FORWARDED),
        };
        let session = RequestSession::<T>::new(self.manager.clone(), &origin);
        request.extensions_mut().insert(Arc::clone(&session));
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut response = service.call(request).await?;
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
                    let failed = if error.status_code() == 503 {
                        HttpResponse::ServiceUnavailable().body(session_core::STORE_UNAVAILABLE)
                    } else {
                        HttpResponse::InternalServerError().body("session could not be saved")
                    };
                    return Ok(response.into_response(failed).map_into_right_body());
                }
            }
            Ok(response.map_into_left_body())
        })
    }
}

/// The session of the current request, typed as `T`. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed.
///
/// Requires [`SessionMiddleware<T>`] on the app; without it the extractor answers
/// `500 Internal Server Error` with a message naming the middleware to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::__session_extractor!(Session);

/// Why a [`Session<T>`] could not be extracted: a mistake in the application, not the client.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The app has no [`SessionMiddleware<T>`] for this `T`.
    MissingMiddleware {
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
            Self::MissingMiddleware { type_name } => write!(
                f,
                "Session<{type_name}> needs its middleware: add `.wrap(SessionMiddleware::<{type_name}>::new(config)?)` to the App"
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

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if !matches!(self, Self::StoreUnavailable) {
            tracing::error!(target: "session", "{self}");
        }
        HttpResponse::build(self.status_code()).body(self.to_string())
    }
}

impl<T: SessionData> FromRequest for Session<T> {
    type Error = SessionRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let session = request
                .extensions()
                .get::<Arc<RequestSession<T>>>()
                .cloned()
                .ok_or(SessionRejection::MissingMiddleware {
                    type_name: RequestSession::<T>::type_name(),
                })?;
            let cookies = request
                .headers()
                .get_all(COOKIE)
                .filter_map(|v| v.to_str().ok());
            Ok(Self(session.lend(cookies).await?))
        })
    }
}
