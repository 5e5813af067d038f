//! The declarations every adapter makes, written once: its middleware type, its extractor's
//! newtype and rejection, and its re-exports.

/// Gives an adapter's `Session<T>` newtype over [`LentSession<T>`](super::LentSession) its API: `Deref` and
/// `DerefMut` to `T` (a mutable borrow marks the session as changed), `Debug`, and the
/// session methods, each forwarding to the [`SessionHandle<T>`](crate::SessionHandle) method that documents it.
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
            /// Chooses a persistent cookie or the configured lifetime ("remember me"): see
            /// [`SessionHandle::remember`]($crate::SessionHandle::remember).
            pub fn remember(&mut self, remember: bool) {
                self.0.remember(remember);
            }
            /// Whether the session's cookie is persistent: see
            /// [`SessionHandle::is_remembered`]($crate::SessionHandle::is_remembered).
            pub fn is_remembered(&self) -> bool {
                self.0.is_remembered()
            }
            /// When the session was last active: see
            /// [`SessionHandle::last_active`]($crate::SessionHandle::last_active).
            pub fn last_active(&self) -> ::core::option::Option<$crate::time::OffsetDateTime> {
                self.0.last_active()
            }
            /// Store mode: labels this session's device for a "your devices" page: see
            /// [`SessionHandle::set_device`]($crate::SessionHandle::set_device).
            ///
            /// # Errors
            /// `SessionError::Store(StoreError::NoStore)` in cookie mode.
            pub fn set_device(
                &mut self,
                label: impl ::core::convert::Into<::std::string::String>,
            ) -> ::core::result::Result<(), $crate::SessionError> {
                self.0.set_device(label)
            }
            /// Store mode: this session's device label: see
            /// [`SessionHandle::device`]($crate::SessionHandle::device).
            pub fn device(&self) -> ::core::option::Option<&str> {
                self.0.device()
            }
            /// Store mode: the sessions of this session's user, this one marked current (a
            /// "your devices" page): see
            /// [`SessionManager::sessions_of`]($crate::SessionManager::sessions_of).
            ///
            /// # Errors
            /// `StoreError::NoStore` in cookie mode; the store's error otherwise.
            pub async fn sessions_of_user(
                &self,
            ) -> ::core::result::Result<
                ::std::vec::Vec<$crate::store::UserSession>,
                $crate::store::StoreError,
            > {
                self.0.sessions_of_user().await
            }
            /// Store mode: ends every other session of this session's user ("sign out all
            /// other devices"): see
            /// [`SessionManager::end_other_sessions`]($crate::SessionManager::end_other_sessions).
            ///
            /// # Errors
            /// `StoreError::NoStore` in cookie mode; the store's error otherwise.
            pub async fn end_other_sessions(
                &mut self,
            ) -> ::core::result::Result<usize, $crate::store::StoreError> {
                self.0.end_other_sessions().await
            }
            /// Store mode: ends one session of this session's user, by the key
            /// [`sessions_of_user`](Self::sessions_of_user) listed ("sign out this device");
            /// a key of another user's session ends nothing. Answers whether one ended.
            ///
            /// # Errors
            /// `StoreError::NoStore` in cookie mode; the store's error otherwise.
            pub async fn end_session(
                &self,
                key: &$crate::store::RecordKey,
            ) -> ::core::result::Result<bool, $crate::store::StoreError> {
                self.0.end_session(key).await
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
            ConfigError, CookieSettings, CrossOriginProtection, CsrfToken, Expiring, Flash, Key,
            KeyError, Keyring, KeyringError, LoadStatus, ManualClock, Rejection, RotationPolicy,
            SameSite, Schema, SchemaPrefix, SessionConfig, SessionData, SessionError,
            SessionHandle, SessionManager, assert_schema, session, store, time,
        };
    };
}
#[doc(inline)]
pub use crate::__reexport_application_api as reexport_application_api;

/// Declares an adapter's middleware type: `pub struct $name<T>` holding the
/// [`SessionManager`](crate::SessionManager), `Clone`, with `new(config)` (which checks the settings) and
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
            /// other, or when another session type already uses this cookie name with the
            /// same keys (see
            /// [`SessionManager::claim_cookie`]($crate::SessionManager::claim_cookie)), so the
            /// application stops at start-up with a message that says how to fix them.
            pub fn new(
                config: $crate::SessionConfig,
            ) -> ::core::result::Result<Self, $crate::ConfigError> {
                Self::from_manager($crate::SessionManager::new(config)?)
            }

            /// The middleware sharing an existing manager (and its keys) with other code.
            ///
            /// # Errors
            /// [`ConfigError::CookieShared`]($crate::ConfigError::CookieShared) when the
            /// manager's cookie is claimed for another session type (see
            /// [`SessionManager::claim_cookie`]($crate::SessionManager::claim_cookie)).
            pub fn from_manager(
                manager: $crate::SessionManager,
            ) -> ::core::result::Result<Self, $crate::ConfigError> {
                manager.claim_cookie::<T>()?;
                ::core::result::Result::Ok(Self {
                    manager,
                    _data: ::core::marker::PhantomData,
                })
            }

            /// For the application's own tests: a `Cookie` header value (`name=token`) that
            /// carries `data` as a session starting now, by the configured clock; a request
            /// that sends it reaches the handlers with `data` loaded. In store mode the record
            /// is written to the store first. See
            /// [`SessionManager::cookie_for`]($crate::SessionManager::cookie_for).
            ///
            /// # Errors
            /// The session does not fit in a cookie, or the store failed.
            pub async fn cookie_for(
                &self,
                data: &T,
            ) -> ::core::result::Result<::std::string::String, $crate::SessionError> {
                self.manager.cookie_for(data).await
            }

            /// For the application's own tests: the session a response's `Set-Cookie` header
            /// value carries, as the next request would load it; `None` for another cookie,
            /// a removal (logout), or a cookie that does not load. See
            /// [`SessionManager::session_from_set_cookie`]($crate::SessionManager::session_from_set_cookie).
            ///
            /// # Errors
            /// Only in store mode: the store could not be reached.
            pub async fn session_from_set_cookie(
                &self,
                set_cookie: &str,
            ) -> ::core::result::Result<::core::option::Option<T>, $crate::SessionError> {
                self.manager.session_from_set_cookie(set_cookie).await
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
