//! The app every adapter serves, the server handle, and a small HTTP client.
//!
//! Routes every conformance app serves:
//! - `GET /write`: counter + 1, answers the counter;
//! - `GET /read`: answers the counter, changes nothing;
//! - `GET /untouched`: never touches the session;
//! - `GET /peek`: answers the counter with `leave_cookie_unchanged()`;
//! - `POST /logout`, `POST /renew`;
//! - `GET /sudo/set`, `GET /sudo`: an `Expiring<bool>` of 5 minutes;
//! - `GET /flash/set`, `GET /flash`: a `Flash<String>` taken on read.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use session_core::store::{MemoryStore, SessionStore};
use session_core::{Expiring, Flash, Key, Keyring, ManualClock, SessionConfig, SessionData};
use session_store_memcached::MemcachedStore;
use session_store_redis::RedisStore;

use crate::servers::{self, Kind, Server};

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "conformance")]
pub(crate) struct ConformanceSession {
    pub(crate) counter: u64,
    #[session(expires_in = "5m")]
    pub(crate) sudo: Expiring<bool>,
    #[session(flash)]
    pub(crate) notice: Flash<String>,
}

/// A running app; stops when dropped.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// How a suite starts an adapter's app.
pub(crate) type Start = fn(SessionConfig) -> TestServer;

/// Where the sessions of a run live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// In the cookie (the default).
    Cookie,
    /// In a `MemoryStore`.
    Memory,
    /// In a real `redis-server`, started for the test.
    Redis,
    /// In a real `memcached`, started for the test.
    Memcached,
}

/// Keys, a manual clock, the store of the backend, and a config built on them.
pub(crate) struct Setup {
    pub(crate) keys: Vec<(String, Key)>,
    pub(crate) clock: ManualClock,
    store: Option<Arc<dyn SessionStore>>,
    server: Option<Server>,
}

impl Setup {
    /// `None` when the backend's server is not installed (outside CI: skipped).
    pub(crate) fn new(backend: Backend) -> Option<Self> {
        let (store, server): (Option<Arc<dyn SessionStore>>, _) = match backend {
            Backend::Cookie => (None, None),
            Backend::Memory => (Some(Arc::new(MemoryStore::new(10_000))), None),
            Backend::Redis => {
                let server = servers::start(Kind::Redis)?;
                let store = servers::runtime()
                    .block_on(RedisStore::connect(
                        &server.url(),
                        std::time::Duration::from_millis(300),
                    ))
                    .expect("connect");
                (Some(Arc::new(store)), Some(server))
            }
            Backend::Memcached => {
                let server = servers::start(Kind::Memcached)?;
                let store = servers::runtime()
                    .block_on(MemcachedStore::connect(
                        &server.url(),
                        std::time::Duration::from_millis(300),
                    ))
                    .expect("connect");
                (Some(Arc::new(store)), Some(server))
            }
        };
        Some(Self {
            keys: vec![("k1".to_owned(), Key::generate())],
            clock: ManualClock::new(time::OffsetDateTime::now_utc()),
            store,
            server,
        })
    }

    /// Whether sessions live in a store.
    pub(crate) fn stored(&self) -> bool {
        self.store.is_some()
    }

    /// Whether the store is a separate server process.
    pub(crate) fn has_server(&self) -> bool {
        self.server.is_some()
    }

    pub(crate) fn kill_store(&mut self) {
        self.server.as_mut().expect("a server").kill();
    }

    pub(crate) fn restart_store(&mut self) {
        self.server.as_mut().expect("a server").restart();
    }

    pub(crate) fn ring(&self) -> Keyring {
        let mut entries = self.keys.iter();
        let (id, key) = entries.next().expect("one key");
        let mut ring = Keyring::new(id, key.clone()).expect("ring");
        for (id, key) in entries {
            ring = ring.with_verifier(id, key.clone()).expect("ring");
        }
        ring
    }

    pub(crate) fn config(&self) -> SessionConfig {
        let config = SessionConfig::new(self.ring()).clock(self.clock.clone());
        match &self.store {
            Some(store) => config.store(Arc::clone(store)),
            None => config,
        }
    }

    /// A manager with the same settings, to inspect tokens the server wrote.
    pub(crate) fn inspector(&self) -> session_core::SessionManager {
        session_core::SessionManager::new(self.config()).expect("config")
    }
}

/// One response, reduced to what the suite looks at.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) set_cookie: Option<String>,
    pub(crate) cache_control: Option<String>,
}

impl Answer {
    /// The `name=value` pair of the Set-Cookie, to send back as a `Cookie` header.
    pub(crate) fn cookie(&self) -> String {
        let header = self.set_cookie.as_deref().expect("a Set-Cookie");
        header.split(';').next().expect("pair").trim().to_owned()
    }

    /// The cookie this answer set, or `previous` when it set none (store mode writes the
    /// record, not the cookie).
    pub(crate) fn cookie_or(&self, previous: &str) -> String {
        match self.set_cookie {
            Some(_) => self.cookie(),
            None => previous.to_owned(),
        }
    }

    /// The token inside the Set-Cookie.
    pub(crate) fn token(&self) -> String {
        self.cookie().split_once('=').expect("pair").1.to_owned()
    }
}

pub(crate) fn client() -> Arc<reqwest::blocking::Client> {
    Arc::new(
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    )
}

pub(crate) fn send(server: &TestServer, method: &str, path: &str, cookie: Option<&str>) -> Answer {
    let client = client();
    let url = format!("{}{path}", server.base);
    let mut request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let set_cookie = header("set-cookie");
    let cache_control = header("cache-control");
    let status = response.status().as_u16();
    Answer {
        status,
        body: response.text().expect("body"),
        set_cookie,
        cache_control,
    }
}

pub(crate) fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> Answer {
    send(server, "GET", path, cookie)
}

pub(crate) fn post(server: &TestServer, path: &str, cookie: Option<&str>) -> Answer {
    send(server, "POST", path, cookie)
}

/// A free loopback port.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// Waits until something accepts connections on `port`.
pub(crate) fn wait_for(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "server on {port} did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
