//! What the store checks run on: the session types, a store wrapper that records writes and
//! can be switched to fail, and a manager over it with a manual clock.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use session_core::store::{Fields, RecordKey, RecordWrite, SessionStore, StoreError, StoreFuture};
use session_core::time::OffsetDateTime;
use session_core::{
    Expiring, Flash, Key, Keyring, ManualClock, SessionConfig, SessionData, SessionError,
    SessionHandle, SessionManager,
};

use super::{Start, StoreUnderTest};
use crate::servers::runtime;

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "stores")]
pub(crate) struct Profile {
    pub(crate) user: Option<String>,
    // An alias (as a field rename leaves behind) must not disturb the record's field order.
    #[serde(alias = "colour_scheme")]
    pub(crate) theme: String,
    pub(crate) cart: Vec<u32>,
    #[session(expires_in = "5m")]
    pub(crate) sudo: Expiring<bool>,
    #[session(flash)]
    pub(crate) notice: Flash<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "migrating")]
pub(crate) struct MigV1 {
    pub(crate) user: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "migrating", version = 2, migrate_from = MigV1)]
pub(crate) struct MigV2 {
    pub(crate) user: Option<String>,
    pub(crate) visits: u64,
}

impl From<MigV1> for MigV2 {
    fn from(old: MigV1) -> Self {
        Self {
            user: old.user,
            visits: 100,
        }
    }
}

/// `MigV2` with fields appended with `#[session(default)]`: the same name and version, so its
/// records stay readable by it.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "migrating", version = 2)]
pub(crate) struct MigV2Appended {
    pub(crate) user: Option<String>,
    pub(crate) visits: u64,
    #[session(default)]
    pub(crate) tags: Vec<String>,
    #[session(default, expires_in = "5m")]
    pub(crate) sudo: Expiring<bool>,
}

/// Sixteen fields, for many requests of one session each changing its own field at once.
#[derive(Debug, Default, Serialize, Deserialize, SessionData)]
#[session(name = "wide")]
pub(crate) struct Wide {
    pub(crate) f0: u32,
    pub(crate) f1: u32,
    pub(crate) f2: u32,
    pub(crate) f3: u32,
    pub(crate) f4: u32,
    pub(crate) f5: u32,
    pub(crate) f6: u32,
    pub(crate) f7: u32,
    pub(crate) f8: u32,
    pub(crate) f9: u32,
    pub(crate) f10: u32,
    pub(crate) f11: u32,
    pub(crate) f12: u32,
    pub(crate) f13: u32,
    pub(crate) f14: u32,
    pub(crate) f15: u32,
}

impl Wide {
    /// Field `i` (0 to 15).
    pub(crate) fn field(&mut self, i: usize) -> &mut u32 {
        let fields = [
            &mut self.f0,
            &mut self.f1,
            &mut self.f2,
            &mut self.f3,
            &mut self.f4,
            &mut self.f5,
            &mut self.f6,
            &mut self.f7,
            &mut self.f8,
            &mut self.f9,
            &mut self.f10,
            &mut self.f11,
            &mut self.f12,
            &mut self.f13,
            &mut self.f14,
            &mut self.f15,
        ];
        fields.into_iter().nth(i).expect("0 to 15")
    }
}

/// One write as recorded: created?, fields set (sorted), fields removed.
pub(crate) type Write = (bool, Vec<String>, Vec<String>);

/// Where a record's expiry or its index entry's deadline was set, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// A write of the record that moves its expiry, with its `expires_at`.
    Record(RecordKey, OffsetDateTime),
    /// An index entry added for the record, with its deadline.
    Index(RecordKey, OffsetDateTime),
}

/// Runs once, just before the next `index_add` reaches the store.
pub(crate) type Hook = Box<dyn FnOnce() -> StoreFuture<'static, ()> + Send>;

/// Records the writes a store receives, then passes them on; can be switched to fail.
pub(crate) struct Recording {
    inner: Arc<dyn SessionStore>,
    writes: Mutex<Vec<Write>>,
    deadlines: Mutex<Vec<Deadline>>,
    before_index_add: Mutex<Option<Hook>>,
    failing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Recording {
    pub(crate) fn take(&self) -> Vec<Write> {
        std::mem::take(&mut *self.writes.lock().expect("lock"))
    }
    pub(crate) fn take_deadlines(&self) -> Vec<Deadline> {
        std::mem::take(&mut *self.deadlines.lock().expect("lock"))
    }
    /// Runs `hook` just before the next `index_add` (the one a login or renewal writes
    /// before its new record), to put another request exactly there.
    pub(crate) fn before_next_index_add(&self, hook: Hook) {
        *self.before_index_add.lock().expect("lock") = Some(hook);
    }
    pub(crate) fn fail(&self, on: bool) {
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
            if write.push_expiry {
                self.deadlines
                    .lock()
                    .expect("lock")
                    .push(Deadline::Record(*key, write.expires_at));
            }
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
        Box::pin(async move {
            let hook = self.before_index_add.lock().expect("lock").take();
            if let Some(hook) = hook {
                hook().await?;
            }
            self.check()?;
            self.deadlines
                .lock()
                .expect("lock")
                .push(Deadline::Index(*key, expires_at));
            self.inner.index_add(user, key, expires_at).await
        })
    }
    fn index_remove<'a>(&'a self, user: &'a str, key: &'a RecordKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.index_remove(user, key).await
        })
    }
    fn index_members<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<RecordKey>> {
        Box::pin(async move {
            self.check()?;
            self.inner.index_members(user).await
        })
    }
    fn index_generation<'a>(&'a self, user: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.inner.index_generation(user).await
        })
    }
    fn index_set_generation<'a>(
        &'a self,
        user: &'a str,
        generation: u64,
        keep_until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner
                .index_set_generation(user, generation, keep_until)
                .await
        })
    }
}

pub(crate) struct Fx {
    pub(crate) manager: SessionManager,
    pub(crate) clock: ManualClock,
    pub(crate) recording: Arc<Recording>,
    pub(crate) keys: Keyring,
    /// Keeps the server running as long as the fixture.
    _target: StoreUnderTest,
}

impl Fx {
    pub(crate) fn new(start: Start<'_>) -> Self {
        Self::with(start, |config| config)
    }

    pub(crate) fn with(
        start: Start<'_>,
        tweak: impl FnOnce(SessionConfig) -> SessionConfig,
    ) -> Self {
        let target = start().expect("the store starts (it did for the first check)");
        Self::build(target, tweak)
    }

    /// A fixture over a store already started.
    pub(crate) fn over(target: StoreUnderTest) -> Self {
        Self::build(target, |config| config)
    }

    fn build(target: StoreUnderTest, tweak: impl FnOnce(SessionConfig) -> SessionConfig) -> Self {
        let recording = Arc::new(Recording {
            inner: Arc::clone(&target.store),
            writes: Mutex::default(),
            deadlines: Mutex::default(),
            before_index_add: Mutex::default(),
            failing: Default::default(),
        });
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let keys = Keyring::new("k1", Key::generate()).expect("ring");
        let config = SessionConfig::new(keys.clone())
            .clock(clock.clone())
            .store(recording.clone());
        let manager = SessionManager::new(tweak(config)).expect("config");
        Self {
            manager,
            clock,
            recording,
            keys,
            _target: target,
        }
    }

    pub(crate) fn load<T: SessionData>(&self, token: Option<&str>) -> SessionHandle<T> {
        self.try_load(token).expect("store up")
    }

    pub(crate) fn try_load<T: SessionData>(
        &self,
        token: Option<&str>,
    ) -> Result<SessionHandle<T>, SessionError> {
        let header = token.map(|t| format!("session={t}"));
        runtime().block_on(self.manager.load::<T>(header.as_deref()))
    }

    /// Saves; answers the new token, if a cookie was set (`Some("")` for a removal).
    pub(crate) fn save<T: SessionData>(&self, handle: &mut SessionHandle<T>) -> Option<String> {
        self.try_save(handle).expect("store up")
    }

    pub(crate) fn try_save<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
    ) -> Result<Option<String>, SessionError> {
        runtime()
            .block_on(self.manager.save(handle))
            .map(|c| c.map(|c| c.value().to_owned()))
    }

    /// A logged-in session for `user`; answers its token.
    pub(crate) fn login(&self, user: &str) -> String {
        let mut handle = self.load::<Profile>(None);
        handle.renew();
        handle.set_user_key(user).expect("store mode");
        handle.data_mut().user = Some(user.to_owned());
        self.save(&mut handle).expect("a cookie")
    }
}
