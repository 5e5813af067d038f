//! [`MemoryStore`]: records in this process's memory, bounded, with per-record expiry.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use time::OffsetDateTime;

use super::{
    DEFAULT_MAX_SESSIONS_PER_USER, Fields, RecordKey, RecordWrite, SessionStore, StoreError,
    StoreFuture,
};

/// A record. Writes change it in place under its lock; the cache only learns about the
/// record's expiry when it moves past what the cache was told (see [`EVICTION_SLACK`]).
#[derive(Debug)]
struct Record {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Shared with the requests that loaded it (a write replaces them).
    fields: Fields,
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
        self.fields.apply(write);
        if write.push_expiry || write.create {
            self.expires_at = write.expires_at;
        }
    }
}

/// One user's index. Changed in place under its lock, like a [`Record`]; the cache learns
/// about its expiry only when it moves past what the cache was told.
#[derive(Debug, Default)]
struct UserIndex {
    state: Mutex<IndexState>,
}

#[derive(Debug, Default)]
struct IndexState {
    /// The user's sessions and their deadlines.
    members: Members,
    generation: u64,
    /// When the index expires: its latest live deadline; with a generation, never earlier
    /// than before.
    expires_at: Option<OffsetDateTime>,
    /// When the cache evicts it: `expires_at` plus the slack.
    evict_at: Option<OffsetDateTime>,
    /// Taken out of the cache: a writer holding it must look it up again.
    removed: bool,
}

impl UserIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, IndexState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Up to this many sessions, a user's index is one small sorted vector; past it, a hash map
/// plus a tree ordered by deadline. Most users have one or two sessions: the vector costs a
/// tenth of the memory of the map and the tree together (a tree node alone holds room for
/// eleven entries), and at this size a linear scan is as fast as either.
const SMALL_INDEX: usize = 16;

/// A user's sessions with their deadlines, ordered by deadline: O(n) for n up to
/// [`SMALL_INDEX`], O(log n) beyond.
#[derive(Debug)]
enum Members {
    /// Sorted by (deadline, key): the oldest first, the latest last.
    Small(Vec<(OffsetDateTime, RecordKey)>),
    Large {
        /// Each member's deadline.
        deadlines: HashMap<RecordKey, OffsetDateTime>,
        /// The same entries ordered by deadline: the oldest first, the latest last.
        by_deadline: BTreeSet<(OffsetDateTime, RecordKey)>,
    },
}

impl Default for Members {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

impl Members {
    fn len(&self) -> usize {
        match self {
            Self::Small(entries) => entries.len(),
            Self::Large { deadlines, .. } => deadlines.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn deadline(&self, key: &RecordKey) -> Option<OffsetDateTime> {
        match self {
            Self::Small(entries) => entries.iter().find(|(_, k)| k == key).map(|(d, _)| *d),
            Self::Large { deadlines, .. } => deadlines.get(key).copied(),
        }
    }

    /// The entry with the earliest deadline.
    fn oldest(&self) -> Option<(OffsetDateTime, RecordKey)> {
        match self {
            Self::Small(entries) => entries.first().copied(),
            Self::Large { by_deadline, .. } => by_deadline.first().copied(),
        }
    }

    /// The latest deadline.
    fn latest(&self) -> Option<OffsetDateTime> {
        match self {
            Self::Small(entries) => entries.last().map(|(d, _)| *d),
            Self::Large { by_deadline, .. } => by_deadline.last().map(|(d, _)| *d),
        }
    }

    fn remove(&mut self, key: &RecordKey) -> bool {
        match self {
            Self::Small(entries) => match entries.iter().position(|(_, k)| k == key) {
                Some(at) => {
                    entries.remove(at);
                    true
                }
                None => false,
            },
            Self::Large {
                deadlines,
                by_deadline,
            } => match deadlines.remove(key) {
                Some(deadline) => {
                    by_deadline.remove(&(deadline, *key));
                    true
                }
                None => false,
            },
        }
    }

    /// Adds a key that is not a member.
    fn insert(&mut self, key: RecordKey, deadline: OffsetDateTime) {
        if let Self::Small(entries) = self {
            if entries.len() < SMALL_INDEX {
                // Room for one more at a time: most users have one or two sessions.
                entries.reserve_exact(1);
                let at = entries.partition_point(|entry| *entry < (deadline, key));
                entries.insert(at, (deadline, key));
                return;
            }
            let by_deadline: BTreeSet<_> = entries.drain(..).collect();
            let deadlines = by_deadline.iter().map(|&(d, k)| (k, d)).collect();
            *self = Self::Large {
                deadlines,
                by_deadline,
            };
        }
        if let Self::Large {
            deadlines,
            by_deadline,
        } = self
        {
            deadlines.insert(key, deadline);
            by_deadline.insert((deadline, key));
        }
    }

    /// The members in deadline order.
    fn iter(&self) -> Box<dyn Iterator<Item = &(OffsetDateTime, RecordKey)> + '_> {
        match self {
            Self::Small(entries) => Box::new(entries.iter()),
            Self::Large { by_deadline, .. } => Box::new(by_deadline.iter()),
        }
    }
}

impl IndexState {
    /// Drops the entries whose deadline has passed; each entry leaves once.
    fn prune(&mut self, now: OffsetDateTime) {
        while let Some((deadline, key)) = self.members.oldest() {
            if deadline > now {
                break;
            }
            self.members.remove(&key);
        }
    }

    fn remove(&mut self, key: &RecordKey) -> bool {
        self.members.remove(key)
    }

    /// Sets the expiry after a change: the latest live deadline, and with a generation never
    /// earlier than it was.
    fn settle(&mut self) {
        let latest = self.members.latest();
        self.expires_at = if self.generation == 0 {
            latest
        } else {
            latest.max(self.expires_at)
        };
    }

    /// Nothing left worth keeping: no entry and no generation.
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.generation == 0
    }
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

impl Expiry<String, Arc<UserIndex>> for AtDeadline {
    fn expire_after_create(&self, _: &String, v: &Arc<UserIndex>, _: Instant) -> Option<Duration> {
        v.lock().evict_at.and_then(until)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &Arc<UserIndex>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        v.lock().evict_at.and_then(until)
    }
}

/// Session records in this process's memory: the embedded store for a single server.
///
/// Bounded: at most `max_records` sessions (the least recently used go first when full), and
/// each record is unreadable from its expiry on and evicted by the cache at most five minutes
/// later, without a sweeper. Writes change a record in place under its own lock. Records do
/// not survive a restart and are not shared between processes; use a shared store (the
/// `session-store-redis` crate, say) for that. Built on the `moka` concurrent cache; each
/// write to a record is atomic.
///
/// The per-user index keeps a user's first sixteen entries in one sorted vector and more in a
/// hash map and a tree ordered by deadline: adding and removing cost O(log n) in the user's
/// live sessions past that (O(n) with n at most sixteen before), which are at most
/// [`DEFAULT_MAX_SESSIONS_PER_USER`] unless
/// [`with_max_sessions_per_user`](Self::with_max_sessions_per_user) says otherwise.
#[derive(Clone)]
pub struct MemoryStore {
    records: Cache<RecordKey, Arc<Record>>,
    users: Cache<String, Arc<UserIndex>>,
    max_per_user: usize,
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
            max_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            slack: EVICTION_SLACK,
        }
    }

    /// Keeps at most `max` live sessions per user (default
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`], at least 1): a login past it ends the user's oldest
    /// session.
    #[must_use]
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
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

    /// Runs `change` on `user`'s index under its lock (created empty if there is none), then
    /// drops an index left empty or tells the cache about a later expiry. Answers what
    /// `change` answered.
    fn with_index<R>(&self, user: &str, change: impl Fn(&mut IndexState) -> R) -> R {
        loop {
            let index = self.users.get_with_by_ref(user, Arc::default);
            let mut state = index.lock();
            if state.removed {
                // Being taken out of the cache: make sure it is, then look again.
                drop(state);
                self.forget(user, &index);
                continue;
            }
            let answer = change(&mut state);
            state.settle();
            if state.is_empty() {
                state.removed = true;
                drop(state);
                self.forget(user, &index);
                return answer;
            }
            // Later than the cache was told, or earlier (the latest entry left).
            let tell_cache = match (state.expires_at, state.evict_at) {
                (Some(expires_at), Some(evict_at)) => {
                    expires_at > evict_at || expires_at + self.slack < evict_at
                }
                (Some(_), None) => true,
                (None, _) => false,
            };
            if tell_cache {
                state.evict_at = state.expires_at.map(|at| at + self.slack);
            }
            drop(state);
            if tell_cache {
                // Put again, so the cache reads the new expiry; only if it is still this
                // index (never over a fresh one made after this one was removed).
                self.users
                    .entry_by_ref(user)
                    .and_compute_with(|entry| match entry {
                        Some(entry) if Arc::ptr_eq(entry.value(), &index) => {
                            Op::Put(Arc::clone(&index))
                        }
                        _ => Op::Nop,
                    });
            }
            return answer;
        }
    }

    /// Takes `index` out of the cache, if it is still the one there for `user`.
    fn forget(&self, user: &str, index: &Arc<UserIndex>) {
        self.users
            .entry_by_ref(user)
            .and_compute_with(|entry| match entry {
                Some(entry) if Arc::ptr_eq(entry.value(), index) => Op::Remove,
                _ => Op::Nop,
            });
    }

    /// Ends the session under `key`: its record becomes unreadable and leaves the cache.
    fn end(&self, key: &RecordKey) -> bool {
        let removed = self.records.get(key).is_some_and(|record| {
            let mut state = record.lock();
            let live = state.live();
            state.deleted = true;
            live
        });
        self.records.invalidate(key);
        removed
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
                fields: Fields::new(),
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
                        let tell_cache = write.push_expiry && write.expires_at > state.evict_at;
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
        Box::pin(std::future::ready(Ok(self.end(key))))
    }

    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let max = self.max_per_user;
        let over = self.with_index(user, |state| {
            state.prune(OffsetDateTime::now_utc());
            let deadline = match state.members.deadline(key) {
                Some(old) if old >= expires_at => old,
                _ => expires_at,
            };
            state.remove(key);
            // The oldest beyond the cap, never the one being added.
            let mut over = Vec::new();
            while state.members.len() >= max {
                let Some((_, oldest)) = state.members.oldest() else {
                    break;
                };
                state.members.remove(&oldest);
                over.push(oldest);
            }
            state.members.insert(*key, deadline);
            over
        });
        // Ended, not just forgotten. (Here the index lets go first: both happen in this
        // call, and nothing in between can fail.)
        for oldest in &over {
            self.end(oldest);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        if self.users.contains_key(user) {
            self.with_index(user, |state| {
                state.remove(key);
                state.prune(OffsetDateTime::now_utc());
            });
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        let now = OffsetDateTime::now_utc();
        let keys = self
            .users
            .get(user)
            .map(|index| {
                let state = index.lock();
                state
                    .members
                    .iter()
                    .filter(|(deadline, _)| *deadline > now)
                    .map(|(_, key)| *key)
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok::<_, StoreError>(keys)))
    }

    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        let generation = self
            .users
            .get(user)
            .map_or(0, |index| index.lock().generation);
        Box::pin(std::future::ready(Ok(generation)))
    }

    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.with_index(user, |state| {
            state.generation = generation;
            state.expires_at = state.expires_at.max(Some(keep_until));
        });
        Box::pin(std::future::ready(Ok(())))
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
            push_expiry: true,
        }
    }

    fn entries(store: &MemoryStore, user: &str) -> (usize, usize) {
        store.users.get(user).map_or((0, 0), |index| {
            let state = index.lock();
            match &state.members {
                Members::Small(entries) => (entries.len(), entries.len()),
                Members::Large {
                    deadlines,
                    by_deadline,
                } => (deadlines.len(), by_deadline.len()),
            }
        })
    }

    #[test]
    fn the_user_index_keeps_its_order_and_cap_past_the_small_size() {
        let store = MemoryStore::new(1000).with_max_sessions_per_user(30);
        let run = pollster::block_on::<StoreFuture<'_, ()>>;
        let now = OffsetDateTime::now_utc();
        let keys: Vec<RecordKey> = (0..40)
            .map(|_| SessionId::random().expect("rng").record_key())
            .collect();
        // Deadlines out of order: key i expires (i * 7 mod 40) + 1 minutes from now.
        let deadline = |i: usize| now + time::Duration::minutes(((i * 7) % 40) as i64 + 1);
        for (i, key) in keys.iter().enumerate().take(25) {
            assert!(pollster::block_on(store.save(key, write(deadline(i)))).expect("save"));
            run(store.index_add("bob", key, deadline(i))).expect("add");
        }
        assert_eq!(
            entries(&store, "bob"),
            (25, 25),
            "grew past the small vector"
        );
        let members = pollster::block_on(store.index_members("bob")).expect("members");
        let mut expected: Vec<usize> = (0..25).collect();
        expected.sort_by_key(|&i| deadline(i));
        assert_eq!(
            members,
            expected.iter().map(|&i| keys[i]).collect::<Vec<_>>()
        );

        // Past the cap, the earliest deadlines go (and their records end).
        for (i, key) in keys.iter().enumerate().skip(25) {
            assert!(pollster::block_on(store.save(key, write(deadline(i)))).expect("save"));
            run(store.index_add("bob", key, deadline(i))).expect("add");
        }
        assert_eq!(entries(&store, "bob"), (30, 30));
        let mut all: Vec<usize> = (0..40).collect();
        all.sort_by_key(|&i| deadline(i));
        let members = pollster::block_on(store.index_members("bob")).expect("members");
        // Each add ends the earliest deadline among the members at that moment (never the key
        // being added), so the members are the 30 latest of those kept.
        assert_eq!(members.len(), 30);
        assert!(members.windows(2).all(|w| {
            let at = |k: &RecordKey| keys.iter().position(|x| x == k).map(deadline);
            at(&w[0]) <= at(&w[1])
        }));
        let ended = keys
            .iter()
            .filter(|k| pollster::block_on(store.load(k)).expect("load").is_none())
            .count();
        assert_eq!(ended, 10, "every member past the cap ended its session");

        // Removing brings it down again, in order.
        for key in &members[..20] {
            run(store.index_remove("bob", key)).expect("remove");
        }
        assert_eq!(entries(&store, "bob"), (10, 10));
        let rest = pollster::block_on(store.index_members("bob")).expect("members");
        assert_eq!(rest, members[20..].to_vec());
    }

    #[test]
    fn the_user_index_is_pruned_capped_and_leaves_with_its_last_deadline() {
        let mut store = MemoryStore::new(1000).with_max_sessions_per_user(3);
        store.slack = time::Duration::ZERO;
        let run = pollster::block_on::<StoreFuture<'_, ()>>;
        let soon = OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
        let hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let keys: Vec<RecordKey> = (0..6)
            .map(|_| SessionId::random().expect("rng").record_key())
            .collect();
        for key in &keys {
            assert!(pollster::block_on(store.save(key, write(hour))).expect("save"));
        }
        run(store.index_add("alice", &keys[0], soon)).expect("add");
        std::thread::sleep(std::time::Duration::from_millis(400));
        run(store.index_add("alice", &keys[1], hour)).expect("add");
        assert_eq!(
            entries(&store, "alice"),
            (1, 1),
            "the ended entry was pruned"
        );

        // Past the cap, the oldest session is ended: its record is gone.
        for (i, key) in keys[2..].iter().enumerate() {
            let at = hour + time::Duration::seconds(i as i64 + 1);
            run(store.index_add("alice", key, at)).expect("add");
        }
        assert_eq!(entries(&store, "alice"), (3, 3));
        let members = pollster::block_on(store.index_members("alice")).expect("members");
        assert_eq!(members, keys[3..].to_vec(), "oldest first");
        // (The pruned entry's record would have expired by its deadline; this one was
        // written to outlive it, and pruning does not touch records.)
        for ended in &keys[1..3] {
            assert_eq!(pollster::block_on(store.load(ended)).expect("load"), None);
        }
        // Adding a member again does not end anyone.
        run(store.index_add("alice", &keys[3], hour)).expect("add again");
        assert_eq!(entries(&store, "alice"), (3, 3));
        assert!(
            pollster::block_on(store.load(&keys[3]))
                .expect("load")
                .is_some()
        );

        // Without a generation, an index expires with its latest live entry and is dropped
        // with its last one. With one, it is kept until `keep_until` and when its entries
        // leave (a renewal of the only session removes its entry before adding the next).
        let keep = OffsetDateTime::now_utc() + time::Duration::milliseconds(500);
        for key in &keys[3..] {
            run(store.index_remove("alice", key)).expect("remove");
        }
        store.users.run_pending_tasks();
        assert_eq!(store.users.entry_count(), 0, "dropped with its last entry");
        pollster::block_on(store.index_set_generation("carol", 7, keep)).expect("generation");
        run(store.index_add("carol", &keys[3], soon)).expect("add");
        run(store.index_remove("carol", &keys[3])).expect("remove");
        assert_eq!(
            pollster::block_on(store.index_generation("carol")).expect("g"),
            7
        );
        let short = OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
        run(store.index_add("bob", &keys[4], keep)).expect("add");
        run(store.index_add("bob", &keys[5], short)).expect("add");
        let evict_at = |user: &str| store.users.get(user).and_then(|i| i.lock().evict_at);
        assert_eq!(evict_at("bob"), Some(keep), "the latest live deadline");
        run(store.index_remove("bob", &keys[4])).expect("remove the latest");
        assert_eq!(evict_at("bob"), Some(short), "earlier again");
        assert_eq!(evict_at("carol"), Some(keep), "kept for the generation");
        std::thread::sleep(std::time::Duration::from_millis(1600));
        store.users.run_pending_tasks();
        assert_eq!(store.users.entry_count(), 0, "both left at their deadline");
        assert_eq!(
            pollster::block_on(store.index_generation("carol")).expect("g"),
            0
        );
    }

    #[test]
    fn the_user_index_does_not_grow_with_logins() {
        let store = MemoryStore::new(100_000);
        let hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
        for i in 0..10_000 {
            let key = SessionId::random().expect("rng").record_key();
            let at = hour + time::Duration::milliseconds(i);
            pollster::block_on(store.index_add("alice", &key, at)).expect("add");
        }
        assert_eq!(
            entries(&store, "alice"),
            (DEFAULT_MAX_SESSIONS_PER_USER, DEFAULT_MAX_SESSIONS_PER_USER)
        );
    }

    #[test]
    fn concurrent_index_changes_of_one_user_lose_nothing() {
        let store = MemoryStore::new(100_000);
        let hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let kept: Vec<Vec<RecordKey>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        // The index empties (and leaves the cache) and fills again, all
                        // the time, while the other threads write to it.
                        for _ in 0..300 {
                            let key = SessionId::random().expect("rng").record_key();
                            pollster::block_on(store.index_add("alice", &key, hour)).expect("add");
                            pollster::block_on(store.index_remove("alice", &key)).expect("remove");
                        }
                        let kept: Vec<RecordKey> = (0..5)
                            .map(|_| SessionId::random().expect("rng").record_key())
                            .collect();
                        for key in &kept {
                            pollster::block_on(store.index_add("alice", key, hour)).expect("add");
                        }
                        kept
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("worker"))
                .collect()
        });
        let mut members = pollster::block_on(store.index_members("alice")).expect("members");
        members.sort();
        let mut expected: Vec<RecordKey> = kept.concat();
        expected.sort();
        assert_eq!(members, expected);
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
