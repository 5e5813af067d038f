//! Known-answer vectors for the wire formats: literal tokens (signed, encrypted, from the older
//! key, under another cookie name and purpose, a store-mode id), a literal store record and
//! literal schema fingerprints, all made once by session-core 0.1.0 from the fixed keys, clock
//! and data below. Every other token test mints and verifies with the same build; these pin
//! what browsers and stores already hold.
//!
//! **These literals are never regenerated to make a test pass.** A deliberate change of the
//! token format bumps its format version (the first byte), a change of the record layout or of
//! a schema's shape bumps the version it carries, and this version must keep reading every
//! vector here (add the new format's vectors beside them). A failure here means sessions in
//! browsers or stores would be refused or misread after an upgrade.
//!
//! `cargo test -p session-core --test known_answers -- --ignored --nocapture print_vectors`
//! prints the vectors the current code writes, to add those of a *new* format.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use session_core::session::Reissue;
use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreFuture};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{
    CookieSettings, Expiring, Flash, Keyring, LoadStatus, ManualClock, Rejection, SessionConfig,
    SessionData, SessionHandle, SessionManager,
};

/// The signing key, `k2`.
const KEY_K2: &str = "MW83eep1-ogceSExLyyJUpfTLCLAlvEXYl3ywAiZQBw";
/// The older key, `k1`, still verifying.
const KEY_K1: &str = "6g_aj6kvhmwWumX3JxnQw1k6nfY8_IVs2wf68zvkhIM";
/// 2026-11-24 12:00:00 UTC: when every vector was written.
const NOW: i64 = 1_795_521_600;

// ---- schemas -------------------------------------------------------------------------------

/// A plain struct, no special fields.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "plain")]
struct Plain {
    user_id: Option<u64>,
    name: String,
    roles: Vec<String>,
}

/// Version 1 of `app`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "app")]
struct AppV1 {
    user: Option<String>,
    visits: u32,
}

/// Version 2 of `app`: an expiring field, a flash field, migrated from version 1.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "app", version = 2, migrate_from = AppV1)]
struct AppV2 {
    user: Option<String>,
    visits: u64,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash)]
    notice: Flash<String>,
    roles: Vec<String>,
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

fn plain_sample() -> Plain {
    Plain {
        user_id: Some(42),
        name: "alice".into(),
        roles: vec!["admin".into(), "editor".into()],
    }
}

fn v1_sample() -> AppV1 {
    AppV1 {
        user: Some("bob".into()),
        visits: 3,
    }
}

fn v2_sample() -> AppV2 {
    let mut value = AppV2 {
        user: Some("alice".into()),
        visits: 7,
        roles: vec!["admin".into()],
        ..AppV2::default()
    };
    value.sudo.set(true);
    value.notice.set("Welcome back".into());
    value
}

/// What an `AppV2` holds, values only (`Expiring`'s `==` also compares its deadline and
/// write mark, which a loaded value has and a fresh one has not).
fn values(v: &AppV2) -> (Option<&str>, u64, Option<bool>, Option<&str>, &[String]) {
    (
        v.user.as_deref(),
        v.visits,
        v.sudo.get().copied(),
        v.notice.peek().map(String::as_str),
        &v.roles,
    )
}

// ---- the vectors ---------------------------------------------------------------------------

/// `SCHEMA.fingerprint_hex()` of each struct above.
const FINGERPRINTS: [(&str, &str); 3] = [
    ("Plain", "7bd1ecbd"),
    ("AppV1", "2983b4c6"),
    ("AppV2", "d769b344"),
];

/// `AppV2` sample, signed by `k2`, cookie `session`, written at `NOW`.
const SIGNED_V2: &str = "AQJrMgDeA2FwcAJEs2nXwPiV2AYAgKMFAQCsAgEFYWxpY2UHAQEBDFdlbGNvbWUgYmFjawEFYWRtaW5qjuhtC4YTqt-MA1ZPYUwE";
/// The same session, encrypted (AES-256-GCM-SIV; the nonce was random).
const ENCRYPTED_V2: &str = "AQJrMgHeA2FwcAJEs2nXwPiV2AYAgKMFAQCsAoCMXEMcbA0aeDUYoJei4I_qXf_ofvI2VwzjxY1rgtbZnJ74udbvhrx3fbeKxl075qasxO-d0eCOgL1Yu_6dlN8Wq-WPebI2xDCBOQ";
/// `AppV1` sample, signed by `k2`: loads as `AppV2` through the migration.
const SIGNED_V1: &str = "AQJrMgDeA2FwcAHGtIMpwPiV2AYAgKMFAAEDYm9iAz7kWQiFbAy6nvuFskzD4XE";
/// `Plain` sample, signed by the older key `k1` (when it was the signing key).
const SIGNED_BY_K1: &str =
    "AQJrMQDeBXBsYWluAb3s0XvA-JXYBgCAowUAASoFYWxpY2UCBWFkbWluBmVkaXRvcvdHSpymzXyZ_75lE6RnjCU";
/// `Plain` sample, cookie `__Host-s`, application purpose `shop`: binds both.
const SIGNED_HOST_SHOP: &str =
    "AQJrMgBvBXBsYWluAb3s0XvA-JXYBgCAowUAASoFYWxpY2UCBWFkbWluBmVkaXRvcg6zyHEI3ctHXSdGeT1W-yY";
/// The postcard payload of the `AppV2` sample (what `inspect` shows, also when encrypted).
const V2_PAYLOAD_HEX: &str = "0105616c696365070101010c57656c636f6d65206261636b010561646d696e";

/// Store mode: the cookie of an `AppV2` session with user key `user-42`, written at `NOW`.
const STORE_COOKIE: &str = "AQJrMgDeA2FwcABST1RTwPiV2AYAgKMFAGYBK3gdQeZuYgdq-NFi4qC1ARRuZytB683WAkqeivdw0VKeVsPuxxK0fi3ga3G2lQ";
/// The key its record lives under (SHA-256 of the session id the cookie carries).
const STORE_RECORD_KEY: &str = "06f75e385951adc09200b89862f1b336ad041d1a679b1cda548bb2858ad33305";
/// The record that save wrote, field by field (hex values).
const STORE_RECORD: &[(&str, &str)] = &[
    (
        "@meta",
        "0361707002c4e6a6bb0d80f1abb00d0107757365722d343205047573657206766973697473047375646f066e6f7469636505726f6c6573",
    ),
    ("user", "0105616c696365"),
    ("visits", "07"),
    ("sudo", "0101"),
    ("notice", "010c57656c636f6d65206261636b"),
    ("roles", "010561646d696e"),
    ("@deadline:0", "d8f5abb00d"),
];
/// When the record expires: the idle timeout (30 minutes) after `NOW`.
const STORE_RECORD_EXPIRES: i64 = 1795523400;
/// A record of `AppV1` (no user): loads as `AppV2` through the migration.
const STORE_RECORD_V1: &[(&str, &str)] = &[
    (
        "@meta",
        "0361707001c6e98ecc0280f1abb00d0002047573657206766973697473",
    ),
    ("user", "0103626f62"),
    ("visits", "03"),
];

// ---- fixtures ------------------------------------------------------------------------------

fn keyring() -> Keyring {
    Keyring::parse("known answers", &format!("k2:{KEY_K2},k1:{KEY_K1}")).expect("valid keys")
}

fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(NOW).expect("valid time"))
}

fn config() -> SessionConfig {
    SessionConfig::new(keyring()).clock(clock())
}

fn manager(config: SessionConfig) -> SessionManager {
    SessionManager::new(config).expect("valid config")
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).expect("valid time")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load<T: SessionData>(manager: &SessionManager, token: &str) -> SessionHandle<T> {
    let header = format!("session={token}");
    pollster::block_on(manager.load::<T>([header.as_str()])).expect("loads")
}

fn mint<T: SessionData>(manager: &SessionManager, data: T) -> String {
    let mut handle = pollster::block_on(manager.load::<T>([])).expect("loads");
    *handle.data_mut() = data;
    pollster::block_on(manager.save(&mut handle))
        .expect("saves")
        .expect("changed, so a cookie")
        .value()
        .to_owned()
}

/// A store that keeps records in a map and records every write, with no expiry of its own
/// (the vectors were written at a fixed time; `MemoryStore` expires by the wall clock).
#[derive(Debug, Default)]
struct RecordingStore {
    records: Mutex<BTreeMap<RecordKey, Fields>>,
    writes: Mutex<Vec<Written>>,
    loads: Mutex<Vec<RecordKey>>,
}

/// One write as the store got it: key, `create`, fields set, fields removed, expiry.
type Written = (RecordKey, bool, Fields, Vec<String>, OffsetDateTime);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RecordingStore {
    fn with_record(key: RecordKey, fields: &[(&str, &str)]) -> Arc<Self> {
        let store = Self::default();
        let fields = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), unhex(value)))
            .collect();
        lock(&store.records).insert(key, fields);
        Arc::new(store)
    }
}

impl SessionStore for RecordingStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        Box::pin(async move {
            lock(&self.loads).push(*key);
            Ok(lock(&self.records).get(key).cloned())
        })
    }

    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let set: Fields = write.set.iter().copied().collect();
            let remove = write.remove.iter().map(|n| (*n).to_owned()).collect();
            lock(&self.writes).push((*key, write.create, set.clone(), remove, write.expires_at));
            let mut records = lock(&self.records);
            if write.create {
                records.insert(*key, Fields::new());
            }
            let Some(fields) = records.get_mut(key) else {
                return Ok(false);
            };
            fields.apply(&write);
            Ok(true)
        })
    }

    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(lock(&self.records).remove(key).is_some()) })
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

fn sorted(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

// ---- schema fingerprints -------------------------------------------------------------------

#[test]
fn schema_fingerprints_are_the_pinned_ones() {
    let actual = [
        ("Plain", Plain::SCHEMA),
        ("AppV1", AppV1::SCHEMA),
        ("AppV2", AppV2::SCHEMA),
    ];
    for ((name, schema), (pinned_name, pinned)) in actual.iter().zip(FINGERPRINTS) {
        assert_eq!(*name, pinned_name);
        assert_eq!(schema.fingerprint_hex(), pinned, "{name}: {schema}");
    }
    session_core::assert_schema!(AppV2, FINGERPRINTS[2].1);
    assert_eq!((AppV2::SCHEMA.name, AppV2::SCHEMA.version), ("app", 2));
}

// ---- tokens --------------------------------------------------------------------------------

#[test]
fn the_signed_token_opens_to_its_header_and_data() {
    let manager = manager(config());
    let info = manager.inspect(SIGNED_V2).expect("verifies");
    assert_eq!(info.format, 1);
    assert_eq!(info.key_id, "k2");
    assert!(info.signed_by_current_key);
    assert!(!info.encrypted);
    assert_eq!(
        (
            info.schema_name.as_str(),
            info.schema_version,
            info.fingerprint
        ),
        ("app", 2, AppV2::SCHEMA.fingerprint)
    );
    assert_eq!(info.issued_at, at(NOW));
    assert_eq!(info.last_active, at(NOW));
    assert_eq!(info.absolute_deadline, at(NOW + 86_400));
    assert_eq!(info.field_deadlines, [(0, at(NOW + 300))]);
    assert_eq!(hex(&info.payload), V2_PAYLOAD_HEX);

    let clock = clock();
    clock.advance(Duration::seconds(10));
    let manager = self::manager(config().clock(clock));
    let handle = load::<AppV2>(&manager, SIGNED_V2);
    assert_eq!(handle.status(), &LoadStatus::Loaded { reissue: None });
    assert_eq!(values(handle.data()), values(&v2_sample()));
    assert_eq!(handle.data().sudo.expires_at(), Some(at(NOW + 300)));
    assert_eq!(handle.issued_at(), Some(at(NOW)));
}

#[test]
fn the_encrypted_token_opens_to_the_same_data() {
    for encrypt in [true, false] {
        let manager = manager(config().encrypt(encrypt));
        let info = manager.inspect(ENCRYPTED_V2).expect("verifies");
        assert!(info.encrypted);
        assert_eq!(hex(&info.payload), V2_PAYLOAD_HEX);
        assert_eq!(info.field_deadlines, [(0, at(NOW + 300))]);
        let handle = load::<AppV2>(&manager, ENCRYPTED_V2);
        let reissue = (!encrypt).then_some(Reissue::EncryptionChanged);
        assert_eq!(handle.status(), &LoadStatus::Loaded { reissue });
        assert_eq!(values(handle.data()), values(&v2_sample()));
    }
}

#[test]
fn a_version_1_token_migrates_to_version_2() {
    let manager = manager(config());
    let info = manager.inspect(SIGNED_V1).expect("verifies");
    assert_eq!((info.schema_name.as_str(), info.schema_version), ("app", 1));
    assert_eq!(info.fingerprint, AppV1::SCHEMA.fingerprint);
    assert_eq!(load::<AppV1>(&manager, SIGNED_V1).data(), &v1_sample());
    let handle = load::<AppV2>(&manager, SIGNED_V1);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::Migrated)
        }
    );
    assert_eq!(values(handle.data()), values(&AppV2::from(v1_sample())));
}

#[test]
fn a_token_of_the_older_key_is_accepted_and_reissued() {
    let manager = manager(config());
    let info = manager.inspect(SIGNED_BY_K1).expect("verifies");
    assert_eq!(info.key_id, "k1");
    assert!(!info.signed_by_current_key);
    let handle = load::<Plain>(&manager, SIGNED_BY_K1);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::RotatedKey)
        }
    );
    assert_eq!(handle.data(), &plain_sample());
    // Under the policy for a compromised old key, the same token is refused.
    let strict =
        self::manager(config().rotation_policy(session_core::RotationPolicy::CurrentKeyOnly));
    assert_eq!(strict.inspect(SIGNED_BY_K1), Err(Rejection::RetiredKey));
}

#[test]
fn cookie_name_and_purpose_are_bound_into_the_token() {
    let host_shop = || {
        config()
            .cookie(CookieSettings::default().name("__Host-s"))
            .purpose("shop")
    };
    let manager = manager(host_shop());
    let header = format!("__Host-s={SIGNED_HOST_SHOP}");
    let handle = pollster::block_on(manager.load::<Plain>([header.as_str()])).expect("loads");
    assert_eq!(handle.status(), &LoadStatus::Loaded { reissue: None });
    assert_eq!(handle.data(), &plain_sample());
    // The default cookie and purpose refuse it, and the other way round.
    let default = self::manager(config());
    assert_eq!(
        default.inspect(SIGNED_HOST_SHOP),
        Err(Rejection::WrongPurpose)
    );
    assert_eq!(
        manager.inspect(SIGNED_V2).map(|_| ()),
        Err(Rejection::WrongPurpose)
    );
}

#[test]
fn an_altered_vector_is_refused() {
    let manager = manager(config());
    let mut altered = SIGNED_V2.to_owned();
    let last = altered.pop().expect("not empty");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(manager.inspect(&altered), Err(Rejection::BadSignature));
}

/// The writer still writes format 1 byte for byte (the signed tokens have no random part). If
/// this fails while the tests above pass, the writer changed on its own: that is a format
/// change, which bumps the format version and adds new vectors; never edit these.
#[test]
fn this_version_writes_the_same_signed_tokens() {
    let manager = manager(config());
    assert_eq!(mint(&manager, v2_sample()), SIGNED_V2);
    assert_eq!(mint(&manager, v1_sample()), SIGNED_V1);
    let host_shop = self::manager(
        config()
            .cookie(CookieSettings::default().name("__Host-s"))
            .purpose("shop"),
    );
    assert_eq!(mint(&host_shop, plain_sample()), SIGNED_HOST_SHOP);
}

// ---- store records -------------------------------------------------------------------------

#[test]
fn the_store_record_loads_under_its_cookie() {
    let key = RecordKey::from_hex(STORE_RECORD_KEY).expect("64 hex digits");
    let store = RecordingStore::with_record(key, STORE_RECORD);
    let clock = clock();
    clock.advance(Duration::seconds(10));
    let manager = manager(config().clock(clock).store(store.clone()));
    let info = manager.inspect(STORE_COOKIE).expect("verifies");
    assert_eq!((info.schema_name.as_str(), info.schema_version), ("app", 0));
    assert_eq!(info.payload.len(), 32, "the session id");
    let handle = load::<AppV2>(&manager, STORE_COOKIE);
    assert_eq!(handle.status(), &LoadStatus::Loaded { reissue: None });
    assert_eq!(*lock(&store.loads), [key], "the record key of the id");
    assert_eq!(values(handle.data()), values(&v2_sample()));
    assert_eq!(handle.data().sudo.expires_at(), Some(at(NOW + 300)));
    assert_eq!(handle.user_key(), Some("user-42"));
    assert_eq!(handle.issued_at(), Some(at(NOW)));
}

#[test]
fn a_version_1_record_migrates_to_version_2() {
    let key = RecordKey::from_hex(STORE_RECORD_KEY).expect("64 hex digits");
    let store = RecordingStore::with_record(key, STORE_RECORD_V1);
    let manager = manager(config().store(store.clone()));
    assert_eq!(load::<AppV1>(&manager, STORE_COOKIE).data(), &v1_sample());
    let handle = load::<AppV2>(&manager, STORE_COOKIE);
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::Migrated)
        }
    );
    assert_eq!(values(handle.data()), values(&AppV2::from(v1_sample())));
}

/// A save writes the same record (the id, and so the cookie and record key, are random).
#[test]
fn this_version_writes_the_same_record() {
    let store = Arc::new(RecordingStore::default());
    let manager = manager(config().store(store.clone()));
    let mut handle = pollster::block_on(manager.load::<AppV2>([])).expect("loads");
    *handle.data_mut() = v2_sample();
    handle.set_user_key("user-42").expect("store mode");
    pollster::block_on(manager.save(&mut handle))
        .expect("saves")
        .expect("a cookie");
    let writes = lock(&store.writes);
    let [(_, create, set, remove, expires_at)] = writes.as_slice() else {
        panic!("one write: {writes:?}");
    };
    assert!(*create && remove.is_empty());
    let written: Vec<(&str, String)> = set.iter().map(|(n, v)| (n, hex(v))).collect();
    let written: Vec<(&str, &str)> = written.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(sorted(&written), sorted(STORE_RECORD));
    assert_eq!(*expires_at, at(STORE_RECORD_EXPIRES));
}

// ---- generation ----------------------------------------------------------------------------

/// Prints the vectors the current code writes (for a new format's vectors; see the top).
#[test]
#[ignore = "prints vectors; run by hand"]
fn print_vectors() {
    let plain = manager(config());
    println!("Plain {}", Plain::SCHEMA.fingerprint_hex());
    println!("AppV1 {}", AppV1::SCHEMA.fingerprint_hex());
    println!("AppV2 {}", AppV2::SCHEMA.fingerprint_hex());
    println!("SIGNED_V2 {}", mint(&plain, v2_sample()));
    println!(
        "ENCRYPTED_V2 {}",
        mint(&manager(config().encrypt(true)), v2_sample())
    );
    println!("SIGNED_V1 {}", mint(&plain, v1_sample()));
    let k1 = Keyring::parse("k1", &format!("k1:{KEY_K1}")).expect("valid");
    let k1 = manager(SessionConfig::new(k1).clock(clock()));
    println!("SIGNED_BY_K1 {}", mint(&k1, plain_sample()));
    let host_shop = manager(
        config()
            .cookie(CookieSettings::default().name("__Host-s"))
            .purpose("shop"),
    );
    println!("SIGNED_HOST_SHOP {}", mint(&host_shop, plain_sample()));
    let payload = plain
        .inspect(&mint(&plain, v2_sample()))
        .expect("valid")
        .payload;
    println!("V2_PAYLOAD_HEX {}", hex(&payload));

    let store = Arc::new(RecordingStore::default());
    let stored = manager(config().store(store.clone()));
    let mut handle = pollster::block_on(stored.load::<AppV2>([])).expect("loads");
    *handle.data_mut() = v2_sample();
    handle.set_user_key("user-42").expect("store mode");
    let cookie = pollster::block_on(stored.save(&mut handle))
        .expect("saves")
        .expect("a cookie");
    println!("STORE_COOKIE {}", cookie.value());
    let writes = lock(&store.writes);
    let (key, _, set, _, expires_at) = &writes[0];
    println!("STORE_RECORD_KEY {}", key.to_hex());
    let fields: Vec<String> = set
        .iter()
        .map(|(n, v)| format!("(\"{n}\", \"{}\")", hex(v)))
        .collect();
    println!("STORE_RECORD {}", fields.join(", "));
    println!("STORE_RECORD_EXPIRES {}", expires_at.unix_timestamp());

    let v1_store = Arc::new(RecordingStore::default());
    let v1 = manager(config().store(v1_store.clone()));
    let mut handle = pollster::block_on(v1.load::<AppV1>([])).expect("loads");
    *handle.data_mut() = v1_sample();
    pollster::block_on(v1.save(&mut handle)).expect("saves");
    let writes = lock(&v1_store.writes);
    let fields: Vec<String> = writes[0]
        .2
        .iter()
        .map(|(n, v)| format!("(\"{n}\", \"{}\")", hex(v)))
        .collect();
    println!("STORE_RECORD_V1 {}", fields.join(", "));
}
