//! One session schema per cookie (`SessionManager::claim_cookie`, which every adapter's
//! middleware calls when it is built): a second schema on the same cookie name under the same
//! keys is refused with a message that says how to fix it.

use session_core::{
    ConfigError, CookieSettings, Schema, SessionConfig, SessionData, SessionManager,
};

use crate::support::*;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Admin {
    level: u8,
}

impl SessionData for Admin {
    const SCHEMA: Schema = Schema {
        name: "admin",
        version: 1,
        fingerprint: 0x0a0a_0a0a,
    };
}

/// An older version of `Typical`'s schema ("app" v0): another version, the same schema.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct TypicalV0 {
    user_id: u64,
}

impl SessionData for TypicalV0 {
    const SCHEMA: Schema = Schema {
        name: "app",
        version: 0,
        fingerprint: 0x0000_0001,
    };
}

fn shared_config() -> SessionConfig {
    SessionConfig::new(ring(&[("k1", &keys(1)[0])]))
}

fn claimed<T: SessionData>(config: SessionConfig) -> Result<SessionManager, ConfigError> {
    let manager = SessionManager::new(config)?;
    manager.claim_cookie::<T>()?;
    Ok(manager)
}

#[test]
fn a_second_schema_on_the_same_cookie_and_keys_is_refused_with_the_fix() {
    let config = shared_config();
    let _app = claimed::<Typical>(config.clone()).expect("the first claim");
    let error = claimed::<Admin>(config).expect_err("the same cookie, another schema");
    assert!(matches!(error, ConfigError::CookieShared { ref name, .. } if name == "session"));
    let message = format!("{error:?}");
    for part in [
        "Typical (schema \"app\")",
        "Admin (schema \"admin\")",
        "\"session\"",
        "CookieSettings::default().name(\"admin_session\")",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn one_manager_serves_one_schema() {
    let manager = SessionManager::new(shared_config()).expect("config");
    manager.claim_cookie::<Typical>().expect("the first claim");
    manager
        .claim_cookie::<Typical>()
        .expect("the same type again");
    manager
        .claim_cookie::<TypicalV0>()
        .expect("another version of the same schema");
    let error = manager.claim_cookie::<Admin>().expect_err("another schema");
    assert!(matches!(error, ConfigError::CookieShared { .. }), "{error}");
}

#[test]
fn distinct_cookies_keys_or_domains_do_not_conflict() {
    let config = shared_config();
    let _app = claimed::<Typical>(config.clone()).expect("the first claim");
    // Another cookie name.
    let _admin = claimed::<Admin>(
        config
            .clone()
            .cookie(CookieSettings::default().name("admin_session")),
    )
    .expect("a cookie of its own");
    // The same type twice (two routers, one schema).
    let _again = claimed::<Typical>(config.clone()).expect("the same schema");
    // Keys loaded separately: another application (or a parallel test).
    let _other = claimed::<Admin>(shared_config()).expect("another keyring");
    // Domains that never meet in one request.
    let a = shared_config().cookie(CookieSettings::default().domain("a.example.com"));
    let b = a
        .clone()
        .cookie(CookieSettings::default().domain("b.example.com"));
    let _a = claimed::<Typical>(a).expect("a.example.com");
    let _b = claimed::<Admin>(b).expect("b.example.com");
}

#[test]
fn overlapping_domains_conflict() {
    let parent = shared_config().cookie(CookieSettings::default().domain("example.com"));
    let child = parent
        .clone()
        .cookie(CookieSettings::default().domain("app.example.com"));
    let _parent = claimed::<Typical>(parent).expect("the first claim");
    let error = claimed::<Admin>(child).expect_err("example.com covers app.example.com");
    assert!(matches!(error, ConfigError::CookieShared { .. }), "{error}");
}

#[test]
fn a_claim_ends_with_its_manager_and_rotation_keeps_the_scope() {
    let config = shared_config();
    let app = claimed::<Typical>(config.clone()).expect("the first claim");
    let rotated = config
        .keyring()
        .rotated("k2", session_core::Key::generate(), 1);
    let rotated = config.clone().with_keyring(rotated.expect("rotation"));
    let error = claimed::<Admin>(rotated.clone()).expect_err("a rotated ring is the same ring");
    assert!(matches!(error, ConfigError::CookieShared { .. }), "{error}");
    let copy = app.clone();
    drop(app);
    claimed::<Admin>(rotated.clone()).expect_err("a clone of the manager keeps the claim");
    drop(copy);
    claimed::<Admin>(rotated).expect("no live manager holds the cookie");
}
