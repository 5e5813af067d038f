//! [`MemcachedStore`] itself: its settings, and the [`SessionStore`] implementation that runs
//! each operation of the record and the per-user index on a pooled connection.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use session_core::store::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};

use crate::keys::Keys;
use crate::pool::{Pool, with_client};
use crate::{index, record};

/// Sessions in memcached: every field of a session under its own key, so requests that
/// change different fields never overwrite each other, and a head key per session that lists
/// the fields present. Expiry is memcached's own (each key is written with the record's
/// expiry), so no sweeper runs.
///
/// # Keys
/// - `<prefix><64 hex digits>`: the head (the hex is [`RecordKey::to_hex`], the SHA-256 of
///   the session id, never the id). Its value is the [postcard] encoding of the record's
///   deadline and its field names. A record exists exactly when its head does.
/// - `<prefix><64 hex digits>:<field name>`: one per field, holding the field's bytes. Field
///   names are Rust identifiers or start with `@` (`@meta`, `@deadline:3`) and are used as
///   they are. A name that memcached cannot take in a key (empty, not printable ASCII, with a
///   space or control character), that would make the key longer than memcached's 250 bytes,
///   or that starts with `#`, is replaced by `#` and the SHA-256 of the name in hex, so every
///   name gets its own key.
/// - `<prefix>user:<user key>`: the per-user index, the postcard encoding of its entries
///   (record key and deadline), the user's generation and the item's expiry. The user key is
///   encoded like a field name. Every rewrite drops the entries whose deadline passed; past
///   the cap ([`with_max_sessions_per_user`](Self::with_max_sessions_per_user), default
///   [`DEFAULT_MAX_SESSIONS_PER_USER`]) an add ends the oldest sessions (deletes their
///   records) before the index stops listing them, so the item stays a few kilobytes, far
///   from memcached's 1 MB item limit. Its memcached expiry is its latest live deadline
///   (after a "log out everywhere", it only moves later). An index written by version 0.1 is
///   read as it is and rewritten in this layout.
///
/// The default prefix is `session:`; see [`with_prefix`](Self::with_prefix).
///
/// # Commands
/// Only memcached's meta protocol (memcached 1.6 or later, running without `-C` so that CAS
/// values exist): `mg` with `v` and `c` (read a value and its CAS, like `gets`), with `T`
/// (push an expiry, like `touch`); `ms` with `T` (set), with `C` (compare and swap, like
/// `cas`), with `ME` (add); `md`, with `C` (delete only if unchanged). Reads and writes of
/// several keys are pipelined as quiet commands closed by `mn`: one round trip each.
///
/// - [`load`](SessionStore::load): `mg` of the head, then one pipelined `mg` of every field.
/// - [`save`](SessionStore::save), creating: a pipelined `ms` of every field, then `ms` of
///   the head.
/// - [`save`](SessionStore::save), updating: `mg` of the head (nothing is written when it is
///   missing); `mg … c` of the fields to remove; a pipelined `ms` of the changed fields; a
///   pipelined `mg … T` of the unchanged ones; `ms … C` of the head (re-read with `mg` and
///   retried on a conflict); `md … C` of the removed fields.
/// - [`delete`](SessionStore::delete): `mg` of the head, `md` of the head, `md` of each field.
/// - The per-user index: `mg` and `ms … C` / `ms … ME` / `md … C` loops; an add past the
///   cap also deletes the oldest sessions as [`delete`](SessionStore::delete) does.
///
/// # Not atomic across keys
/// Redis applies a write to a record in one step; memcached has no multi-key transactions,
/// so a [`RecordWrite`] here is several commands, and a reader running at the same time can
/// see some of a write's fields changed and others not yet. It cannot see a record that is
/// incomplete in any other way:
/// - On creation the fields are written first and the head last, so until the head is
///   written the record does not exist for readers.
/// - An update first checks that the head exists (an update never brings back a record that
///   was deleted or expired), writes new fields before the head lists them, and deletes
///   removed fields only after the head stopped listing them. The head is replaced with a
///   compare-and-swap, merging the names other writers added or removed in the meantime, so
///   two concurrent updates that add different fields both keep them. If the head
///   disappears meanwhile the update answers `false` and deletes the fields it wrote.
/// - [`load`](SessionStore::load) answers `None` for a record whose head lists a field that
///   is missing (memcached evicted it, or it expired), after re-reading the head to tell that
///   apart from a concurrent update. A partial record is never returned as valid.
/// - A field removed by one request while another sets it can be missing for a moment (the
///   request that set it writes it again once the head lists it); a load in that moment
///   answers `None`.
///
/// Fields of a replaced record that the new one lacks, and fields that a concurrent update
/// stopped listing, stay in memcached (unread) until they expire.
///
/// # Expiry
/// Each key's memcached expiry is the record's `expires_at` in whole seconds rounded up, plus
/// two seconds for memcached's coarse clock: relative when that is at most 30 days, an
/// absolute Unix time (capped at 2038-01-19, memcached's 32-bit limit) otherwise. The head
/// carries the exact deadline, and [`load`](SessionStore::load) checks it.
///
/// Like any cache, memcached may evict keys when it runs out of memory; an evicted head or
/// field ends that session (the user logs in again). Give it enough memory.
///
/// # Connections and failures
/// The store keeps up to 16 connections (see
/// [`with_max_connections`](Self::with_max_connections)), opened when needed. Each operation,
/// with all its round trips, waits at most the `timeout` given to
/// [`connect`](Self::connect) and fails with [`StoreError::Unavailable`] (adapters answer
/// 503) when memcached cannot be reached, answers an error, or is too slow. A connection
/// that failed is dropped and a new one is opened by the next operation, so the store works
/// again once memcached is back, without being rebuilt. An operation that fails on a kept
/// connection that turns out to be dead (memcached restarted) is retried once on a new one.
/// Requires a Tokio runtime with its IO and time drivers.
pub struct MemcachedStore {
    keys: Keys,
    pool: Pool,
    max_per_user: usize,
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("addr", &self.pool.addr())
            .field("prefix", &self.keys.prefix())
            .field("timeout", &self.pool.timeout())
            .field("max_connections", &self.pool.max_connections())
            .field("max_sessions_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
    /// Connects to one memcached server. `addr` is `host:port` (e.g. `127.0.0.1:11211`),
    /// `tcp://host:port` (port 11211 when left out), or `unix:///path/to/socket`; TCP
    /// connections are IPv4 only (a limit of the `async-memcached` client). Each operation
    /// waits at most `timeout`, all round trips included.
    ///
    /// # Errors
    /// [`StoreError::Connect`], naming memcached and the address: the address does not parse,
    /// or the server cannot be reached within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, StoreError> {
        Ok(Self {
            keys: Keys::new("session:".to_owned()),
            pool: Pool::connect(addr, timeout).await?,
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
        })
    }

    /// Keeps at most `max` live sessions per user in the per-user index (default
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`], at least 1): a login past it ends the user's oldest
    /// session (deletes its record).
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
    }

    /// Sets the prefix of every key this store writes (default `session:`), to share one
    /// memcached between applications. Keep it short (at most 100 bytes) and printable ASCII
    /// without spaces: memcached keys cannot hold more, and operations fail with
    /// [`StoreError::Unavailable`] on keys memcached refuses.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys = Keys::new(prefix.into());
        self
    }

    /// Sets how many connections the store opens at most (default 16, at least 1).
    /// Operations beyond that wait for a free connection, within their timeout.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.pool.set_max_connections(max);
        self
    }
}

impl SessionStore for MemcachedStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(with_client!(self.pool, client => {
            record::load(client, &self.keys, key).await
        }))
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(with_client!(self.pool, client => if write.create {
            record::create(client, &self.keys, key, &write).await
        } else {
            record::update(client, &self.keys, key, &write).await
        }))
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(with_client!(self.pool, client => {
            record::delete(client, &self.keys, key).await
        }))
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(with_client!(self.pool, client => {
            index::add(client, &self.keys, user, key, expires_at, self.max_per_user).await
        }))
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(with_client!(self.pool, client => {
            index::remove(client, &self.keys, user, key).await
        }))
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(with_client!(self.pool, client => {
            index::members(client, &self.keys, user).await
        }))
    }

    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(with_client!(self.pool, client => {
            index::generation(client, &self.keys, user).await
        }))
    }

    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(with_client!(self.pool, client => {
            index::set_generation(client, &self.keys, user, generation, keep_until).await
        }))
    }
}
