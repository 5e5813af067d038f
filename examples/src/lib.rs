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
//! - `POST /login` with `remember=on`: a persistent cookie (`Max-Age` up to the absolute
//!   timeout); without it, a browser-session cookie.
//! - `GET /api/sessions`: `200 {"sessions":[{"current","created","last_active","user_agent"}]}`,
//!   all of the user's live sessions in store mode, only the current one in cookie mode; `401`
//!   when anonymous. `GET /devices` shows the same list as a page, with "sign out this
//!   device" (`POST /devices/end`, form `session`) and "sign out all other devices"
//!   (`POST /devices/end-others`), both `303` back to `/devices`.
//! - `POST /api/sessions/end-others`: `200 {"ended":N}`, every other session of the user ends
//!   (cookie mode: through the revocation check; `N` is then `null`, as nobody knows how many
//!   cookies there were).
//! - `POST /password` (`new_password`): changes alice's password in this process, `303` to `/`;
//!   every other session of hers is refused from then on, in every mode (cookie mode: through
//!   [`revoked`], the demo's [`SessionConfig::revoke_if`] check), this one goes on.
//! - `GET /metrics`: the session metrics in Prometheus' text format (see [`install_metrics`]).

pub mod hyper_adapter;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use session_core::store::{MemoryStore, RecordKey, StoreError, UserSession};
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
    /// The account's sign-out generation at sign-in: a password change or "sign out all
    /// other devices" moves the account's on, and [`revoked`] then refuses this session.
    /// Appended with a default: sessions written before the field existed stay readable.
    #[session(default)]
    pub signed_in_at_generation: u64,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The "remember me" checkbox: `on` when ticked, absent otherwise.
    #[serde(default)]
    pub remember: Option<String>,
}

impl LoginForm {
    /// Whether "remember me" was ticked.
    pub fn remembers(&self) -> bool {
        self.remember.as_deref() == Some("on")
    }
}

/// The password form's field (`POST /password`).
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// The new password.
    pub new_password: String,
}

/// The "sign out this device" form's field (`POST /devices/end`).
#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    /// The session's key, as the devices page lists it (hex).
    pub session: String,
}

/// The demo account, in this process: its password, and its sign-out generation, which every
/// password change and "sign out all other devices" moves on. A session keeps the generation
/// it was signed in with ([`AppSession::signed_in_at_generation`]); [`revoked`] refuses the
/// ones of an older generation.
struct Account {
    password: String,
    generation: u64,
}

static ACCOUNT: std::sync::Mutex<Account> = std::sync::Mutex::new(Account {
    password: String::new(),
    generation: 0,
});

fn account() -> std::sync::MutexGuard<'static, Account> {
    ACCOUNT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The demo's revocation check ([`SessionConfig::revoke_if`], installed by
/// [`settings_from_env`]): a signed-in session of an older sign-out generation than the
/// account's is revoked. This is what ends alice's other cookie-mode sessions when her password
/// changes; in store mode the same change also deletes their records.
pub fn revoked(session: &AppSession, _issued_at: time::OffsetDateTime) -> bool {
    session.user.is_some() && session.signed_in_at_generation != account().generation
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
        .encrypt(encrypt)
        .revoke_if(revoked);
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

/// Checks the demo account (`alice`, password `wonderland` until changed). Both comparisons
/// always run.
pub fn credentials_valid(form: &LoginForm) -> bool {
    let user_ok = form.username == "alice";
    let account = account();
    let current = if account.password.is_empty() {
        "wonderland"
    } else {
        account.password.as_str()
    };
    let password_ok = form.password == current;
    user_ok & password_ok
}

/// `POST /password`: sets alice's new password and moves her sign-out generation on, so
/// [`revoked`] refuses every session signed in before; `session` (the one that changed it)
/// takes the new generation and goes on. The caller renews it. Answers `Err` with a status and
/// message for an anonymous session (401) or an empty password (400).
pub fn change_password(session: &mut AppSession, form: &PasswordForm) -> Result<(), (u16, Value)> {
    if session.user.is_none() {
        return Err((401, json!({ "user": null })));
    }
    if form.new_password.is_empty() {
        return Err((400, json!({ "error": "new_password must not be empty" })));
    }
    let mut account = account();
    account.password = form.new_password.clone();
    account.generation += 1;
    session.signed_in_at_generation = account.generation;
    Ok(())
}

/// "Sign out all other devices" in cookie mode, where no store knows the other sessions:
/// moves alice's sign-out generation on (so [`revoked`] refuses every other session) and keeps
/// `session` in the new one.
pub fn end_other_cookie_sessions(session: &mut AppSession) {
    let mut account = account();
    account.generation += 1;
    session.signed_in_at_generation = account.generation;
}

/// A coarse device label from a `User-Agent` header, for the devices page: a browser family
/// and a platform ("Firefox on Linux"), never the whole header.
pub fn device_label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        "Another browser"
    };
    let platform = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        "an unknown system"
    };
    format!("{browser} on {platform}")
}

/// One row of the devices list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// This request's session.
    pub current: bool,
    /// When it was signed in (or last renewed), Unix seconds.
    pub created: i64,
    /// When it was last active, Unix seconds.
    pub last_active: i64,
    /// Its device label, when the demo recorded one (store mode).
    pub user_agent: Option<String>,
    /// Its key (hex), for "sign out this device"; `None` in cookie mode.
    pub key: Option<String>,
}

/// The devices of the request's session: `listed` is what `session.sessions_of_user()`
/// answered (store mode), or `NoStore` in cookie mode, where only this session is known,
/// `issued_at` and `last_active` (the session's own). Answers the store's error when it failed.
pub fn devices(
    listed: Result<Vec<UserSession>, StoreError>,
    issued_at: Option<time::OffsetDateTime>,
    last_active: Option<time::OffsetDateTime>,
) -> Result<Vec<Device>, StoreError> {
    match listed {
        Ok(listed) => Ok(listed
            .into_iter()
            .map(|s| Device {
                current: s.current,
                created: s.issued_at.unix_timestamp(),
                last_active: s.last_active.unix_timestamp(),
                user_agent: s.device,
                key: Some(s.key.to_hex()),
            })
            .collect()),
        Err(StoreError::NoStore) => {
            let unix = |t: Option<time::OffsetDateTime>| t.map_or(0, |t| t.unix_timestamp());
            Ok(vec![Device {
                current: true,
                created: unix(issued_at),
                last_active: unix(last_active),
                user_agent: None,
                key: None,
            }])
        }
        Err(error) => Err(error),
    }
}

/// The body of `GET /api/sessions` for a signed-in user.
pub fn devices_json(devices: &[Device]) -> Value {
    let sessions: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "current": d.current,
                "created": d.created,
                "last_active": d.last_active,
                "user_agent": d.user_agent,
            })
        })
        .collect();
    json!({ "sessions": sessions })
}

/// The body of a request that needs a signed-in user and has none: `401 {"user":null}`.
pub fn anonymous() -> (u16, Value) {
    (401, json!({ "user": null }))
}

/// The body of a request whose store failed: `503`.
pub fn store_failed(error: &StoreError) -> (u16, Value) {
    tracing::error!(%error, "the session store failed");
    (503, json!({ "error": "the session store is unavailable" }))
}

/// The record key in a "sign out this device" form, if it is one.
pub fn session_key(form: &EndSessionForm) -> Option<RecordKey> {
    RecordKey::from_hex(form.session.trim())
}

/// The devices page (`GET /devices`).
pub fn devices_page(user: &str, devices: &[Device]) -> String {
    let when = |unix: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    let rows: String = devices
        .iter()
        .map(|d| {
            let action = match (&d.key, d.current) {
                (_, true) => r#"<em class="current">this device</em>"#.to_owned(),
                (Some(key), false) => format!(
                    r#"<form method="post" action="/devices/end"><input type="hidden" name="session" value="{key}"><button type="submit" class="end">Sign out this device</button></form>"#
                ),
                (None, false) => String::new(),
            };
            format!(
                r#"<li class="device"><strong>{label}</strong><br>signed in {created}, last active {active} {action}</li>"#,
                label = escape(d.user_agent.as_deref().unwrap_or("Unnamed device")),
                created = when(d.created),
                active = when(d.last_active),
            )
        })
        .collect();
    let body = format!(
        r#"<h1>Your devices, {user}</h1>
<ul id="devices">{rows}</ul>
<form method="post" action="/devices/end-others"><button type="submit" id="end-others">Sign out all other devices</button></form>
<h2>Change password</h2>
<form method="post" action="/password" id="password-form">
  <label>New password <input name="new_password" id="new_password" type="password" autocomplete="new-password" required></label>
  <button type="submit" id="change-password">Change password</button>
</form>
<p><a href="/">Back</a></p>"#,
        user = escape(user),
    );
    document(&body)
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
/// store mode, recorded the user key (for "log out everywhere") and the device label already.
pub fn log_in(session: &mut AppSession, user: &str) {
    session.user = Some(user.to_owned());
    session.signed_in_at_generation = account().generation;
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
<p><a href="/devices" id="devices-link">Your devices</a></p>
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
  <label class="check"><input type="checkbox" name="remember" id="remember" value="on"> Remember me on this device</label>
  <button type="submit" id="submit">Sign in</button>
</form>
<p class="hint">Demo account: alice / wonderland</p>"#
            )
        }
    };
    document(&body)
}

/// The page around `body`.
fn document(body: &str) -> String {
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
 label.check input {{ display: inline; width: auto; }}
 li.device {{ margin: .8rem 0; }} li.device form {{ display: inline; }}
 button.end {{ background: #6e7781; padding: .2rem .6rem; font-size: .85rem; }}
</style></head>
<body>{body}</body></html>"#
    )
}
