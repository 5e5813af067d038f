//! What the fuzz targets share: fixed keys and clock, the session schemas, managers in each
//! mode, a store that answers what the fuzzer wrote, a token forge, and a byte reader.
//!
//! Everything goes through session-core's public API. The one piece that knows the private
//! token layout is [`forge`]: it signs fuzzer-made header and payload bytes with the fixture's
//! keys, so the fuzzer reaches what the library parses *after* the MAC check. [`Fixture::new`]
//! checks, before any input runs, that the forge re-creates tokens the library minted byte for
//! byte; if the format changes, every target stops at once with a message saying so.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreFuture};
use session_core::time::OffsetDateTime;
use session_core::{
    Expiring, Flash, Keyring, LoadStatus, ManualClock, RotationPolicy, SessionConfig, SessionData,
    SessionHandle, SessionManager,
};

pub mod forge;
pub mod reader;

pub use forge::Forge;
pub use reader::Reader;

/// The signing key (`k2`) and the older verifying key (`k1`) of every fixture, as
/// `SESSION_KEYS` entries. The same as in session-core's known-answer test.
pub const KEY_K2: &str = "MW83eep1-ogceSExLyyJUpfTLCLAlvEXYl3ywAiZQBw";
/// The older key, still accepted (rotation).
pub const KEY_K1: &str = "6g_aj6kvhmwWumX3JxnQw1k6nfY8_IVs2wf68zvkhIM";
/// The fixed time every fixture runs at: 2026-11-24 12:00:00 UTC.
pub const NOW: i64 = 1_795_521_600;

/// Version 1 of the session: what version 2 migrates from.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, session_core::SessionData)]
#[session(name = "app")]
pub struct AppV1 {
    /// Who is logged in.
    pub user: Option<String>,
    /// A counter.
    pub visits: u32,
}

/// Version 2: expiring and flash fields, migrated from [`AppV1`].
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, session_core::SessionData)]
#[session(name = "app", version = 2, migrate_from = AppV1)]
pub struct AppV2 {
    /// Who is logged in.
    pub user: Option<String>,
    /// A counter.
    pub visits: u64,
    /// Recently re-authenticated.
    #[session(expires_in = "5m")]
    pub sudo: Expiring<bool>,
    /// A cart that lives an hour.
    #[session(expires_in = "1h")]
    pub cart: Expiring<Vec<u32>>,
    /// A message shown once.
    #[session(flash)]
    pub notice: Flash<String>,
    /// Roles.
    pub roles: Vec<String>,
}

impl From<AppV1> for AppV2 {
    fn from(old: AppV1) -> Self {
        Self {
            user: old.user,
            visits: u64::from(old.visits),
            ..Self::default()
        }
    }
}

/// A sample of each version, as the seeds and the self-check write them.
pub fn sample_v1() -> AppV1 {
    AppV1 {
        user: Some("alice".into()),
        visits: 3,
    }
}

/// See [`sample_v1`].
pub fn sample_v2() -> AppV2 {
    let mut value = AppV2 {
        user: Some("alice".into()),
        visits: 7,
        roles: vec!["admin".into(), "editor".into()],
        ..AppV2::default()
    };
    value.sudo.set(true);
    value.cart.set(vec![1, 2, 3]);
    value.notice.set("Welcome back".into());
    value
}

/// The keyring `k2` (signs), `k1` (verifies).
pub fn keyring() -> Keyring {
    Keyring::parse("fuzz", &format!("k2:{KEY_K2},k1:{KEY_K1}")).expect("fixture keys are valid")
}

/// The raw bytes of the fixture keys, signing key first.
pub fn key_bytes() -> [Vec<u8>; 2] {
    use base64::Engine as _;
    let decode = |text: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .expect("fixture key is base64")
    };
    [decode(KEY_K2), decode(KEY_K1)]
}

/// A clock standing at [`NOW`].
pub fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(NOW).expect("valid time"))
}

/// A store that serves one record, whatever the key, and applies writes to it like
/// `MemoryStore` does.
#[derive(Debug, Default)]
pub struct FuzzStore {
    inner: Mutex<StoreState>,
}

#[derive(Debug, Default)]
struct StoreState {
    record: Option<Fields>,
}

impl FuzzStore {
    /// Replaces the record every load answers (`None`: no record).
    pub fn put(&self, record: Option<Fields>) {
        let mut state = self.lock();
        state.record = record;
    }

    /// The record as it is now.
    pub fn record(&self) -> Option<Fields> {
        self.lock().record.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionStore for FuzzStore {
    fn load<'a>(&'a self, _key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move { Ok(self.lock().record.clone()) })
    }

    fn save<'a>(&'a self, _key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut state = self.lock();
            if write.create {
                state.record = Some(Fields::new());
            }
            let Some(fields) = state.record.as_mut() else {
                return Ok(false);
            };
            fields.apply(&write);
            Ok(true)
        })
    }

    fn delete<'a>(&'a self, _key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.lock().record.take().is_some()) })
    }

    fn index_add<'a>(
        &'a self,
        _user: &'a str,
        _key: &'a RecordKey,
        _expires_at: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn index_remove<'a>(&'a self, _user: &'a str, _key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn index_members<'a>(&'a self, _user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Runs a future that never waits (every store here answers at once).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a session future waited; the fuzz stores never do"),
    }
}

/// The managers every target uses, all on the fixed clock with the fixture keys.
pub struct Fixture {
    /// Cookie mode, signed only.
    pub plain: SessionManager,
    /// Cookie mode, encrypted.
    pub encrypted: SessionManager,
    /// Cookie mode, tokens of the older key refused.
    pub current_only: SessionManager,
    /// Store mode, over [`Fixture::store`].
    pub stored: SessionManager,
    /// The store behind [`Fixture::stored`].
    pub store: Arc<FuzzStore>,
    /// Signs tokens for the cookie name `session` and no application purpose.
    pub forge: Forge,
    /// A valid store-mode cookie value (its id's record is whatever [`Fixture::store`] holds).
    pub store_cookie: String,
    /// The record the save behind [`Fixture::store_cookie`] wrote ([`sample_v2`]).
    pub store_record: Fields,
    /// A valid cookie-mode value of [`Fixture::plain`] holding [`sample_v2`].
    pub cookie_token: String,
}

impl Fixture {
    /// The fixture of this process, made (and self-checked) on first use.
    pub fn get() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(Fixture::new)
    }

    fn new() -> Self {
        let config = || SessionConfig::new(keyring()).clock(clock());
        let manager = |config: SessionConfig| SessionManager::new(config).expect("valid config");
        let store = Arc::new(FuzzStore::default());
        let stored = manager(config().store(store.clone()));
        // A store-mode session: its cookie stays valid on the fixed clock.
        let mut handle = block_on(stored.load::<AppV2>([])).expect("store answers");
        *handle.data_mut() = sample_v2();
        let store_cookie = block_on(stored.save(&mut handle))
            .expect("saved")
            .expect("a new session sets a cookie")
            .value()
            .to_owned();
        let store_record = store.record().expect("a record was written");
        store.put(None);
        let plain = manager(config());
        let fixture = Self {
            cookie_token: mint(&plain, sample_v2()),
            plain,
            encrypted: manager(config().encrypt(true)),
            current_only: manager(config().rotation_policy(RotationPolicy::CurrentKeyOnly)),
            stored,
            store,
            forge: Forge::new(&key_bytes(), "cookie=session;app="),
            store_cookie,
            store_record,
        };
        fixture.self_check();
        fixture
    }

    /// The forge must re-create, byte for byte, tokens the library minted; otherwise the
    /// targets would fuzz a format the library no longer reads.
    fn self_check(&self) {
        for manager in [&self.plain, &self.encrypted] {
            let token = mint(manager, sample_v2());
            let parts = self
                .forge
                .split(&token)
                .expect("forge out of sync with the token format: cannot split a minted token");
            assert_eq!(
                self.forge.token(&parts),
                token,
                "forge out of sync with the token format: a re-signed token differs"
            );
            let header = forge::WireHeader::decode(&parts.header)
                .expect("forge out of sync with the token format: header");
            assert_eq!(header.schema_version, 2);
        }
    }
}

/// Mints a cookie-mode token holding `data` with `manager`.
pub fn mint<T: SessionData>(manager: &SessionManager, data: T) -> String {
    let mut handle = block_on(manager.load::<T>([])).expect("cookie mode never fails");
    *handle.data_mut() = data;
    block_on(manager.save(&mut handle))
        .expect("saved")
        .expect("changed, so a cookie")
        .value()
        .to_owned()
}

/// Loads `value` as the only session cookie.
pub fn load_value<T: SessionData>(manager: &SessionManager, value: &str) -> SessionHandle<T> {
    let header = format!("session={value}");
    block_on(manager.load::<T>([header.as_str()])).expect("the fuzz store never fails")
}

/// Loads the session of a GET request whose `Cookie` headers are `headers` (raw bytes)
/// through the adapter contract (`RequestSession::lend`, the only public byte path), as every
/// adapter does. Answers how the session loaded.
pub fn lend_status<T: SessionData>(manager: &SessionManager, headers: &[&[u8]]) -> LoadStatus {
    use session_core::adapter::{RequestFacts, RequestSession};
    let facts = RequestFacts::new("GET", "/", |_| None);
    let request =
        RequestSession::<T>::new(manager.clone(), &facts).expect("a GET is never refused");
    let lent = block_on(request.lend(headers.iter().copied())).expect("the store never fails");
    lent.status().clone()
}

/// The postcard bytes of a value, to compare sessions field by field.
pub fn bytes_of<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("serializes")
}

/// Whether a handle holds a loaded session.
pub fn is_loaded<T: SessionData>(handle: &SessionHandle<T>) -> bool {
    matches!(handle.status(), LoadStatus::Loaded { .. })
}

/// Saves a loaded cookie-mode session again (as changed) and checks that the new token loads
/// back to the same data with nothing left to re-issue. Sessions too large for a cookie are
/// skipped.
pub fn check_cookie_round_trip<T: SessionData>(
    manager: &SessionManager,
    mut handle: SessionHandle<T>,
) {
    let before = bytes_of(handle.data());
    let _ = handle.data_mut();
    let saved = match block_on(manager.save(&mut handle)) {
        Ok(Some(set_cookie)) => set_cookie.value().to_owned(),
        Ok(None) => return,
        Err(session_core::SessionError::TooLarge { .. }) => return,
        Err(error) => panic!("a loaded session did not save: {error}"),
    };
    let again = load_value::<T>(manager, &saved);
    assert_eq!(
        again.status(),
        &LoadStatus::Loaded { reissue: None },
        "a token just written does not load back cleanly"
    );
    assert_eq!(
        bytes_of(again.data()),
        before,
        "a token just written loads back to other data"
    );
}
