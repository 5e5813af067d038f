//! The life of a session id: renewal, logout, races with logout, the per-user index ("log out
//! everywhere", also racing renewals, and "end my other sessions") and a user key's fresh id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use session_core::Rejection;
use session_core::store::RecordKey;
use session_core::time::{Duration, OffsetDateTime};

use super::super::Start;
use super::super::fixture::{Deadline, Fx, Profile};
use super::rejection;
use crate::servers::runtime;

/// Rounds of the renewal / "log out everywhere" race.
const RACE_ROUNDS: usize = 100;

fn refused(fx: &Fx, token: &str) {
    let handle = fx.load::<Profile>(Some(token));
    assert_eq!(rejection(&handle), Some(&Rejection::UnknownSession));
}

fn listed(fx: &Fx, user: &str) -> usize {
    runtime()
        .block_on(fx.manager.user_sessions(user))
        .expect("list")
        .len()
}

/// "Log out everywhere" run exactly where a renewal has deleted its old record and not yet
/// written the new one's index entry: the listing sees neither, and the renewal must still
/// not carry the session on.
pub(super) fn log_out_everywhere_between_the_steps_of_a_renewal_ends_it(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut renewing = fx.load::<Profile>(Some(&token));
    renewing.renew();
    let manager = fx.manager.clone();
    let ended = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&ended);
    fx.recording.before_next_index_add(Box::new(move || {
        Box::pin(async move {
            let n = manager.end_user_sessions("alice").await?;
            *seen.lock().expect("lock") = Some(n);
            Ok(())
        })
    }));
    assert_eq!(fx.save(&mut renewing), None, "no new id: the session ended");
    assert_eq!(
        *ended.lock().expect("lock"),
        Some(0),
        "the listing saw neither record (else this check proves nothing)"
    );
    assert!(
        renewing.user_key().is_none(),
        "the handle is an empty session now"
    );
    refused(&fx, &token);
    assert_eq!(listed(&fx, "alice"), 0);

    // A login at that very moment ends too: it started before the sessions were ended.
    let mut login = fx.load::<Profile>(None);
    login.set_user_key("alice").expect("store mode");
    let manager = fx.manager.clone();
    fx.recording.before_next_index_add(Box::new(move || {
        Box::pin(async move { manager.end_user_sessions("alice").await.map(|_| ()) })
    }));
    assert_eq!(fx.save(&mut login), None);
    assert_eq!(listed(&fx, "alice"), 0);
    // Afterwards, logins work again.
    let token = fx.login("alice");
    assert_eq!(fx.load::<Profile>(Some(&token)).user_key(), Some("alice"));
}

/// Renewals and "log out everywhere" at the same time, on two threads, many times: never a
/// live session of the user afterwards.
pub(super) fn renewals_racing_log_out_everywhere_never_leave_a_live_session(start: Start<'_>) {
    let fx = Fx::new(start);
    for round in 0..RACE_ROUNDS {
        let token = fx.login("alice");
        let manager = fx.manager.clone();
        let header = format!("session={token}");
        let renewal = runtime().spawn(async move {
            for _ in 0..round % 3 {
                tokio::task::yield_now().await;
            }
            let mut handle = manager
                .load::<Profile>([header.as_str()])
                .await
                .expect("load");
            handle.renew();
            handle.data_mut().cart.push(1);
            manager
                .save(&mut handle)
                .await
                .expect("save")
                .map(|cookie| cookie.value().to_owned())
        });
        runtime().block_on(async {
            for _ in 0..round % 4 {
                tokio::task::yield_now().await;
            }
            fx.manager.end_user_sessions("alice").await.expect("end")
        });
        let renewed = runtime().block_on(renewal).expect("the renewal ran");
        refused(&fx, &token);
        if let Some(renewed) = renewed {
            // The renewal may have loaded after the logout: then it is a new anonymous
            // session, never alice's.
            let handle = fx.load::<Profile>(Some(&renewed));
            assert!(
                handle.user_key().is_none() && handle.data().user.is_none(),
                "round {round}: a session of alice survived log out everywhere"
            );
        }
        assert_eq!(listed(&fx, "alice"), 0, "round {round}");
    }
}

/// "End my other sessions" (after a password change): every other session of the user ends,
/// the current one goes on, also renewed later or in the same request.
pub(super) fn ending_the_other_sessions_keeps_the_current_one(start: Start<'_>) {
    let fx = Fx::new(start);
    let laptop = fx.login("alice");
    let phone = fx.login("alice");
    let tablet = fx.login("alice");
    let bob = fx.login("bob");
    let end_others = |handle: &mut session_core::SessionHandle<Profile>| {
        runtime()
            .block_on(fx.manager.end_other_sessions(handle))
            .expect("end")
    };

    let mut current = fx.load::<Profile>(Some(&phone));
    assert_eq!(end_others(&mut current), 2);
    assert_eq!(fx.save(&mut current), None, "nothing to send for this one");
    refused(&fx, &laptop);
    refused(&fx, &tablet);
    assert_eq!(fx.load::<Profile>(Some(&phone)).user_key(), Some("alice"));
    assert_eq!(fx.load::<Profile>(Some(&bob)).user_key(), Some("bob"));
    assert_eq!(listed(&fx, "alice"), 1);

    // Renewing the kept session later keeps it.
    let mut renew = fx.load::<Profile>(Some(&phone));
    renew.renew();
    let phone = fx.save(&mut renew).expect("a new id");
    assert_eq!(fx.load::<Profile>(Some(&phone)).user_key(), Some("alice"));

    // A password change: the others end, and this one is renewed in the same request.
    let other = fx.login("alice");
    let mut change = fx.load::<Profile>(Some(&phone));
    assert_eq!(end_others(&mut change), 1);
    change.renew();
    let changed = fx.save(&mut change).expect("a new id");
    refused(&fx, &other);
    refused(&fx, &phone);
    assert_eq!(fx.load::<Profile>(Some(&changed)).user_key(), Some("alice"));

    // At login, before the session is saved: every earlier session is "other".
    let mut login = fx.load::<Profile>(None);
    login.set_user_key("alice").expect("store mode");
    assert_eq!(end_others(&mut login), 1);
    let fresh = fx.save(&mut login).expect("a cookie");
    refused(&fx, &changed);
    assert_eq!(fx.load::<Profile>(Some(&fresh)).user_key(), Some("alice"));

    // Later logins stay; log out everywhere ends them all.
    let later = fx.login("alice");
    assert_eq!(fx.load::<Profile>(Some(&later)).user_key(), Some("alice"));
    assert_eq!(
        runtime()
            .block_on(fx.manager.end_user_sessions("alice"))
            .expect("end"),
        2
    );
    refused(&fx, &fresh);
    refused(&fx, &later);

    let mut anonymous = fx.load::<Profile>(None);
    assert_eq!(end_others(&mut anonymous), 0, "no user key, nothing to end");
    assert_eq!(fx.load::<Profile>(Some(&bob)).user_key(), Some("bob"));
}

/// Every write of a user's record that moves its expiry comes after an index entry for it with
/// a deadline at least the record's expiry: the index can drop an entry at its deadline without
/// losing a live session (a refresh pushes both; writes between refreshes stay within the
/// entry). And the record's expiry always covers the cookie's idle deadline, though writes
/// between two refreshes leave it where the last refresh put it.
pub(super) fn index_entries_never_leave_before_their_records(start: Start<'_>) {
    /// The latest index deadline and record expiry of each record, as the writes set them.
    #[derive(Default)]
    struct Pushes {
        entries: HashMap<RecordKey, OffsetDateTime>,
        expiries: HashMap<RecordKey, OffsetDateTime>,
        pushes: usize,
    }
    impl Pushes {
        fn follow(&mut self, deadlines: Vec<Deadline>) {
            for deadline in deadlines {
                match deadline {
                    Deadline::Index(key, at) => {
                        let latest = self.entries.entry(key).or_insert(at);
                        *latest = (*latest).max(at);
                    }
                    Deadline::Record(key, expires_at) => {
                        self.pushes += 1;
                        let entry = self.entries.get(&key).copied();
                        assert!(
                            entry.is_some_and(|at| at >= expires_at),
                            "push {}: the record expires at {expires_at}, its index entry at {entry:?}",
                            self.pushes
                        );
                        self.expiries.insert(key, expires_at);
                    }
                }
            }
        }
    }

    let fx = Fx::new(start);
    let idle = fx
        .manager
        .idle_timeout()
        .expect("an idle timeout by default");
    let token = fx.login("alice");
    let steps = [
        (Duration::seconds(10), true),
        (Duration::seconds(55), true), // the refresh is due: a new cookie
        (Duration::seconds(59), true), // just before the next
        (Duration::seconds(61), false), // a refresh alone
        (Duration::seconds(30), true),
    ];
    let mut seen = Pushes::default();
    seen.follow(fx.recording.take_deadlines());
    let mut token = token;
    for (i, (wait, change)) in steps.into_iter().enumerate() {
        fx.clock.advance(wait);
        let mut handle = fx.load::<Profile>(Some(&token));
        assert_eq!(handle.user_key(), Some("alice"), "step {i}");
        if change {
            handle.data_mut().cart.push(i as u32);
        }
        if let Some(new) = fx.save(&mut handle) {
            token = new;
        }
        seen.follow(fx.recording.take_deadlines());
        let key = handle.record_key().expect("a record");
        let cookie_deadline = handle.last_active().expect("loaded") + idle;
        let record = fx.load::<Profile>(Some(&token));
        assert_eq!(record.user_key(), Some("alice"), "step {i}: still live");
        let expiry = seen.expiries.get(&key).copied();
        assert!(
            expiry.is_some_and(|at| at >= cookie_deadline),
            "step {i}: the record expires at {expiry:?}, the cookie's idle deadline is {cookie_deadline}"
        );
    }
    assert_eq!(
        seen.pushes, 3,
        "the login and the two refreshes move the expiry, nothing else"
    );
    let writes = fx.recording.take();
    assert!(writes.len() >= 5, "{} writes", writes.len());
    assert_eq!(listed(&fx, "alice"), 1);
}

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
