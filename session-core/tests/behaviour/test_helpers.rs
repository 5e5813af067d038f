//! The helpers for applications' own tests: `cookie_for` and `session_from_set_cookie`, in
//! cookie and store mode, on a manual clock.

use std::sync::Arc;

use session_core::store::MemoryStore;
use session_core::{Clock as _, LoadStatus, SessionConfig};
use time::Duration;

use crate::support::{Typical, WithFields, config, load, manager_with, ring, run, save};

/// A manual clock at the real time: stores keep their records by the real clock, so a record
/// written at a manual time long past would have expired already.
fn clock() -> session_core::ManualClock {
    crate::support::init_tracing();
    session_core::ManualClock::new(time::OffsetDateTime::now_utc())
}

fn modes(config: SessionConfig) -> [(&'static str, SessionConfig); 2] {
    let stored = config.clone().store(Arc::new(MemoryStore::new(100)));
    [("cookie mode", config), ("store mode", stored)]
}

#[test]
fn a_cookie_for_a_value_loads_as_that_value_until_its_deadline() {
    let clock = clock();
    let (config, _) = config(&clock);
    for (mode, config) in modes(config.idle_timeout(Some(Duration::minutes(30)))) {
        clock.set(time::OffsetDateTime::now_utc());
        let manager = manager_with(config);
        let cookie = run(manager.cookie_for(&Typical::sample())).expect("a cookie");
        assert!(cookie.starts_with("session="), "{mode}: {cookie}");
        let handle = load::<Typical>(&manager, &cookie);
        assert!(
            matches!(handle.status(), LoadStatus::Loaded { .. }),
            "{mode}"
        );
        assert_eq!(*handle.data(), Typical::sample(), "{mode}");
        // Issued now, by the manager's clock: the idle deadline is 30 minutes away.
        assert_eq!(handle.issued_at(), Some(clock.now()), "{mode}");
        clock.advance(Duration::minutes(31));
        let handle = load::<Typical>(&manager, &cookie);
        assert!(
            matches!(handle.status(), LoadStatus::Rejected(_)),
            "{mode}: {:?}",
            handle.status()
        );
    }
}

#[test]
fn the_session_comes_back_out_of_a_set_cookie() {
    let clock = clock();
    let (config, _) = config(&clock);
    for (mode, config) in modes(config) {
        let manager = manager_with(config);
        let mut handle = load::<Typical>(&manager, "");
        *handle.data_mut() = Typical::sample();
        let set_cookie = save(&manager, &mut handle).expect("a cookie");
        let header = set_cookie.header_value();
        assert!(header.contains("; "), "{mode}: attributes follow: {header}");
        let back = run(manager.session_from_set_cookie::<Typical>(header)).expect("loads");
        assert_eq!(back, Some(Typical::sample()), "{mode}");
        // The bare pair works too.
        let pair = format!("session={}", set_cookie.value());
        let back = run(manager.session_from_set_cookie::<Typical>(&pair)).expect("loads");
        assert_eq!(back, Some(Typical::sample()), "{mode}");

        // A logout's removal, another cookie, garbage: no session.
        let mut handle = load::<Typical>(&manager, &pair);
        handle.logout();
        let removal = save(&manager, &mut handle).expect("a removal");
        assert!(removal.is_removal());
        for other in [
            removal.header_value(),
            "theme=dark; Path=/",
            "session=not-a-token; Path=/",
            "",
            "session",
        ] {
            let back = run(manager.session_from_set_cookie::<Typical>(other)).expect("loads");
            assert_eq!(back, None, "{mode}: {other:?}");
        }
        if mode == "store mode" {
            // The logout deleted the record: the old cookie no longer carries a session.
            let back = run(manager.session_from_set_cookie::<Typical>(&pair)).expect("loads");
            assert_eq!(back, None, "{mode}: logged out");
        }
    }
}

#[test]
fn a_cookie_under_other_keys_or_another_schema_carries_no_session() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    let cookie = run(manager.cookie_for(&Typical::sample())).expect("a cookie");
    let other_keys = manager_with(
        SessionConfig::new(ring(&[("k1", &crate::support::keys(1)[0])])).clock(clock.clone()),
    );
    let back = run(other_keys.session_from_set_cookie::<Typical>(&cookie)).expect("loads");
    assert_eq!(back, None);
    // Another session type on the same cookie name does not read it either.
    let back = run(manager.session_from_set_cookie::<WithFields>(&cookie)).expect("loads");
    assert!(back.is_none());
}
