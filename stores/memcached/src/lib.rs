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

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_memcached::{Client, Error as McError, MetaProtocol, Status};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, SemaphorePermit};

use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};

/// The longest key memcached accepts, in bytes.
const MAX_KEY: usize = 250;
/// Seconds added to every memcached expiry. memcached keeps time in whole seconds on a clock
/// that is updated once a second, so an item can expire up to two seconds before the time it
/// was given (its documentation: "a TTL of 1 will sometimes immediately expire"). The exact
/// deadline is kept in the head and checked on read, so records still end on time.
const CLOCK_MARGIN: i128 = 2;
/// memcached reads an expiry above 30 days as an absolute Unix time.
const MAX_RELATIVE: i128 = 30 * 24 * 60 * 60;
/// Attempts of a compare-and-swap loop before giving up with [`StoreError::Unavailable`].
const CAS_ATTEMPTS: usize = 32;
/// Reads of a record whose head keeps changing under a load before giving up.
const LOAD_ATTEMPTS: usize = 4;
/// Connections a store opens at most, unless [`MemcachedStore::with_max_connections`] says.
const DEFAULT_MAX_CONNECTIONS: usize = 16;
const NANOS: i128 = 1_000_000_000;

/// The value of a record's head key.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    /// When the record expires, in Unix milliseconds rounded up.
    expires_at_ms: i64,
    /// The names of the record's fields, each stored under its own key.
    names: Vec<String>,
}

/// The value of a user's index key.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    /// The latest expiry any member was added with, in Unix milliseconds rounded up.
    expires_at_ms: i64,
    keys: Vec<[u8; 32]>,
}

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
/// - `<prefix>user:<user key>`: the per-user index, the postcard encoding of its record keys
///   and its expiry. The user key is encoded like a field name.
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
/// - The per-user index: `mg` and `ms … C` / `ms … ME` / `md … C` loops.
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
    addr: String,
    prefix: String,
    timeout: Duration,
    max_connections: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Client>>,
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("addr", &self.addr)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// A connection lent to one operation.
struct Conn<'a> {
    client: Client,
    /// Taken from the idle list rather than opened for this operation.
    reused: bool,
    _permit: SemaphorePermit<'a>,
}

/// Why an operation failed, before it becomes a [`StoreError`].
#[derive(Debug)]
enum Fail {
    Memcached(McError),
    Store(StoreError),
}

impl From<McError> for Fail {
    fn from(error: McError) -> Self {
        Self::Memcached(error)
    }
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Fail {
    /// The connection broke (as it does on a kept connection after memcached restarted).
    fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Memcached(McError::Io(_) | McError::ConnectionClosed)
        )
    }

    fn into_store(self) -> StoreError {
        match self {
            Self::Memcached(error) => StoreError::unavailable(error),
            Self::Store(error) => error,
        }
    }
}

fn failure(message: String) -> Fail {
    Fail::Store(StoreError::unavailable(io::Error::other(message)))
}

fn contention(what: &str) -> Fail {
    failure(format!(
        "{what}: memcached kept changing under {CAS_ATTEMPTS} attempts"
    ))
}

/// Outcome of a compare-and-swap write.
enum Cas {
    Stored,
    Conflict,
    Missing,
}

/// Runs the operation `$body` (which uses `$client: &mut Client`) on a pooled connection,
/// within the store's timeout; retries once on a fresh connection when a kept one was dead.
macro_rules! with_client {
    ($store:ident, $client:ident => $body:expr) => {
        $store.timed(async move {
            let mut retried = false;
            loop {
                let mut conn = $store.checkout().await.map_err(Fail::into_store)?;
                let result = {
                    let $client = &mut conn.client;
                    $body
                };
                let reused = conn.reused;
                $store.checkin(conn.client);
                match result {
                    Ok(value) => break Ok(value),
                    Err(fail) if reused && !retried && fail.is_connection() => {
                        // memcached restarted: every kept connection is dead.
                        $store.clear_idle();
                        retried = true;
                    }
                    Err(fail) => break Err(fail.into_store()),
                }
            }
        })
    };
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
        let addr = if addr.contains("://") {
            addr.to_owned()
        } else {
            format!("tcp://{addr}")
        };
        let client = match tokio::time::timeout(timeout, Client::new(&addr)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => return Err(StoreError::connect("memcached", &addr, error)),
            Err(_) => {
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                );
                return Err(StoreError::connect("memcached", &addr, error));
            }
        };
        Ok(Self {
            addr,
            prefix: "session:".to_owned(),
            timeout,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            permits: Semaphore::new(DEFAULT_MAX_CONNECTIONS),
            idle: Mutex::new(vec![client]),
        })
    }

    /// Sets the prefix of every key this store writes (default `session:`), to share one
    /// memcached between applications. Keep it short (at most 100 bytes) and printable ASCII
    /// without spaces: memcached keys cannot hold more, and operations fail with
    /// [`StoreError::Unavailable`] on keys memcached refuses.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how many connections the store opens at most (default 16, at least 1).
    /// Operations beyond that wait for a free connection, within their timeout.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self.permits = Semaphore::new(self.max_connections);
        self
    }

    async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .unwrap_or_else(|_| Err(timed_out(self.timeout)))
    }

    async fn checkout(&self) -> Result<Conn<'_>, Fail> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Fail::Store(StoreError::unavailable(e)))?;
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (client, reused) = match kept {
            Some(client) if !client.is_closed() => (client, true),
            _ => (Client::new(&self.addr).await?, false),
        };
        Ok(Conn {
            client,
            reused,
            _permit: permit,
        })
    }

    /// Keeps `client` for the next operation unless its connection is closed (it is after
    /// any I/O error or an interrupted command).
    fn checkin(&self, client: Client) {
        if !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_connections {
                idle.push(client);
            }
        }
    }

    fn clear_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn head_key(&self, key: &RecordKey) -> String {
        format!("{}{}", self.prefix, key.to_hex())
    }

    fn field_key(&self, head_key: &str, name: &str) -> String {
        let room = MAX_KEY.saturating_sub(head_key.len() + 1);
        format!("{head_key}:{}", key_part(name, room))
    }

    fn index_key(&self, user: &str) -> String {
        let room = MAX_KEY.saturating_sub(self.prefix.len() + "user:".len());
        format!("{}user:{}", self.prefix, key_part(user, room))
    }

    async fn load_on(&self, client: &mut Client, key: &RecordKey) -> Result<Option<Fields>, Fail> {
        let head_key = self.head_key(key);
        for _ in 0..LOAD_ATTEMPTS {
            let Some((head, cas)) = read::<Head>(client, &head_key).await? else {
                return Ok(None);
            };
            if !live(&head, OffsetDateTime::now_utc()) {
                return Ok(None);
            }
            let keys: Vec<String> = head
                .names
                .iter()
                .map(|name| self.field_key(&head_key, name))
                .collect();
            let mut found: HashMap<Vec<u8>, Vec<u8>> = if keys.is_empty() {
                HashMap::new()
            } else {
                client
                    .meta_get_multi(&keys, Some(&["v"]))
                    .await?
                    .into_iter()
                    .filter_map(|value| Some((value.key?, value.data.unwrap_or_default())))
                    .collect()
            };
            let fields: Option<Fields> = head
                .names
                .into_iter()
                .zip(&keys)
                .map(|(name, key)| found.remove(key.as_bytes()).map(|bytes| (name, bytes)))
                .collect();
            if fields.is_some() {
                return Ok(fields);
            }
            // A listed field is missing. If the head is unchanged, the record is incomplete
            // (evicted or expiring) and must not be read; if it changed, an update ran
            // between the two reads: read again.
            if read_cas(client, &head_key).await? == Some(cas) {
                return Ok(None);
            }
        }
        Err(contention("reading a record"))
    }

    async fn create_on(
        &self,
        client: &mut Client,
        key: &RecordKey,
        write: &RecordWrite<'_>,
    ) -> Result<bool, Fail> {
        let now = OffsetDateTime::now_utc();
        let head_key = self.head_key(key);
        let ttl = ttl_flag(write.expires_at, now);
        let removing: BTreeSet<&str> = write.remove.iter().copied().collect();
        let items: Vec<(String, &[u8])> = write
            .set
            .iter()
            .filter(|(name, _)| !removing.contains(name))
            .map(|(name, bytes)| (self.field_key(&head_key, name), *bytes))
            .collect();
        let mut names: Vec<String> = Vec::with_capacity(write.set.len());
        for (name, _) in write.set {
            if !removing.contains(name) && !names.iter().any(|n| n == name) {
                names.push((*name).to_owned());
            }
        }
        write_fields(client, &items, &ttl).await?;
        let head = encode(&Head {
            expires_at_ms: unix_ms_ceil(write.expires_at),
            names,
        })?;
        client
            .meta_set(&head_key, head.as_slice(), false, None, Some(&[&ttl]))
            .await?;
        Ok(true)
    }

    async fn update_on(
        &self,
        client: &mut Client,
        key: &RecordKey,
        write: &RecordWrite<'_>,
    ) -> Result<bool, Fail> {
        let now = OffsetDateTime::now_utc();
        let head_key = self.head_key(key);
        let Some((mut current, mut cas)) = read::<Head>(client, &head_key).await? else {
            return Ok(false);
        };
        if !live(&current, now) {
            return Ok(false);
        }
        let ttl = ttl_flag(write.expires_at, now);
        let removing: BTreeSet<&str> = write.remove.iter().copied().collect();
        let setting: BTreeSet<&str> = write
            .set
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !removing.contains(name))
            .collect();
        let items: Vec<(&str, String, &[u8])> = write
            .set
            .iter()
            .filter(|(name, _)| !removing.contains(name))
            .map(|(name, bytes)| (*name, self.field_key(&head_key, name), *bytes))
            .collect();

        // The versions of the fields to remove, read before the head changes: they are
        // deleted only if still at that version, so a value that a concurrent update writes
        // meanwhile is never deleted (see "Not atomic across keys").
        let remove_keys: Vec<String> = removing
            .iter()
            .map(|name| self.field_key(&head_key, name))
            .collect();
        let versions: HashMap<Vec<u8>, u64> = if remove_keys.is_empty() {
            HashMap::new()
        } else {
            client
                .meta_get_multi(&remove_keys, Some(&["c"]))
                .await?
                .into_iter()
                .filter_map(|value| Some((value.key?, value.cas?)))
                .collect()
        };

        let writes: Vec<(String, &[u8])> = items
            .iter()
            .map(|(_, key, bytes)| (key.clone(), *bytes))
            .collect();
        write_fields(client, &writes, &ttl).await?;
        let unchanged: Vec<String> = current
            .names
            .iter()
            .filter(|name| !removing.contains(name.as_str()) && !setting.contains(name.as_str()))
            .map(|name| self.field_key(&head_key, name))
            .collect();
        if !unchanged.is_empty() {
            client.meta_get_multi(&unchanged, Some(&[&ttl])).await?;
        }

        let mut first_attempt = true;
        for _ in 0..CAS_ATTEMPTS {
            let mut names: Vec<String> = current
                .names
                .iter()
                .filter(|name| !removing.contains(name.as_str()))
                .cloned()
                .collect();
            for name in &setting {
                if !names.iter().any(|n| n == name) {
                    names.push((*name).to_owned());
                }
            }
            let head = encode(&Head {
                expires_at_ms: unix_ms_ceil(write.expires_at),
                names,
            })?;
            match cas_set(client, &head_key, &head, cas, &ttl).await? {
                Cas::Stored => {
                    if !first_attempt {
                        // Another writer changed the head since it was first read: it may
                        // have removed (and deleted) a field written above before this head
                        // listed it again. Write those fields once more.
                        let again: Vec<(String, &[u8])> = items
                            .iter()
                            .filter(|(name, _, _)| !current.names.iter().any(|n| n == name))
                            .map(|(_, key, bytes)| (key.clone(), *bytes))
                            .collect();
                        write_fields(client, &again, &ttl).await?;
                    }
                    for name in current
                        .names
                        .iter()
                        .filter(|n| removing.contains(n.as_str()))
                    {
                        let field = self.field_key(&head_key, name);
                        // No version: the field appeared after it was looked at, written by
                        // a concurrent update; it is left to expire.
                        if let Some(&version) = versions.get(field.as_bytes()) {
                            delete_key(client, &field, Some(version)).await?;
                        }
                    }
                    return Ok(true);
                }
                Cas::Conflict => {
                    first_attempt = false;
                    match read::<Head>(client, &head_key).await? {
                        Some((head, new_cas)) if live(&head, now) => {
                            current = head;
                            cas = new_cas;
                        }
                        _ => {
                            abandon(client, &writes).await;
                            return Ok(false);
                        }
                    }
                }
                Cas::Missing => {
                    abandon(client, &writes).await;
                    return Ok(false);
                }
            }
        }
        Err(contention("updating a record"))
    }

    async fn delete_on(&self, client: &mut Client, key: &RecordKey) -> Result<bool, Fail> {
        let head_key = self.head_key(key);
        let Some(value) = client
            .meta_get(&head_key, false, None, Some(&["v", "c"]))
            .await?
        else {
            return Ok(false);
        };
        // A head that does not decode is deleted all the same.
        let head = postcard::from_bytes::<Head>(value.data.as_deref().unwrap_or_default()).ok();
        let live = head
            .as_ref()
            .is_some_and(|head| head.expires_at_ms > unix_ms_ceil(OffsetDateTime::now_utc()));
        // Compare-and-delete: of two concurrent deletes, only one finds the record.
        let deleted = delete_key(client, &head_key, value.cas).await?;
        for name in head.map(|head| head.names).unwrap_or_default() {
            delete_key(client, &self.field_key(&head_key, &name), None).await?;
        }
        Ok(deleted && live)
    }

    async fn index_add_on(
        &self,
        client: &mut Client,
        user: &str,
        key: &RecordKey,
        expires_at: OffsetDateTime,
    ) -> Result<(), Fail> {
        let index_key = self.index_key(user);
        let at_ms = unix_ms_ceil(expires_at);
        for _ in 0..CAS_ATTEMPTS {
            let now = OffsetDateTime::now_utc();
            let outcome = match read::<Index>(client, &index_key).await? {
                None => {
                    let index = encode(&Index {
                        expires_at_ms: at_ms,
                        keys: vec![*key.as_bytes()],
                    })?;
                    let ttl = ttl_flag(expires_at, now);
                    match client
                        .meta_set(
                            &index_key,
                            index.as_slice(),
                            false,
                            None,
                            Some(&["ME", &ttl]),
                        )
                        .await
                    {
                        Ok(_) => Cas::Stored,
                        Err(McError::Protocol(Status::NotStored)) => Cas::Conflict,
                        Err(error) => return Err(error.into()),
                    }
                }
                Some((mut index, cas)) => {
                    let present = index.keys.contains(key.as_bytes());
                    if present && index.expires_at_ms >= at_ms {
                        return Ok(());
                    }
                    if !present {
                        index.keys.push(*key.as_bytes());
                    }
                    // Extended, never shortened.
                    index.expires_at_ms = index.expires_at_ms.max(at_ms);
                    let ttl = ttl_flag_ms(index.expires_at_ms, now);
                    cas_set(client, &index_key, &encode(&index)?, cas, &ttl).await?
                }
            };
            if let Cas::Stored = outcome {
                return Ok(());
            }
        }
        Err(contention("adding to a user's index"))
    }

    async fn index_remove_on(
        &self,
        client: &mut Client,
        user: &str,
        key: &RecordKey,
    ) -> Result<(), Fail> {
        let index_key = self.index_key(user);
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut index, cas)) = read::<Index>(client, &index_key).await? else {
                return Ok(());
            };
            let before = index.keys.len();
            index.keys.retain(|member| member != key.as_bytes());
            if index.keys.len() == before {
                return Ok(());
            }
            let outcome = if index.keys.is_empty() {
                let compare = format!("C{cas}");
                match client
                    .meta_delete(&index_key, false, None, Some(&[&compare]))
                    .await
                {
                    Ok(_) => Cas::Stored,
                    Err(McError::Protocol(Status::Exists)) => Cas::Conflict,
                    Err(McError::Protocol(Status::NotFound)) => Cas::Missing,
                    Err(error) => return Err(error.into()),
                }
            } else {
                let ttl = ttl_flag_ms(index.expires_at_ms, OffsetDateTime::now_utc());
                cas_set(client, &index_key, &encode(&index)?, cas, &ttl).await?
            };
            match outcome {
                Cas::Stored | Cas::Missing => return Ok(()),
                Cas::Conflict => {}
            }
        }
        Err(contention("removing from a user's index"))
    }

    async fn index_members_on(
        &self,
        client: &mut Client,
        user: &str,
    ) -> Result<Vec<RecordKey>, Fail> {
        let Some((index, _)) = read::<Index>(client, &self.index_key(user)).await? else {
            return Ok(Vec::new());
        };
        if index.expires_at_ms <= unix_ms(OffsetDateTime::now_utc()) {
            return Ok(Vec::new());
        }
        Ok(index.keys.into_iter().map(RecordKey::from_bytes).collect())
    }
}

impl SessionStore for MemcachedStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(with_client!(self, client => self.load_on(client, key).await))
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(with_client!(self, client => if write.create {
            self.create_on(client, key, &write).await
        } else {
            self.update_on(client, key, &write).await
        }))
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(with_client!(self, client => self.delete_on(client, key).await))
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(with_client!(self, client => {
            self.index_add_on(client, user, key, expires_at).await
        }))
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(with_client!(self, client => self.index_remove_on(client, user, key).await))
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(with_client!(self, client => self.index_members_on(client, user).await))
    }
}

fn timed_out(timeout: Duration) -> StoreError {
    StoreError::unavailable(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("memcached did not answer within {timeout:?}"),
    ))
}

/// `name` as the last part of a key with `room` bytes left: as it is when memcached accepts
/// it there, otherwise `#` and its SHA-256 in hex. Names kept as they are never start with
/// `#`, so two names never share a key.
fn key_part(name: &str, room: usize) -> Cow<'_, str> {
    if name.len() <= room && !name.starts_with('#') && name.bytes().all(|b| b.is_ascii_graphic()) {
        Cow::Borrowed(name)
    } else {
        let digest = RecordKey::from_bytes(Sha256::digest(name.as_bytes()).into());
        Cow::Owned(format!("#{}", digest.to_hex()))
    }
}

fn live(head: &Head, now: OffsetDateTime) -> bool {
    head.expires_at_ms > unix_ms(now)
}

/// `n / d` rounded towards positive infinity (`d > 0`).
fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 { q + 1 } else { q }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn unix_ms_ceil(at: OffsetDateTime) -> i64 {
    i64::try_from(div_ceil(at.unix_timestamp_nanos(), 1_000_000)).unwrap_or(i64::MAX)
}

/// memcached's expiry for a deadline `at_ns` (Unix nanoseconds): never before it, at least
/// [`CLOCK_MARGIN`] seconds, relative up to 30 days and absolute beyond.
fn exptime(at_ns: i128, now_ns: i128) -> i64 {
    let left = div_ceil(at_ns.saturating_sub(now_ns), NANOS).max(0) + CLOCK_MARGIN;
    let exptime = if left <= MAX_RELATIVE {
        left
    } else {
        (div_ceil(at_ns, NANOS) + CLOCK_MARGIN).min(i128::from(i32::MAX))
    };
    i64::try_from(exptime).unwrap_or(i64::from(i32::MAX))
}

fn ttl_flag(at: OffsetDateTime, now: OffsetDateTime) -> String {
    format!(
        "T{}",
        exptime(at.unix_timestamp_nanos(), now.unix_timestamp_nanos())
    )
}

fn ttl_flag_ms(at_ms: i64, now: OffsetDateTime) -> String {
    format!(
        "T{}",
        exptime(i128::from(at_ms) * 1_000_000, now.unix_timestamp_nanos())
    )
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Fail> {
    postcard::to_allocvec(value).map_err(|e| Fail::Store(StoreError::unavailable(e)))
}

/// The value under `key`, decoded, and its CAS value.
async fn read<T: DeserializeOwned>(
    client: &mut Client,
    key: &str,
) -> Result<Option<(T, u64)>, Fail> {
    let Some(value) = client.meta_get(key, false, None, Some(&["v", "c"])).await? else {
        return Ok(None);
    };
    let decoded = postcard::from_bytes(value.data.as_deref().unwrap_or_default())
        .map_err(|e| StoreError::Corrupt(format!("memcached key {key:?}: {e}")))?;
    let cas = value.cas.ok_or_else(|| {
        failure("memcached returned no CAS value (is it running with -C?)".to_owned())
    })?;
    Ok(Some((decoded, cas)))
}

async fn read_cas(client: &mut Client, key: &str) -> Result<Option<u64>, Fail> {
    Ok(client
        .meta_get(key, false, None, Some(&["c"]))
        .await?
        .and_then(|value| value.cas))
}

/// Sets every `(key, bytes)` in one pipelined round trip.
async fn write_fields(
    client: &mut Client,
    items: &[(String, &[u8])],
    ttl: &str,
) -> Result<(), Fail> {
    if items.is_empty() {
        return Ok(());
    }
    let refused = client.meta_set_multi(items, Some(&[ttl])).await?;
    match refused.first() {
        None => Ok(()),
        Some(value) => Err(failure(format!(
            "memcached did not store a field: {:?}",
            value.status
        ))),
    }
}

async fn cas_set(
    client: &mut Client,
    key: &str,
    value: &[u8],
    cas: u64,
    ttl: &str,
) -> Result<Cas, Fail> {
    let compare = format!("C{cas}");
    match client
        .meta_set(key, value, false, None, Some(&[&compare, ttl]))
        .await
    {
        Ok(_) => Ok(Cas::Stored),
        Err(McError::Protocol(Status::Exists)) => Ok(Cas::Conflict),
        Err(McError::Protocol(Status::NotFound)) => Ok(Cas::Missing),
        Err(error) => Err(error.into()),
    }
}

/// Deletes `key` (only at CAS `version`, when given); a missing or changed key is fine.
/// Deletes `key` (only at `version`, when given); answers whether this call deleted it.
async fn delete_key(client: &mut Client, key: &str, version: Option<u64>) -> Result<bool, Fail> {
    let compare = version.map(|cas| format!("C{cas}"));
    let flags: Vec<&str> = compare.iter().map(String::as_str).collect();
    match client
        .meta_delete(key, false, None, Some(flags.as_slice()))
        .await
    {
        Ok(_) => Ok(true),
        Err(McError::Protocol(Status::NotFound)) | Err(McError::Protocol(Status::Exists)) => {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// Best effort: deletes the fields an update wrote before it found its record gone.
async fn abandon(client: &mut Client, writes: &[(String, &[u8])]) {
    for (key, _) in writes {
        if delete_key(client, key, None).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_rounded_up_with_a_margin_and_absolute_beyond_30_days() {
        let now = 1_700_000_000 * NANOS;
        assert_eq!(exptime(now + NANOS, now), 3);
        assert_eq!(exptime(now + 1, now), 3);
        assert_eq!(exptime(now - 5 * NANOS, now), 2);
        // The largest relative expiry; one second more is sent as a Unix time.
        let last_relative = now + (MAX_RELATIVE - CLOCK_MARGIN) * NANOS;
        assert_eq!(i128::from(exptime(last_relative, now)), MAX_RELATIVE);
        assert_eq!(
            i128::from(exptime(last_relative + 1, now)),
            div_ceil(last_relative + 1, NANOS) + CLOCK_MARGIN
        );
        let far = now + 60 * 24 * 3600 * NANOS + 1;
        assert_eq!(
            i128::from(exptime(far, now)),
            div_ceil(far, NANOS) + CLOCK_MARGIN
        );
        assert_eq!(exptime(i128::MAX / 2, now), i64::from(i32::MAX));
    }

    #[test]
    fn names_memcached_cannot_take_are_hashed() {
        assert_eq!(key_part("@deadline:3", 100), "@deadline:3");
        assert_eq!(key_part("cart_items", 100), "cart_items");
        for odd in ["with space", "tab\t", "é", "#meta"] {
            let part = key_part(odd, 100);
            assert!(
                part.starts_with('#') && part.len() == 65,
                "{odd:?} -> {part}"
            );
        }
        assert_eq!(key_part("abcdef", 5).len(), 65);
        assert_ne!(key_part("a b", 100), key_part("a  b", 100));
    }
}
