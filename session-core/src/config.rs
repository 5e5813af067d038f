//! Everything a deployment decides: keys, cookie attributes, timeouts, encryption.

use std::sync::Arc;

use time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::cookie::CookieSettings;
use crate::cross_origin::CrossOriginProtection;
use crate::error::ConfigError;
use crate::keyring::{Keyring, RotationPolicy};
use crate::revocation::Revocations;
use crate::schema::SessionData;
use crate::store::SessionStore;

/// Session settings. Every default is the safe one; [`SessionManager::new`] checks the whole
/// for contradictions so a mistake stops start-up.
///
/// | setting | default |
/// |---|---|
/// | cookie | `session`, HttpOnly, Secure, SameSite=Lax, Path=/, browser-session |
/// | idle timeout | 30 minutes, sliding |
/// | absolute lifetime | 24 hours from login |
/// | idle refresh interval | 60 seconds (a read re-signs at most once a minute) |
/// | clock skew allowed | 60 seconds |
/// | encryption | off (signed only; turn on when the data must stay unreadable) |
/// | rotation | tokens from older keys accepted and re-issued |
/// | cross-origin protection | on: state-changing requests a browser sent from another site get 403 |
///
/// ```
/// use session_core::{Keyring, SessionConfig, SessionManager};
/// use time::Duration;
///
/// let config = SessionConfig::new(Keyring::ephemeral_for_development())
///     .idle_timeout(Some(Duration::minutes(15)))
///     .absolute_timeout(Duration::hours(8))
///     .encrypt(true);
/// let manager = SessionManager::new(config)?;
/// # Ok::<(), session_core::ConfigError>(())
/// ```
///
/// [`SessionManager::new`]: crate::SessionManager::new
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub(crate) keyring: Keyring,
    pub(crate) cookie: CookieSettings,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) absolute_timeout: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) clock_skew: Duration,
    pub(crate) encrypt: bool,
    pub(crate) rotation_policy: RotationPolicy,
    pub(crate) purpose: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    pub(crate) cross_origin: CrossOriginProtection,
    pub(crate) revocations: Revocations,
}

const MAX_TIMEOUT: Duration = Duration::days(3650);

impl SessionConfig {
    /// Safe defaults with the given keys.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            cookie: CookieSettings::default(),
            idle_timeout: Some(Duration::minutes(30)),
            absolute_timeout: Duration::hours(24),
            refresh_interval: Duration::seconds(60),
            clock_skew: Duration::seconds(60),
            encrypt: false,
            rotation_policy: RotationPolicy::default(),
            purpose: String::new(),
            clock: Arc::new(SystemClock),
            store: None,
            cross_origin: CrossOriginProtection::new(),
            revocations: Revocations::default(),
        }
    }

    /// Keeps sessions in a server-side store: the cookie then carries only a signed random
    /// session id, logout deletes the record (a copied cookie stops working), and requests
    /// write only the fields they changed. See [`crate::store`].
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The server-side store, if sessions are kept in one.
    pub fn session_store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.store.as_ref()
    }

    /// Replaces the keyring, for example after a rotation.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = keyring;
        self
    }

    /// Sets the cookie attributes.
    pub fn cookie(mut self, cookie: CookieSettings) -> Self {
        self.cookie = cookie;
        self
    }

    /// Sets the idle timeout: a session unused for this long ends. `None` disables it.
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Sets the absolute lifetime: a session ends this long after login, however active.
    pub fn absolute_timeout(mut self, absolute: Duration) -> Self {
        self.absolute_timeout = absolute;
        self
    }

    /// Sets how often a read-only request may re-sign the cookie to push the idle deadline
    /// (the throttle of the sliding timeout). Must be shorter than the idle timeout.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Sets how far in the future an issued-at or last-active time may be (clock drift
    /// between servers) before the token is refused.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Encrypts the payload (AES-256-GCM-SIV) so the client cannot read it.
    pub fn encrypt(mut self, encrypt: bool) -> Self {
        self.encrypt = encrypt;
        self
    }

    /// Sets whether tokens from older keys are accepted.
    pub fn rotation_policy(mut self, policy: RotationPolicy) -> Self {
        self.rotation_policy = policy;
        self
    }

    /// Sets the application purpose the tokens are bound to, besides the cookie name. Two
    /// applications sharing keys and cookie name but with different purposes refuse each
    /// other's tokens.
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = purpose.into();
        self
    }

    /// Sets the time source (tests inject a [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the cross-origin request protection (on by default): trusted origins, exempt
    /// paths, or [`CrossOriginProtection::disabled`].
    pub fn cross_origin(mut self, protection: CrossOriginProtection) -> Self {
        self.cross_origin = protection;
        self
    }

    /// Adds the application's own check on sessions of `T`, run on every load, after the
    /// signature, the deadlines and the schema were checked and before the handler sees the
    /// session: answering `true` revokes it. A revoked session is refused like an expired one
    /// ([`Rejection::Revoked`](crate::Rejection::Revoked), one `tracing` event), its cookie is
    /// removed, and the request goes on with a fresh session; in store mode its record is
    /// deleted too. Several checks for one type: any of them revokes.
    ///
    /// It gets the session data and when the session was issued (at login, or its last
    /// [`renew`](crate::SessionHandle::renew)). This is how cookie mode gets "log out
    /// everywhere" and logout after a password change, which it cannot get from a store:
    /// - keep a per-user "sessions issued before T are void" time, set it when the password
    ///   changes and [`renew`](crate::SessionHandle::renew) the session that changed it;
    ///   compare with `issued_at < void_before` (whole seconds: a session issued in the same
    ///   second as the change survives);
    /// - or keep something derived from the credential in the session at login (Django's
    ///   session auth hash, a password generation number) and compare it with the current one.
    ///
    /// The check runs on every request that loads a session, on the request's task: keep it
    /// to memory lookups (a map kept current by the application, a `moka` cache), never a
    /// blocking call.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::{Arc, RwLock};
    /// use serde::{Deserialize, Serialize};
    /// use session_core::time::OffsetDateTime;
    /// use session_core::{Keyring, SessionConfig, SessionData};
    ///
    /// #[derive(Default, Serialize, Deserialize, SessionData)]
    /// struct AppSession { user_id: Option<u64> }
    ///
    /// // Per user: sessions issued before this time were revoked (set on password change).
    /// let void_before: Arc<RwLock<HashMap<u64, OffsetDateTime>>> = Default::default();
    /// let revoked = void_before.clone();
    /// let config = SessionConfig::new(Keyring::ephemeral_for_development()).revoke_if(
    ///     move |session: &AppSession, issued_at| {
    ///         session.user_id.is_some_and(|user| {
    ///             revoked.read().unwrap().get(&user).is_some_and(|t| issued_at < *t)
    ///         })
    ///     },
    /// );
    /// ```
    pub fn revoke_if<T: SessionData>(
        mut self,
        check: impl Fn(&T, time::OffsetDateTime) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.revocations.add(check);
        self
    }

    /// The cross-origin request protection.
    pub fn cross_origin_protection(&self) -> &CrossOriginProtection {
        &self.cross_origin
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The cookie attributes.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.cookie
    }

    /// The string the token keys are bound to: cookie name and application purpose.
    pub(crate) fn token_purpose(&self) -> String {
        format!("cookie={};app={}", self.cookie.cookie_name(), self.purpose)
    }

    /// Checks the settings for contradictions.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cookie.validate()?;
        self.cross_origin.validate()?;
        let check = |setting: &'static str, value: Duration| {
            if value < Duration::SECOND || value > MAX_TIMEOUT {
                Err(ConfigError::InvalidTimeout {
                    setting,
                    seconds: value.whole_seconds(),
                })
            } else {
                Ok(())
            }
        };
        check("absolute timeout", self.absolute_timeout)?;
        check("refresh interval", self.refresh_interval)?;
        if self.clock_skew.is_negative() || self.clock_skew > Duration::hours(1) {
            return Err(ConfigError::InvalidTimeout {
                setting: "clock skew (0 to 3600 seconds)",
                seconds: self.clock_skew.whole_seconds(),
            });
        }
        if let Some(idle) = self.idle_timeout {
            check("idle timeout", idle)?;
            if idle > self.absolute_timeout {
                return Err(ConfigError::IdleLongerThanAbsolute {
                    idle: idle.whole_seconds(),
                    absolute: self.absolute_timeout.whole_seconds(),
                });
            }
            if self.refresh_interval >= idle {
                return Err(ConfigError::RefreshNotShorterThanIdle {
                    refresh: self.refresh_interval.whole_seconds(),
                    idle: idle.whole_seconds(),
                });
            }
        }
        if self.purpose.len() > 128 || self.purpose.chars().any(char::is_control) {
            return Err(ConfigError::InvalidPurpose {
                purpose: self.purpose.clone(),
            });
        }
        Ok(())
    }
}
