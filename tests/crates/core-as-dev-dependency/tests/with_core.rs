//! The test build sees session-core directly; the derive works here too, and the types agree.

use core_as_dev_dependency::AppSession;
use serde::{Deserialize, Serialize};
use session_core::SessionData;

/// A session type declared in the test crate itself, derived with session-core in reach.
#[derive(session_core::SessionData, Serialize, Deserialize, Default)]
#[session(name = "test")]
struct TestSession {
    seen: bool,
}

#[test]
fn both_derives_implement_the_same_trait() {
    assert_eq!(<AppSession as SessionData>::SCHEMA.name, "app");
    assert_eq!(TestSession::SCHEMA.name, "test");
    let pinned = AppSession::SCHEMA.fingerprint_hex();
    session_core::assert_schema!(AppSession, &pinned);
}
