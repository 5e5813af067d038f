//! The session of a request: [`SessionManager`] loads it from the request's cookies, the
//! handler reads and changes the typed [`SessionHandle`], and the manager produces the
//! [`SetCookie`] to send back. Adapters drive this through [`crate::adapter`]; tests and tools
//! can call [`SessionManager::load`] and [`SessionManager::save`] directly.
//!
//! Each [`SessionHandle`] is of the manager's mode: cookie mode (the `cookie_mode` module)
//! keeps the whole session in the cookie, store mode (the `store_mode` modules) keeps a signed
//! id in the cookie and the data in a [`SessionStore`](crate::store::SessionStore).

use std::sync::Arc;

use time::Duration;

use crate::config::SessionConfig;
use crate::cookie::CookieSettings;
use crate::error::{ConfigError, SessionError};
use crate::metrics::MeteredStore;
use crate::rejection::Rejection;
use crate::schema::SessionData;
use crate::store::{RecordKey, StoreError};
use crate::token::{Codec, MAX_COOKIE_BYTES, TokenTimes};

mod cookie_mode;
mod store_mode;
mod testing;

pub use crate::token::TokenInfo;

use self::cookie_mode::CookieState;
use self::store_mode::StoreState;
pub(crate) use self::store_mode::split_fields;

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
    /// The attributes of every `Set-Cookie` that is not a remembered session's, formatted
    /// once ([`CookieSettings::attributes`](crate::CookieSettings)).
    set_cookie_attributes: String,
    /// Whether the "Secure cookie over plain HTTP" warning was logged already.
    warned_plain_http: std::sync::atomic::AtomicBool,
    /// The schema this manager's cookie is claimed for, once middleware claimed it.
    claim: std::sync::Mutex<Option<crate::claims::ClaimGuard>>,
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
    /// Written by this schema version before fields were appended with `#[session(default)]`
    /// (see [`SessionData::PREFIXES`]): the appended fields got their defaults, and the
    /// session is written again with today's fingerprint.
    FieldsAppended,
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
    changed: bool,
    pending: Pending,
    mode: Mode,
    /// Every session cookie of the request was refused, for reasons that end it for every
    /// application that could have written it ([`Rejection::ends_the_cookie`]): saving an
    /// unchanged session answers a removal, so the browser stops sending it.
    remove_refused: bool,
    /// The cookie lifetime chosen during this request ([`SessionHandle::remember`]); `None`
    /// keeps the token's.
    remember: Option<bool>,
}

/// What a handle keeps besides its data, by session mode. The manager that creates a handle
/// picks its mode (whether a store is configured), also for a fresh one with no cookie.
enum Mode {
    /// Cookie mode: the whole session is the cookie.
    Cookie(CookieState),
    /// Store mode: the cookie carries a signed id, the data lives in the store.
    Store(StoreState),
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
        crate::metrics::describe();
        let codec = Codec::new(
            &config.keyring,
            &config.token_purpose(),
            config.rotation_policy,
            config.encrypt,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                set_cookie_attributes: config.cookie.attributes(),
                config,
                codec,
                warned_plain_http: Default::default(),
                claim: Default::default(),
            }),
        })
    }

    /// Claims this manager's cookie for the session type `T`, so that no other session type
    /// uses the same cookie name under the same keys: two would overwrite each other's cookie.
    /// Every adapter's middleware calls this when it is built; call it yourself when you drive
    /// the manager directly. Claiming again for `T` (or another version of its schema, same
    /// [`Schema::name`](crate::Schema)) succeeds; a claim lasts as long as the manager.
    ///
    /// The scope is the [`Keyring`](crate::Keyring) instance, shared by clones of the
    /// configuration: managers built from rings loaded separately (as parallel tests do) never
    /// conflict.
    ///
    /// # Errors
    /// [`ConfigError::CookieShared`] when a live manager on the same keyring, cookie name and
    /// an overlapping domain, or this manager itself, is claimed for another schema.
    pub fn claim_cookie<T: SessionData>(&self) -> Result<(), ConfigError> {
        let mut held = self
            .inner
            .claim
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::claims::claim(
            &self.inner.config,
            &mut held,
            T::SCHEMA.name,
            std::any::type_name::<T>(),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The cookie attributes.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.inner.config.cookie
    }

    /// Verifies a token (a cookie value) with this manager's keys and purpose and shows what
    /// it carries, without checking its deadlines: for tools such as `session inspect`.
    ///
    /// # Errors
    /// The [`Rejection`] a request carrying this token would get before its deadlines are
    /// checked (bad signature, unknown key, malformed, ...).
    pub fn inspect(&self, token: &str) -> Result<TokenInfo, Rejection> {
        self.inner.codec.inspect(token)
    }

    fn now(&self) -> i64 {
        self.inner.config.clock.unix_now()
    }

    /// Loads the session from the values of the request's `Cookie` headers.
    ///
    /// Several cookies with the session's name: the most recently issued of the ones that
    /// verify wins (at most 8 are opened, and in store mode at most 3 looked up). When none is
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
            None => Ok(self.load_cookie(values, now)),
            Some(store) => {
                let values: Vec<&str> = values.collect();
                self.load_stored(MeteredStore::new(store.as_ref()), values, now)
                    .await
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
        let set_cookie = match &self.inner.config.store {
            None => self.save_cookie(handle, now)?,
            Some(store) => {
                self.save_stored(MeteredStore::new(store.as_ref()), handle, now)
                    .await?
            }
        };
        if set_cookie.is_none() && handle.remove_refused && handle.pending != Pending::ReadOnly {
            // A refused cookie that nothing replaced: removed, so the browser stops sending it.
            handle.remove_refused = false;
            return Ok(Some(self.removal()));
        }
        Ok(set_cookie)
    }

    /// The `Set-Cookie` that removes the session cookie.
    fn removal(&self) -> SetCookie {
        SetCookie {
            header: self.inner.config.cookie.removal_header(),
            value_len: 0,
            removal: true,
        }
    }

    /// The `Set-Cookie` carrying `token`, issued with `times`, checked against the size
    /// browsers keep. A persistent session's cookie lives until the absolute deadline
    /// (`Max-Age`); any other has the configured lifetime (by default, the browser session).
    fn set_cookie(
        &self,
        token: &str,
        times: &TokenTimes,
        now: i64,
    ) -> Result<SetCookie, SessionError> {
        let cookie = &self.inner.config.cookie;
        let size = cookie.cookie_name().len() + 1 + token.len();
        if size > MAX_COOKIE_BYTES {
            return Err(SessionError::TooLarge {
                size,
                limit: MAX_COOKIE_BYTES,
            });
        }
        let persistent_for = times
            .persistent
            .then(|| Duration::seconds(times.absolute_deadline.saturating_sub(now).max(1)));
        Ok(SetCookie {
            header: cookie.set_cookie_header_with(
                token,
                persistent_for,
                &self.inner.set_cookie_attributes,
            ),
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
    /// An empty session (no cookie, or a refused one) in `mode`.
    fn fresh(status: LoadStatus, mode: Mode) -> Self {
        Self {
            data: T::default(),
            status,
            times: None,
            changed: false,
            pending: Pending::Nothing,
            mode,
            remove_refused: false,
            remember: None,
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

    /// Chooses the cookie's lifetime for this session ("remember me"; call it at login, next
    /// to [`renew`](Self::renew)):
    /// - `true`: a persistent cookie, which survives the browser being closed, with a
    ///   `Max-Age` up to the session's absolute deadline (shorter at each re-issue);
    /// - `false`: the configured lifetime, which by default is a browser-session cookie (no
    ///   `Max-Age`, no `Expires`; see [`CookieSettings::max_age`]).
    ///
    /// The idle and absolute timeouts apply either way: they are checked on the server, from
    /// inside the signed token, whatever the browser keeps. The choice is kept in the token
    /// (store mode: in the cookie's token, not the record), so later re-issues keep it, and a
    /// renewal carries it over. Changing it sends a new cookie.
    pub fn remember(&mut self, remember: bool) {
        if !matches!(self.pending, Pending::Logout | Pending::ReadOnly) {
            self.remember = Some(remember);
        }
    }

    /// Whether the session's cookie is persistent ([`remember`](Self::remember)): as chosen
    /// during this request, or as the loaded token says (never after a logout).
    pub fn is_remembered(&self) -> bool {
        if self.pending == Pending::Logout {
            return false;
        }
        self.remember
            .unwrap_or_else(|| self.times.as_ref().is_some_and(|times| times.persistent))
    }

    /// Whether [`remember`](Self::remember) asks for another lifetime than the loaded
    /// token's, so the cookie must be sent again.
    fn lifetime_changed(&self) -> bool {
        match (self.remember, &self.times) {
            (Some(remember), Some(times)) => remember != times.persistent,
            _ => false,
        }
    }

    /// Ends the session: the data is reset and the response removes the cookie.
    pub fn logout(&mut self) {
        self.remember = None;
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
    /// stable string of the application (a user id). Attaching a user is a privilege change:
    /// the session gets a fresh id when saved, even without `renew`.
    ///
    /// # Errors
    /// In cookie mode, [`SessionError::Store`] with [`StoreError::NoStore`]: there is no index
    /// and the key is not kept (see the README for the cookie-mode equivalent). An
    /// application that runs in both modes ignores exactly that error.
    pub fn set_user_key(&mut self, user_key: impl Into<String>) -> Result<(), SessionError> {
        match &mut self.mode {
            Mode::Store(state) => {
                state.set_user_key(user_key.into());
                Ok(())
            }
            Mode::Cookie(_) => Err(SessionError::Store(StoreError::NoStore)),
        }
    }

    /// Store mode: the user key recorded for this session, if any (set during this request,
    /// or loaded with the record). Always `None` in cookie mode.
    pub fn user_key(&self) -> Option<&str> {
        match &self.mode {
            Mode::Store(state) => state.user_key(),
            Mode::Cookie(_) => None,
        }
    }

    /// Store mode: labels this session's device for a "your devices" page (see
    /// [`SessionManager::user_sessions`]), e.g. "Firefox on Linux", derived by the application
    /// from the `User-Agent` header at login. Nothing is recorded unless the application calls
    /// this: keep the label coarse (a browser family and platform, not the whole header, which
    /// helps fingerprint users). Kept in the record, carried over by renewals; a label longer
    /// than 100 bytes is cut. Saved with the session (a change of label alone is a write).
    ///
    /// # Errors
    /// In cookie mode, [`SessionError::Store`] with [`StoreError::NoStore`], as for
    /// [`set_user_key`](Self::set_user_key).
    pub fn set_device(&mut self, label: impl Into<String>) -> Result<(), SessionError> {
        match &mut self.mode {
            Mode::Store(state) => {
                state.set_device(label.into());
                Ok(())
            }
            Mode::Cookie(_) => Err(SessionError::Store(StoreError::NoStore)),
        }
    }

    /// Store mode: the device label set during this request or loaded with the record.
    /// Always `None` in cookie mode.
    pub fn device(&self) -> Option<&str> {
        match &self.mode {
            Mode::Store(state) => state.device(),
            Mode::Cookie(_) => None,
        }
    }

    /// Store mode: the key of this session's record, once it has one (loaded, or saved during
    /// this request). Compare it with [`UserSession::key`](crate::store::UserSession::key) to
    /// mark the current session in a list of the user's sessions. `None` in cookie mode.
    pub fn record_key(&self) -> Option<RecordKey> {
        match &self.mode {
            Mode::Store(state) => state.record_key(),
            Mode::Cookie(_) => None,
        }
    }

    /// When the session was last active (its idle timeout counts from here), once loaded or
    /// saved: in both modes, from the signed token.
    pub fn last_active(&self) -> Option<time::OffsetDateTime> {
        self.times
            .as_ref()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.last_active).ok())
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

/// Redacted: a session in a log line must not become a replayable cookie or a leaked payload.
/// It shows how the session came to be and what the response will do; print the data itself
/// with `{:?}` of `&*session` when you mean to.
impl<T> std::fmt::Debug for SessionHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("status", &self.status)
            .field("changed", &self.changed)
            .field(
                "data",
                &format_args!("<{} redacted>", short_type_name::<T>()),
            )
            .finish_non_exhaustive()
    }
}

/// A type's name without its module path, for messages ("Session<AppSession> needs ...").
pub(crate) fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
