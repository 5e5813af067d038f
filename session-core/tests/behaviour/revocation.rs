//! The application's revocation check (`SessionConfig::revoke_if`): run on load, before the
//! handler; a revoked session is refused with one event, its cookie removed, and in store mode
//! its record deleted. The check sees only sessions of its own type.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use session_core::store::MemoryStore;
use session_core::{Clock as _, LoadStatus, ManualClock, Rejection, SessionConfig, SessionManager};
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// Per user name: sessions issued before this time are void.
type VoidBefore = Arc<RwLock<HashMap<String, OffsetDateTime>>>;

/// A cookie-mode and a store-mode manager whose check voids `Typical` sessions issued before
/// their user's time in the returned map.
fn managers() -> Vec<(&'static str, SessionManager, ManualClock, VoidBefore)> {
    ["cookie", "store"]
        .into_iter()
        .map(|mode| {
            init_tracing();
            // The real time: the memory store expires records by the system clock.
            let clock = ManualClock::new(OffsetDateTime::now_utc());
            let void_before = VoidBefore::default();
            let voids = void_before.clone();
            let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]))
                .clock(clock.clone())
                .revoke_if(move |session: &Typical, issued_at| {
                    voids
                        .read()
                        .expect("lock")
                        .get(&session.name)
                        .is_some_and(|void_before| issued_at < *void_before)
                });
            let config = if mode == "store" {
                config.store(Arc::new(MemoryStore::new(100)))
            } else {
                config
            };
            (mode, manager_with(config), clock, void_before)
        })
        .collect()
}

/// A logged-in `Typical` session of alice; answers its `Cookie` header.
fn login(manager: &SessionManager) -> String {
    let mut handle = load::<Typical>(manager, "");
    if handle.set_user_key("alice").is_err() {
        handle.renew();
    }
    *handle.data_mut() = Typical::sample();
    cookie_header(&save(manager, &mut handle).expect("logged in"))
}

#[test]
fn a_password_change_revokes_every_other_session_and_the_current_one_goes_on() {
    for (mode, manager, clock, void_before) in managers() {
        let laptop = login(&manager);
        let phone = login(&manager);
        clock.advance(Duration::seconds(5));

        // On the laptop: the password changes; the session that changed it is renewed, and
        // every session issued before now is void.
        let mut current = load::<Typical>(&manager, &laptop);
        assert!(!current.is_new(), "{mode}");
        current.renew();
        let renewed = cookie_header(&save(&manager, &mut current).expect("renewed"));
        void_before
            .write()
            .expect("lock")
            .insert("alice".into(), clock.now());

        let lines = captured_lines(|| {
            let mut refused = load::<Typical>(&manager, &phone);
            assert_eq!(
                refused.status(),
                &LoadStatus::Rejected(Rejection::Revoked),
                "{mode}"
            );
            assert_eq!(refused.data(), &Typical::default(), "{mode}");
            // The browser is told to drop the revoked cookie.
            let removal = save(&manager, &mut refused).expect("a removal");
            assert!(removal.is_removal(), "{mode}");
        });
        let refusals: Vec<_> = lines.iter().filter(|l| l.contains("rejected")).collect();
        assert_eq!(refusals.len(), 1, "{mode}: {lines:?}");
        assert!(
            refusals[0].contains("reason=\"revoked\"") || refusals[0].contains("reason=revoked"),
            "{mode}: {}",
            refusals[0]
        );
        assert!(!refusals[0].contains("alice"), "{mode}: {}", refusals[0]);

        let goes_on = load::<Typical>(&manager, &renewed);
        assert!(
            matches!(goes_on.status(), LoadStatus::Loaded { .. }),
            "{mode}: {:?}",
            goes_on.status()
        );
        assert_eq!(goes_on.data(), &Typical::sample(), "{mode}");

        // The session a later login starts is not affected.
        clock.advance(Duration::seconds(1));
        let later = login(&manager);
        assert!(!load::<Typical>(&manager, &later).is_new(), "{mode}");
    }
}

#[test]
fn store_mode_deletes_the_record_of_a_revoked_session() {
    let (_, manager, clock, void_before) = managers().pop().expect("store mode");
    let phone = login(&manager);
    assert_eq!(run(manager.user_sessions("alice")).expect("list").len(), 1);
    clock.advance(Duration::seconds(2));
    void_before
        .write()
        .expect("lock")
        .insert("alice".into(), clock.now());
    let refused = load::<Typical>(&manager, &phone);
    assert_eq!(refused.status(), &LoadStatus::Rejected(Rejection::Revoked));
    assert!(
        run(manager.user_sessions("alice"))
            .expect("list")
            .is_empty()
    );
    // Gone from the store: the same cookie now finds nothing.
    void_before.write().expect("lock").clear();
    let again = load::<Typical>(&manager, &phone);
    assert_eq!(
        again.status(),
        &LoadStatus::Rejected(Rejection::UnknownSession)
    );
}

#[test]
fn a_check_sees_only_sessions_of_its_own_type() {
    for (mode, manager, clock, void_before) in managers() {
        // Another session type under the same manager: the check on `Typical` never runs.
        let mut other = load::<WithFields>(&manager, "");
        other.data_mut().user = Some("alice".into());
        if other.set_user_key("alice").is_err() {
            other.renew();
        }
        let other = cookie_header(&save(&manager, &mut other).expect("saved"));
        clock.advance(Duration::seconds(2));
        void_before
            .write()
            .expect("lock")
            .insert("alice".into(), clock.now());
        let loaded = load::<WithFields>(&manager, &other);
        assert!(
            matches!(loaded.status(), LoadStatus::Loaded { .. }),
            "{mode}: {:?}",
            loaded.status()
        );
    }
}

#[test]
fn a_check_that_keeps_the_session_changes_nothing() {
    for (mode, manager, _, _) in managers() {
        let cookie = login(&manager);
        let mut loaded = load::<Typical>(&manager, &cookie);
        assert_eq!(loaded.data(), &Typical::sample(), "{mode}");
        assert!(save(&manager, &mut loaded).is_none(), "{mode}");
    }
}
