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
//! combinable: `"1h30m"`), `flash` on a `Flash<T>`, `default` on a field appended at the end.
//!
//! # Adding a field without a new version
//! A field appended after all the others with `#[session(default)]` keeps the sessions written
//! before it readable: their tokens and store records load with the field taken from
//! `Self::default()` and are re-issued with the new fingerprint. No `version` bump, no copy of
//! the old struct, no `From`. It combines with `expires_in` and `flash` (an appended
//! `Expiring` or `Flash` field starts empty).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use session_core::{Flash, SessionData};
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "shop")]
//! struct ShopSessionBefore {
//!     user_id: Option<u64>,
//! }
//!
//! #[derive(SessionData, Serialize, Deserialize, Default)]
//! #[session(name = "shop")] // same name, same version
//! struct ShopSession {
//!     user_id: Option<u64>,
//!     #[session(default)]
//!     cart: Vec<u32>,
//!     #[session(default, flash)]
//!     notice: Flash<String>,
//! }
//!
//! // The derive lists the fingerprints of the earlier field lists it still reads.
//! let before = ShopSessionBefore::SCHEMA.fingerprint;
//! assert!(ShopSession::PREFIXES.iter().any(|p| p.fingerprint == before && p.appended == 2));
//! ```
//!
//! Only appending is free. `default` fields must come after every field without it (a compile
//! error says so otherwise), and cannot be serde-`skip`ped. Removing, renaming, reordering or
//! retyping a field, or inserting one before others, changes the fingerprint of a field list
//! that old sessions do not share: that needs a new `version` and `migrate_from`, and
//! `session_core::assert_schema!` says which of the two cases a change is. serde's own
//! `#[serde(default)]` does not count: it applies only to formats that can tell a field is
//! missing, which the session payload (postcard) cannot, and its value may differ from
//! `Self::default()`'s.
//!
//! The change goes one way: code with the old struct (a rollback, or the old half of a rolling
//! deployment) refuses the tokens the new struct writes as a fingerprint mismatch, and those
//! users start a new session.

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
