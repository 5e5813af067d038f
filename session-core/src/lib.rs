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
//! let mut session = manager.load::<AppSession>(["other=1"]).await; // the request's Cookie headers
//! session.data_mut().user_id = Some(42);
//! let set_cookie = manager.save(&mut session).await?.expect("changed");
//! assert!(set_cookie.header_value().starts_with("session="));
//! assert!(set_cookie.header_value().contains("HttpOnly"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Modules
//! - [`key`] and [`keyring`]: master keys, strength checks, rotation, key sources.
//! - [`token`]: the versioned token format and its [`Codec`].
//! - [`schema`]: the [`SessionData`] trait, [`Expiring`] and [`Flash`] fields, migrations.
//! - [`cookie`]: cookie attributes with safe defaults.
//! - [`config`] and [`session`]: settings, [`SessionManager`] and the per-request
//!   [`SessionHandle`].
//! - [`rejection`]: why a cookie was refused.
//!
//! # Feature flags
//! None yet; the crate has no optional dependencies.

#![deny(missing_docs)]

pub mod clock;
pub mod config;
pub mod cookie;
pub mod error;
pub mod key;
pub mod keyring;
pub mod rejection;
pub mod schema;
pub mod session;
pub mod token;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::config::SessionConfig;
pub use crate::cookie::{CookieSettings, SameSite};
pub use crate::error::{ConfigError, KeyError, KeyringError, SessionError};
pub use crate::key::{Key, KeyId};
pub use crate::keyring::{Keyring, RotationPolicy};
pub use crate::rejection::{Rejection, SchemaMismatch};
pub use crate::schema::{Expiring, Flash, Schema, SessionData};
pub use crate::session::{
    LoadStatus, Reissue, RequestOrigin, SessionHandle, SessionManager, SetCookie,
};
pub use crate::token::Codec;
