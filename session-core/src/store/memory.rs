//! [`MemoryStore`]: records in this process's memory, bounded, with per-record expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;
use time::OffsetDateTime;

use super::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};

#[derive(Debug)]
struct Record {
    fields: HashMap<String, Vec<u8>>,
    expires_at: OffsetDateTime,
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
        until(v.expires_at)
    }
    fn expire_after_update(
        &self,
        _: &RecordKey,
        v: &Arc<Record>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        until(v.expires_at)
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
/// each record disappears at its expiry without a sweeper. Records do not survive a restart
/// and are not shared between processes; use [`RedisStore`](crate::store) for that. Built on
/// the `moka` concurrent cache; each write to a record is atomic.
#[derive(Clone)]
pub struct MemoryStore {
    records: Cache<RecordKey, Arc<Record>>,
    users: Cache<String, Arc<Index>>,
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
            records: Cache::builder()
                .max_capacity(max_records)
                .expire_after(AtDeadline)
                .build(),
            users: Cache::builder()
                .max_capacity(max_records)
                .expire_after(AtDeadline)
                .build(),
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

fn live(record: &Record) -> bool {
    record.expires_at > OffsetDateTime::now_utc()
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        let found = self.records.get(key).filter(|r| live(r)).map(|record| {
            record
                .fields
                .iter()
                .map(|(name, bytes)| (name.clone(), bytes.clone()))
                .collect()
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        let apply = |fields: &mut HashMap<String, Vec<u8>>| {
            for (name, bytes) in write.set {
                fields.insert((*name).to_owned(), bytes.to_vec());
            }
            for name in write.remove {
                fields.remove(*name);
            }
        };
        let written = if write.create {
            let mut fields = HashMap::with_capacity(write.set.len());
            apply(&mut fields);
            self.records.insert(
                *key,
                Arc::new(Record {
                    fields,
                    expires_at: write.expires_at,
                }),
            );
            true
        } else {
            let result = self.records.entry(*key).and_compute_with(|entry| {
                match entry.map(|e| e.into_value()).filter(|r| live(r)) {
                    None => Op::Nop,
                    Some(record) => {
                        let mut fields = record.fields.clone();
                        apply(&mut fields);
                        Op::Put(Arc::new(Record {
                            fields,
                            expires_at: write.expires_at,
                        }))
                    }
                }
            });
            matches!(
                result,
                moka::ops::compute::CompResult::ReplacedWith(_)
                    | moka::ops::compute::CompResult::Inserted(_)
            )
        };
        Box::pin(std::future::ready(Ok(written)))
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        self.records.invalidate(key);
        Box::pin(std::future::ready(Ok(())))
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
