//! The per-user index ("log out everywhere"): which sessions a user key has, listing and
//! ending them. The index is written by the store's `index_*` methods; a record says whose it
//! is in its `@meta`, and that, not the index, decides whether a session belongs to a user.

use super::record::meta_head;
use super::unix;
use crate::session::SessionManager;
use crate::store::{RecordKey, SessionStore, StoreError, UserSession};

impl SessionManager {
    fn require_store(&self) -> Result<&dyn SessionStore, StoreError> {
        self.session_store().ok_or(StoreError::NoStore)
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
            match issued_to(store, user, &key).await? {
                Some(issued_at) => sessions.push(UserSession {
                    key,
                    issued_at: unix(issued_at),
                }),
                None => store.index_remove(user, &key).await?,
            }
        }
        sessions.sort_by_key(|s| s.issued_at);
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
        let mut ended = 0;
        for key in store.index_members(user).await? {
            if issued_to(store, user, &key).await?.is_some() && store.delete(&key).await? {
                ended += 1;
            }
            store.index_remove(user, &key).await?;
        }
        Ok(ended)
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
        Ok(ended)
    }
}

/// Removes `key` from `user`'s index after the record is gone. Best effort: the session has
/// ended either way, and a stale entry is skipped (and dropped) by the next listing.
pub(super) async fn tidy_index(store: &dyn SessionStore, user: &str, key: &RecordKey) {
    if let Err(error) = store.index_remove(user, key).await {
        tracing::warn!(target: "session", %error, "a per-user session index entry was not removed");
    }
}

/// When the live record under `key` was issued, if it belongs to `user`.
async fn issued_to(
    store: &dyn SessionStore,
    user: &str,
    key: &RecordKey,
) -> Result<Option<i64>, StoreError> {
    let fields = store.load(key).await?;
    Ok(fields
        .as_deref()
        .and_then(meta_head)
        .and_then(|meta| (meta.user == Some(user)).then_some(meta.issued_at)))
}
