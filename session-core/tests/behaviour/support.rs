//! Shared fixtures: a typical session type, a manager on a manual clock, and a runner for the
//! manager's futures.

use serde::{Deserialize, Serialize};
use session_core::{
    Expiring, Flash, Keyring, ManualClock, Schema, SessionConfig, SessionData, SessionHandle,
    SessionManager, SetCookie,
};
use time::macros::datetime;

/// The "typical session" of the benchmarks: user id, name, two roles, CSRF token, counter.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Typical {
    pub(crate) user_id: u64,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
    pub(crate) csrf: String,
    pub(crate) counter: u64,
}

impl SessionData for Typical {
    const SCHEMA: Schema = Schema {
        name: "app",
        version: 1,
        fingerprint: 0x1234_abcd,
    };
}

impl Typical {
    pub(crate) fn sample() -> Self {
        Self {
            user_id: 12_345,
            name: "alice".into(),
            roles: vec!["admin".into(), "editor".into()],
            csrf: "q7GdX2mP9vLk4RsT8wYz1BnC6HjE3fUa".into(),
            counter: 7,
        }
    }
}

/// A session with an expiring field and a flash field, implemented by hand.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WithFields {
    pub(crate) user: Option<String>,
    pub(crate) sudo: Expiring<bool>,
    pub(crate) notice: Flash<String>,
}

impl SessionData for WithFields {
    const SCHEMA: Schema = Schema {
        name: "fields",
        version: 1,
        fingerprint: 0xf1e1_d5,
    };

    fn visit_expiring(&mut self, visitor: &mut dyn session_core::schema::FieldVisitor) {
        visitor.expiring(0, 300, &mut self.sudo);
    }
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::new(datetime!(2026-11-24 12:00 UTC))
}

pub(crate) fn keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|_| session_core::Key::generate().to_base64().to_string())
        .collect()
}

pub(crate) fn ring(entries: &[(&str, &str)]) -> Keyring {
    Keyring::from_entries(entries.iter().copied()).expect("valid keys")
}

pub(crate) fn manager_with(config: SessionConfig) -> SessionManager {
    SessionManager::new(config).expect("valid config")
}

pub(crate) fn config(clock: &ManualClock) -> (SessionConfig, Vec<String>) {
    let keys = keys(1);
    let config = SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone());
    (config, keys)
}

pub(crate) fn run<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Loads a session from a single `Cookie` header.
pub(crate) fn load<T: SessionData>(
    manager: &SessionManager,
    cookie_header: &str,
) -> SessionHandle<T> {
    run(manager.load::<T>([cookie_header]))
}

/// Saves and returns the `Set-Cookie`, if any.
pub(crate) fn save<T: SessionData>(
    manager: &SessionManager,
    handle: &mut SessionHandle<T>,
) -> Option<SetCookie> {
    run(manager.save(handle)).expect("saves")
}

/// The `Cookie` request header a browser would send back for `set_cookie`.
pub(crate) fn cookie_header(set_cookie: &SetCookie) -> String {
    format!("session={}", set_cookie.value())
}

/// A token holding `data`, minted by `manager` now.
pub(crate) fn mint<T: SessionData>(manager: &SessionManager, data: T) -> String {
    let mut handle = run(manager.load::<T>([]));
    *handle.data_mut() = data;
    save(manager, &mut handle)
        .expect("changed")
        .value()
        .to_owned()
}
