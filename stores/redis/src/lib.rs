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

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::Poll;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{
    AsyncCommands, Cmd, ErrorKind, FromRedisValue, RedisError, RedisFuture, Script,
    ServerErrorKind, Value,
};
use time::OffsetDateTime;
use tokio::runtime::{Handle, RuntimeFlavor};

use session_core::store::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};

/// The `redis` crate this store is built on, re-exported so connections match its version.
pub use redis;

/// Updates fields of a record only if it still exists, and pushes its expiry.
/// KEYS[1] = record; ARGV[1] = time to live (ms, above 0); ARGV[2] = n; then n arguments of
/// `HSET` (field, value pairs); then the fields to delete.
///
/// `PEXPIRE` is the existence check: it answers 0, and changes nothing, when the record is
/// gone, and with a time to live above 0 it never deletes the record (an absolute `PEXPIREAT`
/// in the past by Redis's clock would, and the `HSET` after it would then make a record with
/// no expiry). Two calls into Redis instead of `EXISTS`, `HSET` per field and `PEXPIREAT`:
/// each call is most of a script's cost inside redis-server.
const UPDATE: &str = r"
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n)) end
if #ARGV > 2 + n then redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + n)) end
return 1
";

/// Sets fields of a record only if it still exists, keeping its expiry: an update between two
/// pushes of the idle deadline ([`RecordWrite::push_expiry`] false) that removes nothing.
/// KEYS[1] = record; ARGV = field, value pairs, the names distinct.
///
/// One call into Redis, not an existence check and then `HSET`: `HSET` answers how many fields
/// it added. Fewer than it set means one of them was there, so the record was. All of them
/// added, and the hash holds nothing else, means the record was gone (a record always holds
/// `@meta`) and `HSET` made it: it is deleted again before the script ends, so no one sees it
/// and it is never left without an expiry.
const SET_KEEPING_EXPIRY: &str = r"
local n = #ARGV / 2
if redis.call('HSET', KEYS[1], unpack(ARGV)) < n or redis.call('HLEN', KEYS[1]) > n then return 1 end
redis.call('DEL', KEYS[1])
return 0
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
/// (`PEXPIRE` with the time left until the record's deadline), so no sweeper runs.
///
/// Works with a single server ([`RedisStore::connect`], over a [`ConnectionManager`] that
/// reconnects by itself) and with Redis Cluster ([`RedisStore::new`] with a cluster
/// connection, feature `cluster`): every command touches one key, and the commands
/// that must be atomic run as one `MULTI`/`EXEC` or one script on that key.
///
/// Commands used: `HGETALL` (load); `MULTI`, `DEL`, `HSET`, `PEXPIRE`, `EXEC` (create);
/// `EVALSHA` (after a `NOSCRIPT` answer, `SCRIPT LOAD` and again) of a script with one `HSET`
/// (and, only when the record was gone, `HLEN` and `DEL`) for an update between two pushes of
/// the idle deadline that removes nothing, which keeps the record's expiry; of a script with
/// one `PEXPIRE`, one `HSET` and one `HDEL` for other updates; only `PEXPIRE` for an update
/// that moves the expiry alone; `DEL` (delete, and an update whose deadline has passed);
/// scripts with `ZADD`, `ZREM`, `ZSCORE`, `ZCOUNT`, `ZRANGEBYSCORE`, `ZREVRANGEBYSCORE`,
/// `ZREMRANGEBYSCORE`, `PTTL`, `PEXPIREAT` (per-user index).
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
    /// Set by [`RedisStore::connect`]: per-thread connections for threads that serve requests
    /// on their own single-threaded runtime.
    local: Option<Arc<Connector>>,
    prefix: String,
    max_per_user: usize,
    update: Script,
    set_keeping_expiry: Script,
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
    /// Threads other than this one that serve requests on their own single-threaded runtime
    /// (actix-web's workers) each get their own connection, made in the background on their
    /// first command, so their commands do not travel to the runtime this connection lives on
    /// and back. Until it is made, and on multi-threaded runtimes (where tasks move between
    /// threads anyway), commands go through the connection made here.
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
        let connection = ConnectionManager::new_with_config(client.clone(), config.clone())
            .await
            .map_err(failed)?;
        let connector = Arc::new(Connector {
            client,
            config,
            home: thread::current().id(),
            pace: pace_for(timeout),
        });
        let weak = Arc::downgrade(&connector);
        let pace = connector.pace;
        tokio::spawn(async move {
            // For as long as the store lives (see `pace_for`).
            while weak.strong_count() > 0 {
                tokio::time::sleep(pace).await;
            }
        });
        let mut store = Self::new(connection);
        store.local = Some(connector);
        Ok(store)
    }
}

/// How often a store's task on each runtime that runs its commands wakes up: half the response
/// timeout. Each command waits for its answer under a tokio timer (the `redis` crate's response
/// timeout); tokio wakes its driver (a write to an eventfd, and one more `epoll_wait`) whenever
/// a new timer is due before every timer the driver knew of when it went to sleep, which is
/// nearly every command when it slept with none. A timer always pending and due sooner than any
/// command's timeout spares those wake-ups for the cost of one wake-up per `pace`.
fn pace_for(timeout: Duration) -> Duration {
    (timeout / 2).max(Duration::from_millis(5))
}

/// Makes the per-thread connections of a store made by [`RedisStore::connect`].
struct Connector {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// The thread `connect` ran on: its commands use the store's own connection.
    home: ThreadId,
    /// See [`pace_for`].
    pace: Duration,
}

/// How long a thread whose own connection could not be made waits before it tries again
/// (meanwhile, its commands use the store's own connection).
const LOCAL_RETRY: Duration = Duration::from_secs(1);

thread_local! {
    /// This thread's id and its connections, one per store whose own connection lives on
    /// another thread.
    static LOCAL: RefCell<(ThreadId, Vec<Local>)> = RefCell::new((thread::current().id(), Vec::new()));
}

/// One store's connection on one thread.
struct Local {
    connector: Weak<Connector>,
    /// `None`: this thread uses the store's own connection (its runtime is multi-threaded).
    slot: Option<Arc<Slot>>,
}

/// A connection being made, made, or lost, on the runtime of one thread.
struct Slot {
    connection: OnceLock<ConnectionManager>,
    /// The task that made the connection ended: its runtime shut down, or connecting failed.
    ended: AtomicBool,
    /// When connecting failed.
    failed_at: OnceLock<Instant>,
    /// Dropped with the slot, which ends the task.
    _dropped: tokio::sync::oneshot::Sender<()>,
}

/// Marks a slot ended when its task ends or its runtime drops the task.
struct EndOnDrop(Weak<Slot>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        if let Some(slot) = self.0.upgrade() {
            slot.ended.store(true, Ordering::Release);
        }
    }
}

impl Connector {
    /// This thread's own connection to the server, if it has one (or starts making one).
    fn local(self: &Arc<Self>) -> Option<ConnectionManager> {
        LOCAL.with(|local| {
            let (thread, locals) = &mut *local.borrow_mut();
            if *thread == self.home {
                return None;
            }
            let mine = locals
                .iter()
                .position(|local| std::ptr::eq(local.connector.as_ptr(), Arc::as_ptr(self)));
            if let Some(at) = mine {
                let Some(slot) = &locals[at].slot else {
                    return None;
                };
                if !slot.ended.load(Ordering::Acquire) {
                    return slot.connection.get().cloned();
                }
                if slot
                    .failed_at
                    .get()
                    .is_some_and(|failed| failed.elapsed() < LOCAL_RETRY)
                {
                    return None;
                }
                locals.swap_remove(at);
            }
            // Stores dropped since: their connections close.
            locals.retain(|local| local.connector.strong_count() > 0);
            let handle = Handle::try_current().ok()?;
            let slot = (handle.runtime_flavor() == RuntimeFlavor::CurrentThread).then(|| {
                let (dropped, closed) = tokio::sync::oneshot::channel();
                let slot = Arc::new(Slot {
                    connection: OnceLock::new(),
                    ended: AtomicBool::new(false),
                    failed_at: OnceLock::new(),
                    _dropped: dropped,
                });
                let (client, config) = (self.client.clone(), self.config.clone());
                let pace = self.pace;
                let weak = Arc::downgrade(&slot);
                // On this runtime, so that the connection's own task runs on this thread.
                handle.spawn(async move {
                    let _end = EndOnDrop(weak.clone());
                    let connected = ConnectionManager::new_with_config(client, config).await;
                    let Some(slot) = weak.upgrade() else {
                        return;
                    };
                    match connected {
                        Ok(connection) => {
                            let _ = slot.connection.set(connection);
                            drop(slot);
                            // Until the slot goes, or the runtime shuts down, waking up every
                            // `pace` (see `pace_for`).
                            let mut closed = closed;
                            let mut tick = std::pin::pin!(tokio::time::sleep(pace));
                            std::future::poll_fn(|cx| {
                                if Pin::new(&mut closed).poll(cx).is_ready() {
                                    return Poll::Ready(());
                                }
                                while tick.as_mut().poll(cx).is_ready() {
                                    tick.as_mut().reset(tokio::time::Instant::now() + pace);
                                }
                                Poll::Pending
                            })
                            .await;
                        }
                        Err(_) => {
                            let _ = slot.failed_at.set(Instant::now());
                        }
                    }
                });
                slot
            });
            locals.push(Local {
                connector: Arc::downgrade(self),
                slot,
            });
            None
        })
    }
}

/// The connection a command goes through: the store's own, or this thread's.
enum Connection<C> {
    Shared(C),
    Local(ConnectionManager),
}

impl<C: ConnectionLike> ConnectionLike for Connection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Shared(connection) => connection.req_packed_command(cmd),
            Self::Local(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Shared(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Local(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Shared(connection) => connection.get_db(),
            Self::Local(connection) => connection.get_db(),
        }
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisStore<C> {
    /// A store over an existing connection: a [`ConnectionManager`] or a cluster connection.
    pub fn new(connection: C) -> Self {
        Self {
            connection,
            local: None,
            prefix: "session:".to_owned(),
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            update: Script::new(UPDATE),
            set_keeping_expiry: Script::new(SET_KEEPING_EXPIRY),
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
        let mut record = String::with_capacity(self.prefix.len() + 64);
        record.push_str(&self.prefix);
        record.push_str(&key.to_hex());
        record
    }

    /// The connection for a command made now, on this thread.
    fn connection(&self) -> Connection<C> {
        match self.local.as_ref().and_then(Connector::local) {
            Some(local) => Connection::Local(local),
            None => Connection::Shared(self.connection.clone()),
        }
    }

    fn index(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }
}

/// The fields of an `HGETALL` reply (RESP2 array or RESP3 map).
fn into_fields(reply: Value) -> Result<Fields, StoreError> {
    fn bytes(value: &Value) -> Result<&[u8], StoreError> {
        match value {
            Value::BulkString(bytes) => Ok(bytes),
            Value::SimpleString(text) => Ok(text.as_bytes()),
            other => Err(StoreError::Corrupt(format!(
                "unexpected HGETALL item {other:?}"
            ))),
        }
    }
    fn add(fields: &mut Fields, name: &Value, value: &Value) -> Result<(), StoreError> {
        let name = std::str::from_utf8(bytes(name)?)
            .map_err(|_| StoreError::Corrupt("a field name is not UTF-8".to_owned()))?;
        fields.insert(name, bytes(value)?);
        Ok(())
    }
    let value_bytes = |value: &Value| bytes(value).map_or(0, <[u8]>::len);
    match reply {
        Value::Array(items) => {
            let size = items.iter().skip(1).step_by(2).map(value_bytes).sum();
            let mut fields = Fields::with_capacity(items.len() / 2, size);
            for pair in items.chunks_exact(2) {
                add(&mut fields, &pair[0], &pair[1])?;
            }
            Ok(fields)
        }
        Value::Map(pairs) => {
            let size = pairs.iter().map(|(_, value)| value_bytes(value)).sum();
            let mut fields = Fields::with_capacity(pairs.len(), size);
            for (name, value) in &pairs {
                add(&mut fields, name, value)?;
            }
            Ok(fields)
        }
        Value::Nil => Ok(Fields::new()),
        other => Err(StoreError::Corrupt(format!(
            "unexpected HGETALL reply {other:?}"
        ))),
    }
}

/// Whether no name is set twice ([`SET_KEEPING_EXPIRY`] counts the fields `HSET` added).
fn distinct(set: &[(&str, &[u8])]) -> bool {
    set.iter()
        .enumerate()
        .all(|(at, (name, _))| set[..at].iter().all(|(other, _)| other != name))
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

/// Runs `command`; when it is the `EVALSHA` of `script` and Redis does not know the script
/// yet (a new or restarted server, a failover), loads it and runs the command again.
async fn query_script<T: FromRedisValue>(
    command: &mut Cmd,
    script: &Script,
    connection: &mut (impl ConnectionLike + Send),
) -> Result<T, RedisError> {
    match command.query_async(connection).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(connection).await?;
            command.query_async(connection).await
        }
        answer => answer,
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> SessionStore for RedisStore<C> {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            let mut connection = self.connection();
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
            let mut connection = self.connection();
            let record = self.record(key);
            // Relative: see `UPDATE`. A deadline already passed ends the record.
            let ttl = unix_ms(write.expires_at).saturating_sub(now_ms());
            if write.create {
                let mut pipe = redis::pipe();
                pipe.atomic().del(&record).ignore();
                if ttl > 0 {
                    if !write.set.is_empty() {
                        pipe.hset_multiple(&record, write.set).ignore();
                    }
                    pipe.cmd("PEXPIRE").arg(&record).arg(ttl).ignore();
                }
                let () = pipe
                    .query_async(&mut connection)
                    .await
                    .map_err(StoreError::unavailable)?;
                return Ok(true);
            }
            let mut script = &self.update;
            let mut command = if ttl <= 0 {
                // Written and expired at once: gone, if it was there.
                let mut command = redis::cmd("DEL");
                command.arg(&record);
                command
            } else if write.set.is_empty() && write.remove.is_empty() {
                // Only the expiry moves: one command, which answers 0 for a missing record.
                let mut command = redis::cmd("PEXPIRE");
                command.arg(&record).arg(ttl);
                command
            } else if !write.push_expiry && write.remove.is_empty() && distinct(write.set) {
                script = &self.set_keeping_expiry;
                let mut command = redis::cmd("EVALSHA");
                command.arg(script.get_hash()).arg(1).arg(&record);
                for (name, bytes) in write.set {
                    command.arg(*name).arg(*bytes);
                }
                command
            } else {
                let mut command = redis::cmd("EVALSHA");
                command
                    .arg(script.get_hash())
                    .arg(1)
                    .arg(&record)
                    .arg(ttl)
                    .arg(2 * write.set.len());
                for (name, bytes) in write.set {
                    command.arg(*name).arg(*bytes);
                }
                for name in write.remove {
                    command.arg(*name);
                }
                command
            };
            let written: i64 = query_script(&mut command, script, &mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            Ok(written == 1)
        })
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection();
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
            let mut connection = self.connection();
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
            let mut connection = self.connection();
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
            let mut connection = self.connection();
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
            let mut connection = self.connection();
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
            let mut connection = self.connection();
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
