//! The store contract as an application meets it: every check goes through `SessionManager`
//! in store mode, over the store under test.

use session_core::store::StoreError;
use session_core::time::Duration;
use session_core::{
    LoadStatus, Rejection, SessionConfig, SessionData, SessionError, SessionHandle, SessionManager,
};

use super::Start;
use super::fixture::{Fx, MigV1, MigV2, Profile, Wide};
use crate::servers::runtime;

fn rejection<T: SessionData>(handle: &SessionHandle<T>) -> Option<&Rejection> {
    match handle.status() {
        LoadStatus::Rejected(rejection) => Some(rejection),
        _ => None,
    }
}

fn round_trip_keeps_only_an_id_in_the_cookie(start: Start<'_>) {
    let fx = Fx::new(start);
    let mut handle = fx.load::<Profile>(None);
    assert!(
        fx.save(&mut handle).is_none(),
        "an empty session stores nothing"
    );
    assert!(fx.recording.take().is_empty());

    handle.data_mut().cart = (0..2000).collect();
    handle.data_mut().theme = "dark".repeat(500);
    let token = fx.save(&mut handle).expect("a new session sets the cookie");
    assert!(token.len() < 200, "only a signed id: {} bytes", token.len());
    let loaded = fx.load::<Profile>(Some(&token));
    assert_eq!(loaded.data().cart.len(), 2000);
    assert_eq!(loaded.data().theme.len(), 2000);
    assert!(matches!(
        loaded.status(),
        LoadStatus::Loaded { reissue: None }
    ));
}

fn only_changed_fields_are_written(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let writes = fx.recording.take();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].0, "created");
    assert!(writes[0].1.contains(&"@meta".to_owned()) && writes[0].1.contains(&"cart".to_owned()));

    let mut read = fx.load::<Profile>(Some(&token));
    let _ = read.data().user.clone();
    assert_eq!(fx.save(&mut read), None);
    let mut same = fx.load::<Profile>(Some(&token));
    same.data_mut().theme = String::new(); // borrowed mutably, bytes unchanged
    assert_eq!(fx.save(&mut same), None);
    assert!(
        fx.recording.take().is_empty(),
        "reads and no-op writes touch nothing"
    );

    let mut change = fx.load::<Profile>(Some(&token));
    change.data_mut().theme = "dark".into();
    assert_eq!(fx.save(&mut change), None, "the id cookie stays as it is");
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["theme".to_owned()], vec![])]
    );

    fx.clock.advance(Duration::seconds(61));
    let mut refresh = fx.load::<Profile>(Some(&token));
    let refreshed = fx.save(&mut refresh).expect("the idle deadline is pushed");
    assert_ne!(refreshed, token);
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec![], vec![])],
        "a refresh only pushes the record's expiry"
    );
    assert_eq!(fx.load::<Profile>(Some(&refreshed)).data().theme, "dark");
}

fn concurrent_requests_changing_different_fields_both_survive(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().theme = "dark".into();
    second.data_mut().cart.push(42);
    // Both in flight at once on a real store.
    let (a, b) = runtime().block_on(async {
        tokio::join!(fx.manager.save(&mut first), fx.manager.save(&mut second))
    });
    a.expect("saved");
    b.expect("saved");
    let after = fx.load::<Profile>(Some(&token));
    assert_eq!(after.data().theme, "dark");
    assert_eq!(after.data().cart, vec![42]);
    assert_eq!(after.data().user.as_deref(), Some("alice"));
}

fn concurrent_requests_changing_the_same_field_last_write_wins(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().cart.push(1);
    second.data_mut().cart.push(2);
    fx.save(&mut first);
    fx.save(&mut second);
    assert_eq!(
        fx.load::<Profile>(Some(&token)).data().cart,
        vec![2],
        "the whole field is replaced by the later write: no merge, no corruption"
    );
}

fn renew_moves_the_data_and_kills_the_old_id(start: Start<'_>) {
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

fn logout_deletes_the_record_so_a_copied_cookie_is_refused(start: Start<'_>) {
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

fn a_write_after_a_concurrent_logout_does_not_resurrect_the_session(start: Start<'_>) {
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

fn log_out_everywhere_ends_every_session_of_the_user(start: Start<'_>) {
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

fn renewal_keeps_the_user_index_current(start: Start<'_>) {
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

fn expiring_and_flash_fields_work_in_the_store(start: Start<'_>) {
    let fx = Fx::new(start);
    let mut handle = fx.load::<Profile>(None);
    handle.data_mut().sudo.set(true);
    handle.data_mut().notice.set("hi".into());
    let token = fx.save(&mut handle).expect("cookie");
    fx.recording.take();

    let mut first = fx.load::<Profile>(Some(&token));
    assert_eq!(first.data_mut().notice.take().as_deref(), Some("hi"));
    fx.save(&mut first);
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["notice".to_owned()], vec![])]
    );
    let mut second = fx.load::<Profile>(Some(&token));
    assert_eq!(second.data_mut().notice.take(), None, "read once");
    assert_eq!(second.data().sudo.get(), Some(&true));

    fx.clock.advance(Duration::minutes(6));
    let mut later = fx.load::<Profile>(Some(&token));
    assert_eq!(later.data().sudo.get(), None, "expired after 5 minutes");
    fx.save(&mut later).expect("refresh due");
    let writes = fx.recording.take();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].1, vec!["sudo".to_owned()], "the cleared value");
    assert_eq!(writes[0].2.len(), 1, "its deadline removed: {writes:?}");
}

fn records_from_an_older_schema_are_migrated(start: Start<'_>) {
    let old = Fx::new(start);
    let mut handle = old.load::<MigV1>(None);
    handle.data_mut().user = Some("alice".into());
    let token = old.save(&mut handle).expect("cookie");

    // The same store and keys, read by the next version of the app.
    let config = SessionConfig::new(old.keys.clone())
        .clock(old.clock.clone())
        .store(old.recording.clone());
    let new = SessionManager::new(config).expect("config");
    let mut migrated = runtime()
        .block_on(new.load::<MigV2>([format!("session={token}").as_str()]))
        .expect("load");
    assert_eq!(migrated.data().user.as_deref(), Some("alice"));
    assert_eq!(migrated.data().visits, 100);
    assert!(matches!(
        migrated.status(),
        LoadStatus::Loaded {
            reissue: Some(session_core::session::Reissue::Migrated)
        }
    ));
    old.recording.take();
    runtime().block_on(new.save(&mut migrated)).expect("save");
    let writes = old.recording.take();
    assert!(
        !writes[0].0
            && writes[0].1.contains(&"@meta".to_owned())
            && writes[0].1.contains(&"visits".to_owned()),
        "the record is rewritten whole, if it still exists: {writes:?}"
    );
    let again = runtime()
        .block_on(new.load::<MigV2>([format!("session={token}").as_str()]))
        .expect("load");
    assert!(matches!(
        again.status(),
        LoadStatus::Loaded { reissue: None }
    ));
    assert_eq!(again.data().visits, 100);

    // A migration racing a logout does not bring the record back.
    let mut handle = old.load::<MigV1>(None);
    handle.data_mut().user = Some("bob".into());
    let token = old.save(&mut handle).expect("cookie");
    let header = format!("session={token}");
    let mut migrating = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    let mut logout = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    logout.logout();
    runtime().block_on(new.save(&mut logout)).expect("logout");
    assert_eq!(
        runtime().block_on(new.save(&mut migrating)).expect("save"),
        None
    );
    let replay = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
}

fn cookie_mode_tokens_are_not_store_ids(start: Start<'_>) {
    let fx = Fx::new(start);
    let cookie_mode =
        SessionManager::new(SessionConfig::new(fx.keys.clone()).clock(fx.clock.clone()))
            .expect("config");
    let mut handle = runtime()
        .block_on(cookie_mode.load::<Profile>(None::<&str>))
        .expect("cookie mode");
    handle.data_mut().user = Some("mallory".into());
    let token = runtime()
        .block_on(cookie_mode.save(&mut handle))
        .expect("save")
        .expect("cookie");
    let refused = fx.load::<Profile>(Some(token.value()));
    assert!(matches!(
        rejection(&refused),
        Some(Rejection::SchemaMismatch(
            session_core::rejection::SchemaMismatch::SessionMode {
                token_is_store_id: false,
                ..
            }
        ))
    ));

    let store_token = fx.login("alice");
    let refused = runtime()
        .block_on(cookie_mode.load::<Profile>([format!("session={store_token}").as_str()]))
        .expect("cookie mode");
    assert!(matches!(
        rejection(&refused),
        Some(Rejection::SchemaMismatch(
            session_core::rejection::SchemaMismatch::SessionMode {
                token_is_store_id: true,
                ..
            }
        ))
    ));
}

fn a_store_outage_is_an_error_never_an_anonymous_session(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    fx.recording.fail(true);
    let error = fx
        .try_load::<Profile>(Some(&token))
        .expect_err("store down");
    assert!(matches!(
        error,
        SessionError::Store(StoreError::Unavailable(_))
    ));
    assert_eq!(error.status_code(), 503);
    // No cookie: nothing to load, nothing to fail.
    assert!(fx.try_load::<Profile>(None).is_ok());
    // The per-user index fails the same way: reported, never an empty list.
    assert!(matches!(
        runtime().block_on(fx.manager.user_sessions("alice")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        runtime().block_on(fx.manager.end_user_sessions("alice")),
        Err(StoreError::Unavailable(_))
    ));
    fx.recording.fail(false);
    assert_eq!(
        runtime()
            .block_on(fx.manager.user_sessions("alice"))
            .expect("list")
            .len(),
        1,
        "nothing was ended while the store was down"
    );
    let mut handle = fx.load::<Profile>(Some(&token));
    fx.recording.fail(true);
    handle.data_mut().theme = "dark".into();
    let error = fx.try_save(&mut handle).expect_err("store down");
    assert_eq!(error.status_code(), 503);
    fx.recording.fail(false);
    assert_eq!(
        fx.load::<Profile>(Some(&token)).data().theme,
        "",
        "nothing written"
    );
    assert_eq!(
        fx.save(&mut handle),
        None,
        "the same change saves once it is back"
    );
    assert_eq!(fx.load::<Profile>(Some(&token)).data().theme, "dark");
}

fn the_idle_timeout_and_the_absolute_lifetime_still_apply(start: Start<'_>) {
    let fx = Fx::new(start);
    let token = fx.login("alice");
    fx.clock.advance(Duration::minutes(31));
    let idle = fx.load::<Profile>(Some(&token));
    assert_eq!(rejection(&idle), Some(&Rejection::ExpiredIdle));

    let fx = Fx::with(start, |c| {
        c.idle_timeout(None).absolute_timeout(Duration::hours(1))
    });
    let token = fx.login("alice");
    fx.clock.advance(Duration::minutes(61));
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&token))),
        Some(&Rejection::ExpiredAbsolute)
    );
}

/// A renewal (login) racing a logout must not carry the logged-out session to a new id.
fn a_renewal_racing_a_logout_does_not_revive_the_session(start: Start<'_>) {
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
fn a_user_key_always_comes_with_a_fresh_id(start: Start<'_>) {
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

/// Many sessions at once, each writing in turn: no request fails, no write is lost.
fn many_concurrent_clients_lose_nothing(start: Start<'_>) {
    const CLIENTS: usize = 32;
    const WRITES: u32 = 20;
    let fx = Fx::new(start);
    let tokens: Vec<String> = (0..CLIENTS)
        .map(|i| fx.login(&format!("user{i}")))
        .collect();
    let manager = &fx.manager;
    let results = runtime().block_on(async {
        let clients = tokens.iter().map(|token| async move {
            let header = format!("session={token}");
            for i in 0..WRITES {
                let mut handle = manager.load::<Profile>([header.as_str()]).await?;
                handle.data_mut().cart.push(i);
                manager.save(&mut handle).await?;
            }
            Ok::<_, SessionError>(())
        });
        futures_join_all(clients).await
    });
    for result in results {
        result.expect("no request fails");
    }
    for token in &tokens {
        assert_eq!(
            fx.load::<Profile>(Some(token)).data().cart,
            (0..WRITES).collect::<Vec<_>>()
        );
    }
}

/// Runs every future at once on the current task and collects their outputs (the futures
/// borrow the fixture, so they cannot be spawned).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot
                && let std::task::Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *output = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Many requests of one session at once, each changing a field of its own: every change
/// survives.
fn many_requests_of_one_session_changing_different_fields_lose_nothing(start: Start<'_>) {
    const REQUESTS: usize = 16;
    let fx = Fx::new(start);
    let mut first = fx.load::<Wide>(None);
    first.data_mut().f0 = 1;
    let token = fx.save(&mut first).expect("a cookie");
    let header = format!("session={token}");
    let manager = &fx.manager;
    for round in 1..=5u32 {
        let results = runtime().block_on(async {
            // Every request loads before any saves, as concurrent requests do.
            let mut handles = Vec::new();
            for _ in 0..REQUESTS {
                handles.push(manager.load::<Wide>([header.as_str()]).await?);
            }
            let saves = handles
                .iter_mut()
                .enumerate()
                .map(|(i, handle)| async move {
                    *handle.data_mut().field(i) = round * 100 + u32::try_from(i).unwrap_or(0);
                    manager.save(handle).await
                });
            Ok::<_, SessionError>(futures_join_all(saves).await)
        });
        for result in results.expect("loaded") {
            result.expect("saved");
        }
        let mut after = fx.load::<Wide>(Some(&token));
        for i in 0..REQUESTS {
            assert_eq!(
                *after.data_mut().field(i),
                round * 100 + u32::try_from(i).unwrap_or(0),
                "round {round}: field {i} lost its change"
            );
        }
    }
}

/// The checks, each listed once.
pub(super) const CHECKS: &[super::Check] = &[
    (
        "round trip keeps only an id in the cookie",
        round_trip_keeps_only_an_id_in_the_cookie,
    ),
    (
        "only changed fields are written",
        only_changed_fields_are_written,
    ),
    (
        "concurrent requests changing different fields both survive",
        concurrent_requests_changing_different_fields_both_survive,
    ),
    (
        "concurrent requests changing the same field: the last write wins",
        concurrent_requests_changing_the_same_field_last_write_wins,
    ),
    (
        "many requests of one session changing different fields lose nothing",
        many_requests_of_one_session_changing_different_fields_lose_nothing,
    ),
    (
        "renew moves the data and kills the old id",
        renew_moves_the_data_and_kills_the_old_id,
    ),
    (
        "logout deletes the record, so a copied cookie is refused",
        logout_deletes_the_record_so_a_copied_cookie_is_refused,
    ),
    (
        "a write after a concurrent logout does not resurrect the session",
        a_write_after_a_concurrent_logout_does_not_resurrect_the_session,
    ),
    (
        "log out everywhere ends every session of the user",
        log_out_everywhere_ends_every_session_of_the_user,
    ),
    (
        "renewal keeps the user index current",
        renewal_keeps_the_user_index_current,
    ),
    (
        "expiring and flash fields work in the store",
        expiring_and_flash_fields_work_in_the_store,
    ),
    (
        "records from an older schema are migrated",
        records_from_an_older_schema_are_migrated,
    ),
    (
        "cookie-mode tokens are not store ids",
        cookie_mode_tokens_are_not_store_ids,
    ),
    (
        "a store outage is an error, never an anonymous session",
        a_store_outage_is_an_error_never_an_anonymous_session,
    ),
    (
        "the idle timeout and the absolute lifetime still apply",
        the_idle_timeout_and_the_absolute_lifetime_still_apply,
    ),
    (
        "a renewal racing a logout does not revive the session",
        a_renewal_racing_a_logout_does_not_revive_the_session,
    ),
    (
        "a user key always comes with a fresh id",
        a_user_key_always_comes_with_a_fresh_id,
    ),
    (
        "many concurrent clients lose nothing",
        many_concurrent_clients_lose_nothing,
    ),
];
