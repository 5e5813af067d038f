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
//!
//! Feature `metrics` (off by default) counts sessions loaded, created, renewed and ended,
//! rejections by reason, and store latency and errors by operation through the `metrics`
//! facade crate: the table of names is in `session-core`'s crate docs, under "Metrics".
//!
//! # Testing your handlers
//! [`SessionMiddleware::cookie_for`] makes the `Cookie` of a given session under your own
//! configuration, and [`SessionMiddleware::session_from_set_cookie`] reads the session back
//! out of a response. With a [`ManualClock`], a test moves time past the session's deadlines.
//! In store mode both go through the store. A complete test, with actix-web's
//! `test::init_service` and `test::call_service`:
//!
//! ```
//! use actix_web::http::{StatusCode, header};
//! use actix_web::{App, test, web};
//! use serde::{Deserialize, Serialize};
//! use session_actix::time::{Duration, OffsetDateTime};
//! use session_actix::{Keyring, ManualClock, Session, SessionConfig, SessionData, SessionMiddleware};
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
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # actix_web::rt::System::new().block_on(async {
//! let clock = ManualClock::new(OffsetDateTime::now_utc());
//! let config = SessionConfig::new(Keyring::ephemeral_for_development())
//!     .idle_timeout(Some(Duration::minutes(30)))
//!     .clock(clock.clone());
//! let sessions = SessionMiddleware::<AppSession>::new(config)?;
//! let app = test::init_service(
//!     App::new().wrap(sessions.clone()).route("/", web::get().to(home)),
//! )
//! .await;
//!
//! // A logged-in user, without going through the login form.
//! let cookie = sessions.cookie_for(&AppSession { user_id: Some(7), visits: 0 }).await?;
//! let request = test::TestRequest::get().uri("/").insert_header((header::COOKIE, cookie.as_str()));
//! let response = test::call_service(&app, request.to_request()).await;
//! assert_eq!(response.status(), StatusCode::OK);
//! let set_cookie = response.headers().get(header::SET_COOKIE).expect("a cookie").to_str()?;
//! let set_cookie = set_cookie.to_owned();
//! assert_eq!(test::read_body(response).await, "user Some(7), visit 1");
//! // What the handler left in the session.
//! assert_eq!(
//!     sessions.session_from_set_cookie(&set_cookie).await?,
//!     Some(AppSession { user_id: Some(7), visits: 1 }),
//! );
//!
//! // An hour later the session has expired: the handler sees a fresh one.
//! clock.advance(Duration::hours(1));
//! let request = test::TestRequest::get().uri("/").insert_header((header::COOKIE, cookie.as_str()));
//! let response = test::call_service(&app, request.to_request()).await;
//! assert_eq!(test::read_body(response).await, "user None, visit 1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

#![deny(missing_docs)]

use std::borrow::Cow;
use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use session_core::adapter::{
    Failure, HeaderAction, LentSession, Outcome, RequestFacts, RequestSession,
};
session_core::adapter::reexport_application_api!();

session_core::adapter::middleware! {
    /// Middleware that gives handlers a [`Session<T>`] and writes the session cookie after them.
    SessionMiddleware
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
        // Names are static: `from_static` builds them without parsing into an allocation.
        let facts = RequestFacts::new(request.method().as_str(), request.path(), |name| {
            let name = HeaderName::from_static(name);
            request.headers().get(name).map(HeaderValue::as_bytes)
        })
        .scheme(request.uri().scheme_str())
        // A server bound with TLS (`bind_rustls_*`, `bind_openssl`) knows it; the request line
        // of HTTP/1 carries no scheme.
        .scheme(request.app_config().secure().then_some("https"));
        let session = match RequestSession::<T>::new(self.manager.clone(), &facts) {
            Ok(session) => session,
            // Refused before the handler (a cross-origin request): answer core's outcome.
            Err(refusal) => {
                let failed = refusal
                    .failure()
                    .map_or_else(|| HttpResponse::Forbidden().finish(), failure_response);
                let mut response = request.into_response(failed).map_into_right_body();
                apply_headers(&mut response, *refusal);
                return Box::pin(ready(Ok(response)));
            }
        };
        request.extensions_mut().insert(Arc::clone(&session));
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let response = service.call(request).await?;
            let outcome = session.finish(response.status().as_u16()).await;
            let mut response = match outcome.failure() {
                None => response.map_into_left_body(),
                Some(failure) => response
                    .into_response(failure_response(failure))
                    .map_into_right_body(),
            };
            apply_headers(&mut response, outcome);
            Ok(response)
        })
    }
}

/// The response that replaces the handler's.
fn failure_response(failure: Failure) -> HttpResponse {
    let status =
        StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).body(failure.body())
}

/// Applies core's headers to the response. Static values (`Vary`, `Cache-Control`) are not
/// copied; a `Set-Cookie` hands its buffer over.
fn apply_headers<B>(response: &mut ServiceResponse<B>, outcome: Outcome) {
    let headers = response.headers_mut();
    for change in outcome.into_headers() {
        let (name, action) = (HeaderName::from_static(change.name()), change.action());
        if action == HeaderAction::IfAbsent && headers.contains_key(&name) {
            continue;
        }
        let value = match change.into_value() {
            Cow::Borrowed(value) => Ok(HeaderValue::from_static(value)),
            Cow::Owned(value) => HeaderValue::try_from(value),
        };
        let Ok(value) = value else {
            continue;
        };
        if action == HeaderAction::Append {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
}

/// The session of the current request, typed as `T`. Derefs to
/// [`SessionHandle<T>`](session_core::SessionHandle) (the session methods), which derefs to
/// `T`; changing it through `DerefMut` marks the session as changed.
///
/// Requires [`SessionMiddleware<T>`] on the app; without it the extractor answers
/// `500 Internal Server Error` with a message naming the middleware to add.
pub struct Session<T: SessionData>(LentSession<T>);

session_core::adapter::session_extractor!(Session);

session_core::adapter::rejection! {
    /// Why a [`Session<T>`] could not be extracted: the middleware is missing (500, logged), the
    /// session was extracted twice (500), or the store is unavailable (503). The body says which,
    /// and how to fix it.
    SessionRejection
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).body(self.to_string())
    }
}

impl<T: SessionData> FromRequest for Session<T> {
    type Error = SessionRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let Some(session) = request
                .extensions()
                .get::<Arc<RequestSession<T>>>()
                .cloned()
            else {
                return Err(SessionRejection::from(RequestSession::<T>::not_installed(
                    "Session<{T}> needs its middleware: add `.wrap(SessionMiddleware::<{T}>::new(config)?)` to the App",
                )));
            };
            let cookies = request.headers().get_all(COOKIE).map(HeaderValue::as_bytes);
            session
                .lend(cookies)
                .await
                .map(Self)
                .map_err(SessionRejection::from)
        })
    }
}
