//! `#[derive(SessionData)]`: turns a struct into a named, versioned session schema for
//! `session-core`. Use it through `session_core::SessionData` (or an adapter's re-export).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use session_core::{Expiring, Flash, SessionData};
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "app", version = 2, migrate_from = AppSessionV1)]
//! struct AppSession {
//!     user_id: Option<u64>,
//!     #[session(expires_in = "5m")]
//!     sudo: Expiring<bool>,
//!     #[session(flash)]
//!     notice: Flash<String>,
//!     visits: u64,
//! }
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "app")]
//! struct AppSessionV1 {
//!     user_id: Option<u64>,
//! }
//!
//! impl From<AppSessionV1> for AppSession {
//!     fn from(old: AppSessionV1) -> Self {
//!         AppSession { user_id: old.user_id, ..Default::default() }
//!     }
//! }
//!
//! assert_eq!(AppSession::SCHEMA.name, "app");
//! assert_eq!(AppSession::SCHEMA.version, 2);
//! ```
//!
//! Container attributes: `name = "..."` (default: the type name in snake_case; `[a-z0-9_-]`),
//! `version = N` (default 1), `migrate_from = OldType`, `crate = "path::to::session_core"`.
//! Field attributes: `expires_in = "15m"` on an `Expiring<T>` (units `s`, `m`, `h`, `d`,
//! combinable: `"1h30m"`), `flash` on a `Flash<T>`.

#![deny(missing_docs)]

mod ast;
mod attr;
mod expand;
mod fallback;
mod manifest;
mod valid;

/// Derives `session_core::SessionData`. See the crate documentation for the attributes.
#[proc_macro_derive(SessionData, attributes(session))]
pub fn derive_session_data(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}
