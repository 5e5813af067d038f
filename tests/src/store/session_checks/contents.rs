//! What a record holds and for how long: expiring and flash fields, older schema versions and
//! field lists, cookie-mode tokens, timeouts.

use session_core::time::Duration;
use session_core::{LoadStatus, Rejection, SessionConfig, SessionManager};

use super::super::Start;
use super::super::fixture::{Fx, MigV1, MigV2, MigV2Appended, Profile};
use super::rejection;
use crate::servers::runtime;

pub(super) fn expiring_and_flash_fields_work_in_the_store(start: Start<'_>) {
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
    assert_eq!(
        writes[0].1,
        vec!["@active".to_owned(), "sudo".to_owned()],
        "the cleared value, with the last activity of the refresh"
    );
    assert_eq!(writes[0].2.len(), 1, "its deadline removed: {writes:?}");
}

pub(super) fn records_from_an_older_schema_are_migrated(start: Start<'_>) {
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

pub(super) fn records_of_an_earlier_field_list_get_the_appended_defaults(start: Start<'_>) {
    let old = Fx::new(start);
    let mut handle = old.load::<MigV2>(None);
    handle.data_mut().user = Some("alice".into());
    handle.data_mut().visits = 3;
    let token = old.save(&mut handle).expect("cookie");
    let header = format!("session={token}");

    // The same store and keys, read by the app with fields appended to the struct.
    let config = SessionConfig::new(old.keys.clone())
        .clock(old.clock.clone())
        .store(old.recording.clone());
    let new = SessionManager::new(config).expect("config");
    let mut extended = runtime()
        .block_on(new.load::<MigV2Appended>([header.as_str()]))
        .expect("load");
    assert_eq!(extended.data().user.as_deref(), Some("alice"));
    assert_eq!(extended.data().visits, 3);
    assert!(extended.data().tags.is_empty());
    assert_eq!(extended.data().sudo.get(), None);
    assert!(matches!(
        extended.status(),
        LoadStatus::Loaded {
            reissue: Some(session_core::session::Reissue::FieldsAppended)
        }
    ));
    old.recording.take();
    assert_eq!(
        runtime().block_on(new.save(&mut extended)).expect("save"),
        None,
        "the id cookie stays"
    );
    let writes = old.recording.take();
    assert!(
        writes.len() == 1
            && !writes[0].0
            && writes[0].1.contains(&"@meta".to_owned())
            && writes[0].1.contains(&"tags".to_owned())
            && writes[0].1.contains(&"sudo".to_owned()),
        "the record is rewritten whole, if it still exists: {writes:?}"
    );
    let mut again = runtime()
        .block_on(new.load::<MigV2Appended>([header.as_str()]))
        .expect("load");
    assert!(matches!(
        again.status(),
        LoadStatus::Loaded { reissue: None }
    ));
    assert_eq!(again.data().visits, 3);
    again.data_mut().sudo.set(true);
    again.data_mut().tags.push("beta".into());
    runtime().block_on(new.save(&mut again)).expect("save");
    let last = runtime()
        .block_on(new.load::<MigV2Appended>([header.as_str()]))
        .expect("load");
    assert_eq!(last.data().sudo.get(), Some(&true));
    assert_eq!(last.data().tags, ["beta"]);
    assert_eq!(last.data().user.as_deref(), Some("alice"));
}

pub(super) fn cookie_mode_tokens_are_not_store_ids(start: Start<'_>) {
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

pub(super) fn the_idle_timeout_and_the_absolute_lifetime_still_apply(start: Start<'_>) {
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
