//! The session mode belongs to the manager: every handle it makes, also a fresh one with no
//! cookie, is a cookie-mode or a store-mode handle, and `set_user_key` says which.

use std::sync::Arc;

use session_core::store::{MemoryStore, StoreError};
use session_core::{LoadStatus, Rejection, SessionConfig, SessionError};

use crate::support::*;

#[test]
fn cookie_mode_refuses_a_user_key_and_says_how_to_get_one() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    for cookie in [String::new(), format!("session={token}")] {
        let mut handle = load::<Typical>(&manager, &cookie);
        let error = handle
            .set_user_key("alice")
            .expect_err("cookie mode has no index");
        assert!(
            matches!(error, SessionError::Store(StoreError::NoStore)),
            "{error}"
        );
        assert!(
            error.to_string().contains("SessionConfig::store"),
            "{error}"
        );
        assert_eq!(handle.user_key(), None);
        // Refusing the key changed nothing: no cookie to send.
        assert!(save(&manager, &mut handle).is_none());
    }
}

#[test]
fn store_mode_keeps_a_user_key_from_the_first_request_on() {
    // The system clock: the store expires records by it.
    init_tracing();
    let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]));
    let manager = manager_with(config.store(Arc::new(MemoryStore::new(100))));
    let mut fresh = load::<Typical>(&manager, "");
    assert_eq!(fresh.status(), &LoadStatus::New);
    fresh.set_user_key("alice").expect("store mode");
    assert_eq!(fresh.user_key(), Some("alice"));
    fresh.data_mut().name = "alice".into();
    let set_cookie = save(&manager, &mut fresh).expect("a new record");

    let loaded = load::<Typical>(&manager, &cookie_header(&set_cookie));
    assert_eq!(loaded.user_key(), Some("alice"));
    assert_eq!(loaded.data().name, "alice");
    let listed = run(manager.user_sessions("alice")).expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");

    assert_eq!(run(manager.end_user_sessions("alice")).expect("end"), 1);
    let ended = load::<Typical>(&manager, &cookie_header(&set_cookie));
    assert_eq!(
        ended.status(),
        &LoadStatus::Rejected(Rejection::UnknownSession)
    );
    assert_eq!(ended.user_key(), None);
}
