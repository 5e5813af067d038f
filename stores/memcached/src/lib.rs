//! Sessions in memcached for session-core and its adapters: [`MemcachedStore`], one key per
//! session field plus a head key that lists them, exact deadlines checked on read.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Keyring, SessionConfig};
//! use session_store_memcached::MemcachedStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemcachedStore::connect("127.0.0.1:11211", Duration::from_secs(2)).await?;
//! let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?).store(Arc::new(store));
//! # Ok(()) }
//! ```
//!
//! The store runs on tokio (the `async-memcached` client needs it): use it from a tokio
//! runtime, as axum, actix-web and Rocket all provide.

#![deny(missing_docs)]

mod commands;
mod error;
mod expiry;
mod index;
mod keys;
mod pool;
mod record;
mod store;

pub use store::MemcachedStore;
