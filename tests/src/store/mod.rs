//! The store contract suite: proves a [`SessionStore`] against the store contract of
//! [`session_core::store`], in the style of actix-session's acceptance suite.
//!
//! Every check runs on a store of its own:
//! - the record contract, on the store alone: records load back as written (binary values,
//!   long and odd field names, empty records), an update of a missing or expired record
//!   writes nothing, updates set and remove fields, concurrent updates of different fields
//!   both survive, delete reports liveness, expiry is exact on read without a sweeper, and the
//!   per-user index (listed oldest first, ended entries dropped on add and never listed, a cap
//!   past which the oldest session is ended, the user's generation kept as its sessions come
//!   and go);
//! - store mode as an application meets it, through `SessionManager`: only an id in the
//!   cookie, only changed fields written, concurrent requests (different fields both kept,
//!   same field last write wins, many requests of one session, many clients), renewal,
//!   revocation, races with logout, "log out everywhere" (also racing renewals, and "end my
//!   other sessions"), index entries that outlive their records, expiring and flash fields,
//!   migrations, idle and absolute timeouts, and outages (the store's errors, injected);
//! - with a server the suite can stop ([`StoreUnderTest::with_server`]), a real outage:
//!   errors while it is down, never an anonymous session, and recovery once it is back.
//!
//! ```no_run
//! use std::sync::Arc;
//! use session_core::store::MemoryStore;
//! use session_testing::store::{StoreUnderTest, run_suite};
//!
//! #[test]
//! fn memory_store_keeps_the_store_contract() {
//!     run_suite("memory", &|| Some(StoreUnderTest::new(Arc::new(MemoryStore::new(10_000)))));
//! }
//! ```

use std::sync::Arc;

use session_core::SessionError;
use session_core::store::{DEFAULT_MAX_SESSIONS_PER_USER, SessionStore};

use crate::report::Report;

mod fixture;
mod index_checks;
mod record_checks;
mod session_checks;

/// Makes a fresh store for one check, or `None` when it cannot run here (its server is not
/// installed, say; the check is then counted as skipped).
pub type Start<'a> = &'a dyn Fn() -> Option<StoreUnderTest>;

type Check = (&'static str, fn(Start<'_>));

/// A server the suite can stop and start again, for the outage check.
pub trait ServerControl: Send {
    /// Stops the server abruptly (as a crash would).
    fn stop(&mut self);
    /// Starts it again where the store expects it.
    fn restart(&mut self);
}

impl ServerControl for crate::servers::Server {
    fn stop(&mut self) {
        self.kill();
    }
    fn restart(&mut self) {
        crate::servers::Server::restart(self);
    }
}

impl ServerControl for crate::servers::Postgres {
    fn stop(&mut self) {
        self.kill();
    }
    fn restart(&mut self) {
        crate::servers::Postgres::restart(self);
    }
}

impl ServerControl for crate::servers::Cluster {
    fn stop(&mut self) {
        self.kill();
    }
    fn restart(&mut self) {
        crate::servers::Cluster::restart(self);
    }
}

/// One store for one check, and the server behind it, if the suite may stop it. Dropping it
/// drops the server (the servers of [`crate::servers`] stop when dropped).
pub struct StoreUnderTest {
    store: Arc<dyn SessionStore>,
    server: Option<Box<dyn ServerControl>>,
    max_sessions_per_user: usize,
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUnderTest")
            .field("store", &self.store)
            .field("server", &self.server.is_some())
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .finish()
    }
}

impl StoreUnderTest {
    /// A store the suite cannot stop (in-process, or a server it does not own).
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self {
            store,
            server: None,
            max_sessions_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
        }
    }

    /// Tells the suite the store keeps at most `max` sessions per user (built with its
    /// `with_max_sessions_per_user`), for the cap check; by default the suite expects
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`].
    #[must_use]
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_sessions_per_user = max;
        self
    }

    /// Lets the suite stop and restart the store's server, for the outage check.
    #[must_use]
    pub fn with_server(mut self, server: impl ServerControl + 'static) -> Self {
        self.server = Some(Box::new(server));
        self
    }
}

/// Runs every check against stores made by `start`, then panics with the list of the checks
/// that failed, if any. The checks log users in with a user key, so the store must implement
/// the per-user index (`index_add`, `index_remove`, `index_members`): without it, store mode
/// answers every login that records a user with 503, and those checks fail saying so. When `start` answers `None`, every check is skipped (failing under
/// CI) and the summary on stderr says so.
///
/// # Panics
/// When a check failed.
pub fn run_suite(name: &str, start: Start<'_>) {
    let mut report = Report::new(format!("store {name}"));
    let Some(first) = start() else {
        let reason = format!("the {name} store cannot start here");
        for (check, _) in all_checks() {
            report.skip(check, &reason);
        }
        report.finish();
        return;
    };
    let has_server = first.server.is_some();
    drop(first);
    for (label, check) in all_checks() {
        report.run(label, || check(start));
    }
    if has_server {
        report.run(OUTAGE.0, || (OUTAGE.1)(start));
    }
    report.finish();
}

fn all_checks() -> impl Iterator<Item = &'static Check> {
    record_checks::CHECKS
        .iter()
        .chain(index_checks::CHECKS)
        .chain(session_checks::CHECKS)
}

const OUTAGE: Check = (
    "a server outage is an error, never an anonymous session, and the store recovers",
    a_server_outage_is_an_error_and_the_store_recovers,
);

/// Stop the server mid-run: loads and saves fail with a store error (adapters answer 503),
/// nothing panics; once it is back, the same store works again.
fn a_server_outage_is_an_error_and_the_store_recovers(start: Start<'_>) {
    use fixture::{Fx, Profile};
    let mut target = start().expect("the store starts");
    let mut server = target.server.take().expect("a server to stop");
    let fx = Fx::over(target);
    let token = fx.login("alice");
    server.stop();
    let error = fx
        .try_load::<Profile>(Some(&token))
        .expect_err("the server is down");
    assert_eq!(error.status_code(), 503, "{error}");
    assert!(matches!(error, SessionError::Store(_)), "{error}");
    let mut fresh = fx.load::<Profile>(None);
    fresh.data_mut().theme = "dark".into();
    let error = fx.try_save(&mut fresh).expect_err("the server is down");
    assert_eq!(error.status_code(), 503, "{error}");
    server.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut handle = match fx.try_load::<Profile>(None) {
            Ok(handle) => handle,
            Err(error) => panic!("loading without a cookie needs no store: {error}"),
        };
        handle.data_mut().theme = "light".into();
        match fx.try_save(&mut handle) {
            Ok(Some(token)) => {
                assert_eq!(fx.load::<Profile>(Some(&token)).data().theme, "light");
                break;
            }
            Ok(None) => panic!("a new session sets a cookie"),
            Err(error) => {
                assert_eq!(error.status_code(), 503, "{error}");
                assert!(std::time::Instant::now() < deadline, "no recovery: {error}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}
