//! Why a session cookie was not accepted.
//!
//! A rejection is not an application error: the request goes on with a fresh, empty session,
//! and one `tracing` event (target `session`) records the reason. Tampering is logged at
//! `warn`, normal expiry at `info`. Neither the token, nor the payload, nor a key is logged.

use std::fmt;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The cookie value is longer than 4096 bytes; refused before any decoding.
    Oversized {
        /// The length of the value.
        len: usize,
    },
    /// The value is not a token of a known shape (bad base64, truncated, bad header).
    Malformed(&'static str),
    /// The token's format version is not one this library reads.
    UnsupportedFormat {
        /// The version byte found.
        version: u8,
    },
    /// The token names a key id that is not in the keyring (a removed key or a forgery).
    UnknownKey,
    /// The token was signed by an older key and the policy accepts only the current key.
    RetiredKey,
    /// The signature does not match, and the token's purpose tag names another cookie or
    /// application. The tag sits outside any valid signature, so it is only a hint: the
    /// token may as well be forged with that byte chosen. Logged at `warn` like a bad
    /// signature.
    WrongPurpose,
    /// The signature does not match: the token was altered or forged.
    BadSignature,
    /// The signature is valid but the encrypted payload does not open.
    DecryptionFailed,
    /// The token claims to be issued or used in the future, beyond the allowed clock skew.
    FromTheFuture,
    /// The session outlived its absolute lifetime.
    ExpiredAbsolute,
    /// The session was idle for longer than the idle timeout.
    ExpiredIdle,
    /// The token was written by another schema, or a version with no migration path.
    SchemaMismatch(SchemaMismatch),
    /// The signature and schema match but the payload does not decode.
    Undecodable,
    /// Store mode: the cookie is valid but its session is not in the store: it ended by
    /// logout, "log out everywhere", renewal or expiry (or the store was emptied).
    UnknownSession,
    /// The application's check ([`SessionConfig::revoke_if`](crate::SessionConfig::revoke_if))
    /// revoked the session: a password change, "log out everywhere", a disabled account.
    Revoked,
}

/// How a token's schema differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaMismatch {
    /// Another schema name.
    Name {
        /// The name this application expects.
        expected: &'static str,
        /// The name in the token.
        seen: String,
    },
    /// A version with no migration path.
    Version {
        /// The schema name.
        name: &'static str,
        /// The version this application writes.
        expected: u32,
        /// The version in the token.
        seen: u32,
    },
    /// Same name and version, different fields: the struct changed without a version bump.
    Fingerprint {
        /// The schema name.
        name: &'static str,
        /// The version.
        version: u32,
        /// The fingerprint this application has.
        expected: u32,
        /// The fingerprint in the token.
        seen: u32,
    },
    /// The token belongs to the other session mode: the application moved between cookie
    /// mode and a server-side store.
    SessionMode {
        /// The schema name.
        name: &'static str,
        /// `true`: the token is a store's session id and this application keeps sessions in
        /// cookies; `false`: the other way round.
        token_is_store_id: bool,
    },
}

impl Rejection {
    /// A short, stable code for logs and metrics, such as `bad_signature`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Oversized { .. } => "oversized",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedFormat { .. } => "unsupported_format",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::WrongPurpose => "wrong_purpose",
            Self::BadSignature => "bad_signature",
            Self::DecryptionFailed => "decryption_failed",
            Self::FromTheFuture => "from_the_future",
            Self::ExpiredAbsolute => "expired_absolute",
            Self::ExpiredIdle => "expired_idle",
            Self::SchemaMismatch(_) => "schema_mismatch",
            Self::Undecodable => "undecodable",
            Self::UnknownSession => "unknown_session",
            Self::Revoked => "revoked",
        }
    }

    /// Whether the rejection suggests tampering or an attack (logged at `warn`) rather than
    /// the normal end of a session or a deployment change (logged at `info`).
    pub fn is_suspicious(&self) -> bool {
        !matches!(
            self,
            Self::ExpiredAbsolute
                | Self::ExpiredIdle
                | Self::SchemaMismatch(_)
                | Self::RetiredKey
                | Self::UnknownSession
                | Self::Revoked
        )
    }

    /// Whether the refused cookie is dead for every application that could have written it,
    /// so the response may remove it and the browser stops sending it: not one of another
    /// session type on the same cookie name (its MAC verified), nor one that may be valid
    /// elsewhere (issued "in the future" by a server whose clock is ahead, a newer schema
    /// version or the other session mode written by a newer deployment during a rollout).
    pub(crate) fn ends_the_cookie(&self) -> bool {
        match self {
            Self::FromTheFuture => false,
            Self::SchemaMismatch(
                SchemaMismatch::Name { .. } | SchemaMismatch::SessionMode { .. },
            ) => false,
            Self::SchemaMismatch(SchemaMismatch::Version { expected, seen, .. }) => seen < expected,
            _ => true,
        }
    }

    /// Records this rejection as one `tracing` event for the cookie `cookie_name`. A schema
    /// mismatch (a deployment changed the session struct) comes with every request of every
    /// user who had a session, so only the first in the process is logged at `warn`, with what
    /// to do; the rest at `debug`. With the `metrics` feature, every rejection also counts in
    /// `session_rejected_total{reason}`.
    pub(crate) fn log(&self, cookie_name: &str) {
        crate::metrics::rejected(self);
        if let Self::SchemaMismatch(mismatch) = self {
            use std::sync::atomic::{AtomicBool, Ordering};
            static WARNED: AtomicBool = AtomicBool::new(false);
            if WARNED.swap(true, Ordering::Relaxed) {
                tracing::debug!(target: "session", cookie = cookie_name, reason = self.code(), "session cookie rejected: {self}");
            } else {
                tracing::warn!(target: "session", cookie = cookie_name, reason = self.code(), "session cookie rejected: {self}; {} (further schema mismatches are logged at debug)", mismatch.fix());
            }
            return;
        }
        if self.is_suspicious() {
            tracing::warn!(target: "session", cookie = cookie_name, reason = self.code(), "session cookie rejected: {self}");
        } else {
            tracing::info!(target: "session", cookie = cookie_name, reason = self.code(), "session cookie rejected: {self}");
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oversized { len } => {
                write!(f, "cookie value is {len} bytes, over the 4096-byte limit")
            }
            Self::Malformed(what) => write!(f, "malformed token: {what}"),
            Self::UnsupportedFormat { version } => {
                write!(f, "unsupported token format version {version}")
            }
            Self::UnknownKey => f.write_str(
                "names a key id that is not in the keyring (a forgery, or a token of a key that was removed)",
            ),
            Self::RetiredKey => {
                f.write_str("signed with a retired key and the policy accepts only the current key")
            }
            Self::WrongPurpose => f.write_str(
                "signature does not match; its unsigned purpose tag names another cookie or application, which is only a hint (altered, forged, or minted for another cookie)",
            ),
            Self::BadSignature => f.write_str("signature does not match (altered or forged)"),
            Self::DecryptionFailed => {
                f.write_str("signature matches but the payload does not decrypt")
            }
            Self::FromTheFuture => {
                f.write_str("issued or last used in the future, beyond the allowed clock skew")
            }
            Self::ExpiredAbsolute => f.write_str("session reached its absolute lifetime"),
            Self::ExpiredIdle => f.write_str("session was idle past the idle timeout"),
            Self::SchemaMismatch(m) => write!(f, "schema mismatch: {m}"),
            Self::Undecodable => f.write_str("payload does not decode with the expected schema"),
            Self::UnknownSession => f.write_str(
                "no such session in the store (ended by logout, renewal, revocation or expiry)",
            ),
            Self::Revoked => f.write_str(
                "revoked by the application's check (SessionConfig::revoke_if): a password change or \"log out everywhere\"",
            ),
        }
    }
}

impl SchemaMismatch {
    /// What the operator can do about it.
    fn fix(&self) -> &'static str {
        match self {
            Self::Name { .. } => {
                "two session types share this cookie name: give each its own with CookieSettings::name"
            }
            Self::Version { .. } => {
                "users with such a session start a new one; to keep their sessions, add a migration from that version (#[session(migrate_from = ...)])"
            }
            Self::Fingerprint { .. } => {
                "users with such a session start a new one and the cookie is removed; when changing the struct, append new fields after all the others with #[session(default)] (old sessions stay readable), or bump #[session(version = ...)] and add a migration so sessions carry over (assert_schema! catches this in a test)"
            }
            Self::SessionMode { .. } => "users with such a session sign in again",
        }
    }
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name { expected, seen } => {
                write!(f, "token is for schema {seen:?}, expected {expected:?}")
            }
            Self::Version {
                name,
                expected,
                seen,
            } => write!(
                f,
                "token has {name} version {seen}, this application writes version {expected} and has no migration from {seen}"
            ),
            Self::Fingerprint {
                name,
                version,
                expected,
                seen,
            } => write!(
                f,
                "token has {name} v{version} with fingerprint {seen:08x}, expected {expected:08x} (the struct changed without a version bump)"
            ),
            Self::SessionMode {
                name,
                token_is_store_id: true,
            } => write!(
                f,
                "token is a server-side store's {name} session id, but this application keeps sessions in cookies (SessionConfig::store was removed; users sign in again)"
            ),
            Self::SessionMode {
                name,
                token_is_store_id: false,
            } => write!(
                f,
                "token is a cookie-mode {name} session, but this application keeps sessions in a server-side store (SessionConfig::store was added; users sign in again)"
            ),
        }
    }
}

impl std::error::Error for Rejection {}
