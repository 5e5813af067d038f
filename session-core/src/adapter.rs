//! The adapter contract: everything a web-framework adapter needs, and nothing an application
//! needs.
//!
//! An adapter does four things per request, and nothing else:
//!
//! 1. **Before the handler**, build the request's [`RequestFacts`] from its headers and start a
//!    [`RequestSession`], stored where the extractor finds it (the request's extensions):
//!    `RequestSession::<T>::new(manager, &facts)`.
//! 2. **In the extractor**, [`lend`](RequestSession::lend) the session to the handler with the
//!    request's `Cookie` header values (as bytes). The first call loads it; routes that never
//!    ask for the session pay nothing. A [`LendError`] carries the status and body to answer.
//! 3. **After the handler**, call [`finish`](RequestSession::finish) and apply the [`Outcome`]:
//!    when it has a [`Failure`], replace the response by its status and body; then apply every
//!    [`HeaderChange`] to the response.
//! 4. **Deref glue**: the adapter's `Session<T>` wraps the [`LentSession<T>`] and derefs to the
//!    [`SessionHandle<T>`](crate::SessionHandle), where every session method is documented.
//!
//! Signing, expiry, rotation, schema checks, the store, cache headers, diagnostics and logging
//! all happen here, in core; an adapter moves headers and maps a status. docs/adapters.md walks
//! through a complete adapter, and `session-testing` proves one against this contract.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use crate::schema::SessionData;
use crate::session::{SessionHandle, SessionManager};

/// The body of the `503 Service Unavailable` answered when the session store is down.
const STORE_UNAVAILABLE: &str = "the session store is unavailable; try again shortly";
/// The body of the `500 Internal Server Error` answered when a session cannot be saved.
const NOT_SAVED: &str = "the session could not be saved";

/// What core needs to know about a request, read from its headers.
///
/// ```
/// use session_core::adapter::RequestFacts;
///
/// // In an adapter: look headers up by their lowercase name.
/// let headers = [("host", "shop.example.com"), ("x-forwarded-proto", "https")];
/// let facts = RequestFacts::from_headers(|name| {
///     headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes())
/// });
/// assert!(!facts.is_plain_http_from_remote_host());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    scheme: Option<&'a str>,
    host: Option<&'a [u8]>,
    forwarded_proto: Option<&'a [u8]>,
    forwarded: Option<&'a [u8]>,
}

impl<'a> RequestFacts<'a> {
    /// Reads the facts from the request's headers. `header` answers the first value of the
    /// header with the given lowercase name, as bytes, or `None` when the request has none.
    /// Core decides which headers it reads, so an adapter never needs to change when core
    /// reads one more.
    pub fn from_headers(header: impl Fn(&'static str) -> Option<&'a [u8]>) -> Self {
        Self {
            scheme: None,
            host: header("host"),
            forwarded_proto: header("x-forwarded-proto"),
            forwarded: header("forwarded"),
        }
    }

    /// The URI scheme, when the request line or HTTP/2 `:scheme` carried one, or `"https"`
    /// when the server itself terminates TLS for this request.
    #[must_use]
    pub fn scheme(mut self, scheme: Option<&'a str>) -> Self {
        if scheme.is_some() {
            self.scheme = scheme;
        }
        self
    }

    /// The HTTP/2 `:authority` (or absolute-form request target authority), which takes the
    /// place of the `Host` header when present.
    #[must_use]
    pub fn authority(mut self, authority: Option<&'a str>) -> Self {
        if let Some(authority) = authority {
            self.host = Some(authority.as_bytes());
        }
        self
    }

    /// Whether the request looks like plain HTTP from a host other than localhost, with no
    /// sign that a proxy terminated TLS in front of the server: a `Secure` cookie sent in
    /// answer would be dropped by the browser.
    pub fn is_plain_http_from_remote_host(&self) -> bool {
        if self.scheme.is_some_and(|s| s.eq_ignore_ascii_case("https")) {
            return false;
        }
        if self
            .forwarded_proto
            .is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(b"https"))
        {
            return false;
        }
        if self.forwarded.is_some_and(|f| {
            f.to_ascii_lowercase()
                .windows(b"proto=https".len())
                .any(|w| w == b"proto=https")
        }) {
            return false;
        }
        let Some(host) = self.host.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host, |(name, _)| name),
        };
        // Browsers treat http://localhost and loopback addresses as secure contexts.
        !(name.eq_ignore_ascii_case("localhost")
            || name.to_ascii_lowercase().ends_with(".localhost")
            || name.starts_with("127.")
            || name == "::1")
    }
}

/// How an adapter applies a [`HeaderChange`] to the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderAction {
    /// Add the header, keeping values already there (`Set-Cookie`).
    Append,
    /// Set the header, replacing values already there.
    Replace,
}

/// One header the response must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderChange {
    name: &'static str,
    value: Cow<'static, str>,
    action: HeaderAction,
}

impl HeaderChange {
    /// The header name, lowercase (e.g. `set-cookie`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The header value (visible ASCII only).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether to append or replace.
    pub fn action(&self) -> HeaderAction {
        self.action
    }

    /// The value, owned.
    pub fn into_value(self) -> Cow<'static, str> {
        self.value
    }
}

/// A response that replaces the handler's: the session could not be loaded or saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    status: u16,
    body: &'static str,
}

impl Failure {
    /// The HTTP status: 503 when the store is unavailable, 500 otherwise.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body text (`text/plain; charset=utf-8`), the same in every adapter.
    pub fn body(&self) -> &'static str {
        self.body
    }

    fn for_error(error: &crate::SessionError) -> Self {
        match error.status_code() {
            503 => Self {
                status: 503,
                body: STORE_UNAVAILABLE,
            },
            status => Self {
                status,
                body: NOT_SAVED,
            },
        }
    }
}

/// What the response must get after the handler: a [`Failure`] to answer instead, if any, and
/// the headers to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "an adapter must apply the outcome to the response"]
pub struct Outcome {
    failure: Option<Failure>,
    headers: Vec<HeaderChange>,
}

impl Outcome {
    /// The failure that replaces the handler's response, if any.
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// The headers to apply, in order.
    pub fn headers(&self) -> &[HeaderChange] {
        &self.headers
    }

    /// The headers to apply, owned.
    pub fn into_headers(self) -> std::vec::IntoIter<HeaderChange> {
        self.headers.into_iter()
    }

    /// Hands every header to `apply` in order: its lowercase name, its value, and whether to
    /// append it (`Set-Cookie`) rather than replace the values already there.
    pub fn apply_headers(self, mut apply: impl FnMut(&'static str, &str, HeaderAction)) {
        for change in self.headers {
            apply(change.name, &change.value, change.action);
        }
    }

    /// Applies the outcome to an `http` response (feature `http`): replaces it by the failure,
    /// if any, then applies every header.
    #[cfg(feature = "http")]
    pub fn apply_to_response<B: From<&'static str>>(self, response: &mut http::Response<B>) {
        if let Some(failure) = self.failure {
            *response = http::Response::new(B::from(failure.body));
            *response.status_mut() = http::StatusCode::from_u16(failure.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        self.apply_to_headers(response.headers_mut());
    }

    /// Applies the outcome's headers to an `http` header map (feature `http`); for frameworks
    /// whose response is not an `http::Response` but holds an `http::HeaderMap`. The caller
    /// answers the [`failure`](Self::failure) first.
    #[cfg(feature = "http")]
    pub fn apply_to_headers(self, headers: &mut http::HeaderMap) {
        self.apply_headers(|name, value, action| {
            let Ok(value) = http::HeaderValue::try_from(value) else {
                return;
            };
            let name = http::HeaderName::from_static(name);
            if action == HeaderAction::Append {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        });
    }

    fn failed(failure: Failure) -> Self {
        let mut outcome = Self {
            failure: Some(failure),
            headers: Vec::new(),
        };
        outcome.push(
            "content-type",
            "text/plain; charset=utf-8",
            HeaderAction::Replace,
        );
        outcome.push("cache-control", "no-store", HeaderAction::Replace);
        outcome
    }

    fn push(
        &mut self,
        name: &'static str,
        value: impl Into<Cow<'static, str>>,
        action: HeaderAction,
    ) {
        self.headers.push(HeaderChange {
            name,
            value: value.into(),
            action,
        });
    }
}

enum State<T> {
    /// No handler asked for the session: nothing to decode, nothing to write.
    Untouched,
    /// Loaded, and not lent out.
    Ready(SessionHandle<T>),
    /// Held by a [`LentSession`] right now.
    Lent,
}

/// The session of one request, shared by an adapter's middleware and its extractor.
pub struct RequestSession<T> {
    manager: SessionManager,
    cookie_dropped_by_browsers: bool,
    state: Mutex<State<T>>,
    /// Why a lend failed, so that [`RequestSession::finish`] answers it in every framework,
    /// also where the framework renders an extractor's failure its own way.
    refused: std::sync::OnceLock<Failure>,
}

impl<T> fmt::Debug for RequestSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSession").finish_non_exhaustive()
    }
}

/// Why an adapter could not lend the session to a handler. Its `Display` (and `Debug`) is the
/// body to answer with [`status`](Self::status).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum LendError {
    /// The middleware is not installed for this session type (an application mistake).
    #[error("{0}")]
    NotInstalled(String),
    /// Another extractor of the same request holds the session (an application mistake).
    #[error("the session was extracted twice in one request; take one Session<T> per handler")]
    AlreadyLent,
    /// Store mode: the store could not be reached. Already logged.
    #[error("{STORE_UNAVAILABLE}")]
    StoreUnavailable,
}

impl fmt::Debug for LendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl LendError {
    /// The HTTP status to answer: 503 when the store is unavailable, 500 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::StoreUnavailable => 503,
            _ => 500,
        }
    }

    fn failure(&self) -> Option<Failure> {
        let body = match self {
            Self::NotInstalled(_) => return None,
            Self::AlreadyLent => {
                "the session was extracted twice in one request; take one Session<T> per handler"
            }
            Self::StoreUnavailable => STORE_UNAVAILABLE,
        };
        Some(Failure {
            status: self.status(),
            body,
        })
    }
}

impl<T: SessionData> RequestSession<T> {
    /// Starts the session of a request described by `facts`.
    pub fn new(manager: SessionManager, facts: &RequestFacts<'_>) -> Arc<Self> {
        let cookie_dropped_by_browsers =
            manager.cookie_settings().is_secure() && facts.is_plain_http_from_remote_host();
        Arc::new(Self {
            manager,
            cookie_dropped_by_browsers,
            state: Mutex::new(State::Untouched),
            refused: std::sync::OnceLock::new(),
        })
    }

    /// The error an extractor answers when it finds no `RequestSession<T>`: the middleware is
    /// missing. `message` says what to add, with `{T}` standing for the session type's name,
    /// e.g. "Session<{T}> needs its layer: add `.layer(SessionLayer::<{T}>::new(config)?)` to
    /// the router". Logs one error event.
    pub fn not_installed(message: &str) -> LendError {
        let full = std::any::type_name::<T>();
        let name = full.rsplit("::").next().unwrap_or(full);
        let error = LendError::NotInstalled(message.replace("{T}", name));
        tracing::error!(target: "session", "{error}");
        error
    }

    fn take(&self) -> State<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *state, State::Lent)
    }

    fn put(&self, state: State<T>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Lends the session to an extractor, loading it from the request's `Cookie` header values
    /// the first time. Values that are not valid UTF-8 are fine: only the session cookie's own
    /// pairs are read.
    ///
    /// # Errors
    /// [`LendError::AlreadyLent`] while another extractor of the same request holds it;
    /// [`LendError::StoreUnavailable`] when the store cannot be reached (logged here as one
    /// error event).
    pub async fn lend<'h>(
        self: &Arc<Self>,
        cookie_headers: impl IntoIterator<Item = &'h [u8]>,
    ) -> Result<LentSession<T>, LendError> {
        let refuse = |error: LendError| {
            if let Some(failure) = error.failure() {
                let _ = self.refused.set(failure);
            }
            Err(error)
        };
        let handle = match self.take() {
            State::Ready(handle) => handle,
            State::Untouched => match self.manager.load_from_bytes::<T>(cookie_headers).await {
                Ok(handle) => handle,
                Err(error) => {
                    self.put(State::Untouched);
                    tracing::error!(target: "session", %error, "session not loaded");
                    return refuse(LendError::StoreUnavailable);
                }
            },
            State::Lent => return refuse(LendError::AlreadyLent),
        };
        Ok(LentSession {
            handle: Some(handle),
            request: Arc::clone(self),
        })
    }

    /// After the handler: saves the session if a handler used it and answers what the
    /// response must get. Logs the "Secure cookie over plain HTTP" warning when it applies,
    /// and one error event when saving fails. When a [`lend`](Self::lend) failed, the outcome
    /// is that failure, whatever the framework made of the extractor's error.
    pub async fn finish(&self) -> Outcome {
        let outcome = self.save().await;
        match self.refused.get() {
            Some(failure) => Outcome::failed(*failure),
            None => outcome,
        }
    }

    async fn save(&self) -> Outcome {
        let mut outcome = Outcome::default();
        let mut handle = match self.take() {
            State::Untouched => return outcome,
            State::Ready(handle) => handle,
            State::Lent => {
                tracing::warn!(target: "session", "a Session<T> outlived its handler (moved into a task?); its changes were not saved");
                return outcome;
            }
        };
        match self.manager.save(&mut handle).await {
            Ok(None) => {}
            Ok(Some(set_cookie)) => {
                if self.cookie_dropped_by_browsers && !set_cookie.is_removal() {
                    self.manager.warn_cookie_dropped_by_browsers();
                }
                outcome.push(
                    "set-cookie",
                    set_cookie.into_header_value(),
                    HeaderAction::Append,
                );
                outcome.push("cache-control", "no-store", HeaderAction::Replace);
            }
            Err(error) => {
                tracing::error!(target: "session", %error, "session not saved");
                return Outcome::failed(Failure::for_error(&error));
            }
        }
        outcome
    }
}

/// The session of the current request, lent to a handler; goes back to its
/// [`RequestSession`] when dropped. Derefs to [`SessionHandle<T>`], which documents every
/// session method and derefs to `T`.
pub struct LentSession<T: SessionData> {
    handle: Option<SessionHandle<T>>,
    request: Arc<RequestSession<T>>,
}

impl<T: SessionData> Deref for LentSession<T> {
    type Target = SessionHandle<T>;
    fn deref(&self) -> &SessionHandle<T> {
        self.handle.as_ref().expect("present until drop")
    }
}

impl<T: SessionData> DerefMut for LentSession<T> {
    fn deref_mut(&mut self) -> &mut SessionHandle<T> {
        self.handle.as_mut().expect("present until drop")
    }
}

impl<T: SessionData> Drop for LentSession<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.request.put(State::Ready(handle));
        }
    }
}

impl<T: SessionData + fmt::Debug> fmt::Debug for LentSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Gives an adapter's `Session<T>` newtype over [`LentSession<T>`] its API: `Deref` and
/// `DerefMut` to `T` (a mutable borrow marks the session as changed), `Debug`, and the
/// session methods, each forwarding to the [`SessionHandle<T>`] method that documents it.
///
/// ```
/// use session_core::SessionData;
/// use session_core::adapter::LentSession;
///
/// /// The session of the current request.
/// pub struct Session<T: SessionData>(LentSession<T>);
/// session_core::adapter::session_extractor!(Session);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __session_extractor {
    ($session:ident) => {
        impl<T: $crate::SessionData> $session<T> {
            /// Ends the session: see [`SessionHandle::logout`]($crate::SessionHandle::logout).
            pub fn logout(&mut self) {
                self.0.logout();
            }
            /// Re-issues the session under a fresh issued-at (and id): see
            /// [`SessionHandle::renew`]($crate::SessionHandle::renew).
            pub fn renew(&mut self) {
                self.0.renew();
            }
            /// Store mode: records the user this session belongs to: see
            /// [`SessionHandle::set_user_key`]($crate::SessionHandle::set_user_key).
            ///
            /// # Errors
            /// `SessionError::Store(StoreError::NoStore)` in cookie mode, where there is no
            /// per-user index.
            pub fn set_user_key(
                &mut self,
                user_key: impl ::core::convert::Into<::std::string::String>,
            ) -> ::core::result::Result<(), $crate::SessionError> {
                self.0.set_user_key(user_key)
            }
            /// When the session was issued: see
            /// [`SessionHandle::issued_at`]($crate::SessionHandle::issued_at).
            pub fn issued_at(&self) -> ::core::option::Option<$crate::time::OffsetDateTime> {
                self.0.issued_at()
            }
            /// Leaves the cookie as it is for this response: see
            /// [`SessionHandle::leave_cookie_unchanged`]($crate::SessionHandle::leave_cookie_unchanged).
            pub fn leave_cookie_unchanged(&mut self) {
                self.0.leave_cookie_unchanged();
            }
            /// How this request's session came to be: see
            /// [`SessionHandle::status`]($crate::SessionHandle::status).
            pub fn status(&self) -> &$crate::LoadStatus {
                self.0.status()
            }
            /// Whether the session started empty: see
            /// [`SessionHandle::is_new`]($crate::SessionHandle::is_new).
            pub fn is_new(&self) -> bool {
                self.0.is_new()
            }
        }
        impl<T: $crate::SessionData> ::core::ops::Deref for $session<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }
        impl<T: $crate::SessionData> ::core::ops::DerefMut for $session<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
        impl<T: $crate::SessionData + ::core::fmt::Debug> ::core::fmt::Debug for $session<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&*self.0, f)
            }
        }
    };
}
#[doc(inline)]
pub use crate::__session_extractor as session_extractor;

/// Re-exports, from an adapter crate's root, everything an application and its tests need
/// from session-core, so that one dependency is enough in `[dependencies]` and
/// `[dev-dependencies]` alike; plus the hidden `__session_core` path the derive reaches the
/// runtime through. One list for every adapter.
///
/// ```ignore
/// session_core::adapter::reexport_application_api!();
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __reexport_application_api {
    () => {
        /// session-core itself, for `#[derive(SessionData)]` in crates that depend only on
        /// this one.
        #[doc(hidden)]
        pub use $crate as __session_core;
        #[doc(inline)]
        pub use $crate::{
            ConfigError, CookieSettings, Expiring, Flash, Key, KeyError, Keyring, KeyringError,
            LoadStatus, ManualClock, Rejection, RotationPolicy, SameSite, Schema, SessionConfig,
            SessionData, SessionError, SessionHandle, SessionManager, assert_schema, session,
            store, time,
        };
    };
}
#[doc(inline)]
pub use crate::__reexport_application_api as reexport_application_api;

/// Declares an adapter's middleware type: `pub struct $name<T>` holding the
/// [`SessionManager`], `Clone`, with `new(config)` (which checks the settings) and
/// `from_manager(manager)`, and a crate-private `manager()`. The attributes given (its docs)
/// go on the struct.
///
/// ```
/// session_core::adapter::middleware! {
///     /// The session middleware of my framework.
///     MySessionMiddleware
/// }
/// # fn main() {}
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __middleware {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        pub struct $name<T> {
            manager: $crate::SessionManager,
            _data: ::core::marker::PhantomData<fn() -> T>,
        }

        impl<T> ::core::clone::Clone for $name<T> {
            fn clone(&self) -> Self {
                Self {
                    manager: ::core::clone::Clone::clone(&self.manager),
                    _data: ::core::marker::PhantomData,
                }
            }
        }

        impl<T: $crate::SessionData> $name<T> {
            /// The middleware for `config`.
            ///
            /// # Errors
            /// A [`ConfigError`]($crate::ConfigError) when the settings contradict each
            /// other, so the application stops at start-up with a message that says how to
            /// fix them.
            pub fn new(
                config: $crate::SessionConfig,
            ) -> ::core::result::Result<Self, $crate::ConfigError> {
                ::core::result::Result::Ok(Self::from_manager($crate::SessionManager::new(
                    config,
                )?))
            }

            /// The middleware sharing an existing manager (and its keys) with other code.
            pub fn from_manager(manager: $crate::SessionManager) -> Self {
                Self {
                    manager,
                    _data: ::core::marker::PhantomData,
                }
            }
        }

        impl<T> $name<T> {
            #[allow(dead_code)]
            pub(crate) fn manager(&self) -> &$crate::SessionManager {
                &self.manager
            }
        }
    };
}
#[doc(inline)]
pub use crate::__middleware as middleware;

/// Declares an adapter's extractor rejection: `pub struct $name(LendError)` with `Debug` and
/// `Display` (the body to answer), `std::error::Error`, `From<LendError>`, and `status()`. The
/// adapter adds its framework's response trait (answer `status()` with `to_string()`).
#[doc(hidden)]
#[macro_export]
macro_rules! __rejection {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Debug)]
        pub struct $name($crate::adapter::LendError);

        impl $name {
            /// The HTTP status to answer: 503 when the store is unavailable, 500 otherwise.
            pub fn status(&self) -> u16 {
                self.0.status()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for $name {}

        impl ::core::convert::From<$crate::adapter::LendError> for $name {
            fn from(error: $crate::adapter::LendError) -> Self {
                Self(error)
            }
        }
    };
}
#[doc(inline)]
pub use crate::__rejection as rejection;
