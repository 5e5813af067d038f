//! The adapter conformance suite: proves a web-framework adapter against the adapter contract
//! of [`session_core::adapter`], over real HTTP on loopback.
//!
//! Implement [`ConformanceApp`] for a small app that serves these routes with your adapter,
//! every handler taking the session as [`ConformanceSession`]:
//!
//! | route | does | answers |
//! |---|---|---|
//! | `GET /write` | `counter += 1` | the counter |
//! | `GET /read` | nothing | the counter |
//! | `GET /untouched` | never touches the session | `ok` |
//! | `GET /peek` | `leave_cookie_unchanged()` | the counter |
//! | `POST /logout` | `logout()` | `bye` |
//! | `POST /renew` | `renew()` | `renewed` |
//! | `GET /sudo/set` | `sudo.set(true)` | `ok` |
//! | `GET /sudo` | nothing | `sudo.get()` as `true`/`false` (`false` when unset) |
//! | `GET /flash/set` | `notice.set("hello")` | `ok` |
//! | `GET /flash` | `notice.take()` | the notice, or `none` |
//! | `GET /fail` | `counter += 1`, then fails | `500` with any body |
//! | `GET /csrf` | `csrf.issue()` | the token |
//! | `POST /csrf` | `csrf.verify(..)` of the `x-csrf-token` header | `ok`, or `403` with any body |
//!
//! then call [`run_suite`] from a test. It runs every check with sessions in the cookie, in a
//! `MemoryStore`, and (with the `redis` and `memcached` features, on by default) in a real
//! `redis-server`, a three-node Redis Cluster and `memcached`, started for the run:
//!
//! ```no_run
//! use session_core::SessionConfig;
//! use session_testing::adapter::{ConformanceApp, TestServer};
//!
//! struct MyFramework;
//!
//! impl ConformanceApp for MyFramework {
//!     fn name(&self) -> &'static str {
//!         "my-framework"
//!     }
//!     fn missing_middleware_hint(&self) -> Option<&'static str> {
//!         Some("MySessionMiddleware::<ConformanceSession>")
//!     }
//!     fn start(&self, config: Option<SessionConfig>) -> TestServer {
//!         let listener = session_testing::adapter::bind();
//!         let addr = listener.local_addr().expect("an address");
//!         // ... serve the routes on `listener` on a thread of its own, with the middleware
//!         // built from `config` (without it when `config` is `None`) ...
//!         TestServer::new(addr, move || { /* stop the server */ })
//!     }
//! }
//!
//! #[test]
//! fn my_framework_keeps_the_adapter_contract() {
//!     session_testing::adapter::run_suite(&MyFramework);
//! }
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use session_core::{CsrfToken, Expiring, Flash, SessionConfig, SessionData};

use crate::http::{self, Answer};
use crate::report::Report;

mod checks;
mod fixture;

pub use self::fixture::Backend;

/// The session every conformance app's handlers take.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "conformance")]
pub struct ConformanceSession {
    /// Counted by `/write`.
    pub counter: u64,
    /// Set by `/sudo/set`, for 5 minutes.
    #[session(expires_in = "5m")]
    pub sudo: Expiring<bool>,
    /// Set by `/flash/set`, taken by `/flash`.
    #[session(flash)]
    pub notice: Flash<String>,
    /// A synchronizer token (`GET /csrf` issues one, `POST /csrf` verifies it).
    pub csrf: CsrfToken,
}

/// An app serving the conformance routes (see the [module docs](self)) with an adapter.
pub trait ConformanceApp: Sync {
    /// The adapter's name, in the suite's messages.
    fn name(&self) -> &'static str;

    /// Text the body of the answer must contain when the middleware is missing (it names the
    /// fix), or `None` when the framework renders that failure with a page of its own.
    fn missing_middleware_hint(&self) -> Option<&'static str>;

    /// Starts the app on a free loopback port (see [`bind`]) with the session middleware
    /// built from `config`, or without the middleware when `config` is `None`. Returns once
    /// the port accepts connections; the server stops when the [`TestServer`] is dropped.
    fn start(&self, config: Option<SessionConfig>) -> TestServer;
}

/// A listener on a free loopback port, for [`ConformanceApp::start`]: binding before the
/// server thread starts leaves no window for another process to take the port.
///
/// # Panics
/// When no loopback port can be bound.
pub fn bind() -> std::net::TcpListener {
    std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free loopback port")
}

/// A running conformance app; stops when dropped.
pub struct TestServer {
    base: String,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// A server listening on `addr`; `stop` shuts it down.
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            base: format!("http://{addr}"),
            stop: Some(Box::new(stop)),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`, with an optional `Cookie` header.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        http::send(&self.base, "GET", path, cookie)
    }

    /// `POST path`, with an optional `Cookie` header.
    pub fn post(&self, path: &str, cookie: Option<&str>) -> Answer {
        http::send(&self.base, "POST", path, cookie)
    }

    /// Sends `method path` with an optional `Cookie` and more headers.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        http::send_with(&self.base, method, path, cookie, headers)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// Runs every check against `app` on every [`Backend`], then panics with the list of the
/// checks that failed, if any. Checks whose server is not installed are skipped (failing
/// under CI); the summary on stderr says how many and why.
///
/// # Panics
/// When a check failed.
pub fn run_suite(app: &dyn ConformanceApp) {
    run_suite_on(app, Backend::ALL);
}

/// [`run_suite`] on the given backends only.
///
/// # Panics
/// When a check failed.
pub fn run_suite_on(app: &dyn ConformanceApp, backends: &[Backend]) {
    let mut report = Report::new(app.name());
    for &backend in backends {
        let unavailable = backend.unavailable();
        let _servers = unavailable
            .is_none()
            .then(|| fixture::SuiteServers::start(backend));
        for (name, check) in checks::PER_BACKEND {
            let label = format!("{backend:?}: {name}");
            match &unavailable {
                Some(reason) => report.skip(&label, reason),
                None => report.run(&label, || check(app, backend)),
            }
        }
        if backend.has_server() {
            let label = format!("{backend:?}: {}", checks::OUTAGE.0);
            match &unavailable {
                Some(reason) => report.skip(&label, reason),
                None => report.run(&label, || (checks::OUTAGE.1)(app, backend)),
            }
        }
    }
    for (name, check, backend) in checks::ONCE {
        report.run(name, || check(app, *backend));
    }
    report.finish();
}

/// Checks that every app reads the sessions every other app wrote, with the same keys: cookies
/// on the cookie backend, records on the store backends.
///
/// # Panics
/// When an app refused another's session.
pub fn run_interop_suite(apps: &[&dyn ConformanceApp]) {
    let names: Vec<_> = apps.iter().map(|a| a.name()).collect();
    let mut report = Report::new(format!("interoperation of {}", names.join(", ")));
    for &backend in Backend::ALL {
        let label = format!("{backend:?}: sessions interoperate");
        match backend.unavailable() {
            Some(reason) => report.skip(&label, &reason),
            None => report.run(&label, || checks::interoperate(apps, backend)),
        }
    }
    report.finish();
}
