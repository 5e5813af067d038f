//! `#[derive(SessionData)]` behaviour through the public API, on an injected clock.

use serde::{Deserialize, Serialize};
use session_core::rejection::SchemaMismatch;
use session_core::session::Reissue;
use session_core::{
    Expiring, Flash, Key, Keyring, LoadStatus, ManualClock, Rejection, SessionConfig, SessionData,
    SessionHandle, SessionManager,
};
use time::Duration;

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app")]
struct AppV1 {
    user: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app", version = 2, migrate_from = AppV1)]
struct AppV2 {
    user: Option<String>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app", version = 3, migrate_from = AppV2)]
struct AppV3 {
    user_name: Option<String>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash)]
    notice: Flash<String>,
    visits: u64,
}

impl From<AppV1> for AppV2 {
    fn from(old: AppV1) -> Self {
        Self {
            user: old.user,
            ..Self::default()
        }
    }
}

impl From<AppV2> for AppV3 {
    fn from(old: AppV2) -> Self {
        Self {
            user_name: old.user,
            sudo: old.sudo,
            visits: 1,
            ..Self::default()
        }
    }
}

/// The same name and version as `AppV3`, a different shape: a struct edited without a bump.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app", version = 3)]
struct AppV3Edited {
    user_name: Option<String>,
    visits: u32,
}

/// A version with no path from 1 or 2.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "app", version = 5)]
struct AppV5 {
    user_name: Option<String>,
}

struct Fixture {
    manager: SessionManager,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let clock = ManualClock::new(time::macros::datetime!(2026-11-24 12:00 UTC));
    let keys = Keyring::new("k1", Key::generate()).expect("ring");
    let manager =
        SessionManager::new(SessionConfig::new(keys).clock(clock.clone())).expect("config");
    Fixture { manager, clock }
}

impl Fixture {
    fn load<T: SessionData>(&self, token: &str) -> SessionHandle<T> {
        pollster::block_on(
            self.manager
                .load::<T>([format!("session={token}").as_str()]),
        )
        .expect("cookie mode never fails")
    }

    fn save<T: SessionData>(&self, handle: &mut SessionHandle<T>) -> Option<String> {
        pollster::block_on(self.manager.save(handle))
            .expect("saves")
            .map(|c| c.value().to_owned())
    }

    fn mint<T: SessionData>(&self, change: impl FnOnce(&mut T)) -> String {
        let mut handle =
            pollster::block_on(self.manager.load::<T>([])).expect("cookie mode never fails");
        change(handle.data_mut());
        self.save(&mut handle).expect("changed")
    }
}

#[test]
fn expiring_fields_vanish_after_their_declared_lifetime() {
    let f = fixture();
    let token = f.mint::<AppV3>(|s| {
        s.user_name = Some("alice".into());
        s.sudo.set(true);
    });
    f.clock.advance(Duration::minutes(4));
    assert_eq!(f.load::<AppV3>(&token).data().sudo.get(), Some(&true));
    f.clock.advance(Duration::minutes(2));
    let later = f.load::<AppV3>(&token);
    assert_eq!(later.data().sudo.get(), None);
    assert_eq!(later.data().user_name.as_deref(), Some("alice"));
}

#[test]
fn flash_fields_are_read_once() {
    let f = fixture();
    let token = f.mint::<AppV3>(|s| s.notice.set("saved".into()));
    let mut first = f.load::<AppV3>(&token);
    assert_eq!(first.data_mut().notice.take().as_deref(), Some("saved"));
    let next = f.save(&mut first).expect("the flash left the cookie");
    assert_eq!(f.load::<AppV3>(&next).data().notice.peek(), None);
}

#[test]
fn a_v1_token_migrates_through_v2_to_v3_and_is_reissued() {
    let f = fixture();
    let v1 = f.mint::<AppV1>(|s| s.user = Some("alice".into()));
    let mut handle = f.load::<AppV3>(&v1);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::Migrated)
        }
    );
    assert_eq!(handle.data().user_name.as_deref(), Some("alice"));
    assert_eq!(handle.data().visits, 1, "both From impls ran");
    let v3 = f.save(&mut handle).expect("re-issued under v3");
    let info = f.manager.inspect(&v3).expect("valid");
    assert_eq!((info.schema_name.as_str(), info.schema_version), ("app", 3));
    assert_eq!(info.fingerprint, AppV3::SCHEMA.fingerprint);
    assert_eq!(
        f.load::<AppV3>(&v3).status(),
        &LoadStatus::Loaded { reissue: None }
    );
}

#[test]
fn migration_keeps_field_deadlines() {
    let f = fixture();
    let v2 = f.mint::<AppV2>(|s| s.sudo.set(true));
    f.clock.advance(Duration::minutes(3));
    let migrated = f.load::<AppV3>(&v2);
    assert_eq!(migrated.data().sudo.get(), Some(&true));
    let deadline = migrated
        .data()
        .sudo
        .expires_at()
        .expect("deadline carried over");
    assert_eq!(deadline, time::macros::datetime!(2026-11-24 12:05 UTC));
}

#[test]
fn a_version_without_a_path_is_refused_with_the_version_seen() {
    let f = fixture();
    let v3 = f.mint::<AppV3>(|s| s.visits = 4);
    assert_eq!(
        f.load::<AppV5>(&v3).status(),
        &LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Version {
            name: "app",
            expected: 5,
            seen: 3
        }))
    );
}

#[test]
fn an_edited_struct_without_a_version_bump_is_a_fingerprint_mismatch() {
    assert_ne!(AppV3::SCHEMA.fingerprint, AppV3Edited::SCHEMA.fingerprint);
    let f = fixture();
    let v3 = f.mint::<AppV3>(|s| s.visits = 4);
    assert!(matches!(
        f.load::<AppV3Edited>(&v3).status(),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
            version: 3,
            ..
        }))
    ));
}

#[test]
fn fingerprints_are_stable_and_follow_the_shape() {
    #[rustfmt::skip]
    #[derive(Default, Serialize, Deserialize, SessionData)]
    #[session(name = "app")]
    struct Spaced {
        user  :  Option <  String  > ,
    }
    // Same fields, different spacing and another type name: the same fingerprint.
    assert_eq!(Spaced::SCHEMA.fingerprint, AppV1::SCHEMA.fingerprint);
    assert_eq!(AppV1::SCHEMA.fingerprint_hex().len(), 8);
}

#[test]
fn the_schema_lock_passes_when_pinned_and_explains_a_change() {
    session_core::assert_schema!(AppV3, &AppV3::SCHEMA.fingerprint_hex());
    let failure = std::panic::catch_unwind(|| session_core::assert_schema!(AppV3, "00000000"))
        .expect_err("a wrong pin fails");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted message");
    let actual = AppV3::SCHEMA.fingerprint_hex();
    for expected in [
        format!("has fingerprint \"{actual}\""),
        "the lock pins \"00000000\"".to_owned(),
        "AppV3V3 with #[derive(SessionData)]".to_owned(),
        "#[session(version = 4, migrate_from = AppV3V3)]".to_owned(),
        "impl From<AppV3V3> for AppV3".to_owned(),
    ] {
        assert!(
            message.contains(&expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

// Fields appended with `#[session(default)]`: three shapes of the session "cart", all version 1.

/// The first shape.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart1 {
    items: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
}

/// One field appended.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart2 {
    items: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(default)]
    coupon: Option<String>,
}

/// Three more appended, one of them an expiring field of its own slot, one a flash field; the
/// `theme` of old sessions comes from this type's `Default`.
#[derive(Debug, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart3 {
    items: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(default)]
    coupon: Option<String>,
    #[session(default)]
    theme: String,
    #[session(default, expires_in = "1h")]
    trusted: Expiring<bool>,
    #[session(flash, default)]
    notice: Flash<String>,
}

impl Default for Cart3 {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            sudo: Expiring::default(),
            coupon: None,
            theme: "light".into(),
            trusted: Expiring::default(),
            notice: Flash::default(),
        }
    }
}

/// `Cart1`'s fields in another order.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart1Reordered {
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    items: Vec<u32>,
}

/// `Cart1` with `items` renamed.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart1Renamed {
    item_ids: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
}

/// `Cart1` with `items` retyped.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart1Retyped {
    items: Vec<u64>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
}

/// `Cart1` with a field appended but not marked `default`.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart1AppendedWithoutDefault {
    items: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    coupon: Option<String>,
}

/// `Cart2` with `coupon` removed (`Cart1`'s fields) and a field appended after it: the field
/// list `[items, sudo, theme]` never was a prefix of `Cart2`'s.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "cart")]
struct Cart2Removed {
    items: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(default)]
    theme: String,
}

fn store_fixture() -> Fixture {
    // The system clock: the store expires records by it.
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let keys = Keyring::new("k1", Key::generate()).expect("ring");
    let store = std::sync::Arc::new(session_core::store::MemoryStore::new(100));
    let manager = SessionManager::new(SessionConfig::new(keys).clock(clock.clone()).store(store))
        .expect("config");
    Fixture { manager, clock }
}

#[test]
fn the_derive_lists_every_earlier_field_list_that_is_a_prefix() {
    assert!(Cart1::PREFIXES.is_empty());
    assert_eq!(
        Cart2::PREFIXES,
        [session_core::SchemaPrefix {
            fingerprint: Cart1::SCHEMA.fingerprint,
            appended: 1
        }]
    );
    // Longest prefix first; marking a field `default` keeps the fingerprint, so `Cart2`'s is
    // the three-field prefix of `Cart3`.
    let prefixes: Vec<(u32, usize)> = Cart3::PREFIXES
        .iter()
        .map(|p| (p.fingerprint, p.appended))
        .collect();
    assert_eq!(prefixes.len(), 4);
    assert_eq!(prefixes[2], (Cart2::SCHEMA.fingerprint, 3));
    assert_eq!(prefixes[3], (Cart1::SCHEMA.fingerprint, 4));
    assert_eq!(
        prefixes.iter().map(|p| p.1).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_ne!(Cart3::SCHEMA.fingerprint, Cart2::SCHEMA.fingerprint);
}

#[test]
fn an_old_cookie_loads_under_the_struct_with_appended_fields_and_is_reissued() {
    let f = fixture();
    let old = f.mint::<Cart1>(|s| {
        s.items = vec![7, 8];
        s.sudo.set(true);
    });
    f.clock.advance(Duration::minutes(2));
    let mut handle = f.load::<Cart3>(&old);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldsAppended)
        }
    );
    let data = handle.data();
    assert_eq!(data.items, [7, 8]);
    assert_eq!(data.coupon, None);
    assert_eq!(data.theme, "light", "from Cart3::default()");
    assert_eq!(data.trusted.get(), None);
    assert_eq!(data.notice.peek(), None);
    // The old token's deadline for `sudo` (slot 0) still holds; the new slot has none.
    assert_eq!(data.sudo.get(), Some(&true));
    assert_eq!(
        data.sudo.expires_at(),
        Some(time::macros::datetime!(2026-11-24 12:05 UTC))
    );

    handle.data_mut().trusted.set(true);
    let new = f.save(&mut handle).expect("re-issued");
    let info = f.manager.inspect(&new).expect("valid");
    assert_eq!(
        (
            info.schema_name.as_str(),
            info.schema_version,
            info.fingerprint
        ),
        ("cart", 1, Cart3::SCHEMA.fingerprint)
    );
    let reloaded = f.load::<Cart3>(&new);
    assert_eq!(reloaded.status(), &LoadStatus::Loaded { reissue: None });
    assert_eq!(reloaded.data().trusted.get(), Some(&true));
    assert_eq!(reloaded.data().sudo.get(), Some(&true));
    f.clock.advance(Duration::minutes(4));
    assert_eq!(
        f.load::<Cart3>(&new).data().sudo.get(),
        None,
        "the carried-over deadline passed"
    );
}

#[test]
fn a_cookie_of_any_earlier_prefix_loads_with_its_values() {
    let f = fixture();
    let middle = f.mint::<Cart2>(|s| {
        s.items = vec![1];
        s.coupon = Some("WINTER".into());
    });
    let handle = f.load::<Cart3>(&middle);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldsAppended)
        }
    );
    assert_eq!(handle.data().coupon.as_deref(), Some("WINTER"));
    assert_eq!(handle.data().theme, "light");
}

#[test]
fn an_old_store_record_loads_with_the_defaults_and_is_brought_up_to_date() {
    let f = store_fixture();
    let mut first = pollster::block_on(f.manager.load::<Cart1>([])).expect("loads");
    first.data_mut().items = vec![3];
    first.data_mut().sudo.set(true);
    let id_cookie = f.save(&mut first).expect("a new record");
    let cookie = format!("session={id_cookie}");

    let mut handle = pollster::block_on(f.manager.load::<Cart3>([cookie.as_str()])).expect("loads");
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldsAppended)
        }
    );
    assert_eq!(handle.data().items, [3]);
    assert_eq!(handle.data().sudo.get(), Some(&true));
    assert_eq!(handle.data().theme, "light");
    assert_eq!(handle.data().coupon, None);
    // The record is rewritten in today's layout under the same id: no new cookie.
    assert_eq!(f.save(&mut handle), None);
    let again = pollster::block_on(f.manager.load::<Cart3>([cookie.as_str()])).expect("loads");
    assert_eq!(again.status(), &LoadStatus::Loaded { reissue: None });
    assert_eq!(again.data().theme, "light");
    assert_eq!(again.data().sudo.get(), Some(&true));
    // The old struct no longer reads it: the record carries Cart3's fingerprint now.
    assert!(matches!(
        pollster::block_on(f.manager.load::<Cart1>([cookie.as_str()]))
            .expect("loads")
            .status(),
        LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint { seen, .. }))
            if *seen == Cart3::SCHEMA.fingerprint
    ));
}

#[test]
fn reordered_renamed_retyped_or_undefaulted_fields_are_still_a_mismatch() {
    let f = fixture();
    let old = f.mint::<Cart1>(|s| s.items = vec![1]);
    let expect_mismatch = |status: &LoadStatus, expected: u32| {
        assert_eq!(
            status,
            &LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
                name: "cart",
                version: 1,
                expected,
                seen: Cart1::SCHEMA.fingerprint,
            }))
        );
    };
    expect_mismatch(
        f.load::<Cart1Reordered>(&old).status(),
        Cart1Reordered::SCHEMA.fingerprint,
    );
    expect_mismatch(
        f.load::<Cart1Renamed>(&old).status(),
        Cart1Renamed::SCHEMA.fingerprint,
    );
    expect_mismatch(
        f.load::<Cart1Retyped>(&old).status(),
        Cart1Retyped::SCHEMA.fingerprint,
    );
    expect_mismatch(
        f.load::<Cart1AppendedWithoutDefault>(&old).status(),
        Cart1AppendedWithoutDefault::SCHEMA.fingerprint,
    );
    // A removed field: Cart2's tokens are not a prefix of Cart2Removed (Cart1's are).
    let with_coupon = f.mint::<Cart2>(|s| s.coupon = Some("X".into()));
    assert!(matches!(
        f.load::<Cart2Removed>(&with_coupon).status(),
        LoadStatus::Rejected(Rejection::SchemaMismatch(
            SchemaMismatch::Fingerprint { .. }
        ))
    ));
}

/// A rollback: the new struct's token meets code that still has the old struct. The old struct
/// cannot know the new fingerprint, so it refuses the token as a fingerprint mismatch, the user
/// gets a fresh session and the refused cookie is removed (as for any struct changed without a
/// version bump). Appending fields is safe forward, not backward.
#[test]
fn a_token_of_the_new_struct_is_refused_by_the_old_one() {
    let f = fixture();
    let new = f.mint::<Cart3>(|s| s.items = vec![4]);
    let mut handle = f.load::<Cart1>(&new);
    assert_eq!(
        handle.status(),
        &LoadStatus::Rejected(Rejection::SchemaMismatch(SchemaMismatch::Fingerprint {
            name: "cart",
            version: 1,
            expected: Cart1::SCHEMA.fingerprint,
            seen: Cart3::SCHEMA.fingerprint,
        }))
    );
    assert!(handle.data().items.is_empty());
    let removal = pollster::block_on(f.manager.save(&mut handle))
        .expect("saves")
        .expect("the refused cookie is removed");
    assert!(removal.is_removal(), "{}", removal.header_value());
}

#[test]
fn the_schema_lock_tells_appended_fields_from_other_changes() {
    let appended = std::panic::catch_unwind(|| {
        session_core::assert_schema!(Cart3, &Cart1::SCHEMA.fingerprint_hex())
    })
    .expect_err("an old pin fails even when old sessions stay readable");
    let message = appended
        .downcast_ref::<String>()
        .expect("a formatted message");
    let actual = Cart3::SCHEMA.fingerprint_hex();
    for expected in [
        "4 fields were appended with #[session(default)]".to_owned(),
        "old sessions stay readable".to_owned(),
        "no version bump or migration is needed".to_owned(),
        format!("Update the pin to \"{actual}\": assert_schema!(Cart3, \"{actual}\")"),
    ] {
        assert!(
            message.contains(&expected),
            "missing {expected:?} in:\n{message}"
        );
    }
    assert!(!message.contains("migrate_from"), "{message}");

    let one = std::panic::catch_unwind(|| {
        session_core::assert_schema!(Cart2, &Cart1::SCHEMA.fingerprint_hex().to_uppercase())
    })
    .expect_err("fails");
    let one = one.downcast_ref::<String>().expect("a formatted message");
    assert!(one.contains("1 field was appended"), "{one}");

    // A reordered struct pinned at Cart1's fingerprint: the migration advice.
    let reordered = std::panic::catch_unwind(|| {
        session_core::assert_schema!(Cart1Reordered, &Cart1::SCHEMA.fingerprint_hex())
    })
    .expect_err("fails");
    let reordered = reordered
        .downcast_ref::<String>()
        .expect("a formatted message");
    for expected in [
        "The struct changed shape",
        "#[session(version = 2, migrate_from = Cart1ReorderedV1)]",
        "append them after all the others with #[session(default)]",
    ] {
        assert!(
            reordered.contains(expected),
            "missing {expected:?} in:\n{reordered}"
        );
    }
    assert!(
        !reordered.contains("old sessions stay readable."),
        "{reordered}"
    );
}
