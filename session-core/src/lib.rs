//! Typed, signed, versioned sessions, independent of any web framework.
//!
//! `session-core` turns a serde struct into a cookie value that is signed with HMAC-SHA256
//! (optionally encrypted with AES-256-GCM-SIV), carries its own idle and absolute deadlines,
//! names the key that signed it and the schema that wrote it, and is refused, never misread,
//! when anything about it is off. Web framework adapters (`session-axum`, `session-actix`,
//! `session-rocket`) move headers between their framework and [`SessionManager`].
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use session_core::{Keyring, Schema, SessionConfig, SessionData, SessionManager};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct AppSession {
//!     user_id: Option<u64>,
//!     visits: u64,
//! }
//! impl SessionData for AppSession {
//!     const SCHEMA: Schema = Schema { name: "app", version: 1, fingerprint: 0x5eed };
//! }
//!
//! # pollster::block_on(async {
//! // In production: Keyring::from_env("SESSION_KEYS")?
//! let keys = Keyring::ephemeral_for_development();
//! let manager = SessionManager::new(SessionConfig::new(keys))?;
//!
//! let mut session = manager.load::<AppSession>(["other=1"]).await?; // the request's Cookie headers
//! session.data_mut().user_id = Some(42);
//! let set_cookie = manager.save(&mut session).await?.expect("changed");
//! assert!(set_cookie.header_value().starts_with("session="));
//! assert!(set_cookie.header_value().contains("HttpOnly"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What is where
//! - At the root: what an application uses. [`SessionData`] (trait and derive), [`Schema`]
//!   and [`SchemaPrefix`], [`Expiring`] and [`Flash`] fields, [`CsrfToken`]; [`SessionConfig`], [`CookieSettings`],
//!   [`SameSite`], [`CrossOriginProtection`];
//!   [`Key`], [`KeyId`], [`Keyring`], [`RotationPolicy`]; [`SessionManager`] and the
//!   per-request [`SessionHandle`] with its [`LoadStatus`]; [`Rejection`] (why a cookie was
//!   refused); the operator errors [`ConfigError`], [`KeyError`], [`KeyringError`] and
//!   [`SessionError`]; [`Clock`] and [`ManualClock`] for tests; [`assert_schema!`]; and the
//!   [`time`] crate, re-exported on purpose.
//! - [`session`]: the details of a loaded session ([`session::Reissue`],
//!   [`session::SetCookie`], [`session::TokenInfo`]).
//! - [`rejection`]: the details of a refusal ([`rejection::SchemaMismatch`]).
//! - [`store`]: the store contract ([`store::SessionStore`]) and [`store::MemoryStore`].
//! - [`adapter`]: the contract web-framework adapters implement. Applications never need it.
//!
//! # Feature flags
//! | feature | default | what it adds | cost |
//! |---|---|---|---|
//! | `derive` | yes | `#[derive(SessionData)]`, re-exported from `session-macros` (pinned to the same version) | a proc-macro build (syn, quote, toml_edit) at compile time, nothing at run time; without it, implement [`SessionData`] by hand |
//! | `memory-store` | yes | [`store::MemoryStore`], sessions in this process's memory | the `moka` cache (sync), no async runtime |
//! | `metrics` | no | the counters and histograms of [Metrics](#metrics), through the [`metrics`](https://docs.rs/metrics) facade (0.24) | the facade crate only; per event, one call into the installed recorder (a key lookup and an atomic add), and around each store call two clock readings; off, the helpers are empty and nothing is timed |
//!
//! Redis and memcached stores are crates of their own (`session-store-redis`,
//! `session-store-memcached`), so this crate's dependency tree has no async runtime and no
//! store client.
//!
//! # Metrics
//! With the `metrics` feature (each adapter has a `metrics` feature that turns it on), the
//! session events are counted, and store calls timed, through the [`metrics`](https://docs.rs/metrics)
//! facade. The application installs the recorder it likes (for Prometheus,
//! `metrics-exporter-prometheus`; the demos serve it on `GET /metrics`); without one, nothing
//! is kept. A [`SessionManager`] registers each metric's description and unit with the
//! recorder in force when it is built.
//!
//! | metric | kind | labels | counts |
//! |---|---|---|---|
//! | `session_loaded_total` | counter | | existing sessions read: a session cookie accepted (store mode: and its record found) |
//! | `session_created_total` | counter | | new sessions saved for the first time (cookie mode: a first token; store mode: a new record) |
//! | `session_renewed_total` | counter | | sessions re-issued under a new id or token: [`SessionHandle::renew`], or a user key attached at login |
//! | `session_ended_total` | counter | `cause`: `logout`, `revoked` | sessions ended: [`SessionHandle::logout`]; or by the application ([`SessionManager::end_session`], [`end_user_sessions`](SessionManager::end_user_sessions), [`end_other_sessions`](SessionManager::end_other_sessions); in store mode, a record [`SessionConfig::revoke_if`] revoked) |
//! | `session_rejected_total` | counter | `reason`: [`Rejection::code`] (`bad_signature`, `expired_idle`, `unknown_session`, ...) | session cookies refused; the request went on with a fresh session |
//! | `session_store_seconds` | histogram (seconds) | `op`: `load`, `save`, `delete`, `index` | the duration of each store call store mode makes, failed ones included (`index`: every per-user index method) |
//! | `session_store_errors_total` | counter | `op`, as above | store calls that failed; a store without per-user generations answering that it has none is not a failure |
//!
//! Each metric moves where the matching `tracing` event is written (target `session`: one per
//! rejection, one per lifecycle event), so logs and dashboards agree. Labels never carry a
//! session id, a user key or any session data.

#![deny(missing_docs)]

pub mod adapter;
mod claims;
mod clock;
mod config;
mod cookie;
mod cross_origin;
mod csrf;
mod error;
mod key;
mod keyring;
mod metrics;
pub mod rejection;
mod revocation;
mod schema;
pub mod session;
pub mod store;
mod token;

pub use crate::clock::{Clock, ManualClock};
pub use crate::config::SessionConfig;
pub use crate::cookie::{CookieSettings, SameSite};
pub use crate::cross_origin::CrossOriginProtection;
pub use crate::csrf::CsrfToken;
pub use crate::error::{ConfigError, KeyError, KeyringError, SessionError};
pub use crate::key::{Key, KeyId};
pub use crate::keyring::{Keyring, RotationPolicy};
pub use crate::rejection::Rejection;
pub use crate::schema::{Expiring, Flash, Schema, SchemaPrefix, SessionData};
pub use crate::session::{LoadStatus, SessionHandle, SessionManager};
/// Derives [`SessionData`](trait@SessionData): see the `session-macros` crate.
#[cfg(feature = "derive")]
pub use session_macros::SessionData;

/// Pins a session schema's fingerprint in a test, so a change to the struct's shape cannot go
/// out unnoticed (tokens already in browsers would be refused and users logged out).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session_core::SessionData;
///
/// #[derive(SessionData, Serialize, Deserialize, Default)]
/// struct AppSession {
///     user_id: Option<u64>,
/// }
///
/// // In a test. On failure the message shows the new fingerprint and what to do: update the
/// // pin when fields were only appended with `#[session(default)]` (old sessions stay
/// // readable), otherwise bump `version` and migrate.
/// let pinned = AppSession::SCHEMA.fingerprint_hex();
/// session_core::assert_schema!(AppSession, &pinned);
/// ```
#[macro_export]
macro_rules! assert_schema {
    ($session:ty, $fingerprint:expr $(,)?) => {
        $crate::__private::assert_schema::<$session>(::core::stringify!($session), $fingerprint)
    };
}

/// The `time` crate, re-exported on purpose: session timestamps are
/// [`time::OffsetDateTime`], timeouts are [`time::Duration`], and [`ManualClock::new`] takes
/// a start time. Use `session_core::time` (or your adapter's `time`) to get the same version.
pub use time;

/// What `#[derive(SessionData)]` and [`assert_schema!`] expand to reach. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use core::convert::From;
    pub use core::option::Option;
    pub use core::result::Result;

    pub use crate::rejection::Rejection;
    pub use crate::schema::{
        DecodeEffects, ExpiringField, FieldDeadlines, FieldVisitor, Schema, SchemaPrefix,
        SchemaRef, SessionData, decode_payload,
    };
    use crate::{Flash, schema};

    /// The body of a derived `migrate`: decode as `Old` (following its own chain), convert.
    #[allow(clippy::type_complexity)]
    pub fn migrate<New: From<Old>, Old: SessionData>(
        seen: SchemaRef<'_>,
        payload: &[u8],
        deadlines: &FieldDeadlines<'_>,
    ) -> Option<Result<(New, DecodeEffects), Rejection>> {
        Some(
            decode_payload::<Old>(seen, payload, deadlines)
                .map(|(old, effects)| (New::from(old), effects)),
        )
    }

    /// Type check for `#[session(flash)]` fields.
    pub fn assert_flash<T>(_: &Flash<T>) {}

    /// Compile-time checks of a `migrate_from` pair.
    pub const fn check_migration(old: schema::Schema, name: &str, version: u32) {
        if !str_eq(old.name, name) {
            panic!(
                "`migrate_from` must name an older version of the same session: give it the same `#[session(name = ...)]`"
            );
        }
        if old.version >= version {
            panic!(
                "`migrate_from` must name an older version: its `version` must be lower than this struct's"
            );
        }
    }

    const fn str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The body of [`assert_schema!`](crate::assert_schema).
    #[track_caller]
    pub fn assert_schema<T: SessionData>(type_name: &str, pinned: &str) {
        let schema = T::SCHEMA;
        let actual = schema.fingerprint_hex();
        if actual.eq_ignore_ascii_case(pinned.trim()) {
            return;
        }
        let name = schema.name;
        let version = schema.version;
        let appended = u32::from_str_radix(pinned.trim(), 16)
            .ok()
            .and_then(|pinned| T::PREFIXES.iter().find(|p| p.fingerprint == pinned));
        if let Some(prefix) = appended {
            let count = prefix.appended;
            let fields = if count == 1 {
                "field was"
            } else {
                "fields were"
            };
            panic!(
                "schema lock: {type_name} (session \"{name}\" v{version}) has fingerprint \"{actual}\", but the lock pins \"{pinned}\".\n\
                 {count} {fields} appended with #[session(default)] since the pinned shape: old sessions stay readable. \
                 Tokens and records of the pinned shape load with the appended fields taken from {type_name}::default() \
                 and are re-issued with the new fingerprint; no version bump or migration is needed.\n\
                 Update the pin to \"{actual}\": assert_schema!({type_name}, \"{actual}\").\n\
                 Rolling back to the pinned shape would refuse the sessions this one writes (a schema mismatch, users sign in again)."
            );
        }
        let next = version + 1;
        panic!(
            "schema lock: {type_name} (session \"{name}\" v{version}) has fingerprint \"{actual}\", but the lock pins \"{pinned}\".\n\
             The struct changed shape. Tokens already in browsers carry the old shape and will be refused \
             as a schema mismatch, which logs those users out. To keep them:\n\
             \x20 1. keep the previous struct as {type_name}V{version} with #[derive(SessionData)] and #[session(name = \"{name}\", version = {version})];\n\
             \x20 2. on {type_name}, bump to #[session(version = {next}, migrate_from = {type_name}V{version})] and impl From<{type_name}V{version}> for {type_name};\n\
             \x20 3. pin the new shape: assert_schema!({type_name}, \"<new fingerprint>\").\n\
             If the change only adds fields, append them after all the others with #[session(default)] instead: \
             old sessions stay readable without a version bump.\n\
             If logging everyone out is fine, bump `version` anyway and update the lock to \"{actual}\".",
        );
    }
}
