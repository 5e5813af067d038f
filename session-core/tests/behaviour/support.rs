//! Shared fixtures: a typical session type, a manager on a manual clock, and a runner for the
//! manager's futures.

use serde::{Deserialize, Serialize};
use session_core::session::SetCookie;
use session_core::{
    Expiring, Flash, Keyring, ManualClock, Schema, SessionConfig, SessionData, SessionHandle,
    SessionManager,
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
        fingerprint: 0x00f1_e1d5,
    };

    fn visit_expiring(&mut self, visitor: &mut dyn session_core::__private::FieldVisitor) {
        visitor.expiring(0, 300, &mut self.sudo);
    }
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Writes log lines into this thread's capture buffer when one is active, else nowhere.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One global subscriber for the whole test binary. Tracing caches per-callsite interest
/// globally, so scoped subscribers race between parallel tests; a global one does not.
pub(crate) fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| ThreadCapture)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    });
}

/// The log lines `action` emits on this thread.
pub(crate) fn captured_lines(action: impl FnOnce()) -> Vec<String> {
    init_tracing();
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
    action();
    let bytes = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    String::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) fn clock() -> ManualClock {
    init_tracing();
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
    run(manager.load::<T>([cookie_header])).expect("cookie mode never fails")
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
    let mut handle = run(manager.load::<T>([])).expect("cookie mode never fails");
    *handle.data_mut() = data;
    save(manager, &mut handle)
        .expect("changed")
        .value()
        .to_owned()
}
