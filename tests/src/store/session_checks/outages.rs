//! A store that fails: an error, never an anonymous session, and nothing written half.

use session_core::SessionError;
use session_core::store::StoreError;

use super::super::Start;
use super::super::fixture::{Fx, Profile};
use crate::servers::runtime;

pub(super) fn a_store_outage_is_an_error_never_an_anonymous_session(start: Start<'_>) {
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
