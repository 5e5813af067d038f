//! Expiry enforced from inside the signed token, driven by an injected clock (no sleeps).

use session_core::session::Reissue;
use session_core::{LoadStatus, Rejection, SessionConfig};
use time::Duration;

use crate::support::*;

fn status_after(manager: &session_core::SessionManager, token: &str) -> LoadStatus {
    load::<Typical>(manager, &format!("session={token}"))
        .status()
        .clone()
}

#[test]
fn absolute_lifetime_ends_the_session_however_active() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(
        config
            .idle_timeout(None)
            .absolute_timeout(Duration::hours(8)),
    );
    let token = mint(&manager, Typical::sample());
    clock.advance(Duration::hours(8) - Duration::SECOND);
    assert!(matches!(
        status_after(&manager, &token),
        LoadStatus::Loaded { .. }
    ));
    clock.advance(Duration::SECOND);
    assert_eq!(
        status_after(&manager, &token),
        LoadStatus::Rejected(Rejection::ExpiredAbsolute)
    );
}

#[test]
fn a_shorter_configured_lifetime_applies_to_existing_tokens() {
    let clock = clock();
    let keys = keys(1);
    let long = manager_with(
        SessionConfig::new(ring(&[("k1", &keys[0])]))
            .clock(clock.clone())
            .idle_timeout(None),
    );
    let short = manager_with(
        SessionConfig::new(ring(&[("k1", &keys[0])]))
            .clock(clock.clone())
            .idle_timeout(None)
            .absolute_timeout(Duration::hours(1)),
    );
    let token = mint(&long, Typical::sample());
    clock.advance(Duration::hours(2));
    assert!(matches!(
        status_after(&long, &token),
        LoadStatus::Loaded { .. }
    ));
    assert_eq!(
        status_after(&short, &token),
        LoadStatus::Rejected(Rejection::ExpiredAbsolute)
    );
}

#[test]
fn idle_timeout_slides_with_throttled_refresh() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(
        config
            .idle_timeout(Some(Duration::minutes(30)))
            .refresh_interval(Duration::minutes(1)),
    );
    let token = mint(&manager, Typical::sample());

    // Within the refresh interval a read sends no cookie.
    clock.advance(Duration::seconds(30));
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    assert_eq!(handle.status(), &LoadStatus::Loaded { reissue: None });
    assert!(save(&manager, &mut handle).is_none());

    // After it, a read pushes the idle deadline.
    clock.advance(Duration::minutes(20));
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::RefreshDue)
        }
    );
    let refreshed = save(&manager, &mut handle)
        .expect("refreshed")
        .value()
        .to_owned();

    // 29 minutes later the refreshed token lives, the original one is idle-expired.
    clock.advance(Duration::minutes(29));
    assert!(matches!(
        status_after(&manager, &refreshed),
        LoadStatus::Loaded { .. }
    ));
    assert_eq!(
        status_after(&manager, &token),
        LoadStatus::Rejected(Rejection::ExpiredIdle)
    );
    clock.advance(Duration::minutes(1));
    assert_eq!(
        status_after(&manager, &refreshed),
        LoadStatus::Rejected(Rejection::ExpiredIdle)
    );
}

#[test]
fn expiring_fields_vanish_at_their_deadline_and_restart_when_written() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    let mut handle = load::<WithFields>(&manager, "");
    handle.data_mut().user = Some("alice".into());
    handle.data_mut().sudo.set(true);
    let token = save(&manager, &mut handle)
        .expect("changed")
        .value()
        .to_owned();

    clock.advance(Duration::minutes(4));
    let mut handle = load::<WithFields>(&manager, &format!("session={token}"));
    assert_eq!(handle.data().sudo.get(), Some(&true));
    // Writing again restarts the five minutes.
    handle.data_mut().sudo.set(true);
    let rewritten = save(&manager, &mut handle)
        .expect("deadline moved")
        .value()
        .to_owned();

    clock.advance(Duration::minutes(2)); // 6 minutes after the first write
    let old = load::<WithFields>(&manager, &format!("session={token}"));
    assert_eq!(old.data().sudo.get(), None, "the value is simply absent");
    assert_eq!(
        old.data().user.as_deref(),
        Some("alice"),
        "other fields stay"
    );
    assert_eq!(
        old.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::FieldExpired)
        }
    );
    let new = load::<WithFields>(&manager, &format!("session={rewritten}"));
    assert_eq!(new.data().sudo.get(), Some(&true));
    let expected = clock_at_write(&clock, Duration::minutes(-2) + Duration::minutes(5));
    assert_eq!(new.data().sudo.expires_at(), Some(expected));
}

fn clock_at_write(clock: &session_core::ManualClock, offset: Duration) -> time::OffsetDateTime {
    use session_core::Clock as _;
    clock.now() + offset
}

#[test]
fn flash_values_are_read_once() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    let mut handle = load::<WithFields>(&manager, "");
    handle.data_mut().notice.set("Welcome, alice".into());
    let token = save(&manager, &mut handle)
        .expect("changed")
        .value()
        .to_owned();

    // Peeking changes nothing.
    let mut handle = load::<WithFields>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.data().notice.peek().map(String::as_str),
        Some("Welcome, alice")
    );
    assert!(save(&manager, &mut handle).is_none());

    let mut handle = load::<WithFields>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.data_mut().notice.take().as_deref(),
        Some("Welcome, alice")
    );
    let after = save(&manager, &mut handle).expect("flash consumed");
    let handle = load::<WithFields>(&manager, &cookie_header(&after));
    assert_eq!(handle.data().notice.peek(), None);
}
