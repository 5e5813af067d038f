//! [`MemoryStore`]: records in this process's memory, bounded, with per-record expiry.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use time::OffsetDateTime;

use super::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};

/// A record. Writes change it in place under its lock; the cache only learns about the
/// record's expiry when it moves past what the cache was told (see [`EVICTION_SLACK`]).
#[derive(Debug)]
struct Record {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    fields: Vec<(String, Vec<u8>)>,
    /// When the record stops being readable.
    expires_at: OffsetDateTime,
    /// When the cache evicts it: `expires_at` plus some slack, so most writes need not tell
    /// the cache.
    evict_at: OffsetDateTime,
    /// Deleted (logout): never readable again, even through a handle taken before.
    deleted: bool,
}

/// How far past its expiry a record may stay in memory, unreadable, before the cache evicts
/// it. Lets requests push a record's expiry without a cache update each time.
const EVICTION_SLACK: time::Duration = time::Duration::minutes(5);

impl Record {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn live(&self) -> bool {
        !self.deleted && self.expires_at > OffsetDateTime::now_utc()
    }

    fn apply(&mut self, write: &RecordWrite<'_>) {
        for (name, bytes) in write.set {
            match self.fields.iter_mut().find(|(n, _)| n == name) {
                Some((_, value)) => {
                    value.clear();
                    value.extend_from_slice(bytes);
                }
                None => self.fields.push(((*name).to_owned(), bytes.to_vec())),
            }
        }
        self.fields
            .retain(|(name, _)| !write.remove.contains(&name.as_str()));
        self.expires_at = write.expires_at;
    }
}

#[derive(Debug)]
struct Index {
    keys: Vec<RecordKey>,
    expires_at: OffsetDateTime,
}

/// Expires each entry at the time its value carries.
struct AtDeadline;

fn until(deadline: OffsetDateTime) -> Option<Duration> {
    let left = deadline - OffsetDateTime::now_utc();
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

impl Expiry<RecordKey, Arc<Record>> for AtDeadline {
    fn expire_after_create(&self, _: &RecordKey, v: &Arc<Record>, _: Instant) -> Option<Duration> {
        until(v.lock().evict_at)
    }
    fn expire_after_update(
        &self,
        _: &RecordKey,
        v: &Arc<Record>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        until(v.lock().evict_at)
    }
}

impl Expiry<String, Arc<Index>> for AtDeadline {
    fn expire_after_create(&self, _: &String, v: &Arc<Index>, _: Instant) -> Option<Duration> {
        until(v.expires_at)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &Arc<Index>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        until(v.expires_at)
    }
}

/// Session records in this process's memory: the embedded store for a single server.
///
/// Bounded: at most `max_records` sessions (the least recently used go first when full), and
/// each record is unreadable from its expiry on and evicted by the cache at most five minutes
/// later, without a sweeper. Writes change a record in place under its own lock. Records do not survive a restart
/// and are not shared between processes; use a shared store (the `session-store-redis` crate, say) for that. Built on
/// the `moka` concurrent cache; each write to a record is atomic.
#[derive(Clone)]
pub struct MemoryStore {
    records: Cache<RecordKey, Arc<Record>>,
    users: Cache<String, Arc<Index>>,
    /// [`EVICTION_SLACK`], shorter in this module's tests.
    slack: time::Duration,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.records.entry_count())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    /// Up to 100 000 sessions.
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryStore {
    /// A store that keeps at most `max_records` sessions.
    pub fn new(max_records: u64) -> Self {
        Self {
            // LRU, not moka's default TinyLFU: TinyLFU admits a new entry into a full cache
            // only if it is used more than the one it would evict, so new sessions would be
            // turned away.
            records: Cache::builder()
                .max_capacity(max_records)
                .eviction_policy(EvictionPolicy::lru())
                .expire_after(AtDeadline)
                .build(),
            users: Cache::builder()
                .max_capacity(max_records)
                .eviction_policy(EvictionPolicy::lru())
                .expire_after(AtDeadline)
                .build(),
            slack: EVICTION_SLACK,
        }
    }

    /// How many records are live (approximate: expired ones leave on the next maintenance).
    pub fn len(&self) -> u64 {
        self.records.run_pending_tasks();
        self.records.entry_count()
    }

    /// Whether no record is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        let found = self.records.get(key).and_then(|record| {
            let state = record.lock();
            state.live().then(|| state.fields.clone())
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        let written = if write.create {
            let mut state = State {
                fields: Vec::with_capacity(write.set.len()),
                expires_at: write.expires_at,
                evict_at: write.expires_at + self.slack,
                deleted: false,
            };
            state.apply(&write);
            let record = Arc::new(Record {
                state: Mutex::new(state),
            });
            self.records.insert(*key, record);
            true
        } else {
            match self.records.get(key) {
                None => false,
                Some(record) => {
                    let mut state = record.lock();
                    if state.live() {
                        state.apply(&write);
                        let tell_cache = write.expires_at > state.evict_at;
                        if tell_cache {
                            state.evict_at = write.expires_at + self.slack;
                        }
                        drop(state);
                        if tell_cache {
                            // A record deleted meanwhile comes back only as deleted (unreadable).
                            self.records.insert(*key, record);
                        }
                        true
                    } else {
                        false
                    }
                }
            }
        };
        Box::pin(std::future::ready(Ok(written)))
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        let removed = self.records.get(key).is_some_and(|record| {
            let mut state = record.lock();
            let live = state.live();
            state.deleted = true;
            live
        });
        self.records.invalidate(key);
        Box::pin(std::future::ready(Ok(removed)))
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.users.entry(user.to_owned()).and_compute_with(|entry| {
            let old = entry.map(|e| e.into_value());
            // Drop members whose record is gone, so the index stays as small as the
            // user's live sessions.
            let mut keys: Vec<RecordKey> = old
                .as_ref()
                .map(|index| {
                    index
                        .keys
                        .iter()
                        .filter(|k| *k != key && self.records.contains_key(*k))
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            keys.push(*key);
            let expires_at = old.map_or(expires_at, |index| index.expires_at.max(expires_at));
            Op::Put(Arc::new(Index { keys, expires_at }))
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        self.users.entry(user.to_owned()).and_compute_with(|entry| {
            match entry.map(|e| e.into_value()) {
                None => Op::Nop,
                Some(index) => {
                    let keys: Vec<RecordKey> =
                        index.keys.iter().filter(|k| *k != key).copied().collect();
                    if keys.is_empty() {
                        Op::Remove
                    } else {
                        Op::Put(Arc::new(Index {
                            keys,
                            expires_at: index.expires_at,
                        }))
                    }
                }
            }
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        let keys = self
            .users
            .get(user)
            .map(|index| index.keys.clone())
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok::<_, StoreError>(keys)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionId;

    fn write(expires_at: OffsetDateTime) -> RecordWrite<'static> {
        RecordWrite {
            create: true,
            set: &[("a", b"1")],
            remove: &[],
            expires_at,
        }
    }

    #[test]
    fn expired_records_are_evicted_and_the_count_is_bounded() {
        let mut store = MemoryStore::new(50);
        store.slack = time::Duration::ZERO;
        let soon = OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
        let key = SessionId::random().expect("rng").record_key();
        assert!(pollster::block_on(store.save(&key, write(soon))).expect("save"));
        assert_eq!(store.len(), 1);
        // Past the deadline and past a tick of the cache's timer wheel (about a second).
        std::thread::sleep(std::time::Duration::from_millis(1600));
        assert_eq!(pollster::block_on(store.load(&key)).expect("load"), None);
        assert_eq!(store.len(), 0, "evicted without a sweeper");

        let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let mut newest = None;
        for _ in 0..500 {
            let key = SessionId::random().expect("rng").record_key();
            pollster::block_on(store.save(&key, write(later))).expect("save");
            newest = Some(key);
        }
        assert!(store.len() <= 50, "{} records", store.len());
        let newest = newest.expect("written");
        assert!(
            pollster::block_on(store.load(&newest))
                .expect("load")
                .is_some(),
            "a full store still takes new sessions (the least recently used leave)"
        );
    }
}
