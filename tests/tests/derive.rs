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
