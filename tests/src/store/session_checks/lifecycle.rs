//! The life of a session id: renewal, logout, races with logout, the per-user index ("log out everywhere") and a user key's fresh id.

use session_core::Rejection;
use session_core::time::Duration;

use super::super::Start;
use super::super::fixture::{Fx, Profile};
use super::rejection;
use crate::servers::runtime;

pub(super) fn renew_moves_the_data_and_kills_the_old_id(start: Start<'_>) {
    let fx = Fx::new(start);
    let mut anonymous = fx.load::<Profile>(None);
    anonymous.data_mut().cart = vec![7];
    let before_login = fx.save(&mut anonymous).expect("cookie");

    let mut login = fx.load::<Profile>(Some(&before_login));
    login.renew();
    login.data_mut().user = Some("alice".into());
    let after_login = fx.save(&mut login).expect("a new id");
    assert_ne!(after_login, before_login);

    let renewed = fx.load::<Profile>(Some(&after_login));
    assert_eq!(renewed.data().cart, vec![7]);
    assert_eq!(renewed.data().user.as_deref(), Some("alice"));
    let fixated = fx.load::<Profile>(Some(&before_login));
    assert_eq!(rejection(&fixated), Some(&Rejection::UnknownSession));
    assert!(fixated.data().user.is_none());
}

pub(super) fn logout_deletes_the_record_so_a_copied_cookie_is_refused(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let copied = token.clone();
    let mut handle = fx.load::<Profile>(Some(&token));
    handle.logout();
    assert_eq!(
        fx.save(&mut handle).as_deref(),
        Some(""),
        "a removal cookie"
    );
    let replay = fx.load::<Profile>(Some(&copied));
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
    assert!(replay.data().user.is_none());
}

pub(super) fn a_write_after_a_concurrent_logout_does_not_resurrect_the_session(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut slow = fx.load::<Profile>(Some(&token));
    let mut logout = fx.load::<Profile>(Some(&token));
    logout.logout();
    fx.save(&mut logout);
    slow.data_mut().theme = "dark".into();
    assert_eq!(
        fx.save(&mut slow),
        None,
        "no cookie: not even a removal, which could delete a cookie a concurrent login just set"
    );
    assert!(
        slow.data().user.is_none(),
        "the handle is an empty session now"
    );
    assert_eq!(
        fx.save(&mut slow),
        None,
        "and saving it again writes nothing"
    );
    let replay = fx.load::<Profile>(Some(&token));
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
    let sessions = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("index");
    assert!(sessions.is_empty(), "{sessions:?}");
}

pub(super) fn log_out_everywhere_ends_every_session_of_the_user(start: Start<'_>) {
    let fx = Fx::new(start);
    let laptop = fx.login("alice");
    fx.clock.advance(Duration::seconds(5));
    let phone = fx.login("alice");
    let bob = fx.login("bob");

    let listed = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert!(listed[0].issued_at < listed[1].issued_at, "oldest first");

    let ended = runtime()
        .block_on(fx.manager.end_user_sessions("alice"))
        .expect("end");
    assert_eq!(ended, 2);
    for token in [&laptop, &phone] {
        let handle = fx.load::<Profile>(Some(token));
        assert_eq!(rejection(&handle), Some(&Rejection::UnknownSession));
    }
    assert_eq!(
        fx.load::<Profile>(Some(&bob)).data().user.as_deref(),
        Some("bob")
    );
    assert!(
        runtime()
            .block_on(fx.manager.user_sessions("alice"))
            .expect("list")
            .is_empty()
    );

    // One session of bob's, ended from an "active sessions" page.
    let bob_sessions = runtime()
        .block_on(fx.manager.user_sessions("bob"))
        .expect("list");
    assert!(
        !runtime()
            .block_on(fx.manager.end_session("alice", &bob_sessions[0].key))
            .expect("end"),
        "alice cannot end bob's session with its key"
    );
    assert_eq!(
        fx.load::<Profile>(Some(&bob)).data().user.as_deref(),
        Some("bob")
    );
    assert!(
        runtime()
            .block_on(fx.manager.end_session("bob", &bob_sessions[0].key))
            .expect("end")
    );
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&bob))),
        Some(&Rejection::UnknownSession)
    );
}

pub(super) fn renewal_keeps_the_user_index_current(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut handle = fx.load::<Profile>(Some(&token));
    assert_eq!(handle.user_key(), Some("alice"));
    handle.renew();
    let renewed = fx.save(&mut handle).expect("cookie");
    let listed = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("list");
    assert_eq!(listed.len(), 1, "the old id left the index: {listed:?}");
    runtime()
        .block_on(fx.manager.end_user_sessions("alice"))
        .expect("end");
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&renewed))),
        Some(&Rejection::UnknownSession)
    );
}

/// A renewal (login) racing a logout must not carry the logged-out session to a new id.
pub(super) fn a_renewal_racing_a_logout_does_not_revive_the_session(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut renewing = fx.load::<Profile>(Some(&token));
    let mut logout = fx.load::<Profile>(Some(&token));
    logout.logout();
    fx.save(&mut logout);
    renewing.renew();
    assert_eq!(fx.save(&mut renewing), None, "no new id");
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&token))),
        Some(&Rejection::UnknownSession)
    );
    assert!(
        runtime()
            .block_on(fx.manager.user_sessions("alice"))
            .expect("list")
            .is_empty()
    );
}

/// Attaching a user key is a privilege change: a fresh id even without `renew()`.
pub(super) fn a_user_key_always_comes_with_a_fresh_id(start: Start<'_>) {
    let fx = Fx::new(start);
    let mut anonymous = fx.load::<Profile>(None);
    anonymous.data_mut().theme = "dark".into();
    let planted = fx.save(&mut anonymous).expect("cookie");
    let mut login = fx.load::<Profile>(Some(&planted));
    login.set_user_key("alice").expect("store mode"); // the application forgot renew()
    login.data_mut().user = Some("alice".into());
    let fresh = fx.save(&mut login).expect("a new id");
    assert_ne!(fresh, planted);
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&planted))),
        Some(&Rejection::UnknownSession),
        "the planted id is dead"
    );
    let loaded = fx.load::<Profile>(Some(&fresh));
    assert_eq!(loaded.data().theme, "dark");
    assert_eq!(loaded.user_key(), Some("alice"));
}
