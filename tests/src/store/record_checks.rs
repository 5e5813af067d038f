//! The store contract at the level of records: what every `SessionStore` method must do,
//! checked on the store alone.

use std::time::Duration;

use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore};
use session_core::time::OffsetDateTime;

use super::Start;
use crate::servers::runtime;

fn new_key() -> RecordKey {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("random bytes");
    RecordKey::from_bytes(bytes)
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + session_core::time::Duration::hours(1)
}

fn create<'a>(set: &'a [(&'a str, &'a [u8])], expires_at: OffsetDateTime) -> RecordWrite<'a> {
    RecordWrite {
        create: true,
        set,
        remove: &[],
        expires_at,
        push_expiry: true,
    }
}

fn update<'a>(set: &'a [(&'a str, &'a [u8])], remove: &'a [&'a str]) -> RecordWrite<'a> {
    RecordWrite {
        create: false,
        set,
        remove,
        expires_at: in_an_hour(),
        push_expiry: true,
    }
}

/// An update between two pushes of the idle deadline: the store may keep the expiry it has.
fn update_in_place<'a>(set: &'a [(&'a str, &'a [u8])], remove: &'a [&'a str]) -> RecordWrite<'a> {
    RecordWrite {
        push_expiry: false,
        ..update(set, remove)
    }
}

fn sorted(fields: Option<Fields>) -> Option<Vec<(String, Vec<u8>)>> {
    fields.map(|fields| {
        let mut pairs: Vec<(String, Vec<u8>)> = fields
            .iter()
            .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()))
            .collect();
        pairs.sort();
        pairs
    })
}

fn fields(pairs: &[(&str, &[u8])]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut fields: Vec<(String, Vec<u8>)> = pairs
        .iter()
        .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
        .collect();
    fields.sort();
    Some(fields)
}

fn store_of(start: Start<'_>) -> (super::StoreUnderTest, std::sync::Arc<dyn SessionStore>) {
    let target = start().expect("the store starts (it did for the first check)");
    let store = std::sync::Arc::clone(&target.store);
    (target, store)
}

fn created_records_load_back(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        let key = new_key();
        assert_eq!(store.load(&key).await.expect("load"), None);
        let long_name = "n".repeat(300);
        let binary: &[u8] = &[0, 13, 10, 255, b' '];
        let set: Vec<(&str, &[u8])> = vec![
            ("user", b"alice"),
            ("@meta", b"\x01\x02"),
            ("@deadline:3", b"1700000000"),
            ("empty", b""),
            ("binary", binary),
            ("with space", b"s"),
            ("#hash", b"h"),
            (long_name.as_str(), b"long"),
        ];
        assert!(
            store
                .save(&key, create(&set, in_an_hour()))
                .await
                .expect("create")
        );
        assert_eq!(sorted(store.load(&key).await.expect("load")), fields(&set));

        // Creating again replaces the record.
        let set: &[(&str, &[u8])] = &[("user", b"bob")];
        assert!(
            store
                .save(&key, create(set, in_an_hour()))
                .await
                .expect("replace")
        );
        assert_eq!(sorted(store.load(&key).await.expect("load")), fields(set));
    });
}

fn updating_a_missing_record_writes_nothing(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        let key = new_key();
        let written = store
            .save(&key, update(&[("a", b"1"), ("b", b"2")], &[]))
            .await
            .expect("update");
        assert!(!written, "an update of a missing record answers false");
        let written = store
            .save(&key, update_in_place(&[("a", b"1"), ("b", b"2")], &[]))
            .await
            .expect("update in place");
        assert!(!written, "also one that keeps the expiry");
        assert_eq!(store.load(&key).await.expect("load"), None);

        // Nor after a delete.
        assert!(
            store
                .save(&key, create(&[("a", b"1")], in_an_hour()))
                .await
                .expect("create")
        );
        assert!(
            store.delete(&key).await.expect("delete"),
            "the record was live"
        );
        assert!(
            !store
                .save(&key, update(&[("a", b"2")], &[]))
                .await
                .expect("update")
        );
        for write in [
            update_in_place(&[("a", b"2")], &[]),
            update_in_place(&[("a", b"2"), ("b", b"3")], &["c"]),
        ] {
            assert!(!store.save(&key, write).await.expect("update in place"));
        }
        assert_eq!(store.load(&key).await.expect("load"), None);
    });
}

fn updates_set_and_remove_fields(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        let key = new_key();
        let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2"), ("c", b"3")];
        assert!(
            store
                .save(&key, create(set, in_an_hour()))
                .await
                .expect("create")
        );
        let written = store
            .save(
                &key,
                update(&[("b", b"20"), ("d", b"4")], &["c", "never-there"]),
            )
            .await
            .expect("update");
        assert!(written);
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&[("a", b"1"), ("b", b"20"), ("d", b"4")])
        );
        // A write with no fields only pushes the expiry.
        assert!(store.save(&key, update(&[], &[])).await.expect("touch"));
        // Set and removed in one write: removed.
        assert!(
            store
                .save(&key, update(&[("a", b"x")], &["a"]))
                .await
                .expect("update")
        );
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&[("b", b"20"), ("d", b"4")])
        );
        // Remove all but one field.
        assert!(store.save(&key, update(&[], &["b"])).await.expect("update"));
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&[("d", b"4")])
        );
        // The same, keeping the expiry: one field, several, with removals.
        assert!(
            store
                .save(&key, update_in_place(&[("d", b"40")], &[]))
                .await
                .expect("update in place")
        );
        let many: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| (format!("f{i}"), vec![u8::try_from(i).expect("small"); i]))
            .collect();
        let many: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        assert!(
            store
                .save(&key, update_in_place(&many, &[]))
                .await
                .expect("update in place")
        );
        let mut expected = many.clone();
        expected.push(("d", b"40"));
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&expected)
        );
        assert!(
            store
                .save(&key, update_in_place(&[("d", b"41"), ("e", b"5")], &["f0"]))
                .await
                .expect("update in place")
        );
        expected.retain(|(name, _)| *name != "f0" && *name != "d");
        expected.extend([("d", &b"41"[..]), ("e", b"5")]);
        assert_eq!(
            sorted(store.load(&key).await.expect("load")),
            fields(&expected)
        );
    });
}

fn concurrent_updates_of_different_fields_both_survive(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        for round in 0..20u32 {
            let key = new_key();
            let set: &[(&str, &[u8])] = &[("a", b"0"), ("b", b"0")];
            assert!(
                store
                    .save(&key, create(set, in_an_hour()))
                    .await
                    .expect("create")
            );
            let value = round.to_string();
            let value = value.as_bytes();
            let first = [("a", value), ("x", value)];
            let second = [("b", value), ("y", value)];
            // One update pushes the expiry, the other keeps it (in turns).
            let (first_write, second_write) = if round % 2 == 0 {
                (update(&first, &[]), update_in_place(&second, &[]))
            } else {
                (update_in_place(&first, &[]), update(&second, &[]))
            };
            let (one, two) = tokio::join!(
                store.save(&key, first_write),
                store.save(&key, second_write),
            );
            assert!(one.expect("first update") && two.expect("second update"));
            assert_eq!(
                sorted(store.load(&key).await.expect("load")),
                fields(&[("a", value), ("b", value), ("x", value), ("y", value)]),
                "round {round}"
            );
            // The same field: one of the two values wins, and the record stays whole.
            let (one, two) = tokio::join!(
                store.save(&key, update(&[("a", b"first")], &["x"])),
                store.save(&key, update(&[("a", b"second")], &["y"])),
            );
            assert!(one.expect("first update") && two.expect("second update"));
            let loaded = sorted(store.load(&key).await.expect("load")).expect("record");
            let a = &loaded.iter().find(|(name, _)| name == "a").expect("a").1;
            assert!(a == b"first" || a == b"second", "round {round}: {a:?}");
            assert_eq!(loaded.len(), 2, "round {round}: {loaded:?}");
        }
    });
}

fn delete_reports_whether_the_record_was_live(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        let key = new_key();
        let set: &[(&str, &[u8])] = &[("a", b"1"), ("b", b"2")];
        assert!(
            store
                .save(&key, create(set, in_an_hour()))
                .await
                .expect("create")
        );
        assert!(store.delete(&key).await.expect("delete"), "it was live");
        assert_eq!(store.load(&key).await.expect("load"), None);
        assert!(
            !store.delete(&key).await.expect("delete again"),
            "nothing was there"
        );
        // Of two deletes at once, at most one found the record.
        assert!(
            store
                .save(&key, create(set, in_an_hour()))
                .await
                .expect("create")
        );
        let (one, two) = tokio::join!(store.delete(&key), store.delete(&key));
        let found = [one.expect("delete"), two.expect("delete")];
        assert!(found.iter().filter(|f| **f).count() <= 1, "{found:?}");
    });
}

fn records_expire_at_their_deadline_without_a_sweeper(start: Start<'_>) {
    let (_target, store) = store_of(start);
    runtime().block_on(async {
        let short = new_key();
        let pushed = new_key();
        let soon = OffsetDateTime::now_utc() + session_core::time::Duration::seconds(1);
        let set: &[(&str, &[u8])] = &[("a", b"1")];
        assert!(store.save(&short, create(set, soon)).await.expect("create"));
        assert!(
            store
                .save(&pushed, create(set, soon))
                .await
                .expect("create")
        );
        assert!(store.load(&short).await.expect("load").is_some());
        // An update pushes the expiry of the whole record.
        assert!(
            store
                .save(&pushed, update(&[("b", b"2")], &[]))
                .await
                .expect("update")
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            store.load(&short).await.expect("load"),
            None,
            "exact on read"
        );
        // An expired record is not brought back by an update, either kind.
        assert!(!store.save(&short, update(set, &[])).await.expect("update"));
        assert!(
            !store
                .save(&short, update_in_place(set, &[]))
                .await
                .expect("update in place")
        );
        assert_eq!(store.load(&short).await.expect("load"), None);
        assert_eq!(
            sorted(store.load(&pushed).await.expect("load")),
            fields(&[("a", b"1"), ("b", b"2")])
        );
    });
}

/// A key with a live record behind it (a store may drop index members whose record is gone).
async fn live_key(store: &dyn SessionStore) -> RecordKey {
    let key = new_key();
    let set: &[(&str, &[u8])] = &[("@meta", b"m")];
    assert!(
        store
            .save(&key, create(set, in_an_hour()))
            .await
            .expect("create")
    );
    key
}

fn the_user_index_adds_removes_and_lists(start: Start<'_>) {
    let (target, store) = store_of(start);
    // Four at once, or as many as the store keeps per user.
    let at_once = target.max_sessions_per_user.min(4);
    runtime().block_on(async {
        let long_user = format!("user with spaces {}", "x".repeat(300));
        for user in ["alice", long_user.as_str()] {
            let (one, two) = (live_key(&*store).await, live_key(&*store).await);
            assert_eq!(store.index_members(user).await.expect("members"), vec![]);
            store
                .index_add(user, &one, in_an_hour())
                .await
                .expect("add");
            store
                .index_add(user, &two, in_an_hour())
                .await
                .expect("add");
            store
                .index_add(user, &one, in_an_hour())
                .await
                .expect("add again");
            let mut members = store.index_members(user).await.expect("members");
            members.sort();
            let mut expected = vec![one, two];
            expected.sort();
            assert_eq!(members, expected);
            store.index_remove(user, &one).await.expect("remove");
            assert_eq!(store.index_members(user).await.expect("members"), vec![two]);
            store.index_remove(user, &one).await.expect("remove again");
            store.index_remove(user, &two).await.expect("remove");
            assert_eq!(store.index_members(user).await.expect("members"), vec![]);
        }
        // Concurrent additions all land.
        let mut keys = Vec::new();
        for _ in 0..at_once {
            keys.push(live_key(&*store).await);
        }
        let mut adds = tokio::task::JoinSet::new();
        for key in keys.clone() {
            let store = std::sync::Arc::clone(&store);
            adds.spawn(async move { store.index_add("bob", &key, in_an_hour()).await });
        }
        while let Some(result) = adds.join_next().await {
            result.expect("the add ran").expect("add");
        }
        let mut members = store.index_members("bob").await.expect("members");
        members.sort();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(members, expected);
    });
}

/// The checks, each listed once.
pub(super) const CHECKS: &[super::Check] = &[
    ("created records load back", created_records_load_back),
    (
        "updating a missing record writes nothing",
        updating_a_missing_record_writes_nothing,
    ),
    (
        "updates set and remove fields",
        updates_set_and_remove_fields,
    ),
    (
        "concurrent updates of different fields both survive",
        concurrent_updates_of_different_fields_both_survive,
    ),
    (
        "delete reports whether the record was live",
        delete_reports_whether_the_record_was_live,
    ),
    (
        "records expire at their deadline without a sweeper",
        records_expire_at_their_deadline_without_a_sweeper,
    ),
    (
        "the user index adds, removes and lists",
        the_user_index_adds_removes_and_lists,
    ),
];
