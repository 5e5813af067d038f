//! Server-side session stores.
//!
//! In store mode the cookie carries only a signed, random 256-bit session id; the data lives
//! in a [`SessionStore`]. Pick it when sessions outgrow a cookie, when logout must revoke a
//! copied cookie, or when several app servers share sessions:
//!
//! ```
//! # #[cfg(feature = "memory-store")] {
//! use std::sync::Arc;
//! use session_core::{Keyring, SessionConfig};
//! use session_core::store::MemoryStore;
//!
//! let config = SessionConfig::new(Keyring::ephemeral_for_development())
//!     .store(Arc::new(MemoryStore::new(100_000)));
//! # }
//! ```
//!
//! # Records
//! A record is a set of named byte fields under a [`RecordKey`]: one field per field of the
//! session struct (its [postcard] encoding), plus bookkeeping fields whose names start with
//! `@` (schema and issue time in `@meta`, the deadline of each expiring field in
//! `@deadline:<slot>`, the user's generation in `@generation` once the user has one). Requests write only the fields they changed, so two concurrent
//! requests that change *different* fields both keep their change. When both change the
//! *same* field, the last write wins for that field.
//!
//! The store never sees the session id itself: a [`RecordKey`] is the SHA-256 of the id, so a
//! copy of the store's contents does not yield cookie values.
//!
//! # Bringing your own backend
//! Implement the three required methods of [`SessionStore`]; its documentation has a complete
//! example. The optional per-user index ("log out everywhere") has default methods that
//! answer [`StoreError::Unsupported`]; its rules are under
//! [the per-user index](SessionStore#the-per-user-index).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

mod fields;
#[cfg(feature = "memory-store")]
mod memory;

pub use self::fields::{Fields, FieldsIter};

#[cfg(feature = "memory-store")]
pub use self::memory::MemoryStore;

/// How many live sessions a store's per-user index keeps for one user unless the store is told
/// otherwise (`with_max_sessions_per_user` on each built-in store). Past it, a login ends the
/// user's oldest session. A hundred is far more devices than a person uses, and it keeps a
/// user's index a few kilobytes at most.
pub const DEFAULT_MAX_SESSIONS_PER_USER: usize = 100;

/// The future a [`SessionStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The secret id of one session, carried (signed) in the cookie. 256 bits from the operating
/// system's random number generator. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId([u8; 32]);

impl SessionId {
    /// A fresh random id.
    ///
    /// # Errors
    /// The operating system's random number generator failed.
    pub(crate) fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of this session's record in the store.
    pub(crate) fn record_key(&self) -> RecordKey {
        RecordKey(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// Where a session's record lives in a store: the SHA-256 of the session id. Stores use
/// [`RecordKey::to_hex`] (64 characters) in their own key names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey([u8; 32]);

impl RecordKey {
    /// The key as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // Bytes first, then one check: pushing 64 `char`s encodes each as UTF-8 on its own.
        let mut out = [0; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        String::from_utf8(out.to_vec()).expect("hexadecimal digits are ASCII")
    }

    /// Parses 64 hexadecimal digits, as written by [`to_hex`](Self::to_hex).
    pub fn from_hex(hex: &str) -> Option<Self> {
        // Hex digits only: `from_str_radix` alone would also take a sign (`+f`).
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }

    /// A key from its raw 32 bytes, as a store that keeps keys in binary reads them back.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl RecordKey {
    /// The reference of this record in log events: never the key or the id.
    pub(crate) fn log_ref(&self) -> LogRef {
        LogRef::of(&self.0)
    }
}

/// A short reference to a session (or a user) for log events: the first 4 bytes of the
/// SHA-256 of what it names, as 8 hex digits. Enough to follow one session through the logs,
/// useless for finding its cookie or record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogRef([u8; 4]);

impl LogRef {
    pub(crate) fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl fmt::Display for LogRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for LogRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordKey({})", &self.to_hex()[..12])
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One write to a record.
#[derive(Debug, Clone, Copy)]
pub struct RecordWrite<'a> {
    /// `true`: the record is created, replacing whatever was stored under the key.
    /// `false`: the record is updated only if it still exists (a concurrent logout or expiry
    /// must not bring it back); [`SessionStore::save`] answers `false` when it did not.
    pub create: bool,
    /// Fields to set.
    pub set: &'a [(&'a str, &'a [u8])],
    /// Fields to remove.
    pub remove: &'a [&'a str],
    /// When the whole record expires. Every write gives it (a write with no fields only pushes
    /// the expiry).
    pub expires_at: OffsetDateTime,
    /// Whether the record's expiry must move to `expires_at`. Always `true` with `create` and
    /// on a write that sets and removes nothing. `false` on an update between two pushes of the
    /// session's idle deadline: the cookie's deadline has not moved since the record's expiry
    /// was last set, so that expiry still covers the session. A store may then keep the expiry
    /// it has and skip the work of moving it (one statement fewer on SQL, no row rewritten),
    /// or move it anyway: `expires_at` is never earlier than what the record has.
    pub push_expiry: bool,
}

/// Why a store operation failed. Adapters answer `503 Service Unavailable`. Its `Debug` is its
/// `Display`, so `?` in `main` prints the reason and what to check.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached when the application started.
    #[error(
        "cannot connect to the {store} session store at {address}: {source}; check that {store} is running there and reachable from this host"
    )]
    Connect {
        /// The kind of store ("Redis", "memcached", ...).
        store: &'static str,
        /// Where it was looked for, with any password replaced by `***`.
        address: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend could not be reached or answered with an error.
    #[error("the session store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend holds data this library did not write.
    #[error("the session store returned data it cannot read: {0}")]
    Corrupt(String),
    /// The store does not implement an optional operation.
    #[error("this session store does not support {0}")]
    Unsupported(&'static str),
    /// No store is configured (cookie mode) for an operation that needs one.
    #[error(
        "no session store is configured: sessions live in cookies; use SessionConfig::store to keep them server-side"
    )]
    NoStore,
}

crate::error::debug_as_display!(StoreError);

impl StoreError {
    /// A store that cannot be reached at start-up: names the `store` kind and its `address`
    /// (a URL's password is replaced by `***`).
    pub fn connect(
        store: &'static str,
        address: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Connect {
            store,
            address: redact_password(address),
            source: Box::new(error),
        }
    }

    /// Wraps a backend error.
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

/// `scheme://user:password@host/...` with the user information replaced by `***`.
fn redact_password(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => address.to_owned(),
    }
}

/// A backend that keeps session records.
///
/// Object safe: configurations hold an `Arc<dyn SessionStore>`. Methods return boxed futures
/// (`Box::pin(async move { ... })`).
///
/// A store must:
/// - answer `None` from [`load`](Self::load) once a record's `expires_at` has passed (the
///   backend's own expiry, or a check on read);
/// - apply one [`RecordWrite`] all at once or not at all;
/// - on an update (`create == false`) of a record that no longer exists, write nothing and
///   answer `false`.
///
/// # The per-user index
/// The optional methods `index_*` keep, per user key, the sessions of that user, each with a
/// deadline, plus one opaque number, the user's *generation*. [`SessionManager`] writes an
/// entry before the record that names the user, and again (with a later deadline) whenever
/// it pushes the record's idle deadline, so an entry's deadline is never before its record's
/// expiry. A store that has the index must:
/// - **prune on add**: [`index_add`](Self::index_add) drops the entries whose deadline has
///   passed (their records expired by then; pruning leaves records alone), so the index never
///   holds more than the user's live sessions, and such entries never count towards the cap;
///   [`index_members`](Self::index_members) never lists them;
/// - **cap**: keep at most a maximum of live entries per user (configurable per store, by
///   default [`DEFAULT_MAX_SESSIONS_PER_USER`]). When an add goes over it, the entries with
///   the earliest deadlines (the oldest sessions, never the one just added) are *ended*:
///   their records are deleted (before they leave the index), not just forgotten;
/// - **expire with its sessions**: the index itself (the backend's key, if it has one)
///   expires at its latest live deadline: not pushed further by a fixed lifetime, and
///   earlier again when the latest entry leaves; an index left with no entry is deleted.
///   Once it holds a generation, though, its expiry only moves later: setting the generation
///   pushes it to at least `keep_until`, and the index stays when its entries leave (a
///   renewal of the user's only session removes the old entry before it adds the new one,
///   and must still find the generation);
/// - **not grow with logins**: adding and removing cost O(1) (or O(log n) in the entries
///   kept, which the cap bounds), however many times the user logged in before;
/// - keep the generation ([`index_generation`](Self::index_generation), `0` until
///   [`index_set_generation`](Self::index_set_generation) sets one) for as long as the index
///   lives. "Log out everywhere" sets a fresh random generation before it ends the sessions
///   it lists; a renewal or login carries the generation its session was logged in with and,
///   after writing the new record, reads the user's generation again: if it changed, the
///   renewal ran into a "log out everywhere" and deletes what it wrote. So a session renewed
///   at the same moment cannot escape between the listing and its own index entry.
///
/// The contract suite checks all of these that show through the methods; the expiry of a
/// backend's key and the cost per login are for a store's own tests (this workspace's stores
/// have them).
///
/// [`SessionManager`]: crate::SessionManager
///
/// Prove a store with the contract suite of the `session-testing` crate, which this
/// workspace's own stores pass (records, concurrency, renewal, revocation, races with logout,
/// expiry without a sweeper, the per-user index, outages):
///
/// ```ignore
/// #[test]
/// fn my_store_keeps_the_store_contract() {
///     session_testing::store::run_suite("MyStore", &|| {
///         Some(session_testing::store::StoreUnderTest::new(Arc::new(MyStore::new())))
///     });
/// }
/// ```
///
/// A complete store over a `HashMap` (for illustration: it never evicts, so prefer
/// [`MemoryStore`](crate::store) in real use):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreFuture};
/// use time::OffsetDateTime;
///
/// #[derive(Debug, Default)]
/// struct MapStore(Mutex<HashMap<RecordKey, (Fields, OffsetDateTime)>>);
///
/// impl SessionStore for MapStore {
///     fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
///         Box::pin(async move {
///             let map = self.0.lock().unwrap();
///             let live = map.get(key).filter(|(_, exp)| *exp > OffsetDateTime::now_utc());
///             // A clone shares the stored bytes.
///             Ok(live.map(|(fields, _)| fields.clone()))
///         })
///     }
///
///     fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
///         Box::pin(async move {
///             let mut map = self.0.lock().unwrap();
///             let now = OffsetDateTime::now_utc();
///             if write.create {
///                 map.insert(*key, (Fields::new(), write.expires_at));
///             }
///             let Some((fields, expires_at)) = map.get_mut(key).filter(|(_, e)| *e > now) else {
///                 return Ok(false);
///             };
///             fields.apply(&write);
///             if write.push_expiry {
///                 *expires_at = write.expires_at;
///             }
///             Ok(true)
///         })
///     }
///
///     fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
///         Box::pin(async move {
///             let removed = self.0.lock().unwrap().remove(key);
///             Ok(removed.is_some_and(|(_, exp)| exp > OffsetDateTime::now_utc()))
///         })
///     }
/// }
///
/// // Use it like any store:
/// use std::sync::Arc;
/// use session_core::{Keyring, SessionConfig};
/// let config = SessionConfig::new(Keyring::ephemeral_for_development())
///     .store(Arc::new(MapStore::default()));
/// ```
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// The record's fields, or `None` when there is no live record under `key`.
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>>;

    /// Applies `write` to the record under `key`, all at once. Answers `false` when an update
    /// (`write.create == false`) found no record and wrote nothing.
    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool>;

    /// Removes the record under `key`; answers whether a live record was there. Of two
    /// concurrent deletes of one record at most one answers `true` where the backend allows
    /// (renewal relies on it: it goes ahead only if it removed the old record itself).
    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool>;

    /// Adds `key` to the sessions of `user`, keeping the entry at least until `expires_at`
    /// (an entry added again keeps the later of its deadlines). Drops the entries whose
    /// deadline has passed and, past the store's cap, ends the oldest sessions (see
    /// [the per-user index](Self#the-per-user-index)). The default answers
    /// [`StoreError::Unsupported`].
    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let _ = (user, key, expires_at);
        Box::pin(async { Err(StoreError::Unsupported("a per-user session index")) })
    }

    /// Removes `key` from the sessions of `user`; the index then expires at its latest
    /// remaining deadline. The default answers [`StoreError::Unsupported`].
    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        let _ = (user, key);
        Box::pin(async { Err(StoreError::Unsupported("a per-user session index")) })
    }

    /// The sessions recorded for `user` whose deadline has not passed, earliest deadline
    /// first (possibly including records that ended otherwise since). The default answers
    /// [`StoreError::Unsupported`].
    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        let _ = user;
        Box::pin(async { Err(StoreError::Unsupported("a per-user session index")) })
    }

    /// The generation of `user`'s sessions, as last set by
    /// [`index_set_generation`](Self::index_set_generation); `0` when none is set. The
    /// default answers [`StoreError::Unsupported`]: then "log out everywhere" still ends
    /// every listed session, but a renewal at that very moment may escape it.
    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        let _ = user;
        Box::pin(async { Err(StoreError::Unsupported("per-user session generations")) })
    }

    /// Sets the generation of `user`'s sessions (never `0`; below 2^52, so a store may keep
    /// it in a double), creating the index if the user has none: from now on the index
    /// expires no earlier than `keep_until`, and never earlier than it was. The default
    /// answers [`StoreError::Unsupported`].
    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let _ = (user, generation, keep_until);
        Box::pin(async { Err(StoreError::Unsupported("per-user session generations")) })
    }
}

/// One of a user's sessions, as listed by
/// [`SessionManager::user_sessions`](crate::SessionManager::user_sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSession {
    /// Where the record lives; pass it to
    /// [`SessionManager::end_session`](crate::SessionManager::end_session).
    pub key: RecordKey,
    /// When the session was issued (at login, when the app renews).
    pub issued_at: OffsetDateTime,
    /// When the session was last active: its issue, or the last push of its idle deadline
    /// (so up to the refresh interval, a minute by default, behind the latest request).
    pub last_active: OffsetDateTime,
    /// The device label the application gave it with
    /// [`SessionHandle::set_device`](crate::SessionHandle::set_device), if any.
    pub device: Option<String>,
    /// Whether this is the session that asked for the list
    /// ([`SessionManager::sessions_of`](crate::SessionManager::sessions_of)); always `false`
    /// from [`SessionManager::user_sessions`](crate::SessionManager::user_sessions).
    pub current: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_name_the_store_and_hide_passwords() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let error = StoreError::connect("Redis", "redis://:hunter2@10.0.0.7:6379/0", refused);
        let shown = format!("{error:?}");
        assert_eq!(shown, error.to_string());
        assert!(
            shown.contains("Redis session store at redis://***@10.0.0.7:6379/0"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("check that Redis is running"), "{shown}");
        assert_eq!(redact_password("127.0.0.1:11211"), "127.0.0.1:11211");
        assert_eq!(redact_password("redis://h:1/x@y"), "redis://h:1/x@y");
    }

    #[test]
    fn record_keys_round_trip_through_hex_and_hide_the_id() {
        let id = SessionId::random().expect("rng");
        let key = id.record_key();
        assert_eq!(RecordKey::from_hex(&key.to_hex()), Some(key));
        assert_ne!(&key.0, id.as_bytes());
        assert_eq!(format!("{id:?}"), "SessionId(<redacted>)");
        assert_eq!(RecordKey::from_hex("zz"), None);
        assert_eq!(RecordKey::from_hex(&"é".repeat(32)), None);
        // A sign is not a hex digit, in any pair.
        let hex = key.to_hex();
        for i in (0..64).step_by(2) {
            let signed = format!("{}+f{}", &hex[..i], &hex[i + 2..]);
            assert_eq!(RecordKey::from_hex(&signed), None, "{signed}");
        }
        assert_eq!(RecordKey::from_hex(&hex.to_uppercase()), Some(key));
        // Every digit, high nibble first, lowercase.
        let known = "0123456789abcdef".repeat(4);
        let parsed = RecordKey::from_hex(&known).expect("64 digits");
        assert_eq!(parsed.0[..2], [0x01, 0x23]);
        assert_eq!(parsed.to_hex(), known);
    }
}
