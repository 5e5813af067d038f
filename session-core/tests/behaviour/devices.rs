//! "Your devices": in store mode a user's sessions are listed with when each was created and
//! last active, and the device label the application chose to record (nothing unless it
//! does); the current one is recognised by its record key; one or all others can be ended.

use std::sync::Arc;

use session_core::store::{MemoryStore, StoreError, UserSession};
use session_core::{
    Clock as _, LoadStatus, ManualClock, SessionConfig, SessionError, SessionManager,
};
use time::{Duration, OffsetDateTime};

use crate::support::*;

fn store_manager() -> (SessionManager, ManualClock) {
    init_tracing();
    // The real time: the memory store expires records by the system clock.
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]))
        .clock(clock.clone())
        .store(Arc::new(MemoryStore::new(100)));
    (manager_with(config), clock)
}

/// Logs alice in, labelling the device when given; answers the `Cookie` header.
fn login(manager: &SessionManager, device: Option<&str>) -> String {
    let mut handle = load::<Typical>(manager, "");
    handle.set_user_key("alice").expect("store mode");
    if let Some(device) = device {
        handle.set_device(device).expect("store mode");
    }
    *handle.data_mut() = Typical::sample();
    cookie_header(&save(manager, &mut handle).expect("logged in"))
}

fn list(manager: &SessionManager) -> Vec<UserSession> {
    run(manager.user_sessions("alice")).expect("listed")
}

#[test]
fn sessions_are_listed_with_creation_last_activity_and_the_label_chosen() {
    let (manager, clock) = store_manager();
    let start = clock.now().replace_nanosecond(0).expect("valid");
    let laptop = login(&manager, Some("Firefox on Linux"));
    clock.advance(Duration::seconds(10));
    let phone = login(&manager, None);

    let listed = list(&manager);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].device.as_deref(), Some("Firefox on Linux"));
    assert_eq!(listed[0].issued_at, start);
    assert_eq!(listed[0].last_active, start);
    // Nothing recorded without the application's label.
    assert_eq!(listed[1].device, None);
    assert_eq!(listed[1].issued_at, start + Duration::seconds(10));

    // Two minutes on, the laptop is used: its idle deadline is pushed, and with it the last
    // activity the listing shows.
    clock.advance(Duration::minutes(2));
    let mut used = load::<Typical>(&manager, &laptop);
    assert_eq!(used.device(), Some("Firefox on Linux"));
    let now = clock.now().replace_nanosecond(0).expect("valid");
    assert_eq!(used.last_active(), Some(start));
    save(&manager, &mut used).expect("the refresh re-issues the cookie");
    assert_eq!(used.last_active(), Some(now));
    let listed = list(&manager);
    assert_eq!(listed[0].last_active, now, "{listed:?}");
    assert_eq!(listed[1].last_active, start + Duration::seconds(10));

    // The current session is the one whose key is the handle's.
    let current = load::<Typical>(&manager, &phone);
    let key = current.record_key().expect("a record");
    let marked: Vec<bool> = listed.iter().map(|s| s.key == key).collect();
    assert_eq!(marked, [false, true]);
}

#[test]
fn a_label_is_kept_by_renewals_cut_when_long_and_can_be_changed() {
    let (manager, _) = store_manager();
    let long = "é".repeat(80); // 160 bytes
    let cookie = login(&manager, Some(&long));
    let listed = list(&manager);
    let label = listed[0].device.as_deref().expect("labelled");
    assert_eq!(
        label,
        "é".repeat(50),
        "cut to 100 bytes on a character boundary"
    );

    let mut handle = load::<Typical>(&manager, &cookie);
    handle.renew();
    let renewed = cookie_header(&save(&manager, &mut handle).expect("renewed"));
    assert_eq!(list(&manager)[0].device.as_deref(), Some(label));

    // A new label alone is saved.
    let mut handle = load::<Typical>(&manager, &renewed);
    handle.set_device("Safari on iOS").expect("store mode");
    assert!(save(&manager, &mut handle).is_none(), "the cookie stays");
    assert_eq!(list(&manager)[0].device.as_deref(), Some("Safari on iOS"));
    let again = load::<Typical>(&manager, &renewed);
    assert_eq!(again.device(), Some("Safari on iOS"));
    // The same label again writes nothing and sends nothing.
    let mut same = load::<Typical>(&manager, &renewed);
    same.set_device("Safari on iOS").expect("store mode");
    assert!(save(&manager, &mut same).is_none());
}

#[test]
fn one_device_or_every_other_device_can_be_signed_out() {
    let (manager, _) = store_manager();
    let a = login(&manager, Some("a"));
    let b = login(&manager, Some("b"));
    let c = login(&manager, Some("c"));
    let listed = list(&manager);
    let b_key = listed
        .iter()
        .find(|s| s.device.as_deref() == Some("b"))
        .expect("b listed")
        .key;
    // "Sign out this device", for b: only b ends.
    assert!(run(manager.end_session("alice", &b_key)).expect("ended"));
    assert!(load::<Typical>(&manager, &b).is_new());
    assert_eq!(list(&manager).len(), 2);

    // "Sign out all other devices", from a: c ends, a goes on.
    let mut current = load::<Typical>(&manager, &a);
    assert_eq!(
        run(manager.end_other_sessions(&mut current)).expect("ended"),
        1
    );
    assert!(load::<Typical>(&manager, &c).is_new());
    let left = list(&manager);
    assert_eq!(left.len(), 1);
    assert_eq!(Some(left[0].key), current.record_key());
    assert!(matches!(
        load::<Typical>(&manager, &a).status(),
        LoadStatus::Loaded { .. }
    ));
}

#[test]
fn cookie_mode_has_no_device_list_but_knows_the_current_session() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    let error = handle.set_device("Firefox").expect_err("cookie mode");
    assert!(matches!(error, SessionError::Store(StoreError::NoStore)));
    assert_eq!(handle.device(), None);
    assert_eq!(handle.record_key(), None);
    assert!(handle.issued_at().is_some() && handle.last_active().is_some());
    assert!(save(&manager, &mut handle).is_none());
}
