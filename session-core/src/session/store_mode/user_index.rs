//! The per-user index ("log out everywhere"): which sessions a user key has, listing and
//! ending them. The index is written by the store's `index_*` methods; a record says whose it
//! is in its `@meta`, and that, not the index, decides whether a session belongs to a user.
//!
//! Ending a user's sessions first sets a fresh random generation for the user, then ends what
//! the index lists. A renewal deletes its old record before the new one is in the index, so
//! the listing can miss it; the renewal therefore carries the generation its session was
//! logged in with, and reads the user's generation again after writing the new record (see
//! `create` in `save`): changed means "ended meanwhile", and the renewal deletes what it
//! wrote. Either the listing sees the new record, or the renewal sees the new generation.

use super::events;
use super::record::{GENERATION, device, last_active, meta_head};
use super::unix;
use crate::metrics::MeteredStore;
use crate::schema::SessionData;
use crate::session::{SessionHandle, SessionManager};
use crate::store::{RecordKey, RecordWrite, StoreError, UserSession};

impl SessionManager {
    fn require_store(&self) -> Result<MeteredStore<'_>, StoreError> {
        self.session_store()
            .map(MeteredStore::new)
            .ok_or(StoreError::NoStore)
    }

    /// Store mode: the live sessions of `user` (see [`SessionHandle::set_user_key`]), for an
    /// "active sessions" page, oldest first. Index entries whose record is gone or belongs to
    /// another user are dropped on the way.
    ///
    /// [`SessionHandle::set_user_key`]: crate::SessionHandle::set_user_key
    ///
    /// # Errors
    /// [`StoreError::NoStore`] in cookie mode; the store's error otherwise.
    pub async fn user_sessions(&self, user: &str) -> Result<Vec<UserSession>, StoreError> {
        let store = self.require_store()?;
        let mut sessions = Vec::new();
        for key in store.index_members(user).await? {
            let fields = store.load(&key).await?;
            let listed = fields.as_ref().and_then(|fields| {
                let meta = meta_head(fields)?;
                (meta.user == Some(user)).then(|| UserSession {
                    key,
                    issued_at: unix(meta.issued_at),
                    last_active: unix(last_active(fields).unwrap_or(meta.issued_at)),
                    device: device(fields).map(str::to_owned),
                    current: false,
                })
            });
            match listed {
                Some(session) => sessions.push(session),
                None => store.index_remove(user, &key).await?,
            }
        }
        sessions.sort_by_key(|s| s.issued_at);
        Ok(sessions)
    }

    /// Store mode: the live sessions of the user of `session` (see
    /// [`user_sessions`](Self::user_sessions)), with `session` itself marked
    /// [`current`](UserSession::current) and its last activity as of this request: the list
    /// for a "your devices" page. Empty when the session has no user key.
    ///
    /// # Errors
    /// [`StoreError::NoStore`] in cookie mode, where a user's other sessions are not known
    /// (the session itself is: [`SessionHandle::issued_at`], [`SessionHandle::last_active`]);
    /// the store's error otherwise.
    pub async fn sessions_of<T: SessionData>(
        &self,
        session: &SessionHandle<T>,
    ) -> Result<Vec<UserSession>, StoreError> {
        self.require_store()?;
        let Some(user) = session.user_key() else {
            return Ok(Vec::new());
        };
        let current = session.record_key();
        let mut sessions = self.user_sessions(user).await?;
        for listed in &mut sessions {
            listed.current = Some(listed.key) == current;
            if listed.current
                && let Some(seen) = session.last_active()
            {
                listed.last_active = listed.last_active.max(seen);
            }
        }
        Ok(sessions)
    }

    /// Store mode: ends every session of `user` ("log out everywhere": after a password
    /// change, when an account is disabled). Their cookies are refused from the next request
    /// on. Answers how many sessions were ended.
    ///
    /// # Errors
    /// [`StoreError::NoStore`] in cookie mode; the store's error otherwise (some sessions may
    /// have ended; calling again finishes the job).
    pub async fn end_user_sessions(&self, user: &str) -> Result<usize, StoreError> {
        let store = self.require_store()?;
        self.next_generation(store, user).await?;
        let ended = end_listed(store, user, None).await?;
        events::user_sessions_ended(user, ended, None);
        Ok(ended)
    }

    /// Store mode: ends every session of the user of `session` except `session` itself ("sign
    /// out all other devices"; after a password change, ASVS 3.3.3: the user keeps the
    /// session that changed it). Call it with the request's session, whose user key is set
    /// (loaded, or set during this request: then every session the user had before is
    /// "other"). Their cookies are refused from the next request on; this one goes on, and may
    /// be renewed in the same request. Answers how many sessions were ended (0 without a user
    /// key).
    ///
    /// # Errors
    /// [`StoreError::NoStore`] in cookie mode; the store's error otherwise (some sessions may
    /// have ended; calling again finishes the job).
    pub async fn end_other_sessions<T: SessionData>(
        &self,
        session: &mut SessionHandle<T>,
    ) -> Result<usize, StoreError> {
        let store = self.require_store()?;
        let now = self.now();
        let absolute = session.times.as_ref().map(|times| times.absolute_deadline);
        let state = session.store_state();
        let Some(user) = state.user_key().map(str::to_owned) else {
            return Ok(0);
        };
        let generation = self.next_generation(store, &user).await?;
        // This session keeps its record, with the new generation, so that renewing it later
        // carries a generation that is still current.
        let mut kept = None;
        if let Some(stored) = state.record.as_deref_mut()
            && stored.user() == Some(user.as_str())
        {
            let key = stored.key;
            kept = Some(key);
            if let (Some(generation), Some(absolute)) = (generation, absolute) {
                // The entry first, as for every write that pushes the record's expiry.
                store
                    .index_add(&user, &key, self.index_deadline(now, absolute))
                    .await?;
                let bytes = generation.to_le_bytes();
                let written = store
                    .save(
                        &key,
                        RecordWrite {
                            create: false,
                            set: &[(GENERATION, &bytes)],
                            remove: &[],
                            expires_at: self.record_expiry(now, absolute),
                            push_expiry: true,
                        },
                    )
                    .await?;
                if written {
                    stored.generation = generation;
                }
            }
        }
        let ended = end_listed(store, &user, kept.as_ref()).await?;
        events::user_sessions_ended(&user, ended, kept.as_ref());
        Ok(ended)
    }

    /// Sets a fresh generation for `user`'s sessions and answers it (`None` when the store
    /// has no generations).
    async fn next_generation(
        &self,
        store: MeteredStore<'_>,
        user: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| StoreError::unavailable(std::io::Error::other(e.to_string())))?;
        // Below 2^52, so a store may keep it in a double (Redis scores); never 0 ("none").
        let generation = (u64::from_le_bytes(bytes) & ((1 << 52) - 1)).max(1);
        // Kept until every session issued before could have ended.
        let keep_until = unix(
            self.now()
                .saturating_add(self.inner.config.absolute_timeout.whole_seconds()),
        );
        match store
            .index_set_generation(user, generation, keep_until)
            .await
        {
            Ok(()) => Ok(Some(generation)),
            Err(StoreError::Unsupported(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Store mode: ends one of `user`'s sessions, as listed by
    /// [`user_sessions`](Self::user_sessions) (a "sign out this device" button). Checks that
    /// the session belongs to `user`, so a key edited in a form cannot end someone else's
    /// session. Answers whether a session was ended.
    ///
    /// # Errors
    /// [`StoreError::NoStore`] in cookie mode; the store's error otherwise.
    pub async fn end_session(&self, user: &str, key: &RecordKey) -> Result<bool, StoreError> {
        let store = self.require_store()?;
        if issued_to(store, user, key).await?.is_none() {
            return Ok(false);
        }
        let ended = store.delete(key).await?;
        store.index_remove(user, key).await?;
        if ended {
            events::ended(key, crate::metrics::EndCause::Revoked);
        }
        Ok(ended)
    }
}

/// Ends every session the index lists for `user`, but `keep`; answers how many were live.
async fn end_listed(
    store: MeteredStore<'_>,
    user: &str,
    keep: Option<&RecordKey>,
) -> Result<usize, StoreError> {
    let mut ended = 0;
    for key in store.index_members(user).await? {
        if Some(&key) == keep {
            continue;
        }
        if issued_to(store, user, &key).await?.is_some() && store.delete(&key).await? {
            ended += 1;
        }
        store.index_remove(user, &key).await?;
    }
    Ok(ended)
}

/// The generation of `user`'s sessions, or `None` when the store has no generations.
pub(super) async fn read_generation(
    store: MeteredStore<'_>,
    user: &str,
) -> Result<Option<u64>, StoreError> {
    match store.index_generation(user).await {
        Ok(generation) => Ok(Some(generation)),
        Err(StoreError::Unsupported(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Removes `key` from `user`'s index after the record is gone. Best effort: the session has
/// ended either way, and a stale entry is skipped (and dropped) by the next listing.
pub(super) async fn tidy_index(store: MeteredStore<'_>, user: &str, key: &RecordKey) {
    if let Err(error) = store.index_remove(user, key).await {
        tracing::warn!(target: "session", %error, "a per-user session index entry was not removed");
    }
}

/// When the live record under `key` was issued, if it belongs to `user`.
async fn issued_to(
    store: MeteredStore<'_>,
    user: &str,
    key: &RecordKey,
) -> Result<Option<i64>, StoreError> {
    let fields = store.load(key).await?;
    Ok(fields
        .as_ref()
        .and_then(meta_head)
        .and_then(|meta| (meta.user == Some(user)).then_some(meta.issued_at)))
}
