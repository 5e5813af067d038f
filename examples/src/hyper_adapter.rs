//! A complete session adapter for bare [hyper](https://docs.rs/hyper) 1, as a model for wiring
//! any other framework (see docs/adapters.md). Everything an adapter does is here:
//!
//! 1. hand the request's `Cookie` header values to [`SessionManager::load`] (an error only in
//!    store mode, when the store is down: answer its status, 503);
//! 2. let the handler read and change the typed [`SessionHandle`];
//! 3. pass the handle to [`SessionManager::save`] and send the `Set-Cookie` it returns (with
//!    `Cache-Control: no-store`), or the error's status (503 store down, 500 otherwise) if
//!    the session cannot be saved;
//! 4. warn once when a Secure cookie answers plain HTTP from a non-localhost host.
//!
//! Signing, expiry, rotation, schema checks and logging of refused cookies all stay in
//! session-core.

use std::future::Future;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, COOKIE, HOST, HeaderValue, SET_COOKIE};
use hyper::{Request, Response, StatusCode};
use session_core::{RequestOrigin, SessionData, SessionHandle, SessionManager, SetCookie};

/// Runs `handler` with the request's session and writes the session cookie after it.
///
/// The handler takes the handle by value and gives it back with its response, which keeps the
/// borrow simple across `.await`.
pub async fn with_session<T, F, Fut>(
    manager: &SessionManager,
    request: Request<Incoming>,
    handler: F,
) -> Response<Full<Bytes>>
where
    T: SessionData,
    F: FnOnce(Request<Incoming>, SessionHandle<T>) -> Fut,
    Fut: Future<Output = (Response<Full<Bytes>>, SessionHandle<T>)>,
{
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let origin = RequestOrigin {
        scheme: request.uri().scheme_str(),
        host: header(HOST.as_str()),
        forwarded_proto: header("x-forwarded-proto"),
        forwarded: header("forwarded"),
    };
    let dropped = manager.cookie_dropped_by_browsers(&origin);
    let cookies = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let session = match manager.load::<T>(cookies).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(target: "session", %error, "session not loaded");
            return failure(&error);
        }
    };

    let (mut response, mut session) = handler(request, session).await;

    match manager.save(&mut session).await {
        Ok(None) => {}
        Ok(Some(set_cookie)) => {
            if let Ok(value) = HeaderValue::try_from(set_cookie.into_header_value()) {
                response.headers_mut().append(SET_COOKIE, value);
                response.headers_mut().insert(
                    CACHE_CONTROL,
                    HeaderValue::from_static(SetCookie::CACHE_CONTROL),
                );
            }
            if dropped {
                manager.warn_cookie_dropped_by_browsers();
            }
        }
        Err(error) => {
            tracing::error!(target: "session", %error, "session not saved");
            return failure(&error);
        }
    }
    response
}

/// The answer when the session cannot be loaded or saved.
fn failure(error: &session_core::SessionError) -> Response<Full<Bytes>> {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if status == StatusCode::SERVICE_UNAVAILABLE {
        session_core::STORE_UNAVAILABLE
    } else {
        "session could not be saved"
    };
    let mut failed = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *failed.status_mut() = status;
    failed
}
