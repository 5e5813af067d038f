//! A complete session adapter for bare [hyper](https://docs.rs/hyper) 1, as a model for wiring
//! any other framework (see docs/adapters.md). It follows the adapter contract of
//! [`session_core::adapter`] and nothing else:
//!
//! 1. build the request's [`RequestFacts`] from its headers and start a [`RequestSession`];
//! 2. lend the session to the handler with the request's `Cookie` header bytes (a
//!    [`LendError`] carries the status and body to answer);
//! 3. after the handler, [`finish`](RequestSession::finish) and apply the outcome: replace the
//!    response by its failure, if any, then apply its headers.
//!
//! Signing, expiry, rotation, schema checks, the store, cache headers and logging all stay in
//! session-core.

use std::future::Future;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{COOKIE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use session_core::adapter::{LendError, LentSession, RequestFacts, RequestSession};
use session_core::{SessionData, SessionManager};

/// Runs `handler` with the request's session and writes the session cookie after it. The
/// handler owns the [`LentSession`] (it derefs to the session handle, which derefs to `T`);
/// dropping it at the end hands the session back for saving.
pub async fn with_session<T, F, Fut>(
    manager: &SessionManager,
    request: Request<Incoming>,
    handler: F,
) -> Response<Full<Bytes>>
where
    T: SessionData,
    F: FnOnce(Request<Incoming>, LentSession<T>) -> Fut,
    Fut: Future<Output = Response<Full<Bytes>>>,
{
    let facts = RequestFacts::new(request.method().as_str(), request.uri().path(), |name| {
        request.headers().get(name).map(HeaderValue::as_bytes)
    })
    .scheme(request.uri().scheme_str())
    .authority(request.uri().authority().map(|a| a.as_str()));
    let session = match RequestSession::<T>::new(manager.clone(), &facts) {
        Ok(session) => session,
        // A cross-origin request refused before the handler: answer core's outcome (403).
        Err(refusal) => {
            let mut response = Response::new(Full::new(Bytes::new()));
            (*refusal).apply_to_response(&mut response);
            return response;
        }
    };
    let cookies = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .map(HeaderValue::as_bytes);
    let lent = match session.lend(cookies).await {
        Ok(lent) => lent,
        Err(error) => return refused(&error),
    };

    let mut response = handler(request, lent).await;

    let status = response.status().as_u16();
    session
        .finish(status)
        .await
        .apply_to_response(&mut response);
    response
}

/// The answer when the session cannot be lent (the store is down: 503).
fn refused(error: &LendError) -> Response<Full<Bytes>> {
    text(error.status(), &error.to_string())
}

fn text(status: u16, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
