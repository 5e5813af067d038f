//! "Remember me": a session chosen persistent at login gets a cookie with a `Max-Age` up to
//! its absolute deadline, in both modes; every other session gets a browser-session cookie; the
//! idle and absolute timeouts apply either way.

use std::sync::Arc;

use session_core::session::SetCookie;
use session_core::store::MemoryStore;
use session_core::{LoadStatus, ManualClock, Rejection, SessionConfig, SessionManager};
use time::Duration;

use crate::support::*;

/// The `Max-Age` of a `Set-Cookie`, if it has one (and checks it has no `Expires` of its own).
fn max_age(set_cookie: &SetCookie) -> Option<i64> {
    let header = set_cookie.header_value();
    let cookie = cookie::Cookie::parse(header).expect("a valid Set-Cookie");
    assert!(
        !header.contains("Expires") || set_cookie.is_removal(),
        "{header}"
    );
    cookie.max_age().map(Duration::whole_seconds)
}

/// A cookie-mode and a store-mode manager on a manual clock at the real time (the memory
/// store expires records by the system clock).
fn managers() -> Vec<(&'static str, SessionManager, ManualClock)> {
    ["cookie", "store"]
        .into_iter()
        .map(|mode| {
            init_tracing();
            let clock = ManualClock::new(time::OffsetDateTime::now_utc());
            let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]))
                .clock(clock.clone())
                .absolute_timeout(Duration::hours(24));
            let config = if mode == "store" {
                config.store(Arc::new(MemoryStore::new(100)))
            } else {
                config
            };
            (mode, manager_with(config), clock)
        })
        .collect()
}

/// Logs in with the given choice and answers the login's `Set-Cookie`.
fn login(manager: &SessionManager, remember: Option<bool>) -> SetCookie {
    let mut handle = load::<Typical>(manager, "");
    handle.renew();
    if let Some(remember) = remember {
        handle.remember(remember);
    }
    *handle.data_mut() = Typical::sample();
    save(manager, &mut handle).expect("a login sets a cookie")
}

#[test]
fn without_remember_the_cookie_ends_with_the_browser_session() {
    for (mode, manager, _) in managers() {
        for choice in [None, Some(false)] {
            let set_cookie = login(&manager, choice);
            assert_eq!(max_age(&set_cookie), None, "{mode} {choice:?}");
            let loaded = load::<Typical>(&manager, &cookie_header(&set_cookie));
            assert!(!loaded.is_remembered(), "{mode}");
        }
    }
}

#[test]
fn a_remembered_cookie_lives_until_the_absolute_deadline_and_shrinks_with_each_reissue() {
    for (mode, manager, clock) in managers() {
        let set_cookie = login(&manager, Some(true));
        assert_eq!(max_age(&set_cookie), Some(86_400), "{mode}");

        // Ten minutes on, the idle deadline is pushed: the re-issued cookie keeps the choice
        // and is persistent only until the absolute deadline.
        clock.advance(Duration::minutes(10));
        let mut loaded = load::<Typical>(&manager, &cookie_header(&set_cookie));
        assert!(loaded.is_remembered(), "{mode}");
        assert_eq!(loaded.data(), &Typical::sample(), "{mode}");
        let reissued = save(&manager, &mut loaded).expect("the refresh is due");
        assert_eq!(max_age(&reissued), Some(86_400 - 600), "{mode}");

        // A renewal (a privilege change) carries the choice over to the new token.
        let mut renewed = load::<Typical>(&manager, &cookie_header(&reissued));
        renewed.renew();
        let after_renewal = save(&manager, &mut renewed).expect("renewed");
        assert_ne!(after_renewal.value(), reissued.value(), "{mode}");
        assert_eq!(max_age(&after_renewal), Some(86_400), "{mode}");
    }
}

#[test]
fn changing_the_choice_sends_a_new_cookie_even_when_nothing_else_changed() {
    for (mode, manager, _) in managers() {
        let remembered = login(&manager, Some(true));
        let mut handle = load::<Typical>(&manager, &cookie_header(&remembered));
        // The same choice again is no change.
        handle.remember(true);
        assert!(save(&manager, &mut handle).is_none(), "{mode}");

        let mut handle = load::<Typical>(&manager, &cookie_header(&remembered));
        handle.remember(false);
        let forgotten = save(&manager, &mut handle).expect("a new cookie");
        assert_eq!(max_age(&forgotten), None, "{mode}");
        let loaded = load::<Typical>(&manager, &cookie_header(&forgotten));
        assert!(!loaded.is_remembered(), "{mode}");
        assert_eq!(loaded.data(), &Typical::sample(), "{mode}");
        if mode == "store" {
            // The same session (record) goes on: only the cookie changed.
            let old = load::<Typical>(&manager, &cookie_header(&remembered));
            assert!(!old.is_new(), "the remembered cookie names the same record");
        }
    }
}

#[test]
fn a_remembered_session_still_ends_at_the_idle_and_absolute_timeouts() {
    for (mode, manager, clock) in managers() {
        let set_cookie = login(&manager, Some(true));
        // Idle for longer than the 30-minute idle timeout: refused, though the browser kept it.
        clock.advance(Duration::minutes(31));
        let idle = load::<Typical>(&manager, &cookie_header(&set_cookie));
        // Both modes check the deadlines inside the signed token before anything else.
        assert_eq!(
            idle.status(),
            &LoadStatus::Rejected(Rejection::ExpiredIdle),
            "{mode}"
        );
    }
    for (mode, manager, clock) in managers() {
        let mut cookie = login(&manager, Some(true));
        // Active every 20 minutes for a day: the absolute deadline still ends it.
        for _ in 0..71 {
            clock.advance(Duration::minutes(20));
            let mut handle = load::<Typical>(&manager, &cookie_header(&cookie));
            assert!(!handle.is_new(), "{mode}: {:?}", handle.status());
            if let Some(next) = save(&manager, &mut handle) {
                let left = max_age(&next).expect("still persistent");
                assert!(left <= 86_400, "{mode}: {left}");
                cookie = next;
            }
        }
        clock.advance(Duration::minutes(21));
        let ended = load::<Typical>(&manager, &cookie_header(&cookie));
        assert_eq!(
            ended.status(),
            &LoadStatus::Rejected(Rejection::ExpiredAbsolute),
            "{mode}"
        );
    }
}

#[test]
fn logout_forgets_the_choice() {
    for (mode, manager, _) in managers() {
        let remembered = login(&manager, Some(true));
        let mut handle = load::<Typical>(&manager, &cookie_header(&remembered));
        handle.logout();
        assert!(!handle.is_remembered(), "{mode}");
        let removal = save(&manager, &mut handle).expect("a removal");
        assert!(removal.is_removal(), "{mode}");
    }
}
