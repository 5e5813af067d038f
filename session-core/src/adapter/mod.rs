//! The adapter contract: everything a web-framework adapter needs, and nothing an application
//! needs.
//!
//! An adapter does four things per request, and nothing else:
//!
//! 1. **Before the handler**, build the request's [`RequestFacts`] from its method, path and
//!    headers and start a [`RequestSession`], stored where the extractor finds it (the
//!    request's extensions): `RequestSession::<T>::new(manager, &facts)`. When that returns
//!    an `Err(outcome)`, the cross-origin protection refused the request: do not call the
//!    handler, answer the outcome's [`Failure`] and headers.
//! 2. **In the extractor**, [`lend`](RequestSession::lend) the session to the handler with the
//!    request's `Cookie` header values (as bytes). The first call loads it; routes that never
//!    ask for the session pay nothing. A [`LendError`] carries the status and body to answer.
//! 3. **After the handler**, call [`finish`](RequestSession::finish) with the handler's status
//!    code and apply the [`Outcome`]:
//!    when it has a [`Failure`], replace the response by its status and body; then apply every
//!    [`HeaderChange`] to the response.
//! 4. **Deref glue**: the adapter's `Session<T>` wraps the [`LentSession<T>`] and derefs to the
//!    [`SessionHandle<T>`](crate::SessionHandle), where every session method is documented.
//!
//! Signing, expiry, rotation, schema checks, the store, cache headers, diagnostics and logging
//! all happen here, in core; an adapter moves headers and maps a status. docs/adapters.md walks
//! through a complete adapter, and `session-testing` proves one against this contract.

mod facts;
mod macros;
mod outcome;
mod request;

pub use self::facts::RequestFacts;
#[doc(inline)]
pub use self::macros::{middleware, reexport_application_api, rejection, session_extractor};
pub use self::outcome::{Failure, HeaderAction, HeaderChange, Outcome};
pub use self::request::{LendError, LentSession, RequestSession};

/// The body of the `503 Service Unavailable` answered when the session store is down.
const STORE_UNAVAILABLE: &str = "the session store is unavailable; try again shortly";
/// The body of the `500 Internal Server Error` answered when a session cannot be saved.
const NOT_SAVED: &str = "the session could not be saved";
