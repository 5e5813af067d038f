//! The framework-agnostic session: load from a request's cookies, hand typed data to the
//! application, and produce the `Set-Cookie` to send back.
//!
//! An adapter does three things per request:
//! 1. `manager.load::<T>(cookie_header_values).await?` before the handler (an error only in
//!    store mode, when the store is down: answer 503),
//! 2. lets the handler read and change the [`SessionHandle`],
//! 3. `manager.save(&mut handle).await` after it, and sends the returned `Set-Cookie`, if any.

use std::sync::Arc;

use time::Duration;

use crate::config::SessionConfig;
use crate::cookie::CookieSettings;
use crate::error::{ConfigError, SessionError};
use crate::rejection::Rejection;
use crate::schema::{
    DecodeEffects, FieldDeadlines, SessionData, collect_deadlines, decode_payload,
};
use crate::token::{Codec, MAX_COOKIE_BYTES, SealInput, TokenTimes};

mod stored;

/// Loads and saves sessions for one configuration. Cheap to clone (shared state).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session_core::{Keyring, Schema, SessionConfig, SessionData, SessionManager};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Visits { count: u64 }
/// impl SessionData for Visits {
///     const SCHEMA: Schema = Schema { name: "visits", version: 1, fingerprint: 1 };
/// }
///
/// # pollster::block_on(async {
/// let manager = SessionManager::new(SessionConfig::new(Keyring::ephemeral_for_development()))?;
///
/// // First request: no cookie.
/// let mut session = manager.load::<Visits>([]).await?;
/// session.data_mut().count += 1;
/// let set_cookie = manager.save(&mut session).await?.expect("changed, so a cookie is sent");
///
/// // Second request: the browser sends the cookie back.
/// let value = set_cookie.value();
/// let cookie_header = format!("session={value}");
/// let session = manager.load::<Visits>([cookie_header.as_str()]).await?;
/// assert_eq!(session.data().count, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SessionConfig,
    codec: Codec,
    /// Whether the "Secure cookie over plain HTTP" warning was logged already.
    warned_plain_http: std::sync::atomic::AtomicBool,
}

/// Why a loaded session will be written again even if the handler changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reissue {
    /// Signed by an older key of the ring: re-sign with the current key.
    RotatedKey,
    /// The idle deadline needs pushing (at most once per refresh interval).
    RefreshDue,
    /// Written by an older schema version and migrated.
    Migrated,
    /// An expiring field's deadline passed; its value leaves the cookie.
    FieldExpired,
    /// Written with the other encryption setting than the current one.
    EncryptionChanged,
}

/// How the session of this request came to be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadStatus {
    /// No session cookie came with the request.
    New,
    /// A session cookie came and was refused; the session starts empty.
    Rejected(Rejection),
    /// A valid session was loaded.
    Loaded {
        /// Why it will be re-issued, if it will.
        reissue: Option<Reissue>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Renew,
    Logout,
    ReadOnly,
}

/// The session of one request: typed data plus what the response must do about the cookie.
///
/// Derefs to `T`; changing it through `DerefMut` (or [`data_mut`](Self::data_mut)) marks the
/// session as changed. Every adapter's `Session<T>` derefs to this type, so these methods are
/// the session API in every framework.
pub struct SessionHandle<T> {
    data: T,
    status: LoadStatus,
    times: Option<TokenTimes>,
    /// The decoded token (or last payload written) and where the payload sits in it, to tell
    /// a real change from a mutable borrow that changed nothing.
    loaded: Vec<u8>,
    loaded_payload: std::ops::Range<usize>,
    changed: bool,
    pending: Pending,
    /// Store mode: the record as loaded or last written.
    stored: Option<Box<stored::Stored>>,
    /// A user key set during this request, for the per-user index.
    user_key: Option<String>,
}

/// A `Set-Cookie` header value to send with the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    header: String,
    value_len: usize,
    removal: bool,
}

impl SetCookie {
    /// The `Cache-Control` value adapters send with every response that sets the session
    /// cookie, so no shared cache stores one user's cookie and serves it to another.
    pub const CACHE_CONTROL: &'static str = "no-store";

    /// The full header value, e.g. `session=...; HttpOnly; SameSite=Lax; Secure; Path=/`.
    pub fn header_value(&self) -> &str {
        &self.header
    }

    /// The cookie value alone (the token), empty for a removal.
    pub fn value(&self) -> &str {
        let start = self.header.find('=').map_or(0, |i| i + 1);
        &self.header[start..start + self.value_len]
    }

    /// Whether this header removes the cookie (logout).
    pub fn is_removal(&self) -> bool {
        self.removal
    }

    /// The header value as an owned string.
    pub fn into_header_value(self) -> String {
        self.header
    }
}

impl SessionManager {
    /// Checks the configuration and derives the token keys.
    ///
    /// # Errors
    /// A [`ConfigError`] when settings contradict each other.
    pub fn new(config: SessionConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let codec = Codec::new(
            &config.keyring,
            &config.token_purpose(),
            config.rotation_policy,
            config.encrypt,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                codec,
                warned_plain_http: Default::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The cookie attributes.
    pub fn cookie(&self) -> &CookieSettings {
        &self.inner.config.cookie
    }

    /// The token codec (for tools that inspect tokens).
    pub fn codec(&self) -> &Codec {
        &self.inner.codec
    }

    fn now(&self) -> i64 {
        self.inner.config.clock.unix_now()
    }

    /// Loads the session from the values of the request's `Cookie` headers.
    ///
    /// Several cookies with the session's name: the first one accepted wins. When none is
    /// accepted, one `tracing` event records why the first was refused and the session starts
    /// empty; a client can never make this fail.
    ///
    /// # Errors
    /// Only in store mode: [`SessionError::Store`] when the store cannot be reached. The
    /// request must then fail (adapters answer 503): going on with an empty session would log
    /// the user out.
    pub async fn load<'h, T: SessionData>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'h str>,
    ) -> Result<SessionHandle<T>, SessionError> {
        self.load_from_bytes(cookie_headers.into_iter().map(str::as_bytes))
            .await
    }

    /// [`load`](Self::load) from raw `Cookie` header bytes (the adapter contract's way).
    pub(crate) async fn load_from_bytes<'h, T: SessionData>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'h [u8]>,
    ) -> Result<SessionHandle<T>, SessionError> {
        let now = self.now();
        let values = self.inner.config.cookie.values_in_bytes(cookie_headers);
        match &self.inner.config.store {
            None => Ok(self.load_at(values, now)),
            Some(store) => {
                let values: Vec<&str> = values.collect();
                self.load_stored(store.as_ref(), values, now).await
            }
        }
    }

    /// Checks a token's times against `now`; answers whether the idle deadline is due for a
    /// push and the session's absolute deadline.
    fn check_times(&self, times: &TokenTimes, now: i64) -> Result<(bool, i64), Rejection> {
        let config = &self.inner.config;
        let skew = config.clock_skew.whole_seconds();
        if times.issued_at > now + skew || times.last_active > now + skew {
            return Err(Rejection::FromTheFuture);
        }
        let deadline = times.absolute_deadline.min(
            times
                .issued_at
                .saturating_add(config.absolute_timeout.whole_seconds()),
        );
        if now >= deadline {
            return Err(Rejection::ExpiredAbsolute);
        }
        let mut refresh_due = false;
        if let Some(idle) = config.idle_timeout {
            if now >= times.last_active.saturating_add(idle.whole_seconds()) {
                return Err(Rejection::ExpiredIdle);
            }
            refresh_due = now - times.last_active >= config.refresh_interval.whole_seconds();
        }
        Ok((refresh_due, deadline))
    }

    fn load_at<'h, T: SessionData>(
        &self,
        values: impl Iterator<Item = &'h str>,
        now: i64,
    ) -> SessionHandle<T> {
        let cookie = &self.inner.config.cookie;
        let mut first_rejection = None;
        let mut buf = Vec::new();
        for value in values {
            match self.decode::<T>(value, now, &mut buf) {
                Ok(handle) => {
                    if let Some(rejection) = first_rejection {
                        tracing::debug!(target: "session", cookie = cookie.cookie_name(), reason = Rejection::code(&rejection), "skipped a duplicate session cookie that was refused");
                    }
                    return handle;
                }
                Err(rejection) => {
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        match first_rejection {
            None => SessionHandle::fresh(LoadStatus::New),
            Some(rejection) => {
                rejection.log(cookie.cookie_name());
                SessionHandle::fresh(LoadStatus::Rejected(rejection))
            }
        }
    }

    fn decode<T: SessionData>(
        &self,
        value: &str,
        now: i64,
        buf: &mut Vec<u8>,
    ) -> Result<SessionHandle<T>, Rejection> {
        let opened = self.inner.codec.open(value, buf)?;
        let times = opened.times;
        let (refresh_due, _) = self.check_times(&times, now)?;
        let deadlines = FieldDeadlines {
            deadlines: &times.field_deadlines,
            now,
        };
        let (data, effects): (T, DecodeEffects) =
            decode_payload(opened.schema, opened.payload, &deadlines)?;
        let reissue = if effects.migrated {
            Some(Reissue::Migrated)
        } else if !opened.signed_by_current_key {
            Some(Reissue::RotatedKey)
        } else if effects.fields_expired {
            Some(Reissue::FieldExpired)
        } else if opened.encrypted != self.inner.codec.encrypts() {
            Some(Reissue::EncryptionChanged)
        } else if refresh_due {
            Some(Reissue::RefreshDue)
        } else {
            None
        };
        let loaded_payload = opened.payload_start..opened.payload_start + opened.payload.len();
        Ok(SessionHandle {
            data,
            status: LoadStatus::Loaded { reissue },
            loaded: std::mem::take(buf),
            loaded_payload,
            times: Some(times),
            changed: false,
            pending: Pending::Nothing,
            stored: None,
            user_key: None,
        })
    }

    /// Decides what the response must say about the cookie and writes the token if needed:
    /// `None` when nothing changed and no re-issue is due; a new token when the data changed,
    /// the session was renewed, or a re-issue is due; a removal after logout.
    ///
    /// # Errors
    /// [`SessionError::TooLarge`] when the token would not fit in a cookie (the message
    /// suggests a server-side store), or a serialization error.
    ///
    /// In store mode, also [`SessionError::Store`] when the store failed: the changes were not
    /// kept (adapters answer 503).
    pub async fn save<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
    ) -> Result<Option<SetCookie>, SessionError> {
        let now = self.now();
        match &self.inner.config.store {
            None => self.save_at(handle, now),
            Some(store) => self.save_stored(store.as_ref(), handle, now).await,
        }
    }

    fn save_at<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        let config = &self.inner.config;
        if handle.pending == Pending::Logout {
            return Ok(Some(self.removal()));
        }
        if handle.pending == Pending::ReadOnly {
            return Ok(None);
        }
        let reissue = matches!(handle.status, LoadStatus::Loaded { reissue: Some(_) });
        let renew = handle.pending == Pending::Renew;
        if !handle.changed && !reissue && !renew {
            return Ok(None);
        }
        let field_deadlines = collect_deadlines(&mut handle.data, now);
        // Sized like the last payload, so postcard rarely has to grow the buffer.
        let capacity = handle.loaded_payload.len().max(32) + 16;
        let payload = postcard::to_extend(&handle.data, Vec::with_capacity(capacity))
            .map_err(|e| SessionError::Serialize(e.to_string()))?;
        let absolute = config.absolute_timeout.whole_seconds();
        let times = match (&handle.times, renew) {
            (Some(old), false) => {
                if !reissue
                    && payload == handle.loaded[handle.loaded_payload.clone()]
                    && field_deadlines == old.field_deadlines
                {
                    // Marked as changed, but the bytes are the same: nothing to send.
                    return Ok(None);
                }
                TokenTimes {
                    issued_at: old.issued_at,
                    last_active: now,
                    absolute_deadline: old
                        .absolute_deadline
                        .min(old.issued_at.saturating_add(absolute)),
                    field_deadlines,
                }
            }
            (None, false) if field_deadlines.is_empty() && is_default_payload::<T>(&payload)? => {
                // A new visitor whose session was borrowed but is still empty: no cookie.
                return Ok(None);
            }
            _ => TokenTimes {
                issued_at: now,
                last_active: now,
                absolute_deadline: now.saturating_add(absolute),
                field_deadlines,
            },
        };
        let token = self.inner.codec.seal(&SealInput {
            schema: &T::SCHEMA,
            times: &times,
            payload: &payload,
        })?;
        let set_cookie = self.set_cookie(&token)?;
        handle.times = Some(times);
        handle.loaded_payload = 0..payload.len();
        handle.loaded = payload;
        handle.changed = false;
        handle.pending = Pending::Nothing;
        handle.status = LoadStatus::Loaded { reissue: None };
        Ok(Some(set_cookie))
    }

    /// The `Set-Cookie` that removes the session cookie.
    fn removal(&self) -> SetCookie {
        SetCookie {
            header: self.inner.config.cookie.removal_header(),
            value_len: 0,
            removal: true,
        }
    }

    /// The `Set-Cookie` carrying `token`, checked against the size browsers keep.
    fn set_cookie(&self, token: &str) -> Result<SetCookie, SessionError> {
        let cookie = &self.inner.config.cookie;
        let size = cookie.cookie_name().len() + 1 + token.len();
        if size > MAX_COOKIE_BYTES {
            return Err(SessionError::TooLarge {
                size,
                limit: MAX_COOKIE_BYTES,
            });
        }
        Ok(SetCookie {
            header: cookie.set_cookie_header(token),
            value_len: token.len(),
            removal: false,
        })
    }

    /// Logs, once per manager, that a Secure session cookie was sent over plain HTTP and how
    /// to fix it.
    pub(crate) fn warn_cookie_dropped_by_browsers(&self) {
        use std::sync::atomic::Ordering;
        if !self.inner.warned_plain_http.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "session",
                cookie = self.inner.config.cookie.cookie_name(),
                "the session cookie is Secure but this request came over plain HTTP from a host \
                 other than localhost: browsers will not store it, so sessions will not persist. \
                 Serve the site over HTTPS; if a proxy terminates TLS, have it send \
                 `X-Forwarded-Proto: https`; for local development browse http://localhost, or \
                 use CookieSettings::secure(false) in development only"
            );
        }
    }

    /// The idle timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.inner.config.idle_timeout
    }
}

/// Whether `payload` is what `T::default()` serializes to.
fn is_default_payload<T: SessionData>(payload: &[u8]) -> Result<bool, SessionError> {
    let default =
        postcard::to_allocvec(&T::default()).map_err(|e| SessionError::Serialize(e.to_string()))?;
    Ok(payload == default)
}

impl<T: SessionData> SessionHandle<T> {
    fn fresh(status: LoadStatus) -> Self {
        Self {
            data: T::default(),
            status,
            times: None,
            loaded: Vec::new(),
            loaded_payload: 0..0,
            changed: false,
            pending: Pending::Nothing,
            stored: None,
            user_key: None,
        }
    }

    /// The session data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The session data, for changing; marks the session as changed.
    pub fn data_mut(&mut self) -> &mut T {
        self.changed = true;
        &mut self.data
    }

    /// How this request's session came to be.
    pub fn status(&self) -> &LoadStatus {
        &self.status
    }

    /// Whether the session started empty (no cookie, or a refused one).
    pub fn is_new(&self) -> bool {
        self.times.is_none()
    }

    /// Whether the handler changed the data.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Re-issues the session with a fresh issued-at (and, in store mode, a fresh id), keeping
    /// the data. Call it at login and on privilege changes.
    pub fn renew(&mut self) {
        if !matches!(self.pending, Pending::Logout | Pending::ReadOnly) {
            self.pending = Pending::Renew;
        }
    }

    /// Promises that this response leaves the cookie as it is: no refresh of the idle
    /// deadline, no re-issue, and changes made to the data are not saved. For routes that only
    /// look (a status probe, a "who am I" peek). [`logout`](Self::logout) still wins.
    pub fn leave_cookie_unchanged(&mut self) {
        if self.pending != Pending::Logout {
            self.pending = Pending::ReadOnly;
        }
    }

    /// Ends the session: the data is reset and the response removes the cookie.
    pub fn logout(&mut self) {
        self.data = T::default();
        self.pending = Pending::Logout;
    }

    /// Whether [`logout`](Self::logout) was called.
    pub fn is_logged_out(&self) -> bool {
        self.pending == Pending::Logout
    }

    /// Store mode: records the user this session belongs to (call it at login, next to
    /// [`renew`](Self::renew)), so that
    /// [`SessionManager::end_user_sessions`] can end all of the user's sessions ("log out
    /// everywhere") and [`SessionManager::user_sessions`] can list them. The key is any
    /// stable string of the application (a user id). In cookie mode there is no index and the
    /// key is not kept; see the README for the cookie-mode equivalent.
    pub fn set_user_key(&mut self, user_key: impl Into<String>) {
        self.user_key = Some(user_key.into());
    }

    /// Store mode: the user key recorded for this session, if any.
    pub fn user_key(&self) -> Option<&str> {
        self.user_key
            .as_deref()
            .or_else(|| self.stored.as_ref().and_then(|s| s.user()))
    }

    /// When the session was issued (or last renewed), once loaded or saved.
    pub fn issued_at(&self) -> Option<time::OffsetDateTime> {
        self.times
            .as_ref()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.issued_at).ok())
    }
}

impl<T> std::ops::Deref for SessionHandle<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> std::ops::DerefMut for SessionHandle<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.changed = true;
        &mut self.data
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for SessionHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("data", &self.data)
            .field("status", &self.status)
            .finish()
    }
}
