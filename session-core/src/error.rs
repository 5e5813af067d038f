//! Errors for operators and applications.
//!
//! These are mistakes to fix (a weak key, contradictory cookie settings, a session too large
//! for a cookie). Problems with what a *client* sent are not errors: they are
//! [`Rejection`](crate::Rejection)s, and the request proceeds with a fresh session.

use std::path::PathBuf;

/// `Debug` shows the same message as `Display` (the reason and the fix): `fn main() ->
/// Result<(), Box<dyn Error>>` prints an error with `Debug`, and the operator must see the fix.
macro_rules! debug_as_display {
    ($($error:ty),* $(,)?) => {$(
        impl std::fmt::Debug for $error {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }
    )*};
}
pub(crate) use debug_as_display;

debug_as_display!(KeyError, KeyringError, ConfigError, SessionError);

/// How to make a good key, appended to every key error.
pub(crate) const KEYGEN_HINT: &str = "generate one with `session keygen` (cargo run -p session-cli -- keygen) \
or `openssl rand -base64 32`";

/// The format of a key list, shown by every key-list error.
pub(crate) const KEYS_FORMAT: &str = "id:base64[,id:base64...] (first key signs, all keys verify), \
e.g. SESSION_KEYS=k2:<new key>,k1:<old key>";

/// A key or key list that cannot be used.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key text is empty.
    #[error("the key is empty; {KEYGEN_HINT}")]
    Empty,
    /// The key text is neither hex nor base64.
    #[error(
        "the key is neither hex (only hex digits, an even number of them) nor base64 (standard or URL-safe, padded or not); {KEYGEN_HINT}"
    )]
    NotBase64,
    /// Fewer than 32 bytes of key material.
    #[error(
        "the key is {len} bytes long, and at least 32 random bytes are required; {KEYGEN_HINT}"
    )]
    TooShort {
        /// The length that was given.
        len: usize,
    },
    /// Every byte of the key is the same.
    #[error("the key is one byte repeated, which is not secret; {KEYGEN_HINT}")]
    RepeatedByte,
    /// The key is a short repeating pattern.
    #[error(
        "the key has only {distinct} distinct byte values, a pattern rather than random bytes; {KEYGEN_HINT}"
    )]
    Repetitive {
        /// How many distinct byte values the key has.
        distinct: usize,
    },
    /// The key is a block of bytes repeated.
    #[error(
        "the key repeats a {period}-byte block, a pattern rather than random bytes; {KEYGEN_HINT}"
    )]
    RepeatedBlock {
        /// The length of the block.
        period: usize,
    },
    /// The key is a sequence: each byte is the one `period` places before it plus `step`.
    #[error(
        "the key is a sequence (each byte is the byte {period} before it plus {step}), not random bytes; {KEYGEN_HINT}"
    )]
    Sequence {
        /// How many bytes apart the bytes that determine each other are (1 for `0, 1, 2, ...`).
        period: usize,
        /// What each byte adds, wrapping (255 for a descending sequence).
        step: u8,
    },
    /// The key is a known placeholder from documentation or examples.
    #[error("the key contains the placeholder {word:?}, which attackers try first; {KEYGEN_HINT}")]
    Placeholder {
        /// The placeholder found.
        word: &'static str,
    },
    /// The key's text is easy to guess (words, names, dates, keyboard runs), so it was typed
    /// rather than generated.
    #[error(
        "the key looks typed by hand: its text is easy to guess (words, names, dates, keyboard runs or repeats, as the zxcvbn estimator judges it); keys must be random bytes; {KEYGEN_HINT}"
    )]
    LooksTyped,
    /// A key id has characters or a length that tokens cannot carry.
    #[error("key id {id:?} is invalid: use 1 to 16 characters from A-Z a-z 0-9 . _ -")]
    InvalidId {
        /// The offending id (cut to 40 characters).
        id: String,
    },
    /// The operating system could not supply random bytes.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
}

/// A key list (keyring) that cannot be loaded.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The environment variable is not set.
    #[error("{var} is not set: it must hold {KEYS_FORMAT}; {KEYGEN_HINT}")]
    MissingVar {
        /// The variable name.
        var: String,
    },
    /// The environment variable is set but not valid UTF-8.
    #[error("{var} is not valid UTF-8: it must hold {KEYS_FORMAT}")]
    NotUnicode {
        /// The variable name.
        var: String,
    },
    /// The list has no entries.
    #[error("{source_name} holds no keys: it must hold {KEYS_FORMAT}; {KEYGEN_HINT}")]
    Empty {
        /// Where the list came from (a variable name or a file path).
        source_name: String,
    },
    /// An entry is not `id:base64`.
    #[error(
        "{source_name}, entry {position}: expected `id:base64`, found no `:`; the list must hold {KEYS_FORMAT}"
    )]
    MissingId {
        /// Where the list came from.
        source_name: String,
        /// The 1-based position of the entry.
        position: usize,
    },
    /// An entry's key or id is refused.
    #[error("{source_name}, entry {position} (id {id:?}): {error}")]
    BadEntry {
        /// Where the list came from.
        source_name: String,
        /// The 1-based position of the entry.
        position: usize,
        /// The entry's id as written (ids are not secret).
        id: String,
        /// Why the entry is refused.
        #[source]
        error: KeyError,
    },
    /// Two entries share an id.
    #[error("{source_name}: key id {id:?} appears twice; every key needs its own id")]
    DuplicateId {
        /// Where the list came from.
        source_name: String,
        /// The repeated id.
        id: String,
    },
    /// Two entries hold the same key material under different ids.
    #[error(
        "{source_name}: keys {first:?} and {second:?} are the same key; rotate with `session rotate` instead of copying a key"
    )]
    DuplicateKey {
        /// Where the list came from.
        source_name: String,
        /// The first id.
        first: String,
        /// The second id.
        second: String,
    },
    /// A key file is readable (or writable) by other users.
    #[error("key file {path} has mode {mode:o}, which lets other users read or change it; run `chmod 600 {path}`", path = path.display())]
    FileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file cannot be read.
    #[error("cannot read key file {path}: {error}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
}

/// Settings that contradict each other or cannot work; found when a
/// [`SessionManager`](crate::SessionManager) is built, so the application stops at start-up.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    #[error(
        "cookie {name:?}: SameSite=None requires Secure (browsers refuse the cookie otherwise); keep `secure(true)` or choose SameSite=Lax"
    )]
    SameSiteNoneWithoutSecure {
        /// The cookie name.
        name: String,
    },
    /// A `__Host-` cookie with a Domain.
    #[error(
        "cookie {name:?}: the __Host- prefix forbids a Domain attribute; remove `domain(..)` or drop the prefix"
    )]
    HostPrefixWithDomain {
        /// The cookie name.
        name: String,
    },
    /// A `__Host-` cookie with a path other than `/`.
    #[error(
        "cookie {name:?}: the __Host- prefix requires Path=/ but the path is {path:?}; use `path(\"/\")` or drop the prefix"
    )]
    HostPrefixWithPath {
        /// The cookie name.
        name: String,
        /// The configured path.
        path: String,
    },
    /// A `__Host-` or `__Secure-` cookie without `Secure`.
    #[error(
        "cookie {name:?}: the __Host- and __Secure- prefixes require Secure; keep `secure(true)` or drop the prefix"
    )]
    PrefixWithoutSecure {
        /// The cookie name.
        name: String,
    },
    /// The cookie name has characters a cookie name cannot have.
    #[error(
        "cookie name {name:?} is invalid: use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~"
    )]
    InvalidCookieName {
        /// The name.
        name: String,
    },
    /// The cookie path does not start with `/`.
    #[error("cookie path {path:?} must start with `/`")]
    InvalidPath {
        /// The path.
        path: String,
    },
    /// A timeout that is zero, negative or longer than a token can carry.
    #[error("{setting} must be between 1 second and 10 years, got {seconds} seconds")]
    InvalidTimeout {
        /// Which setting.
        setting: &'static str,
        /// The configured value in seconds.
        seconds: i64,
    },
    /// The idle timeout is longer than the absolute lifetime, so it could never apply.
    #[error(
        "idle timeout ({idle}s) is longer than the absolute lifetime ({absolute}s), so it would never apply; shorten the idle timeout or lengthen the lifetime"
    )]
    IdleLongerThanAbsolute {
        /// Idle timeout in seconds.
        idle: i64,
        /// Absolute lifetime in seconds.
        absolute: i64,
    },
    /// The idle refresh interval is not shorter than the idle timeout.
    #[error(
        "refresh interval ({refresh}s) must be shorter than the idle timeout ({idle}s), or active users would be logged out; a tenth of the idle timeout is a good value"
    )]
    RefreshNotShorterThanIdle {
        /// Refresh interval in seconds.
        refresh: i64,
        /// Idle timeout in seconds.
        idle: i64,
    },
    /// The purpose string is too long or has control characters.
    #[error("purpose {purpose:?} must be 1 to 128 printable characters")]
    InvalidPurpose {
        /// The purpose.
        purpose: String,
    },
    /// A trusted origin of the cross-origin protection is not `scheme://host[:port]`.
    #[error(
        "trusted origin {origin:?} is invalid: {problem}; write it as a browser sends it, e.g. \"https://app.example.com\""
    )]
    InvalidTrustedOrigin {
        /// The origin as configured.
        origin: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Two session schemas claimed one cookie under the same keys: they would overwrite each
    /// other's cookie. Found when the second middleware (or
    /// [`SessionManager::claim_cookie`](crate::SessionManager::claim_cookie)) is built.
    #[error(
        "session types {first} and {second} both use the cookie {name:?} with the same keys, so each would overwrite the other's cookie; give one a cookie of its own, e.g. `config.cookie(CookieSettings::default().name(\"{suggested}\"))`"
    )]
    CookieShared {
        /// The cookie name.
        name: String,
        /// The type that claimed the cookie first, with its schema name.
        first: String,
        /// The type refused, with its schema name.
        second: String,
        /// A cookie name for the refused type.
        suggested: String,
    },
    /// An exempt path of the cross-origin protection is not a plain absolute path.
    #[error(
        "exempt path {path:?} is invalid: it must start with `/` and have no `.` or `..` segment, `//`, backslash or percent-encoded dot or slash; end it with `/` to exempt everything under it"
    )]
    InvalidExemptPath {
        /// The path as configured.
        path: String,
    },
}

/// Something that stops a session from being saved.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The encoded session does not fit in a cookie.
    #[error(
        "the session cookie would be {size} bytes, over the {limit}-byte limit browsers enforce; store less in the session (ids instead of records) or use a server-side store"
    )]
    TooLarge {
        /// The size of the encoded cookie value.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The session data could not be serialized.
    #[error("the session data cannot be serialized: {0}")]
    Serialize(String),
    /// The operating system could not supply random bytes.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// The server-side store failed: the session could not be loaded or its changes were not
    /// kept. Never answered with an anonymous session, which would log the user out.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl SessionError {
    /// The HTTP status adapters answer with: `503 Service Unavailable` when the store failed
    /// (the request can be retried once it is back), `500 Internal Server Error` otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Store(_) => 503,
            _ => 500,
        }
    }
}
