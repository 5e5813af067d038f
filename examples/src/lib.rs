//! What the three demo apps share: the session struct, configuration from the environment,
//! the HTML page, and the application logic. Each binary only wires routes to its framework.
//!
//! The HTTP contract (identical in `axum-demo`, `actix-demo`, `rocket-demo`):
//! - `GET /`: login form when anonymous; user, flash, visit count and logout when logged in.
//! - `POST /login` (`username`, `password`; demo account `alice` / `wonderland`): renew, log
//!   in, flash "Welcome, alice", a 5-minute `sudo` flag, `303` to `/`; otherwise `401` + form.
//! - `GET /api/me`: `200 {"user","visits","flash","sudo"}` (visits +1, flash once) or
//!   `401 {"user":null}`.
//! - `GET /api/peek`: `200 {"user":"alice"}` or `401 {"user":null}`; never a `Set-Cookie`.
//! - `POST /logout`: ends the session, `303` to `/` with a removal cookie.
//! - `GET /metrics`: the session metrics in Prometheus' text format (see [`install_metrics`]).

pub mod hyper_adapter;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use session_core::store::{MemoryStore, StoreError};
use session_core::{Expiring, Flash, Keyring, SessionConfig, SessionData, SessionError};
use session_store_memcached::MemcachedStore;
use session_store_redis::RedisStore;
use session_store_sql::{PostgresStore, SqliteStore, Sweeper};
use time::Duration;

/// The demo's session: who is logged in, how often they came, a flash notice, and a flag that
/// they authenticated in the last five minutes.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "demo", version = 1)]
pub struct AppSession {
    /// The logged-in user.
    pub user: Option<String>,
    /// Page views and `/api/me` calls since login.
    pub visits: u64,
    /// Recently authenticated; gone five minutes after login.
    #[session(expires_in = "5m")]
    pub sudo: Expiring<bool>,
    /// A one-time notice.
    #[session(flash)]
    pub notice: Flash<String>,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Settings read from the environment.
#[derive(Debug)]
pub struct DemoSettings {
    /// Session settings.
    pub session: SessionConfig,
    /// The address to listen on (`127.0.0.1:$PORT`, default port 3000).
    pub addr: std::net::SocketAddr,
    /// Where sessions live (`SESSION_STORE`).
    pub store: StoreChoice,
    /// The sweeper of an SQL store, kept for as long as the settings (the demo serves).
    sweeper: std::sync::Mutex<Option<Sweeper>>,
}

/// How often the demos' SQL stores delete expired rows.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// The value of `SESSION_STORE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `cookie` (the default): the whole session in a signed cookie.
    Cookie,
    /// `memory`: in this process (lost on restart).
    Memory,
    /// `redis://host:port`: in Redis (survives restarts of the demo).
    Redis(String),
    /// `memcached://host:port`: in memcached (survives restarts of the demo, not of memcached).
    Memcached(String),
    /// `postgres://...`: in PostgreSQL (tables created at start if missing; survives restarts).
    Postgres(String),
    /// `sqlite://path`: in an SQLite file (created with its tables at start if missing;
    /// survives restarts, no server to run).
    Sqlite(String),
}

impl DemoSettings {
    /// The session settings with the chosen store attached: connects to the store, creates an
    /// SQL store's tables if they are missing and starts its sweeper. Call it on the runtime
    /// that serves requests.
    ///
    /// # Errors
    /// The store cannot be reached: a message naming `SESSION_STORE`, the store and its
    /// address (never a password).
    pub async fn session_config(&self) -> Result<SessionConfig, String> {
        let config = self.session.clone();
        let timeout = std::time::Duration::from_secs(2);
        let unreachable = |e: session_core::store::StoreError| {
            format!("SESSION_STORE: {e}, or use SESSION_STORE=cookie")
        };
        Ok(match &self.store {
            StoreChoice::Cookie => config,
            StoreChoice::Memory => config.store(std::sync::Arc::new(MemoryStore::default())),
            StoreChoice::Redis(url) => {
                let store = RedisStore::connect(url, timeout)
                    .await
                    .map_err(unreachable)?;
                config.store(std::sync::Arc::new(store))
            }
            StoreChoice::Memcached(addr) => {
                let store = MemcachedStore::connect(addr, timeout)
                    .await
                    .map_err(unreachable)?;
                config.store(std::sync::Arc::new(store))
            }
            StoreChoice::Postgres(url) => {
                let store = PostgresStore::connect(url, timeout)
                    .await
                    .map_err(unreachable)?;
                store.migrate().await.map_err(unreachable)?;
                self.keep_sweeper(store.spawn_sweeper(SWEEP_EVERY));
                config.store(std::sync::Arc::new(store))
            }
            StoreChoice::Sqlite(url) => {
                let store = SqliteStore::connect(url, timeout)
                    .await
                    .map_err(unreachable)?;
                store.migrate().await.map_err(unreachable)?;
                self.keep_sweeper(store.spawn_sweeper(SWEEP_EVERY));
                config.store(std::sync::Arc::new(store))
            }
        })
    }

    fn keep_sweeper(&self, sweeper: Sweeper) {
        let mut kept = self
            .sweeper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *kept = Some(sweeper);
    }
}

/// Reads `SESSION_KEYS`, `SESSION_STORE`, `SESSION_IDLE_TIMEOUT_SECS`,
/// `SESSION_ABSOLUTE_TIMEOUT_SECS`, `SESSION_ENCRYPT` and `PORT`.
///
/// # Errors
/// A message naming the variable and how to fix it; the binaries print it and exit non-zero.
pub fn settings_from_env() -> Result<DemoSettings, String> {
    let keys = match Keyring::from_env("SESSION_KEYS") {
        Ok(keys) => keys,
        Err(session_core::KeyringError::MissingVar { .. }) => Keyring::ephemeral_for_development(),
        Err(error) => return Err(error.to_string()),
    };
    let store = match std::env::var("SESSION_STORE").as_deref() {
        Err(_) | Ok("" | "cookie") => StoreChoice::Cookie,
        Ok("memory") => StoreChoice::Memory,
        Ok(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            StoreChoice::Redis(url.to_owned())
        }
        Ok(url) if url.starts_with("memcached://") => {
            StoreChoice::Memcached(url["memcached://".len()..].to_owned())
        }
        Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            StoreChoice::Postgres(url.to_owned())
        }
        Ok(url) if url.starts_with("sqlite://") || url.starts_with("sqlite:") => {
            StoreChoice::Sqlite(url.to_owned())
        }
        Ok(other) => {
            return Err(format!(
                "SESSION_STORE={other:?} is not a store: use cookie (the default), memory, or a redis://host:port, memcached://host:port, postgres://user@host/db or sqlite://path URL"
            ));
        }
    };
    let seconds = |var: &str, default: i64| -> Result<Duration, String> {
        match std::env::var(var) {
            Err(_) => Ok(Duration::seconds(default)),
            Ok(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::seconds)
                .ok_or_else(|| format!("{var} must be a positive number of seconds, got {text:?}")),
        }
    };
    let idle = seconds("SESSION_IDLE_TIMEOUT_SECS", 1800)?;
    let absolute = seconds("SESSION_ABSOLUTE_TIMEOUT_SECS", 86_400)?;
    let encrypt = match std::env::var("SESSION_ENCRYPT").as_deref() {
        Err(_) | Ok("" | "0" | "false") => false,
        Ok("1" | "true") => true,
        Ok(other) => return Err(format!("SESSION_ENCRYPT must be 1 or 0, got {other:?}")),
    };
    let port = match std::env::var("PORT") {
        Err(_) => 3000,
        Ok(text) => text
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
    };
    let session = SessionConfig::new(keys)
        .idle_timeout(Some(idle))
        .absolute_timeout(absolute)
        .refresh_interval(Duration::seconds((idle.whole_seconds() / 10).clamp(1, 60)))
        .encrypt(encrypt);
    session.validate().map_err(|e| e.to_string())?;
    Ok(DemoSettings {
        session,
        addr: ([127, 0, 0, 1], port).into(),
        store,
        sweeper: std::sync::Mutex::new(None),
    })
}

/// Sets up logging (`RUST_LOG` overrides the default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

/// The `Content-Type` of `GET /metrics`: Prometheus' text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The buckets of the store latency histogram (`session_store_seconds`), in seconds: from a
/// memory store's microseconds to a remote store's timeout.
const STORE_SECONDS_BUCKETS: [f64; 12] = [
    0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// How often the recorder folds recorded latencies into its histograms between scrapes.
const METRICS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process's metrics recorder (Prometheus, rendered by the demo's own
/// `GET /metrics` route, no listener of its own) and answers the handle that renders it.
/// Call it before the session layer is built, so the session metrics' descriptions reach it.
/// A thread folds recorded latencies into the histograms every few seconds, so memory stays
/// bounded even when nobody scrapes.
///
/// # Errors
/// A recorder is installed already.
pub fn install_metrics() -> Result<metrics_exporter_prometheus::PrometheusHandle, String> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("session_store_seconds".to_owned()),
            &STORE_SECONDS_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
    Ok(handle)
}

/// Prints a start-up error and exits with status 2 (no panic, no backtrace).
pub fn exit_with(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// Checks the demo account. Both comparisons always run.
pub fn credentials_valid(form: &LoginForm) -> bool {
    let user_ok = form.username == "alice";
    let password_ok = form.password == "wonderland";
    user_ok & password_ok
}

/// Takes the answer of `session.set_user_key(..)` at login. In store mode the user key goes
/// into the per-user index ("log out everywhere"); in cookie mode (`SESSION_STORE=cookie`)
/// there is no index, `set_user_key` answers [`StoreError::NoStore`], and the demo logs in
/// without one. `set_user_key` fails in no other way; should it ever, the error is logged and
/// the login goes on.
pub fn ignore_no_store(set_user_key: Result<(), SessionError>) {
    match set_user_key {
        Ok(()) | Err(SessionError::Store(StoreError::NoStore)) => {}
        Err(error) => tracing::warn!(%error, "the user key was not recorded"),
    }
}

/// Logs `user` in: the caller has renewed the session (a fresh id in store mode) and, in
/// store mode, recorded the user key (for "log out everywhere") already.
pub fn log_in(session: &mut AppSession, user: &str) {
    session.user = Some(user.to_owned());
    session.visits = 0;
    session.notice.set(format!("Welcome, {user}"));
    session.sudo.set(true);
}

/// The body of `GET /`: counts the visit and shows the flash once when logged in.
pub fn home_page(session: &mut AppSession) -> String {
    match session.user.clone() {
        Some(user) => {
            session.visits += 1;
            let flash = session.notice.take();
            page(
                Some(&user),
                flash.as_deref(),
                session.visits,
                session.sudo.get().is_some(),
                None,
            )
        }
        None => page(None, None, 0, false, None),
    }
}

/// The body of a failed login: the form with an error.
pub fn login_failed_page() -> String {
    page(None, None, 0, false, Some("Wrong user name or password."))
}

/// The status and body of `GET /api/me`: 200 with the user (counting the visit and taking the
/// flash), or 401 `{"user":null}` when nobody is logged in.
pub fn me(session: &mut AppSession) -> (u16, Value) {
    match session.user.clone() {
        Some(user) => {
            session.visits += 1;
            let flash = session.notice.take();
            let sudo = session.sudo.get().copied().unwrap_or(false);
            (
                200,
                json!({ "user": user, "visits": session.visits, "flash": flash, "sudo": sudo }),
            )
        }
        None => (401, json!({ "user": null })),
    }
}

/// The body and status of `GET /api/peek`.
pub fn peek(session: &AppSession) -> (u16, Value) {
    match &session.user {
        Some(user) => (200, json!({ "user": user })),
        None => (401, json!({ "user": null })),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The one HTML template all three demos render.
pub fn page(
    user: Option<&str>,
    flash: Option<&str>,
    visits: u64,
    sudo: bool,
    error: Option<&str>,
) -> String {
    let body = match user {
        Some(user) => {
            let flash = flash
                .map(|f| {
                    format!(
                        r#"<div class="flash" role="status" id="flash">{}</div>"#,
                        escape(f)
                    )
                })
                .unwrap_or_default();
            let sudo = if sudo {
                r#"<span class="badge" id="sudo">recently signed in</span>"#
            } else {
                ""
            };
            format!(
                r#"{flash}
<h1 id="greeting">Hello, {user}</h1> {sudo}
<p>You have visited <strong id="visits">{visits}</strong> time{plural} this session.</p>
<form method="post" action="/logout"><button type="submit" id="logout">Log out</button></form>"#,
                user = escape(user),
                plural = if visits == 1 { "" } else { "s" },
            )
        }
        None => {
            let error = error
                .map(|e| {
                    format!(
                        r#"<div class="error" role="alert" id="error">{}</div>"#,
                        escape(e)
                    )
                })
                .unwrap_or_default();
            format!(
                r#"<h1>Sign in</h1>{error}
<form method="post" action="/login" id="login-form">
  <label>User name <input name="username" id="username" autocomplete="username" required></label>
  <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
  <button type="submit" id="submit">Sign in</button>
</form>
<p class="hint">Demo account: alice / wonderland</p>"#
            )
        }
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>typed-sessions demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #1f2328; }}
 h1 {{ font-size: 1.6rem; }} label {{ display: block; margin: .8rem 0; }}
 input {{ display: block; width: 100%; padding: .5rem; margin-top: .3rem; border: 1px solid #d0d7de; border-radius: 6px; }}
 button {{ padding: .5rem 1.2rem; border: 0; border-radius: 6px; background: #1f6feb; color: white; font-size: 1rem; cursor: pointer; }}
 .flash {{ background: #dafbe1; border: 1px solid #4ac26b; padding: .6rem .8rem; border-radius: 6px; }}
 .error {{ background: #ffebe9; border: 1px solid #ff8182; padding: .6rem .8rem; border-radius: 6px; }}
 .badge {{ background: #fff8c5; border: 1px solid #d4a72c; border-radius: 1rem; padding: .1rem .6rem; font-size: .8rem; }}
 .hint {{ color: #656d76; font-size: .9rem; }}
</style></head>
<body>{body}</body></html>"#
    )
}
