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

use session_core::store::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};

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

/// The start of every index script: `key` is the index, and an index written by version 0.1
/// (a set, its members without deadlines) becomes a sorted set whose entries keep the set's
/// expiry. ARGV[1] is always the time now (Unix ms).
const INDEX_PRELUDE: &str = r"
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] == 'set' then
  local members = redis.call('SMEMBERS', key)
  local left = redis.call('PTTL', key)
  redis.call('DEL', key)
  if left > 0 then
    local at = string.format('%.0f', tonumber(ARGV[1]) + left)
    for _, m in ipairs(members) do redis.call('ZADD', key, at, m) end
    redis.call('PEXPIREAT', key, at)
  end
end
-- The index expires at its latest live deadline, or is deleted with no live entry; with a
-- generation, its expiry only moves later.
local function settle(now)
  local latest = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, 1)[2]
  if redis.call('ZSCORE', key, '@generation') then
    local left = redis.call('PTTL', key)
    if latest and (left < 0 or tonumber(now) + left < tonumber(latest)) then
      redis.call('PEXPIREAT', key, latest)
    end
  elseif latest then
    redis.call('PEXPIREAT', key, latest)
  else
    redis.call('DEL', key)
  end
end
";

/// Adds a member (or gives it a later deadline), after dropping the entries whose deadline
/// passed; answers the oldest members beyond the cap (never the one added), which the caller
/// ends and then removes. ARGV[2] = record key; ARGV[3] = deadline (Unix ms); ARGV[4] = cap.
const INDEX_ADD: &str = r"
redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[1])
local old = redis.call('ZSCORE', key, ARGV[2])
if not old or tonumber(old) < tonumber(ARGV[3]) then redis.call('ZADD', key, ARGV[3], ARGV[2]) end
settle(ARGV[1])
local over = redis.call('ZCOUNT', key, 0, '+inf') - tonumber(ARGV[4])
local out = {}
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, 0, '+inf', 'LIMIT', 0, over + 1)) do
    if m ~= ARGV[2] and #out < over then out[#out + 1] = m end
  end
end
return out
";

/// Removes members. ARGV[2..] = record keys.
const INDEX_REMOVE: &str = r"
for i = 2, #ARGV do redis.call('ZREM', key, ARGV[i]) end
settle(ARGV[1])
return 1
";

/// The live members, earliest deadline first.
const INDEX_MEMBERS: &str = r"
return redis.call('ZRANGEBYSCORE', key, '(' .. ARGV[1], '+inf')
";

/// The user's generation, or 0.
const INDEX_GENERATION: &str = r"
local g = redis.call('ZSCORE', key, '@generation')
if not g then return 0 end
return -tonumber(g)
";

/// Sets the generation and keeps the index at least until ARGV[3] (Unix ms).
/// ARGV[2] = generation.
const INDEX_SET_GENERATION: &str = r"
redis.call('ZADD', key, '-' .. ARGV[2], '@generation')
local left = redis.call('PTTL', key)
if left < 0 or tonumber(ARGV[1]) + left < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', key, ARGV[3])
end
return 1
";

/// The per-user index scripts, each with [`INDEX_PRELUDE`].
#[derive(Clone)]
struct IndexScripts {
    add: Script,
    remove: Script,
    members: Script,
    generation: Script,
    set_generation: Script,
}

impl IndexScripts {
    fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{INDEX_PRELUDE}{body}"));
        Self {
            add: script(INDEX_ADD),
            remove: script(INDEX_REMOVE),
            members: script(INDEX_MEMBERS),
            generation: script(INDEX_GENERATION),
            set_generation: script(INDEX_SET_GENERATION),
        }
    }
}

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
/// (delete); scripts with `ZADD`, `ZREM`, `ZSCORE`, `ZCOUNT`, `ZRANGEBYSCORE`,
/// `ZREVRANGEBYSCORE`, `ZREMRANGEBYSCORE`, `PTTL`, `PEXPIREAT` (per-user index).
///
/// Keys: `<prefix><64 hex digits>` for records (the SHA-256 of the session id, never the id),
/// `<prefix>user:<user key>` for the per-user index. The default prefix is `session:`.
///
/// # The per-user index
/// A sorted set per user: each member is a record key in hex, scored by its deadline (Unix
/// ms). Every add first drops the members whose deadline passed (`ZREMRANGEBYSCORE`, O(log n)
/// plus what it drops), and past the cap ([`with_max_sessions_per_user`], default
/// [`DEFAULT_MAX_SESSIONS_PER_USER`]) answers the oldest members: their records are deleted,
/// then they leave the set. The set's `PEXPIREAT` is its latest live deadline. After a "log
/// out everywhere" it also holds the member `@generation`, scored by minus the generation
/// (negative, so never taken for a deadline); from then on its expiry only moves later (see
/// the store contract). Each script touches the one index key, so it works on Redis Cluster.
/// An index written by version 0.1 (a plain set) is converted on first use.
///
/// [`with_max_sessions_per_user`]: Self::with_max_sessions_per_user
#[derive(Clone)]
pub struct RedisStore<C = ConnectionManager> {
    connection: C,
    prefix: String,
    max_per_user: usize,
    update: Script,
    index: IndexScripts,
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
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            update: Script::new(UPDATE),
            index: IndexScripts::new(),
        }
    }

    /// Keeps at most `max` live sessions per user in the per-user index (default
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`], at least 1): a login past it ends the user's oldest
    /// session (deletes its record).
    #[must_use]
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
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

fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
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
            let index = self.index(user);
            let over: Vec<String> = self
                .index
                .add
                .key(&index)
                .arg(now_ms())
                .arg(key.to_hex())
                .arg(unix_ms(expires_at))
                .arg(self.max_per_user)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            if over.is_empty() {
                return Ok(());
            }
            // Ended, then forgotten: should this fail half-way, the index still lists them
            // and the next add ends them again.
            for hex in &over {
                let _: i64 = connection
                    .del(format!("{}{hex}", self.prefix))
                    .await
                    .map_err(StoreError::unavailable)?;
            }
            let _: i64 = self
                .index
                .remove
                .key(&index)
                .arg(now_ms())
                .arg(&over)
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(())
        })
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .index
                .remove
                .key(self.index(user))
                .arg(now_ms())
                .arg(key.to_hex())
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(())
        })
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let members: Vec<String> = self
                .index
                .members
                .key(self.index(user))
                .arg(now_ms())
                .invoke_async(&mut connection)
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

    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let generation: i64 = self
                .index
                .generation
                .key(self.index(user))
                .arg(now_ms())
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            u64::try_from(generation)
                .map_err(|_| StoreError::Corrupt(format!("a negative generation {generation}")))
        })
    }

    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .index
                .set_generation
                .key(self.index(user))
                .arg(now_ms())
                .arg(generation)
                .arg(unix_ms(keep_until))
                .invoke_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(())
        })
    }
}
