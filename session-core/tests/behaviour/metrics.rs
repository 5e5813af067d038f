//! The `metrics` feature: each session event moves its metric, recorded by a recorder local
//! to the test's thread (`metrics::with_local_recorder`), so tests do not share one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use session_core::store::{
    Fields, MemoryStore, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture,
};
use session_core::{LoadStatus, SessionConfig, SessionError, SessionHandle, SessionManager};

use crate::support::*;

/// Keeps every counter and histogram it is handed, by `name{label=value,...}`.
#[derive(Debug, Default)]
struct TestRecorder {
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
    described: Mutex<Vec<(String, Option<Unit>)>>,
}

#[derive(Debug, Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().expect("samples").push(value);
    }
}

struct Count(Arc<AtomicU64>);

impl CounterFn for Count {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

fn id(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        let entry = (key.as_str().to_owned(), unit);
        self.described.lock().expect("described").push(entry);
    }
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        let entry = (key.as_str().to_owned(), unit);
        self.described.lock().expect("described").push(entry);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.counters.lock().expect("counters");
        let value = counters.entry(id(key)).or_default();
        Counter::from_arc(Arc::new(Count(Arc::clone(value))))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut histograms = self.histograms.lock().expect("histograms");
        Histogram::from_arc(Arc::clone(histograms.entry(id(key)).or_default()))
    }
}

impl TestRecorder {
    /// Every counter that is not zero.
    fn counters(&self) -> BTreeMap<String, u64> {
        self.counters
            .lock()
            .expect("counters")
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    /// The samples of a histogram (empty when it was never recorded).
    fn samples(&self, id: &str) -> Vec<f64> {
        self.histograms
            .lock()
            .expect("histograms")
            .get(id)
            .map(|s| s.0.lock().expect("samples").clone())
            .unwrap_or_default()
    }

    /// Runs `action` with this recorder for this thread and answers the counters it moved.
    fn moved(&self, action: impl FnOnce()) -> BTreeMap<String, u64> {
        let before = self.counters();
        metrics::with_local_recorder(self, action);
        let mut after = self.counters();
        after.retain(|name, value| {
            *value -= before.get(name).copied().unwrap_or(0);
            *value > 0
        });
        after
    }
}

fn counts(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn cookie_manager() -> SessionManager {
    let (config, _) = config(&clock());
    manager_with(config)
}

/// A request: loads the session of `cookie` (none: a new visitor), lets `change` act on it,
/// saves it; answers the `Cookie` header for the cookie it set, if it set one.
fn request(
    manager: &SessionManager,
    cookie: Option<&str>,
    change: impl FnOnce(&mut SessionHandle<Typical>),
) -> Option<String> {
    let mut handle = run(manager.load::<Typical>(cookie)).expect("load");
    change(&mut handle);
    save(manager, &mut handle).map(|c| cookie_header(&c))
}

#[test]
fn cookie_mode_counts_created_loaded_renewed_ended_and_each_rejection_by_reason() {
    let manager = cookie_manager();
    let recorder = TestRecorder::default();
    let mut cookie = None;
    let moved = recorder.moved(|| {
        cookie = request(&manager, None, |s| *s.data_mut() = Typical::sample());
    });
    assert_eq!(moved, counts(&[("session_created_total", 1)]));
    let cookie = cookie.expect("a cookie");

    // Loaded and changed: an update of the same session, not a new one.
    let mut updated = None;
    let moved = recorder.moved(|| {
        updated = request(&manager, Some(&cookie), |s| s.data_mut().counter += 1);
    });
    assert_eq!(moved, counts(&[("session_loaded_total", 1)]));
    let cookie = updated.expect("a new token");

    let mut renewed = None;
    let moved = recorder.moved(|| {
        renewed = request(&manager, Some(&cookie), SessionHandle::renew);
    });
    assert_eq!(
        moved,
        counts(&[("session_loaded_total", 1), ("session_renewed_total", 1)])
    );
    let renewed = renewed.expect("a new token");

    let moved = recorder.moved(|| {
        let removal = request(&manager, Some(&renewed), SessionHandle::logout);
        assert!(removal.is_some());
    });
    assert_eq!(
        moved,
        counts(&[
            ("session_loaded_total", 1),
            ("session_ended_total{cause=logout}", 1)
        ])
    );

    // A tampered token: refused with its reason, and nothing loaded.
    let token = cookie.strip_prefix("session=").expect("a session cookie");
    let mut bytes = URL_SAFE_NO_PAD.decode(token).expect("base64");
    let at = bytes.len() - 1;
    bytes[at] ^= 0x01;
    let tampered = format!("session={}", URL_SAFE_NO_PAD.encode(bytes));
    let moved = recorder.moved(|| {
        let handle = run(manager.load::<Typical>([tampered.as_str()])).expect("load");
        assert!(matches!(handle.status(), LoadStatus::Rejected(_)));
    });
    assert_eq!(
        moved,
        counts(&[("session_rejected_total{reason=bad_signature}", 1)])
    );
    let moved = recorder.moved(|| {
        let handle = run(manager.load::<Typical>(["session=AQ"])).expect("load");
        assert!(matches!(handle.status(), LoadStatus::Rejected(_)));
    });
    assert_eq!(
        moved,
        counts(&[("session_rejected_total{reason=malformed}", 1)])
    );

    // A request without a session cookie, and one that only reads: nothing but a load.
    assert!(
        recorder
            .moved(|| assert!(request(&manager, None, |_| {}).is_none()))
            .is_empty()
    );
    let moved = recorder.moved(|| {
        request(&manager, Some(&cookie), |s| {
            let _ = s.data().counter;
        });
    });
    assert_eq!(moved, counts(&[("session_loaded_total", 1)]));
    // Cookie mode calls no store.
    assert!(recorder.histograms.lock().expect("histograms").is_empty());
}

#[test]
fn a_manager_describes_its_metrics_to_the_recorder() {
    let recorder = TestRecorder::default();
    metrics::with_local_recorder(&recorder, || drop(cookie_manager()));
    let described = recorder.described.lock().expect("described").clone();
    let names: Vec<&str> = described.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "session_loaded_total",
        "session_created_total",
        "session_renewed_total",
        "session_ended_total",
        "session_rejected_total",
        "session_store_seconds",
        "session_store_errors_total",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(described.contains(&("session_store_seconds".to_owned(), Some(Unit::Seconds))));
}

/// A [`MemoryStore`] that answers every call with an error while `failing`, and takes at
/// least `delay` for each call.
#[derive(Debug)]
struct FlakyStore {
    inner: MemoryStore,
    failing: AtomicBool,
    delay: Duration,
}

impl FlakyStore {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(100),
            failing: AtomicBool::new(false),
            delay,
        })
    }

    fn call<'a, T: Send + 'a>(&'a self, call: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        Box::pin(async move {
            std::thread::sleep(self.delay);
            if self.failing.load(Ordering::Relaxed) {
                return Err(StoreError::unavailable(std::io::Error::other("down")));
            }
            call.await
        })
    }
}

impl SessionStore for FlakyStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        self.call(self.inner.load(key))
    }
    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        self.call(self.inner.save(key, write))
    }
    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        self.call(self.inner.delete(key))
    }
    fn index_add<'a>(
        &'a self,
        user: &'a str,
        key: &'a RecordKey,
        expires_at: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.call(self.inner.index_add(user, key, expires_at))
    }
    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        self.call(self.inner.index_remove(user, key))
    }
    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        self.call(self.inner.index_members(user))
    }
    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        self.call(self.inner.index_generation(user))
    }
    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.call(
            self.inner
                .index_set_generation(user, generation, keep_until),
        )
    }
}

/// A manager on the system clock: the store expires records by it.
fn store_manager(store: Arc<dyn SessionStore>) -> SessionManager {
    init_tracing();
    let config = SessionConfig::new(ring(&[("k1", &keys(1)[0])]));
    manager_with(config.store(store))
}

#[test]
fn store_mode_counts_the_lifecycle_and_times_every_store_call_by_operation() {
    let store = FlakyStore::new(Duration::ZERO);
    let manager = store_manager(store.clone());
    let recorder = TestRecorder::default();

    let mut cookie = None;
    let moved = recorder.moved(|| {
        cookie = request(&manager, None, |s| {
            *s.data_mut() = Typical::sample();
            s.set_user_key("alice").expect("store mode");
        });
    });
    assert_eq!(moved, counts(&[("session_created_total", 1)]));
    let cookie = cookie.expect("a cookie");
    // The login read the user's generation, added an index entry, wrote the record.
    assert!(
        !recorder
            .samples("session_store_seconds{op=index}")
            .is_empty()
    );
    assert_eq!(recorder.samples("session_store_seconds{op=save}").len(), 1);
    assert!(
        recorder
            .samples("session_store_seconds{op=load}")
            .is_empty()
    );

    let moved = recorder.moved(|| {
        request(&manager, Some(&cookie), |s| s.data_mut().counter += 1);
    });
    assert_eq!(moved, counts(&[("session_loaded_total", 1)]));
    assert_eq!(recorder.samples("session_store_seconds{op=load}").len(), 1);
    assert_eq!(recorder.samples("session_store_seconds{op=save}").len(), 2);

    let mut renewed = None;
    let moved = recorder.moved(|| {
        renewed = request(&manager, Some(&cookie), SessionHandle::renew);
    });
    assert_eq!(
        moved,
        counts(&[("session_loaded_total", 1), ("session_renewed_total", 1)])
    );
    assert_eq!(
        recorder.samples("session_store_seconds{op=delete}").len(),
        1
    );
    let renewed = renewed.expect("a new id");

    // The old id's record is gone: its cookie is refused as an unknown session.
    let moved = recorder.moved(|| {
        run(manager.load::<Typical>([cookie.as_str()])).expect("load");
    });
    assert_eq!(
        moved,
        counts(&[("session_rejected_total{reason=unknown_session}", 1)])
    );

    let moved = recorder.moved(|| {
        assert!(request(&manager, Some(&renewed), SessionHandle::logout).is_some());
    });
    assert_eq!(
        moved,
        counts(&[
            ("session_loaded_total", 1),
            ("session_ended_total{cause=logout}", 1)
        ])
    );

    // Revoked by the application: "log out everywhere" and "sign out this device".
    let moved = recorder.moved(|| {
        for _ in 0..3 {
            request(&manager, None, |s| {
                s.set_user_key("bob").expect("store mode");
            })
            .expect("a login");
        }
        assert_eq!(run(manager.end_user_sessions("bob")).expect("ended"), 3);
        request(&manager, None, |s| {
            s.set_user_key("bob").expect("store mode");
        })
        .expect("a login");
        let listed = run(manager.user_sessions("bob")).expect("listed");
        assert!(run(manager.end_session("bob", &listed[0].key)).expect("ended"));
    });
    assert_eq!(
        moved,
        counts(&[
            ("session_created_total", 4),
            ("session_ended_total{cause=revoked}", 4)
        ])
    );
    assert!(
        recorder
            .counters()
            .keys()
            .all(|k| !k.starts_with("session_store_errors_total")),
        "{:?}",
        recorder.counters()
    );
}

#[test]
fn store_latency_is_measured_around_the_store_call_in_seconds() {
    let store = FlakyStore::new(Duration::from_millis(20));
    let manager = store_manager(store.clone());
    let recorder = TestRecorder::default();
    let cookie = metrics::with_local_recorder(&recorder, || {
        request(&manager, None, |s| *s.data_mut() = Typical::sample())
    })
    .expect("a cookie");
    metrics::with_local_recorder(&recorder, || {
        run(manager.load::<Typical>([cookie.as_str()])).expect("load");
    });
    let loads = recorder.samples("session_store_seconds{op=load}");
    assert_eq!(loads.len(), 1, "{loads:?}");
    // At least the store's 20 ms, well under the seconds a test may take on a busy machine.
    assert!((0.02..10.0).contains(&loads[0]), "{loads:?}");
}

#[test]
fn a_failing_store_counts_its_errors_by_operation() {
    let store = FlakyStore::new(Duration::ZERO);
    let manager = store_manager(store.clone());
    let recorder = TestRecorder::default();
    let cookie = request(&manager, None, |s| {
        *s.data_mut() = Typical::sample();
        s.set_user_key("alice").expect("store mode");
    })
    .expect("a cookie");
    let mut loaded = run(manager.load::<Typical>([cookie.as_str()])).expect("load");
    let mut to_log_out = run(manager.load::<Typical>([cookie.as_str()])).expect("load");
    store.failing.store(true, Ordering::Relaxed);

    let moved = recorder.moved(|| {
        let error = run(manager.load::<Typical>([cookie.as_str()])).expect_err("store down");
        assert!(matches!(error, SessionError::Store(_)), "{error:?}");
    });
    assert_eq!(moved, counts(&[("session_store_errors_total{op=load}", 1)]));
    // The failed call was timed too.
    assert_eq!(recorder.samples("session_store_seconds{op=load}").len(), 1);

    let moved = recorder.moved(|| {
        loaded.data_mut().counter += 1;
        run(manager.save(&mut loaded)).expect_err("store down");
    });
    assert_eq!(moved, counts(&[("session_store_errors_total{op=save}", 1)]));

    let moved = recorder.moved(|| {
        to_log_out.logout();
        run(manager.save(&mut to_log_out)).expect_err("store down");
    });
    assert_eq!(
        moved,
        counts(&[("session_store_errors_total{op=delete}", 1)]),
        "a logout that failed ended nothing"
    );

    let moved = recorder.moved(|| {
        run(manager.user_sessions("alice")).expect_err("store down");
    });
    assert_eq!(
        moved,
        counts(&[("session_store_errors_total{op=index}", 1)])
    );
}

/// A store without the optional per-user index and generations (the trait's defaults).
#[derive(Debug)]
struct NoIndexStore(MemoryStore);

impl SessionStore for NoIndexStore {
    fn load<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<Fields>> {
        self.0.load(key)
    }
    fn save<'a>(&'a self, key: &'a RecordKey, write: RecordWrite<'a>) -> StoreFuture<'a, bool> {
        self.0.save(key, write)
    }
    fn delete<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, bool> {
        self.0.delete(key)
    }
}

#[test]
fn a_store_without_generations_is_not_counted_as_failing_but_a_missing_index_is() {
    let manager = store_manager(Arc::new(NoIndexStore(MemoryStore::new(10))));
    let recorder = TestRecorder::default();
    let moved = recorder.moved(|| {
        // "Log out everywhere" works around a store without generations (it only ends what
        // the index lists), so that answer is no failure; the missing index itself is.
        run(manager.end_user_sessions("alice")).expect_err("no index");
    });
    assert_eq!(
        moved,
        counts(&[("session_store_errors_total{op=index}", 1)])
    );
    assert_eq!(recorder.samples("session_store_seconds{op=index}").len(), 1);
}
