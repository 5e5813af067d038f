//! The per-user index on the store alone: what `index_add`, `index_remove`, `index_members`
//! and the generation methods must do (see "the per-user index" on
//! `session_core::store::SessionStore`): entries listed oldest first and never past their
//! deadline, ended entries dropped on add, a cap past which the oldest session is ended, and
//! the user's generation kept while its sessions come and go.

use std::time::Duration;

use session_core::store::{RecordKey, RecordWrite, SessionStore};
use session_core::time::OffsetDateTime;

use super::{Start, StoreUnderTest};
use crate::servers::runtime;

fn new_key() -> RecordKey {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("random bytes");
    RecordKey::from_bytes(bytes)
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + session_core::time::Duration::hours(1)
}

/// `n` keys with a live record (an hour) each.
async fn live_keys(store: &dyn SessionStore, n: usize) -> Vec<RecordKey> {
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        let key = new_key();
        let write = RecordWrite {
            create: true,
            set: &[("@meta", b"m")],
            remove: &[],
            expires_at: in_an_hour(),
            push_expiry: true,
        };
        assert!(store.save(&key, write).await.expect("create"));
        keys.push(key);
    }
    keys
}

fn started(start: Start<'_>) -> StoreUnderTest {
    start().expect("the store starts (it did for the first check)")
}

/// Listed oldest (earliest deadline) first; an entry is never listed past its deadline; an
/// entry added again keeps the later deadline.
fn the_index_lists_live_entries_oldest_first(start: Start<'_>) {
    let target = started(start);
    let store = &*target.store;
    runtime().block_on(async {
        let keys = live_keys(store, 4).await;
        let soon = OffsetDateTime::now_utc() + session_core::time::Duration::seconds(1);
        let hour = in_an_hour();
        let at = |i: i64| hour + session_core::time::Duration::seconds(i);
        // Added out of order.
        store
            .index_add("alice", &keys[2], at(2))
            .await
            .expect("add");
        store
            .index_add("alice", &keys[1], at(1))
            .await
            .expect("add");
        store.index_add("alice", &keys[0], soon).await.expect("add");
        // Again, with an earlier deadline: the later one stays.
        store.index_add("alice", &keys[2], soon).await.expect("add");
        assert_eq!(
            store.index_members("alice").await.expect("members"),
            keys[..3].to_vec(),
            "earliest deadline first"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            store.index_members("alice").await.expect("members"),
            keys[1..3].to_vec(),
            "never listed past its deadline"
        );
        store
            .index_add("alice", &keys[3], at(3))
            .await
            .expect("add");
        assert_eq!(
            store.index_members("alice").await.expect("members"),
            keys[1..].to_vec()
        );
    });
}

/// Entries past their deadline leave on the next add and do not count towards the cap: a
/// store that kept them would end live sessions (or these records) to make room.
fn ended_entries_are_dropped_on_add_and_do_not_count(start: Start<'_>) {
    let target = started(start);
    let max = target.max_sessions_per_user;
    let store = &*target.store;
    runtime().block_on(async {
        let ended = live_keys(store, max).await;
        let soon = OffsetDateTime::now_utc() + session_core::time::Duration::seconds(1);
        for key in &ended {
            store.index_add("alice", key, soon).await.expect("add");
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let live = live_keys(store, max).await;
        for key in &live {
            store
                .index_add("alice", key, in_an_hour())
                .await
                .expect("add");
        }
        let mut members = store.index_members("alice").await.expect("members");
        members.sort();
        let mut expected = live.clone();
        expected.sort();
        assert_eq!(members, expected, "all {max} live sessions listed");
        for key in live.iter().chain(&ended) {
            assert!(
                store.load(key).await.expect("load").is_some(),
                "no session was ended to make room for live ones"
            );
        }
    });
}

/// Past the cap, the oldest session is ended (its record deleted), never the one added.
fn past_the_cap_the_oldest_session_is_ended(start: Start<'_>) {
    let target = started(start);
    let max = target.max_sessions_per_user;
    let store = &*target.store;
    runtime().block_on(async {
        let keys = live_keys(store, max + 2).await;
        let hour = in_an_hour();
        let at = |i: usize| hour + session_core::time::Duration::seconds(i as i64);
        for (i, key) in keys[..=max].iter().enumerate() {
            store.index_add("alice", key, at(i)).await.expect("add");
        }
        assert_eq!(
            store.index_members("alice").await.expect("members"),
            keys[1..=max].to_vec(),
            "at most {max}, the oldest gone"
        );
        assert_eq!(
            store.load(&keys[0]).await.expect("load"),
            None,
            "the oldest session was ended, not just unlisted"
        );
        // Adding a listed session again ends nobody.
        store
            .index_add("alice", &keys[1], at(1))
            .await
            .expect("add");
        assert!(store.load(&keys[1]).await.expect("load").is_some());
        // A session added with an earlier deadline than all others is kept: the oldest
        // other one goes.
        let early = OffsetDateTime::now_utc() + session_core::time::Duration::minutes(1);
        store
            .index_add("alice", &keys[max + 1], early)
            .await
            .expect("add");
        let members = store.index_members("alice").await.expect("members");
        assert_eq!(members.len(), max);
        assert_eq!(members[0], keys[max + 1]);
        assert!(!members.contains(&keys[1]));
        assert_eq!(store.load(&keys[1]).await.expect("load"), None);
        assert!(store.load(&keys[max + 1]).await.expect("load").is_some());
        // Other users are not affected.
        assert!(
            store
                .index_members("bob")
                .await
                .expect("members")
                .is_empty()
        );
    });
}

/// The generation is 0 until set, per user, and stays while the user's sessions come and go,
/// also when the last one leaves (a renewal removes the old entry before it adds the new).
fn the_generation_stays_while_sessions_come_and_go(start: Start<'_>) {
    let target = started(start);
    let store = &*target.store;
    runtime().block_on(async {
        let keys = live_keys(store, 2).await;
        assert_eq!(store.index_generation("alice").await.expect("g"), 0);
        store
            .index_set_generation("alice", 1 << 51, in_an_hour())
            .await
            .expect("set");
        assert_eq!(store.index_generation("alice").await.expect("g"), 1 << 51);
        assert_eq!(store.index_generation("bob").await.expect("g"), 0);
        assert!(
            store
                .index_members("alice")
                .await
                .expect("members")
                .is_empty(),
            "a generation is not a session"
        );
        store
            .index_add("alice", &keys[0], in_an_hour())
            .await
            .expect("add");
        store.index_remove("alice", &keys[0]).await.expect("remove");
        assert_eq!(store.index_generation("alice").await.expect("g"), 1 << 51);
        store
            .index_add("alice", &keys[1], in_an_hour())
            .await
            .expect("add");
        let largest = (1 << 52) - 1;
        store
            .index_set_generation("alice", largest, in_an_hour())
            .await
            .expect("set");
        assert_eq!(store.index_generation("alice").await.expect("g"), largest);
        assert_eq!(
            store.index_members("alice").await.expect("members"),
            vec![keys[1]],
            "setting the generation keeps the entries"
        );
        store.index_remove("alice", &keys[1]).await.expect("remove");
        assert_eq!(store.index_generation("alice").await.expect("g"), largest);
    });
}

/// The checks, each listed once.
pub(super) const CHECKS: &[super::Check] = &[
    (
        "the user index lists live entries, oldest first",
        the_index_lists_live_entries_oldest_first,
    ),
    (
        "ended index entries are dropped on add and do not count towards the cap",
        ended_entries_are_dropped_on_add_and_do_not_count,
    ),
    (
        "past the per-user cap the oldest session is ended",
        past_the_cap_the_oldest_session_is_ended,
    ),
    (
        "the user's generation stays while sessions come and go",
        the_generation_stays_while_sessions_come_and_go,
    ),
];
