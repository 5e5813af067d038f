//! [`RequestSession`]: the session of one request, shared by an adapter's middleware and its
//! extractor, lent to the handler as a [`LentSession`].

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Failure, HeaderAction, Outcome, RequestFacts, STORE_UNAVAILABLE};
use crate::schema::SessionData;
use crate::session::{SessionHandle, SessionManager, SetCookie};
use crate::store::{RecordKey, StoreError, UserSession};

/// The body of the `500` answered when a request extracts the session twice.
const ALREADY_LENT: &str =
    "the session was extracted twice in one request; take one Session<T> per handler";

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
    #[error("{ALREADY_LENT}")]
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
            Self::AlreadyLent => ALREADY_LENT,
            Self::StoreUnavailable => STORE_UNAVAILABLE,
        };
        Some(Failure {
            status: self.status(),
            body,
        })
    }
}

impl<T: SessionData> RequestSession<T> {
    /// Starts the session of a request described by `facts`, or refuses the request before
    /// its handler runs.
    ///
    /// # Errors
    /// The [`Outcome`] to answer instead of calling the handler (a [`Failure`] with status
    /// `403` and a body saying why, and its headers) when the cross-origin protection refuses
    /// the request: a state-changing request a browser sent from another site. Already
    /// logged as one `warn` event.
    pub fn new(
        manager: SessionManager,
        facts: &RequestFacts<'_>,
    ) -> Result<Arc<Self>, Box<Outcome>> {
        if let Err(refusal) = manager.config().cross_origin.check(facts) {
            return Err(Box::new(Outcome::failed(refusal.failure())));
        }
        let cookie_dropped_by_browsers =
            manager.cookie_settings().is_secure() && facts.is_plain_http_from_remote_host();
        Ok(Arc::new(Self {
            manager,
            cookie_dropped_by_browsers,
            state: Mutex::new(State::Untouched),
            refused: std::sync::OnceLock::new(),
        }))
    }

    /// The error an extractor answers when it finds no `RequestSession<T>`: the middleware is
    /// missing. `message` says what to add, with `{T}` standing for the session type's name,
    /// e.g. "Session<{T}> needs its layer: add `.layer(SessionLayer::<{T}>::new(config)?)` to
    /// the router". Logs one error event.
    pub fn not_installed(message: &str) -> LendError {
        let name = crate::session::short_type_name::<T>();
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

    /// After the handler, given the status it answered: saves the session if a handler used
    /// it and answers what the response must get. When a handler loaded the session, the
    /// response varies by `Cookie` and is `Cache-Control: private` (unless the application
    /// set its own), or `no-store` when it sets the cookie. Logs the "Secure cookie over plain
    /// HTTP" warning when it applies, and one error event when saving fails. When a
    /// [`lend`](Self::lend) failed, the outcome is that failure, whatever the framework made
    /// of the extractor's error.
    ///
    /// A handler that answered a server error (`5xx`) may have stopped half-way: its changes
    /// to the session are dropped, as a database transaction would roll back (Django does the
    /// same). A [`logout`](crate::SessionHandle::logout) still ends the session.
    pub async fn finish(&self, status: u16) -> Outcome {
        let outcome = self.save(status >= 500).await;
        match self.refused.get() {
            Some(failure) => Outcome::failed(*failure),
            None => outcome,
        }
    }

    async fn save(&self, server_error: bool) -> Outcome {
        let mut outcome = Outcome::default();
        let mut handle = match self.take() {
            State::Untouched => return outcome,
            State::Ready(handle) => handle,
            State::Lent => {
                tracing::warn!(target: "session", "a Session<T> outlived its handler (moved into a task?); its changes were not saved");
                return outcome;
            }
        };
        // A response that depends on the session must not be stored by shared caches, nor
        // served to a request with another cookie.
        outcome.push("vary", "Cookie", HeaderAction::Append);
        if server_error && !handle.is_logged_out() {
            if handle.is_changed() {
                tracing::debug!(target: "session", "the handler answered a server error: its session changes were dropped");
            }
            outcome.push("cache-control", "private", HeaderAction::IfAbsent);
            return outcome;
        }
        match self.manager.save(&mut handle).await {
            Ok(None) => outcome.push("cache-control", "private", HeaderAction::IfAbsent),
            Ok(Some(set_cookie)) => {
                if self.cookie_dropped_by_browsers && !set_cookie.is_removal() {
                    self.manager.warn_cookie_dropped_by_browsers();
                }
                outcome.push(
                    "set-cookie",
                    set_cookie.into_header_value(),
                    HeaderAction::Append,
                );
                outcome.push(
                    "cache-control",
                    SetCookie::CACHE_CONTROL,
                    HeaderAction::Replace,
                );
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

impl<T: SessionData> LentSession<T> {
    /// Store mode: the sessions of this session's user, this one marked current: see
    /// [`SessionManager::sessions_of`].
    ///
    /// # Errors
    /// As [`SessionManager::sessions_of`].
    pub async fn sessions_of_user(&self) -> Result<Vec<UserSession>, StoreError> {
        self.request.manager.sessions_of(self).await
    }

    /// Store mode: ends every other session of this session's user: see
    /// [`SessionManager::end_other_sessions`].
    ///
    /// # Errors
    /// As [`SessionManager::end_other_sessions`].
    pub async fn end_other_sessions(&mut self) -> Result<usize, StoreError> {
        let manager = self.request.manager.clone();
        manager.end_other_sessions(self).await
    }

    /// Store mode: ends one session of this session's user, as listed by
    /// [`sessions_of_user`](Self::sessions_of_user) ("sign out this device"); a key of
    /// another user's session ends nothing. Answers whether a session ended. See
    /// [`SessionManager::end_session`].
    ///
    /// # Errors
    /// As [`SessionManager::end_session`].
    pub async fn end_session(&self, key: &RecordKey) -> Result<bool, StoreError> {
        match self.user_key() {
            Some(user) => self.request.manager.end_session(user, key).await,
            None => self
                .request
                .manager
                .session_store()
                .map_or(Err(StoreError::NoStore), |_| Ok(false)),
        }
    }
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
