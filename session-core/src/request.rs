//! The session of one request, as web-framework adapters hold it.
//!
//! Frameworks with extractors need the session in two places: the middleware, which runs
//! around the handler, and the extractor the handler takes. A [`RequestSession`] is created by
//! the middleware (and stored in the request's extensions), lends the session to the
//! extractor on first use (loading it lazily, so routes that never touch the session pay
//! nothing for it), takes it back when the extractor is dropped at the end of the handler, and
//! saves it afterwards with [`RequestSession::finish`]. Adapters only move headers.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::SessionError;
use crate::schema::SessionData;
use crate::session::{LoadStatus, RequestOrigin, SessionHandle, SessionManager, SetCookie};

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
}

impl<T> fmt::Debug for RequestSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSession").finish_non_exhaustive()
    }
}

/// The session was asked for twice at once in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session was extracted twice in one request; take one Session<T> per handler")]
pub struct AlreadyLent;

/// Why [`RequestSession::lend`] could not hand out the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LendError {
    /// Another extractor of the same request holds the session (an application mistake).
    #[error(transparent)]
    AlreadyLent(#[from] AlreadyLent),
    /// Store mode: the store could not be reached. Already logged.
    #[error("the session could not be loaded: {0}")]
    Load(#[source] SessionError),
}

impl LendError {
    /// The HTTP status to answer: 503 when the store is unavailable, 500 otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::AlreadyLent(_) => 500,
            Self::Load(error) => error.status_code(),
        }
    }
}

impl<T: SessionData> RequestSession<T> {
    /// Starts the session of a request that arrived from `origin` (used to diagnose Secure
    /// cookies that browsers would drop).
    pub fn new(manager: SessionManager, origin: &RequestOrigin<'_>) -> Arc<Self> {
        let cookie_dropped_by_browsers = manager.cookie_dropped_by_browsers(origin);
        Arc::new(Self {
            manager,
            cookie_dropped_by_browsers,
            state: Mutex::new(State::Untouched),
        })
    }

    /// The session type's name without its module path, for messages such as "add
    /// `SessionLayer::<AppSession>`".
    pub fn type_name() -> &'static str {
        let full = std::any::type_name::<T>();
        full.rsplit("::").next().unwrap_or(full)
    }

    fn take(&self) -> State<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *state, State::Lent)
    }

    fn put(&self, handle: SessionHandle<T>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::Ready(handle);
    }

    /// Lends the session to an extractor, loading it from the request's `Cookie` header values
    /// the first time.
    ///
    /// # Errors
    /// [`LendError::AlreadyLent`] while another extractor of the same request holds it;
    /// [`LendError::Load`] when the store cannot be reached (logged here as one error event).
    pub async fn lend<'h>(
        self: &Arc<Self>,
        cookie_headers: impl IntoIterator<Item = &'h str>,
    ) -> Result<LentSession<T>, LendError> {
        let handle = match self.take() {
            State::Ready(handle) => handle,
            State::Untouched => match self.manager.load::<T>(cookie_headers).await {
                Ok(handle) => handle,
                Err(error) => {
                    *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::Untouched;
                    tracing::error!(target: "session", %error, "session not loaded");
                    return Err(LendError::Load(error));
                }
            },
            State::Lent => return Err(LendError::AlreadyLent(AlreadyLent)),
        };
        Ok(LentSession {
            handle: Some(handle),
            request: Arc::clone(self),
        })
    }

    /// After the handler: saves the session if a handler used it and returns the `Set-Cookie`
    /// to send (with [`SetCookie::CACHE_CONTROL`]). Logs the "Secure cookie over plain HTTP"
    /// warning when it applies, and one error event when saving fails.
    ///
    /// # Errors
    /// The [`SessionError`] that kept the session from being saved; the adapter answers 500,
    /// because the handler's changes are lost.
    pub async fn finish(&self) -> Result<Option<SetCookie>, SessionError> {
        let mut handle = match self.take() {
            State::Untouched => return Ok(None),
            State::Ready(handle) => handle,
            State::Lent => {
                tracing::warn!(target: "session", "a Session<T> outlived its handler (moved into a task?); its changes were not saved");
                return Ok(None);
            }
        };
        match self.manager.save(&mut handle).await {
            Ok(Some(set_cookie)) => {
                if self.cookie_dropped_by_browsers && !set_cookie.is_removal() {
                    self.manager.warn_cookie_dropped_by_browsers();
                }
                Ok(Some(set_cookie))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::error!(target: "session", %error, "session not saved");
                Err(error)
            }
        }
    }
}

/// The session of the current request, lent to a handler. Derefs to `T`; changing it through
/// `DerefMut` marks the session as changed. Goes back to its [`RequestSession`] when dropped.
pub struct LentSession<T: SessionData> {
    handle: Option<SessionHandle<T>>,
    request: Arc<RequestSession<T>>,
}

impl<T: SessionData> LentSession<T> {
    fn handle(&self) -> &SessionHandle<T> {
        self.handle.as_ref().expect("present until drop")
    }

    fn handle_mut(&mut self) -> &mut SessionHandle<T> {
        self.handle.as_mut().expect("present until drop")
    }

    /// Ends the session: the data is reset and the response removes the cookie.
    pub fn logout(&mut self) {
        self.handle_mut().logout();
    }

    /// Re-issues the session with a fresh issued-at (and, in store mode, a fresh id: the old
    /// one stops working), keeping the data. Call it at login and on privilege changes.
    pub fn renew(&mut self) {
        self.handle_mut().renew();
    }

    /// Store mode: records which user this session belongs to, for "log out everywhere";
    /// see [`SessionHandle::set_user_key`].
    pub fn set_user_key(&mut self, user_key: impl Into<String>) {
        self.handle_mut().set_user_key(user_key);
    }

    /// When the session was issued (or last renewed). Compare it with a per-user "not
    /// before" time to end older sessions in cookie mode.
    pub fn issued_at(&self) -> Option<time::OffsetDateTime> {
        self.handle().issued_at()
    }

    /// Leaves the cookie as it is for this response: no idle refresh, no re-issue, and changes
    /// are not saved. For routes that only look.
    pub fn leave_cookie_unchanged(&mut self) {
        self.handle_mut().leave_cookie_unchanged();
    }

    /// How this request's session came to be (new, loaded, or a refused cookie).
    pub fn status(&self) -> &LoadStatus {
        self.handle().status()
    }

    /// Whether the session started empty.
    pub fn is_new(&self) -> bool {
        self.handle().is_new()
    }
}

impl<T: SessionData> Deref for LentSession<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.handle().data()
    }
}

impl<T: SessionData> DerefMut for LentSession<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.handle_mut().data_mut()
    }
}

impl<T: SessionData> Drop for LentSession<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.request.put(handle);
        }
    }
}

impl<T: SessionData + fmt::Debug> fmt::Debug for LentSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("data", &**self)
            .field("status", self.status())
            .finish()
    }
}

/// Gives an adapter's `Session<T>` newtype over [`LentSession<T>`] the same API in every
/// framework: `Deref`/`DerefMut` to `T` and the session methods. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __session_extractor {
    ($session:ident) => {
        impl<T: $crate::SessionData> $session<T> {
            /// Ends the session: the data is reset and the response removes the cookie.
            pub fn logout(&mut self) {
                self.0.logout();
            }
            /// Re-issues the session with a fresh issued-at (in store mode, a fresh id: the
            /// old one stops working), keeping the data. Call it at login and on privilege
            /// changes.
            pub fn renew(&mut self) {
                self.0.renew();
            }
            /// Store mode: records which user this session belongs to, so that
            /// `SessionManager::end_user_sessions` can log them out everywhere.
            pub fn set_user_key(
                &mut self,
                user_key: impl ::core::convert::Into<::std::string::String>,
            ) {
                self.0.set_user_key(user_key);
            }
            /// When the session was issued (or last renewed).
            pub fn issued_at(&self) -> ::core::option::Option<$crate::__time::OffsetDateTime> {
                self.0.issued_at()
            }
            /// Leaves the cookie as it is for this response: no idle refresh, no re-issue,
            /// and changes are not saved. For routes that only look.
            pub fn leave_cookie_unchanged(&mut self) {
                self.0.leave_cookie_unchanged();
            }
            /// How this request's session came to be (new, loaded, or a refused cookie).
            pub fn status(&self) -> &$crate::LoadStatus {
                self.0.status()
            }
            /// Whether the session started empty.
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
                ::core::fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}
