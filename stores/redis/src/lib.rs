//! Sessions in Redis for session-core and its adapters: [`RedisStore`], one hash per
//! session, expiry carried by Redis, single server or Redis Cluster.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Keyring, SessionConfig};
//! use session_store_redis::RedisStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379", Duration::from_secs(2)).await?;
//! let config = SessionConfig::new(Keyring::from_env("SESSION_KEYS")?).store(Arc::new(store));
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//! | feature | what it adds | cost |
//! |---|---|---|
//! | `cluster` | [`RedisStore::new`] over a `redis::cluster_async` connection | the `redis` crate's cluster client (crc16, rand) |
//!
//! The [`redis`] crate is re-exported on purpose: [`RedisStore::new`] takes one of its
//! connections (a `ConnectionManager` or a cluster connection), and the versions must match.

#![deny(missing_docs)]

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, Value};
use time::OffsetDateTime;

use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};

/// The `redis` crate this store is built on, re-exported so connections match its version.
pub use redis;

/// Updates fields of a record only if it still exists, then pushes its expiry.
/// KEYS[1] = record; ARGV[1] = expiry (Unix ms); ARGV[2] = n; then n (field, value) pairs;
/// then the fields to delete.
const UPDATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
for i = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i]) end
for i = 3 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
";

/// Adds a member to a user's index and extends the index's life, never shortening it.
/// KEYS[1] = index; ARGV[1] = record key; ARGV[2] = time to live (ms).
const INDEX_ADD: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// Sessions in Redis: one hash per session, one hash field per session field, so requests
/// that change different fields never overwrite each other. Expiry is Redis's own
/// (`PEXPIREAT`), so no sweeper runs.
///
/// Works with a single server ([`RedisStore::connect`], over a [`ConnectionManager`] that
/// reconnects by itself) and with Redis Cluster ([`RedisStore::new`] with a cluster
/// connection, feature `cluster`): every command touches one key, and the commands
/// that must be atomic run as one `MULTI`/`EXEC` or one script on that key.
///
/// Commands used: `HGETALL` (load); `MULTI`, `DEL`, `HSET`, `PEXPIREAT`, `EXEC` (create);
/// `EVALSHA`/`EVAL` of a script with `EXISTS`, `HSET`, `HDEL`, `PEXPIREAT` (update); `DEL`
/// (delete); `SADD`, `PTTL`, `PEXPIRE` in a script, `SREM`, `SMEMBERS` (per-user index).
///
/// Keys: `<prefix><64 hex digits>` for records (the SHA-256 of the session id, never the id),
/// `<prefix>user:<user key>` for the per-user index. The default prefix is `session:`.
#[derive(Clone)]
pub struct RedisStore<C = ConnectionManager> {
    connection: C,
    prefix: String,
    update: Script,
    index_add: Script,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore<ConnectionManager> {
    /// Connects to one Redis server, e.g. `redis://127.0.0.1:6379` (or `rediss://` for TLS,
    /// with the `redis` crate's TLS features). Each command waits at most `timeout` for an
    /// answer; a lost connection is re-established in the background, and requests fail with
    /// [`StoreError::Unavailable`] (adapters answer 503) until it is.
    ///
    /// # Errors
    /// [`StoreError::Connect`], naming Redis and the URL (without its password): the URL does
    /// not parse, or the server cannot be reached now.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let failed = |error| StoreError::connect("Redis", url, error);
        let client = redis::Client::open(url).map_err(failed)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        Ok(Self::new(connection))
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisStore<C> {
    /// A store over an existing connection: a [`ConnectionManager`] or a cluster connection.
    pub fn new(connection: C) -> Self {
        Self {
            connection,
            prefix: "session:".to_owned(),
            update: Script::new(UPDATE),
            index_add: Script::new(INDEX_ADD),
        }
    }

    /// Sets the prefix of every key this store writes (default `session:`), to share one
    /// Redis between applications.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn record(&self, key: &RecordKey) -> String {
        format!("{}{}", self.prefix, key.to_hex())
    }

    fn index(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }
}

/// The fields of an `HGETALL` reply (RESP2 array or RESP3 map), moving the bytes out instead
/// of copying them.
fn into_fields(reply: Value) -> Result<Fields, StoreError> {
    fn bytes(value: Value) -> Result<Vec<u8>, StoreError> {
        match value {
            Value::BulkString(bytes) => Ok(bytes),
            Value::SimpleString(text) => Ok(text.into_bytes()),
            other => Err(StoreError::Corrupt(format!(
                "unexpected HGETALL item {other:?}"
            ))),
        }
    }
    let pair = |name: Value, value: Value| -> Result<(String, Vec<u8>), StoreError> {
        let name = String::from_utf8(bytes(name)?)
            .map_err(|_| StoreError::Corrupt("a field name is not UTF-8".to_owned()))?;
        Ok((name, bytes(value)?))
    };
    match reply {
        Value::Array(items) => {
            let mut fields = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(name), Some(value)) = (items.next(), items.next()) {
                fields.push(pair(name, value)?);
            }
            Ok(fields)
        }
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(name, value)| pair(name, value))
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(StoreError::Corrupt(format!(
            "unexpected HGETALL reply {other:?}"
        ))),
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> SessionStore for RedisStore<C> {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let reply: Value = redis::cmd("HGETALL")
                .arg(self.record(key))
                .query_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            let fields = into_fields(reply)?;
            Ok((!fields.is_empty()).then_some(fields))
        })
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let record = self.record(key);
            let expires_at = unix_ms(write.expires_at);
            if write.create {
                let mut pipe = redis::pipe();
                pipe.atomic().del(&record).ignore();
                if !write.set.is_empty() {
                    pipe.hset_multiple(&record, write.set).ignore();
                }
                pipe.cmd("PEXPIREAT").arg(&record).arg(expires_at).ignore();
                let () = pipe
                    .query_async(&mut connection)
                    .await
                    .map_err(StoreError::unavailable)?;
                return Ok(true);
            }
            let mut invocation = self.update.key(&record);
            invocation.arg(expires_at).arg(write.set.len());
            for (name, bytes) in write.set {
                invocation.arg(*name).arg(*bytes);
            }
            for name in write.remove {
                invocation.arg(*name);
            }
            let written: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(written == 1)
        })
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let removed: i64 = connection
                .del(self.record(key))
                .await
                .map_err(StoreError::unavailable)?;
            Ok(removed == 1)
        })
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let ttl = (unix_ms(expires_at) - unix_ms(OffsetDateTime::now_utc())).max(1);
            let _: i64 = self
                .index_add
                .key(self.index(user))
                .arg(key.to_hex())
                .arg(ttl)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(())
        })
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = connection
                .srem(self.index(user), key.to_hex())
                .await
                .map_err(StoreError::unavailable)?;
            Ok(())
        })
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let members: Vec<String> = connection
                .smembers(self.index(user))
                .await
                .map_err(StoreError::unavailable)?;
            members
                .iter()
                .map(|hex| {
                    RecordKey::from_hex(hex).ok_or_else(|| {
                        StoreError::Corrupt(format!("index member {hex:?} is not a record key"))
                    })
                })
                .collect()
        })
    }
}
