//! Saving in store mode: decides what a save does (nothing, logout, a new record, renewal, a
//! migrated rewrite, an update in place) and which cookie, if any, answers it.

use super::events;
use super::record::{device, split};
use super::user_index::{read_generation, tidy_index};
use super::write::RecordContent;
use super::{StoreState, id_schema, serialize_error};
use crate::error::SessionError;
use crate::metrics::MeteredStore;
use crate::rejection::Rejection;
use crate::schema::{SessionData, collect_deadlines};
use crate::session::{LoadStatus, Mode, Pending, SessionHandle, SessionManager, SetCookie};
use crate::store::{RecordKey, SessionId, StoreError};
use crate::token::{SealInput, TokenTimes};

/// What a new record holds besides its id.
struct NewRecord<'a> {
    fields: &'a [(&'static str, Vec<u8>)],
    deadlines: &'a [(u8, i64)],
    user: Option<String>,
    /// A renewal's generation, carried from the old record; `None`: the user's current one.
    generation: Option<u64>,
    device: Option<&'a str>,
}

impl SessionManager {
    /// Saves `handle` to `store`. A handle loaded in cookie mode (by another manager) counts as
    /// one with no record yet.
    pub(in crate::session) async fn save_stored<T: SessionData>(
        &self,
        store: MeteredStore<'_>,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        match handle.pending {
            Pending::ReadOnly => return Ok(None),
            Pending::Logout => {
                if let Some(stored) = &handle.store_state().record {
                    let key = stored.key;
                    store.delete(&key).await?;
                    events::ended(&key, crate::metrics::EndCause::Logout);
                    if let Some(user) = stored.user() {
                        tidy_index(store, user, &key).await;
                    }
                }
                handle.store_state().record = None;
                handle.times = None;
                return Ok(Some(self.removal()));
            }
            Pending::Nothing | Pending::Renew => {}
        }
        let reissue = match handle.status {
            LoadStatus::Loaded { reissue } => reissue,
            _ => None,
        };
        let state = handle.store_state();
        let user_change = state
            .pending_user
            .take()
            .filter(|user| state.record_user() != Some(user.as_str()));
        // Attaching a user to a session is a privilege change: it always gets a fresh id, even
        // if the application forgot `renew()` (else a planted id would be logged in).
        let renew = handle.pending == Pending::Renew || user_change.is_some();
        let lifetime_changed = handle.lifetime_changed();
        let state = handle.store_state();
        let device_changed = state.device_change().is_some();
        // Taken, not copied: a new record gets this label, else the old record's.
        let pending_device = state.pending_device.take();
        if !handle.changed && reissue.is_none() && !renew && !lifetime_changed && !device_changed {
            return Ok(None);
        }
        if lifetime_changed && let Some(stored) = handle.store_state().record.as_deref_mut() {
            // The cookie carries the lifetime: a new one, even if the record does not change.
            stored.cookie_due = true;
        }
        let deadlines = collect_deadlines(&mut handle.data, now);
        let fields = split(&handle.data).map_err(serialize_error)?;

        let result = match handle.store_state().record.take() {
            None => {
                let empty = !renew && deadlines.is_empty() && {
                    let whole: Vec<u8> =
                        fields.iter().flat_map(|(_, b)| b.iter().copied()).collect();
                    crate::session::is_default_payload::<T>(&whole)?
                };
                if empty {
                    // A new visitor whose session is still empty: no record, no cookie.
                    return Ok(None);
                }
                let created = self
                    .create::<T>(
                        store,
                        handle,
                        NewRecord {
                            fields: &fields,
                            deadlines: &deadlines,
                            user: user_change,
                            generation: None,
                            device: pending_device.as_deref(),
                        },
                        now,
                    )
                    .await;
                match created {
                    Ok(Some((key, set_cookie))) => {
                        events::created(&key);
                        Ok(Some(set_cookie))
                    }
                    Ok(None) => return Ok(self.ended(handle)),
                    Err(error) => Err(error),
                }
            }
            Some(old) if renew => {
                // Claim the old record first and go on only if this request removed it: a
                // renewal racing a logout or "log out everywhere" must not carry the session
                // over to a new id. (Should writing the new record then fail, the user is
                // logged out and the request answers 503.)
                let old_key = old.key;
                if !store.delete(&old_key).await? {
                    return Ok(self.ended(handle));
                }
                if let Some(user) = old.user() {
                    tidy_index(store, user, &old_key).await;
                }
                // The same user: the session goes on under a new id, with the generation it
                // was logged in with. Another user: a login, with that user's generation.
                let (user, generation) = match user_change {
                    Some(user) => (Some(user), None),
                    None => (old.user.clone(), Some(old.generation)),
                };
                let created = self
                    .create::<T>(
                        store,
                        handle,
                        NewRecord {
                            fields: &fields,
                            deadlines: &deadlines,
                            user,
                            generation,
                            device: pending_device.as_deref().or_else(|| device(&old.fields)),
                        },
                        now,
                    )
                    .await;
                match created {
                    Ok(Some((key, set_cookie))) => {
                        events::renewed(&key, &old_key);
                        Ok(Some(set_cookie))
                    }
                    Ok(None) => return Ok(self.ended(handle)),
                    Err(error) => Err(error),
                }
            }
            Some(old) if old.rewrite => {
                // Migrated from an older schema: the whole record in the current layout, but
                // only if it still exists.
                let stale: Vec<&str> = old.stale.iter().map(String::as_str).collect();
                let absolute = handle.times.as_ref().map_or(now, |t| t.absolute_deadline);
                let written = self
                    .write_record::<T>(
                        store,
                        &old.id,
                        old.issued_at,
                        absolute,
                        RecordContent {
                            fields: &fields,
                            deadlines: &deadlines,
                            user: old.user.clone(),
                            generation: old.generation,
                            stale: &stale,
                            device: pending_device.as_deref().or_else(|| device(&old.fields)),
                            active: Some(now),
                        },
                        false,
                        now,
                    )
                    .await;
                match written {
                    Ok(Some(mut stored)) => {
                        stored.cookie_due = old.cookie_due;
                        handle.store_state().record = Some(Box::new(stored));
                        self.cookie_after_update(handle, now)
                    }
                    Ok(None) => return Ok(self.ended(handle)),
                    Err(error) => {
                        handle.store_state().record = Some(old);
                        Err(error)
                    }
                }
            }
            Some(mut old) => {
                let result = self
                    .update::<T>(
                        store,
                        &mut old,
                        handle,
                        &fields,
                        &deadlines,
                        reissue,
                        pending_device.as_deref().filter(|_| device_changed),
                        now,
                    )
                    .await;
                match result {
                    Ok(true) => {
                        handle.store_state().record = Some(old);
                        self.cookie_after_update(handle, now)
                    }
                    Ok(false) => return Ok(self.ended(handle)),
                    Err(error) => {
                        handle.store_state().record = Some(old);
                        Err(error)
                    }
                }
            }
        };
        if result.is_ok() {
            handle.changed = false;
            handle.pending = Pending::Nothing;
            handle.status = LoadStatus::Loaded { reissue: None };
        }
        result
    }

    /// The session ended (logout, "log out everywhere", a renewal elsewhere, expiry) while
    /// this request ran: its changes are dropped and the handle becomes an empty session. No
    /// removal cookie: the old cookie is refused anyway, and a removal could delete the fresh
    /// cookie a concurrent renewal just set.
    fn ended<T: SessionData>(&self, handle: &mut SessionHandle<T>) -> Option<SetCookie> {
        tracing::warn!(
            target: "session",
            cookie = self.inner.config.cookie.cookie_name(),
            "the session ended (logout, renewal elsewhere or expiry) while this request ran; its changes were dropped"
        );
        handle.data = T::default();
        handle.store_state().record = None;
        handle.times = None;
        handle.changed = false;
        handle.pending = Pending::Nothing;
        handle.status = LoadStatus::Rejected(Rejection::UnknownSession);
        None
    }

    /// Writes the session as a new record under a fresh id and answers its key and the
    /// cookie that carries the id.
    ///
    /// With a user, the record carries `generation` (a renewal's, from the old record) or
    /// else the user's current one (a login). Once the record is written, the user's
    /// generation is read again: if it changed, a "log out everywhere" ran meanwhile and may
    /// have listed the user's sessions before this one was in the index, so the new record is
    /// deleted and the answer is `None` (the session ended).
    async fn create<T: SessionData>(
        &self,
        store: MeteredStore<'_>,
        handle: &mut SessionHandle<T>,
        new: NewRecord<'_>,
        now: i64,
    ) -> Result<Option<(RecordKey, SetCookie)>, SessionError> {
        let NewRecord {
            fields,
            deadlines,
            user,
            generation,
            device,
        } = new;
        let id = SessionId::random().map_err(|e| SessionError::Rng(e.to_string()))?;
        let absolute = now.saturating_add(self.inner.config.absolute_timeout.whole_seconds());
        let times = TokenTimes {
            issued_at: now,
            last_active: now,
            absolute_deadline: absolute,
            field_deadlines: Vec::new(),
            persistent: handle.is_remembered(),
        };
        let generation = match (&user, generation) {
            (Some(_), Some(carried)) => carried,
            (Some(user), None) => read_generation(store, user).await?.unwrap_or(0),
            (None, _) => 0,
        };
        let check_user = user.clone();
        let content = RecordContent {
            fields,
            deadlines,
            user,
            generation,
            stale: &[],
            device,
            active: None,
        };
        let stored = self
            .write_record::<T>(store, &id, now, absolute, content, true, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the store refused to create a record".into()))?;
        let key = id.record_key();
        if let Some(user) = check_user
            && let Some(current) = read_generation(store, &user).await?
            && current != generation
        {
            store.delete(&key).await?;
            tidy_index(store, &user, &key).await;
            return Ok(None);
        }
        let set_cookie = self.seal_id::<T>(&id, &times, now)?;
        handle.store_state().record = Some(Box::new(stored));
        handle.times = Some(times);
        Ok(Some((key, set_cookie)))
    }

    /// After an update in place: a new cookie only when the cookie itself must change (key
    /// rotation, encryption setting, idle deadline push).
    fn cookie_after_update<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        let (
            Mode::Store(StoreState {
                record: Some(stored),
                ..
            }),
            Some(old_times),
        ) = (&mut handle.mode, &handle.times)
        else {
            return Ok(None);
        };
        if !std::mem::take(&mut stored.cookie_due) {
            return Ok(None);
        }
        let persistent = handle.remember.unwrap_or(old_times.persistent);
        let times = TokenTimes {
            issued_at: old_times.issued_at,
            last_active: now,
            absolute_deadline: old_times.absolute_deadline,
            field_deadlines: Vec::new(),
            persistent,
        };
        let set_cookie = self.seal_id::<T>(&stored.id, &times, now)?;
        handle.times = Some(times);
        Ok(Some(set_cookie))
    }

    /// Seals the store-id token that carries `id`, as a `Set-Cookie`.
    fn seal_id<T: SessionData>(
        &self,
        id: &SessionId,
        times: &TokenTimes,
        now: i64,
    ) -> Result<SetCookie, SessionError> {
        let token = self.inner.codec.seal(&SealInput {
            schema: &id_schema::<T>(),
            times,
            payload: id.as_bytes(),
        })?;
        self.set_cookie(&token, times, now)
    }
}
