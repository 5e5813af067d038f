//! Store mode, through `SessionManager`, against every store: the in-process `MemoryStore`,
//! a real `redis-server` and a real `memcached` started on free loopback ports. The stores'
//! own contracts (raw keys, expiry, reconnects) are in `memcached_store.rs` and below.
//!
//! "Two requests at once" is modelled exactly as it happens on a server: both load the
//! session before either saves.

#[path = "support/servers.rs"]
mod servers;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};
use session_core::{
    Expiring, Flash, Key, Keyring, LoadStatus, ManualClock, Rejection, SessionConfig, SessionData,
    SessionError, SessionHandle, SessionManager,
};
use time::{Duration, OffsetDateTime};

use servers::{Kind, Server, runtime};

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "stores")]
struct Profile {
    user: Option<String>,
    // An alias (as a field rename leaves behind) must not disturb the record's field order.
    #[serde(alias = "colour_scheme")]
    theme: String,
    cart: Vec<u32>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash)]
    notice: Flash<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "migrating")]
struct MigV1 {
    user: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "migrating", version = 2, migrate_from = MigV1)]
struct MigV2 {
    user: Option<String>,
    visits: u64,
}

impl From<MigV1> for MigV2 {
    fn from(old: MigV1) -> Self {
        Self {
            user: old.user,
            visits: 100,
        }
    }
}

/// One write as recorded: created?, fields set (sorted), fields removed.
type Write = (bool, Vec<String>, Vec<String>);

/// Records the writes a store receives, then passes them on; can be switched to fail.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn SessionStore>,
    writes: Mutex<Vec<Write>>,
    failing: std::sync::atomic::AtomicBool,
}

impl Recording {
    fn take(&self) -> Vec<Write> {
        std::mem::take(&mut *self.writes.lock().expect("lock"))
    }
    fn fail(&self, on: bool) {
        self.failing.store(on, std::sync::atomic::Ordering::SeqCst);
    }
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            Err(StoreError::unavailable(std::io::Error::other(
                "switched off",
            )))
        } else {
            Ok(())
        }
    }
}

impl SessionStore for Recording {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load(key).await
        })
    }
    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            let mut set: Vec<String> = write.set.iter().map(|(n, _)| (*n).to_owned()).collect();
            set.sort();
            let remove = write.remove.iter().map(|n| (*n).to_owned()).collect();
            self.writes
                .lock()
                .expect("lock")
                .push((write.create, set, remove));
            self.inner.save(key, write).await
        })
    }
    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.inner.delete(key).await
        })
    }
    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.index_add(user, key, expires_at)
    }
    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        self.inner.index_remove(user, key)
    }
    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        self.inner.index_members(user)
    }
}

/// A store to test, and the server behind it (if any).
struct Backend {
    store: Arc<dyn SessionStore>,
    _server: Option<Server>,
    _cluster: Option<servers::Cluster>,
}

fn memory() -> Option<Backend> {
    Some(Backend {
        store: Arc::new(session_core::store::MemoryStore::new(10_000)),
        _server: None,
        _cluster: None,
    })
}

fn redis() -> Option<Backend> {
    let server = servers::start(Kind::Redis)?;
    let store = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &server.url(),
            std::time::Duration::from_millis(500),
        ))
        .expect("connect");
    Some(Backend {
        store: Arc::new(store.with_prefix("test:")),
        _server: Some(server),
        _cluster: None,
    })
}

/// A three-node Redis Cluster: records and user indexes land on different nodes.
fn redis_cluster() -> Option<Backend> {
    let cluster = servers::start_cluster()?;
    let connection = runtime()
        .block_on(async {
            redis::cluster::ClusterClient::builder(cluster.urls())
                .response_timeout(std::time::Duration::from_millis(500))
                .build()?
                .get_async_connection()
                .await
        })
        .expect("cluster connection");
    Some(Backend {
        store: Arc::new(session_store_redis::RedisStore::new(connection)),
        _server: None,
        _cluster: Some(cluster),
    })
}

fn memcached() -> Option<Backend> {
    let server = servers::start(Kind::Memcached)?;
    let store = runtime()
        .block_on(session_store_memcached::MemcachedStore::connect(
            &server.url(),
            std::time::Duration::from_millis(500),
        ))
        .expect("connect");
    Some(Backend {
        store: Arc::new(store),
        _server: Some(server),
        _cluster: None,
    })
}

struct Fx {
    manager: SessionManager,
    clock: ManualClock,
    recording: Arc<Recording>,
    keys: Keyring,
    /// Keeps the server running as long as the fixture.
    _backend: Backend,
}

impl Fx {
    fn new(backend: fn() -> Option<Backend>) -> Option<Self> {
        Self::with(backend, |config| config)
    }

    fn with(
        backend: fn() -> Option<Backend>,
        tweak: impl FnOnce(SessionConfig) -> SessionConfig,
    ) -> Option<Self> {
        let backend = backend()?;
        let recording = Arc::new(Recording {
            inner: Arc::clone(&backend.store),
            writes: Mutex::default(),
            failing: Default::default(),
        });
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let keys = Keyring::new("k1", Key::generate()).expect("ring");
        let config = SessionConfig::new(keys.clone())
            .clock(clock.clone())
            .store(recording.clone());
        let manager = SessionManager::new(tweak(config)).expect("config");
        Some(Self {
            manager,
            clock,
            recording,
            keys,
            _backend: backend,
        })
    }

    fn load<T: SessionData>(&self, token: Option<&str>) -> SessionHandle<T> {
        self.try_load(token).expect("store up")
    }

    fn try_load<T: SessionData>(
        &self,
        token: Option<&str>,
    ) -> Result<SessionHandle<T>, SessionError> {
        let header = token.map(|t| format!("session={t}"));
        runtime().block_on(self.manager.load::<T>(header.as_deref()))
    }

    /// Saves; answers the new token, if a cookie was set (`Some("")` for a removal).
    fn save<T: SessionData>(&self, handle: &mut SessionHandle<T>) -> Option<String> {
        self.try_save(handle).expect("store up")
    }

    fn try_save<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
    ) -> Result<Option<String>, SessionError> {
        runtime()
            .block_on(self.manager.save(handle))
            .map(|c| c.map(|c| c.value().to_owned()))
    }

    /// A logged-in session for `user`; answers its token.
    fn login(&self, user: &str) -> String {
        let mut handle = self.load::<Profile>(None);
        handle.renew();
        handle.set_user_key(user);
        handle.data_mut().user = Some(user.to_owned());
        self.save(&mut handle).expect("a cookie")
    }
}

fn rejection<T: SessionData>(handle: &SessionHandle<T>) -> Option<&Rejection> {
    match handle.status() {
        LoadStatus::Rejected(rejection) => Some(rejection),
        _ => None,
    }
}

fn round_trip_keeps_only_an_id_in_the_cookie(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let mut handle = fx.load::<Profile>(None);
    assert!(
        fx.save(&mut handle).is_none(),
        "an empty session stores nothing"
    );
    assert!(fx.recording.take().is_empty());

    handle.data_mut().cart = (0..2000).collect();
    handle.data_mut().theme = "dark".repeat(500);
    let token = fx.save(&mut handle).expect("a new session sets the cookie");
    assert!(token.len() < 200, "only a signed id: {} bytes", token.len());
    let loaded = fx.load::<Profile>(Some(&token));
    assert_eq!(loaded.data().cart.len(), 2000);
    assert_eq!(loaded.data().theme.len(), 2000);
    assert!(matches!(
        loaded.status(),
        LoadStatus::Loaded { reissue: None }
    ));
}

fn only_changed_fields_are_written(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let writes = fx.recording.take();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].0, "created");
    assert!(writes[0].1.contains(&"@meta".to_owned()) && writes[0].1.contains(&"cart".to_owned()));

    let mut read = fx.load::<Profile>(Some(&token));
    let _ = read.data().user.clone();
    assert_eq!(fx.save(&mut read), None);
    let mut same = fx.load::<Profile>(Some(&token));
    same.data_mut().theme = String::new(); // borrowed mutably, bytes unchanged
    assert_eq!(fx.save(&mut same), None);
    assert!(
        fx.recording.take().is_empty(),
        "reads and no-op writes touch nothing"
    );

    let mut change = fx.load::<Profile>(Some(&token));
    change.data_mut().theme = "dark".into();
    assert_eq!(fx.save(&mut change), None, "the id cookie stays as it is");
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["theme".to_owned()], vec![])]
    );

    fx.clock.advance(Duration::seconds(61));
    let mut refresh = fx.load::<Profile>(Some(&token));
    let refreshed = fx.save(&mut refresh).expect("the idle deadline is pushed");
    assert_ne!(refreshed, token);
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec![], vec![])],
        "a refresh only pushes the record's expiry"
    );
    assert_eq!(fx.load::<Profile>(Some(&refreshed)).data().theme, "dark");
}

fn concurrent_requests_changing_different_fields_both_survive(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().theme = "dark".into();
    second.data_mut().cart.push(42);
    // Both in flight at once on a real store.
    let (a, b) = runtime().block_on(async {
        tokio::join!(fx.manager.save(&mut first), fx.manager.save(&mut second))
    });
    a.expect("saved");
    b.expect("saved");
    let after = fx.load::<Profile>(Some(&token));
    assert_eq!(after.data().theme, "dark");
    assert_eq!(after.data().cart, vec![42]);
    assert_eq!(after.data().user.as_deref(), Some("alice"));
}

fn concurrent_requests_changing_the_same_field_last_write_wins(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let mut first = fx.load::<Profile>(Some(&token));
    let mut second = fx.load::<Profile>(Some(&token));
    first.data_mut().cart.push(1);
    second.data_mut().cart.push(2);
    fx.save(&mut first);
    fx.save(&mut second);
    assert_eq!(
        fx.load::<Profile>(Some(&token)).data().cart,
        vec![2],
        "the whole field is replaced by the later write: no merge, no corruption"
    );
}

fn renew_moves_the_data_and_kills_the_old_id(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let mut anonymous = fx.load::<Profile>(None);
    anonymous.data_mut().cart = vec![7];
    let before_login = fx.save(&mut anonymous).expect("cookie");

    let mut login = fx.load::<Profile>(Some(&before_login));
    login.renew();
    login.data_mut().user = Some("alice".into());
    let after_login = fx.save(&mut login).expect("a new id");
    assert_ne!(after_login, before_login);

    let renewed = fx.load::<Profile>(Some(&after_login));
    assert_eq!(renewed.data().cart, vec![7]);
    assert_eq!(renewed.data().user.as_deref(), Some("alice"));
    let fixated = fx.load::<Profile>(Some(&before_login));
    assert_eq!(rejection(&fixated), Some(&Rejection::UnknownSession));
    assert!(fixated.data().user.is_none());
}

fn logout_deletes_the_record_so_a_copied_cookie_is_refused(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let copied = token.clone();
    let mut handle = fx.load::<Profile>(Some(&token));
    handle.logout();
    assert_eq!(
        fx.save(&mut handle).as_deref(),
        Some(""),
        "a removal cookie"
    );
    let replay = fx.load::<Profile>(Some(&copied));
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
    assert!(replay.data().user.is_none());
}

fn a_write_after_a_concurrent_logout_does_not_resurrect_the_session(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let mut slow = fx.load::<Profile>(Some(&token));
    let mut logout = fx.load::<Profile>(Some(&token));
    logout.logout();
    fx.save(&mut logout);
    slow.data_mut().theme = "dark".into();
    assert_eq!(
        fx.save(&mut slow),
        None,
        "no cookie: not even a removal, which could delete a cookie a concurrent login just set"
    );
    assert!(
        slow.data().user.is_none(),
        "the handle is an empty session now"
    );
    assert_eq!(
        fx.save(&mut slow),
        None,
        "and saving it again writes nothing"
    );
    let replay = fx.load::<Profile>(Some(&token));
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
    let sessions = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("index");
    assert!(sessions.is_empty(), "{sessions:?}");
}

fn log_out_everywhere_ends_every_session_of_the_user(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let laptop = fx.login("alice");
    fx.clock.advance(Duration::seconds(5));
    let phone = fx.login("alice");
    let bob = fx.login("bob");

    let listed = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert!(listed[0].issued_at < listed[1].issued_at, "oldest first");

    let ended = runtime()
        .block_on(fx.manager.end_user_sessions("alice"))
        .expect("end");
    assert_eq!(ended, 2);
    for token in [&laptop, &phone] {
        let handle = fx.load::<Profile>(Some(token));
        assert_eq!(rejection(&handle), Some(&Rejection::UnknownSession));
    }
    assert_eq!(
        fx.load::<Profile>(Some(&bob)).data().user.as_deref(),
        Some("bob")
    );
    assert!(
        runtime()
            .block_on(fx.manager.user_sessions("alice"))
            .expect("list")
            .is_empty()
    );

    // One session of bob's, ended from an "active sessions" page.
    let bob_sessions = runtime()
        .block_on(fx.manager.user_sessions("bob"))
        .expect("list");
    assert!(
        !runtime()
            .block_on(fx.manager.end_session("alice", &bob_sessions[0].key))
            .expect("end"),
        "alice cannot end bob's session with its key"
    );
    assert_eq!(
        fx.load::<Profile>(Some(&bob)).data().user.as_deref(),
        Some("bob")
    );
    assert!(
        runtime()
            .block_on(fx.manager.end_session("bob", &bob_sessions[0].key))
            .expect("end")
    );
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&bob))),
        Some(&Rejection::UnknownSession)
    );
}

fn renewal_keeps_the_user_index_current(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let mut handle = fx.load::<Profile>(Some(&token));
    assert_eq!(handle.user_key(), Some("alice"));
    handle.renew();
    let renewed = fx.save(&mut handle).expect("cookie");
    let listed = runtime()
        .block_on(fx.manager.user_sessions("alice"))
        .expect("list");
    assert_eq!(listed.len(), 1, "the old id left the index: {listed:?}");
    runtime()
        .block_on(fx.manager.end_user_sessions("alice"))
        .expect("end");
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&renewed))),
        Some(&Rejection::UnknownSession)
    );
}

fn expiring_and_flash_fields_work_in_the_store(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let mut handle = fx.load::<Profile>(None);
    handle.data_mut().sudo.set(true);
    handle.data_mut().notice.set("hi".into());
    let token = fx.save(&mut handle).expect("cookie");
    fx.recording.take();

    let mut first = fx.load::<Profile>(Some(&token));
    assert_eq!(first.data_mut().notice.take().as_deref(), Some("hi"));
    fx.save(&mut first);
    assert_eq!(
        fx.recording.take(),
        vec![(false, vec!["notice".to_owned()], vec![])]
    );
    let mut second = fx.load::<Profile>(Some(&token));
    assert_eq!(second.data_mut().notice.take(), None, "read once");
    assert_eq!(second.data().sudo.get(), Some(&true));

    fx.clock.advance(Duration::minutes(6));
    let mut later = fx.load::<Profile>(Some(&token));
    assert_eq!(later.data().sudo.get(), None, "expired after 5 minutes");
    fx.save(&mut later).expect("refresh due");
    let writes = fx.recording.take();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].1, vec!["sudo".to_owned()], "the cleared value");
    assert_eq!(writes[0].2.len(), 1, "its deadline removed: {writes:?}");
}

fn records_from_an_older_schema_are_migrated(b: fn() -> Option<Backend>) {
    let Some(old) = Fx::new(b) else { return };
    let mut handle = old.load::<MigV1>(None);
    handle.data_mut().user = Some("alice".into());
    let token = old.save(&mut handle).expect("cookie");

    // The same store and keys, read by the next version of the app.
    let config = SessionConfig::new(old.keys.clone())
        .clock(old.clock.clone())
        .store(old.recording.clone());
    let new = SessionManager::new(config).expect("config");
    let mut migrated = runtime()
        .block_on(new.load::<MigV2>([format!("session={token}").as_str()]))
        .expect("load");
    assert_eq!(migrated.data().user.as_deref(), Some("alice"));
    assert_eq!(migrated.data().visits, 100);
    assert!(matches!(
        migrated.status(),
        LoadStatus::Loaded {
            reissue: Some(session_core::Reissue::Migrated)
        }
    ));
    old.recording.take();
    runtime().block_on(new.save(&mut migrated)).expect("save");
    let writes = old.recording.take();
    assert!(
        !writes[0].0
            && writes[0].1.contains(&"@meta".to_owned())
            && writes[0].1.contains(&"visits".to_owned()),
        "the record is rewritten whole, if it still exists: {writes:?}"
    );
    let again = runtime()
        .block_on(new.load::<MigV2>([format!("session={token}").as_str()]))
        .expect("load");
    assert!(matches!(
        again.status(),
        LoadStatus::Loaded { reissue: None }
    ));
    assert_eq!(again.data().visits, 100);

    // A migration racing a logout does not bring the record back.
    let mut handle = old.load::<MigV1>(None);
    handle.data_mut().user = Some("bob".into());
    let token = old.save(&mut handle).expect("cookie");
    let header = format!("session={token}");
    let mut migrating = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    let mut logout = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    logout.logout();
    runtime().block_on(new.save(&mut logout)).expect("logout");
    assert_eq!(
        runtime().block_on(new.save(&mut migrating)).expect("save"),
        None
    );
    let replay = runtime()
        .block_on(new.load::<MigV2>([header.as_str()]))
        .expect("load");
    assert_eq!(rejection(&replay), Some(&Rejection::UnknownSession));
}

fn cookie_mode_tokens_are_not_store_ids(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let cookie_mode =
        SessionManager::new(SessionConfig::new(fx.keys.clone()).clock(fx.clock.clone()))
            .expect("config");
    let mut handle = runtime()
        .block_on(cookie_mode.load::<Profile>(None::<&str>))
        .expect("cookie mode");
    handle.data_mut().user = Some("mallory".into());
    let token = runtime()
        .block_on(cookie_mode.save(&mut handle))
        .expect("save")
        .expect("cookie");
    let refused = fx.load::<Profile>(Some(token.value()));
    assert!(matches!(
        rejection(&refused),
        Some(Rejection::SchemaMismatch(
            session_core::SchemaMismatch::SessionMode {
                token_is_store_id: false,
                ..
            }
        ))
    ));

    let store_token = fx.login("alice");
    let refused = runtime()
        .block_on(cookie_mode.load::<Profile>([format!("session={store_token}").as_str()]))
        .expect("cookie mode");
    assert!(matches!(
        rejection(&refused),
        Some(Rejection::SchemaMismatch(
            session_core::SchemaMismatch::SessionMode {
                token_is_store_id: true,
                ..
            }
        ))
    ));
}

fn a_store_outage_is_an_error_never_an_anonymous_session(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    fx.recording.fail(true);
    let error = fx
        .try_load::<Profile>(Some(&token))
        .expect_err("store down");
    assert!(matches!(
        error,
        SessionError::Store(StoreError::Unavailable(_))
    ));
    assert_eq!(error.status_code(), 503);
    // No cookie: nothing to load, nothing to fail.
    assert!(fx.try_load::<Profile>(None).is_ok());
    fx.recording.fail(false);
    let mut handle = fx.load::<Profile>(Some(&token));
    fx.recording.fail(true);
    handle.data_mut().theme = "dark".into();
    let error = fx.try_save(&mut handle).expect_err("store down");
    assert_eq!(error.status_code(), 503);
    fx.recording.fail(false);
    assert_eq!(
        fx.load::<Profile>(Some(&token)).data().theme,
        "",
        "nothing written"
    );
    assert_eq!(
        fx.save(&mut handle),
        None,
        "the same change saves once it is back"
    );
    assert_eq!(fx.load::<Profile>(Some(&token)).data().theme, "dark");
}

fn the_idle_timeout_and_the_absolute_lifetime_still_apply(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    fx.clock.advance(Duration::minutes(31));
    let idle = fx.load::<Profile>(Some(&token));
    assert_eq!(rejection(&idle), Some(&Rejection::ExpiredIdle));

    let Some(fx) = Fx::with(b, |c| {
        c.idle_timeout(None).absolute_timeout(Duration::hours(1))
    }) else {
        return;
    };
    let token = fx.login("alice");
    fx.clock.advance(Duration::minutes(61));
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&token))),
        Some(&Rejection::ExpiredAbsolute)
    );
}

/// A renewal (login) racing a logout must not carry the logged-out session to a new id.
fn a_renewal_racing_a_logout_does_not_revive_the_session(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let token = fx.login("alice");
    let mut renewing = fx.load::<Profile>(Some(&token));
    let mut logout = fx.load::<Profile>(Some(&token));
    logout.logout();
    fx.save(&mut logout);
    renewing.renew();
    assert_eq!(fx.save(&mut renewing), None, "no new id");
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&token))),
        Some(&Rejection::UnknownSession)
    );
    assert!(
        runtime()
            .block_on(fx.manager.user_sessions("alice"))
            .expect("list")
            .is_empty()
    );
}

/// Attaching a user key is a privilege change: a fresh id even without `renew()`.
fn a_user_key_always_comes_with_a_fresh_id(b: fn() -> Option<Backend>) {
    let Some(fx) = Fx::new(b) else { return };
    let mut anonymous = fx.load::<Profile>(None);
    anonymous.data_mut().theme = "dark".into();
    let planted = fx.save(&mut anonymous).expect("cookie");
    let mut login = fx.load::<Profile>(Some(&planted));
    login.set_user_key("alice"); // the application forgot renew()
    login.data_mut().user = Some("alice".into());
    let fresh = fx.save(&mut login).expect("a new id");
    assert_ne!(fresh, planted);
    assert_eq!(
        rejection(&fx.load::<Profile>(Some(&planted))),
        Some(&Rejection::UnknownSession),
        "the planted id is dead"
    );
    let loaded = fx.load::<Profile>(Some(&fresh));
    assert_eq!(loaded.data().theme, "dark");
    assert_eq!(loaded.user_key(), Some("alice"));
}

/// Many sessions at once, each writing in turn: no request fails, no write is lost.
fn many_concurrent_clients_lose_nothing(b: fn() -> Option<Backend>) {
    const CLIENTS: usize = 32;
    const WRITES: u32 = 20;
    let Some(fx) = Fx::new(b) else { return };
    let tokens: Vec<String> = (0..CLIENTS)
        .map(|i| fx.login(&format!("user{i}")))
        .collect();
    let manager = &fx.manager;
    let results = runtime().block_on(async {
        let clients = tokens.iter().map(|token| async move {
            let header = format!("session={token}");
            for i in 0..WRITES {
                let mut handle = manager.load::<Profile>([header.as_str()]).await?;
                handle.data_mut().cart.push(i);
                manager.save(&mut handle).await?;
            }
            Ok::<_, SessionError>(())
        });
        futures_join_all(clients).await
    });
    for result in results {
        result.expect("no request fails");
    }
    for token in &tokens {
        assert_eq!(
            fx.load::<Profile>(Some(token)).data().cart,
            (0..WRITES).collect::<Vec<_>>()
        );
    }
}

/// Runs every future at once on the current task and collects their outputs (the futures
/// borrow the fixture, so they cannot be spawned).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot
                && let std::task::Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *output = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

macro_rules! suite {
    ($name:ident, $backend:path) => {
        mod $name {
            #[test]
            fn round_trip_keeps_only_an_id_in_the_cookie() {
                super::round_trip_keeps_only_an_id_in_the_cookie($backend);
            }
            #[test]
            fn only_changed_fields_are_written() {
                super::only_changed_fields_are_written($backend);
            }
            #[test]
            fn concurrent_requests_changing_different_fields_both_survive() {
                super::concurrent_requests_changing_different_fields_both_survive($backend);
            }
            #[test]
            fn concurrent_requests_changing_the_same_field_last_write_wins() {
                super::concurrent_requests_changing_the_same_field_last_write_wins($backend);
            }
            #[test]
            fn renew_moves_the_data_and_kills_the_old_id() {
                super::renew_moves_the_data_and_kills_the_old_id($backend);
            }
            #[test]
            fn logout_deletes_the_record_so_a_copied_cookie_is_refused() {
                super::logout_deletes_the_record_so_a_copied_cookie_is_refused($backend);
            }
            #[test]
            fn a_write_after_a_concurrent_logout_does_not_resurrect_the_session() {
                super::a_write_after_a_concurrent_logout_does_not_resurrect_the_session($backend);
            }
            #[test]
            fn log_out_everywhere_ends_every_session_of_the_user() {
                super::log_out_everywhere_ends_every_session_of_the_user($backend);
            }
            #[test]
            fn renewal_keeps_the_user_index_current() {
                super::renewal_keeps_the_user_index_current($backend);
            }
            #[test]
            fn expiring_and_flash_fields_work_in_the_store() {
                super::expiring_and_flash_fields_work_in_the_store($backend);
            }
            #[test]
            fn records_from_an_older_schema_are_migrated() {
                super::records_from_an_older_schema_are_migrated($backend);
            }
            #[test]
            fn cookie_mode_tokens_are_not_store_ids() {
                super::cookie_mode_tokens_are_not_store_ids($backend);
            }
            #[test]
            fn a_store_outage_is_an_error_never_an_anonymous_session() {
                super::a_store_outage_is_an_error_never_an_anonymous_session($backend);
            }
            #[test]
            fn a_renewal_racing_a_logout_does_not_revive_the_session() {
                super::a_renewal_racing_a_logout_does_not_revive_the_session($backend);
            }
            #[test]
            fn a_user_key_always_comes_with_a_fresh_id() {
                super::a_user_key_always_comes_with_a_fresh_id($backend);
            }
            #[test]
            fn many_concurrent_clients_lose_nothing() {
                super::many_concurrent_clients_lose_nothing($backend);
            }
            #[test]
            fn the_idle_timeout_and_the_absolute_lifetime_still_apply() {
                super::the_idle_timeout_and_the_absolute_lifetime_still_apply($backend);
            }
        }
    };
}

suite!(memory_store, super::memory);
suite!(redis_store, super::redis);
suite!(memcached_store, super::memcached);
suite!(redis_cluster_store, super::redis_cluster);

/// Records expire in Redis itself: nothing sweeps them.
#[test]
fn redis_expires_records_without_a_sweeper() {
    let Some(server) = servers::start(Kind::Redis) else {
        return;
    };
    let store = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &server.url(),
            std::time::Duration::from_millis(500),
        ))
        .expect("connect");
    let config = SessionConfig::new(Keyring::new("k1", Key::generate()).expect("ring"))
        .idle_timeout(Some(Duration::seconds(2)))
        .refresh_interval(Duration::seconds(1))
        .store(Arc::new(store));
    let manager = SessionManager::new(config).expect("config");
    let mut handle = runtime()
        .block_on(manager.load::<Profile>(None::<&str>))
        .expect("load");
    handle.data_mut().theme = "dark".into();
    runtime().block_on(manager.save(&mut handle)).expect("save");
    let count = || -> i64 {
        let client = redis::Client::open(server.url()).expect("client");
        let mut connection = client.get_connection().expect("connection");
        redis::cmd("DBSIZE").query(&mut connection).expect("dbsize")
    };
    assert_eq!(count(), 1);
    std::thread::sleep(std::time::Duration::from_millis(2600));
    assert_eq!(count(), 0, "Redis dropped the expired record on its own");
}

/// Kill redis-server mid-run: requests fail with a store error (503), nothing panics, and
/// once it is back the same store works again.
#[test]
fn redis_outage_and_recovery() {
    let Some(mut server) = servers::start(Kind::Redis) else {
        return;
    };
    let store = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &server.url(),
            std::time::Duration::from_millis(300),
        ))
        .expect("connect");
    let config = SessionConfig::new(Keyring::new("k1", Key::generate()).expect("ring"))
        .store(Arc::new(store));
    let manager = SessionManager::new(config).expect("config");
    let login = |manager: &SessionManager| -> Result<String, SessionError> {
        runtime().block_on(async {
            let mut handle = manager.load::<Profile>(None::<&str>).await?;
            handle.data_mut().user = Some("alice".into());
            Ok(manager
                .save(&mut handle)
                .await?
                .expect("cookie")
                .value()
                .to_owned())
        })
    };
    let token = login(&manager).expect("up");
    server.kill();
    let header = format!("session={token}");
    let started = std::time::Instant::now();
    let error = runtime()
        .block_on(manager.load::<Profile>([header.as_str()]))
        .expect_err("down");
    assert_eq!(error.status_code(), 503, "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "fails fast"
    );
    assert_eq!(login(&manager).expect_err("down").status_code(), 503);

    server.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let token = loop {
        match login(&manager) {
            Ok(token) => break token,
            Err(error) => {
                assert!(std::time::Instant::now() < deadline, "no recovery: {error}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    let header = format!("session={token}");
    let handle = runtime()
        .block_on(manager.load::<Profile>([header.as_str()]))
        .expect("recovered");
    assert_eq!(handle.data().user.as_deref(), Some("alice"));
}

/// Redis down at start-up: the error names Redis and the URL, hides the password, and reads
/// the same through `Debug` (what `?` in `main` prints).
#[test]
fn an_unreachable_redis_is_named_at_start_up() {
    let port = servers::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let error = runtime()
        .block_on(session_store_redis::RedisStore::connect(
            &url,
            std::time::Duration::from_millis(500),
        ))
        .expect_err("nothing listens there");
    assert!(matches!(error, StoreError::Connect { .. }), "{error}");
    let shown = format!("{error:?}");
    assert_eq!(shown, error.to_string());
    assert!(
        shown.contains(&format!(
            "Redis session store at redis://***@127.0.0.1:{port}"
        )),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}
