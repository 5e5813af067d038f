//! Tests of the application use nothing but the adapter either.

use one_dependency::AppSession;
use session_axum::time::{Duration, OffsetDateTime};
use session_axum::{Keyring, ManualClock, SessionConfig, SessionData, SessionManager};

#[test]
fn the_schema_is_pinned_through_the_adapter() {
    let pinned = AppSession::SCHEMA.fingerprint_hex();
    session_axum::assert_schema!(AppSession, &pinned);
}

#[test]
fn a_manual_clock_is_built_from_the_adapters_time() {
    let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH + Duration::days(20_000));
    let config = SessionConfig::new(Keyring::ephemeral_for_development()).clock(clock.clone());
    assert!(SessionManager::new(config).is_ok());
    clock.advance(Duration::minutes(5));
}
