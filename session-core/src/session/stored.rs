//! Store mode: the cookie carries a signed session id, the data lives in a [`SessionStore`].
//!
//! The cookie token is sealed by the same [`Codec`](crate::Codec) as in cookie mode, with the
//! session id (32 bytes) as its payload and the schema's name at version 0 as its schema, so
//! a cookie-mode token is never taken for a store id and the other way round. Issue time, last
//! activity and the absolute deadline stay in the signed token and are enforced exactly as in
//! cookie mode; the record's expiry in the store follows them.
//!
//! A record holds `@meta` (schema, field order, issue time, user key), one field per struct
//! field, and `@deadline:<slot>` per set expiring field. See [`crate::store`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{LoadStatus, Pending, Reissue, SessionHandle, SessionManager, SetCookie};
use crate::error::SessionError;
use crate::rejection::{Rejection, SchemaMismatch};
use crate::schema::{
    FieldDeadlines, STORE_ID_VERSION, Schema, SchemaRef, SessionData, check_name,
    collect_deadlines, decode_payload,
};
use crate::store::fields::{field_order, split};
use crate::store::{RecordKey, RecordWrite, SessionId, SessionStore, StoreError, UserSession};
use crate::token::{SealInput, TokenTimes};

const META: &str = "@meta";
const DEADLINE: &str = "@deadline:";
/// At most this many of a request's session cookies are looked up in the store.
const MAX_LOOKUPS: usize = 3;
/// The fingerprint of a store-id token's pseudo-schema (version 0).
const STORE_ID_FINGERPRINT: u32 = 0x5354_4f52;

/// What a record says about itself (`@meta`). The field list comes last, so that a reader of
/// the current schema decodes only [`MetaHead`] (postcard ignores the bytes after it) and takes
/// the field order from the struct itself.
#[derive(Debug, Serialize, Deserialize)]
struct Meta<'a> {
    name: &'a str,
    version: u32,
    fingerprint: u32,
    issued_at: i64,
    #[serde(borrow)]
    user: Option<&'a str>,
    /// The struct's fields in declaration order.
    #[serde(borrow)]
    fields: Vec<&'a str>,
}

/// The start of [`Meta`], read without allocating.
#[derive(Debug, Deserialize)]
struct MetaHead<'a> {
    name: &'a str,
    version: u32,
    fingerprint: u32,
    issued_at: i64,
    #[serde(borrow)]
    user: Option<&'a str>,
}

/// The record behind a loaded or saved store-mode session.
#[derive(Debug)]
pub(super) struct Stored {
    id: SessionId,
    issued_at: i64,
    user: Option<String>,
    /// The struct fields' bytes, in declaration order.
    fields: Vec<Vec<u8>>,
    deadlines: Vec<(u8, i64)>,
    /// Written by an older schema version: the next save rewrites the whole record.
    rewrite: bool,
    /// With `rewrite`: the record's field names as loaded, to remove those the current
    /// schema no longer has.
    stale: Vec<String>,
    /// The cookie itself must be re-issued (key rotation, encryption setting, idle push).
    cookie_due: bool,
}

impl Stored {
    pub(super) fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// What a whole-record write holds.
struct RecordContent<'a> {
    fields: &'a [(&'static str, Vec<u8>)],
    deadlines: &'a [(u8, i64)],
    user: Option<String>,
    /// Fields of the record to remove (a migrated record's names the new schema lacks).
    stale: &'a [&'a str],
}

/// Removes `key` from `user`'s index after the record is gone. Best effort: the session has
/// ended either way, and a stale entry is skipped (and dropped) by the next listing.
async fn tidy_index(store: &dyn SessionStore, user: &str, key: &RecordKey) {
    if let Err(error) = store.index_remove(user, key).await {
        tracing::warn!(target: "session", %error, "a per-user session index entry was not removed");
    }
}

/// The pseudo-schema store-id tokens are sealed with.
fn id_schema<T: SessionData>() -> Schema {
    Schema {
        name: T::SCHEMA.name,
        version: STORE_ID_VERSION,
        fingerprint: STORE_ID_FINGERPRINT,
    }
}

fn serialize_error(error: impl std::fmt::Display) -> SessionError {
    SessionError::Serialize(error.to_string())
}

fn deadline_field(slot: u8) -> String {
    format!("{DEADLINE}{slot}")
}

fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl SessionManager {
    /// The server-side store, when sessions are kept in one.
    pub fn store(&self) -> Option<&dyn SessionStore> {
        self.inner.config.store.as_deref()
    }

    fn require_store(&self) -> Result<&dyn SessionStore, StoreError> {
        self.store().ok_or(StoreError::NoStore)
    }

    /// When a record written now expires: the idle deadline, capped by the absolute one.
    fn record_expiry(&self, now: i64, absolute_deadline: i64) -> OffsetDateTime {
        let idle = self
            .inner
            .config
            .idle_timeout
            .map_or(absolute_deadline, |idle| {
                now.saturating_add(idle.whole_seconds())
            });
        unix(idle.min(absolute_deadline))
    }

    pub(super) async fn load_stored<T: SessionData>(
        &self,
        store: &dyn SessionStore,
        values: Vec<&str>,
        now: i64,
    ) -> Result<SessionHandle<T>, SessionError> {
        let cookie = self.inner.config.cookie.cookie_name();
        let mut first_rejection = None;
        let mut buf = Vec::new();
        let mut lookups = 0;
        for value in values {
            let opened = self.open_id::<T>(value, now, &mut buf);
            let (id, times, refresh_due, cookie_reissue) = match opened {
                Ok(opened) => opened,
                Err(rejection) => {
                    first_rejection.get_or_insert(rejection);
                    continue;
                }
            };
            // A client could collect its own old tokens and send dozens: a few lookups only.
            if lookups == MAX_LOOKUPS {
                break;
            }
            lookups += 1;
            let key = id.record_key();
            let Some(fields) = store.load(&key).await? else {
                first_rejection.get_or_insert(Rejection::UnknownSession);
                continue;
            };
            match decode_record::<T>(id, fields, now) {
                Ok((data, mut stored, fields_expired)) => {
                    stored.cookie_due = cookie_reissue.is_some() || refresh_due;
                    let reissue = if stored.rewrite {
                        Some(Reissue::Migrated)
                    } else {
                        cookie_reissue
                            .or(refresh_due.then_some(Reissue::RefreshDue))
                            .or(fields_expired.then_some(Reissue::FieldExpired))
                    };
                    return Ok(SessionHandle {
                        data,
                        status: LoadStatus::Loaded { reissue },
                        times: Some(times),
                        loaded: Vec::new(),
                        loaded_payload: 0..0,
                        changed: false,
                        pending: Pending::Nothing,
                        stored: Some(Box::new(stored)),
                        user_key: None,
                    });
                }
                Err(rejection) => {
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        Ok(match first_rejection {
            None => SessionHandle::fresh(LoadStatus::New),
            Some(rejection) => {
                rejection.log(cookie);
                SessionHandle::fresh(LoadStatus::Rejected(rejection))
            }
        })
    }

    /// Opens a store-id token: the id, its times, whether the idle deadline is due for a
    /// push, and why the cookie itself must be re-issued (key rotation, encryption setting).
    fn open_id<T: SessionData>(
        &self,
        value: &str,
        now: i64,
        buf: &mut Vec<u8>,
    ) -> Result<(SessionId, TokenTimes, bool, Option<Reissue>), Rejection> {
        let opened = self.inner.codec.open(value, buf)?;
        check_name::<T>(opened.schema)?;
        if opened.schema.version != STORE_ID_VERSION
            || opened.schema.fingerprint != STORE_ID_FINGERPRINT
        {
            return Err(Rejection::SchemaMismatch(SchemaMismatch::SessionMode {
                name: T::SCHEMA.name,
                token_is_store_id: false,
            }));
        }
        let id = SessionId::from_slice(opened.payload).ok_or(Rejection::Undecodable)?;
        let (refresh_due, deadline) = self.check_times(&opened.times, now)?;
        let mut times = opened.times;
        // A shortened absolute timeout applies to sessions issued before the change.
        times.absolute_deadline = deadline;
        let reissue = if !opened.signed_by_current_key {
            Some(Reissue::RotatedKey)
        } else if opened.encrypted != self.inner.codec.encrypts() {
            Some(Reissue::EncryptionChanged)
        } else {
            None
        };
        Ok((id, times, refresh_due, reissue))
    }

    pub(super) async fn save_stored<T: SessionData>(
        &self,
        store: &dyn SessionStore,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        match handle.pending {
            Pending::ReadOnly => return Ok(None),
            Pending::Logout => {
                if let Some(stored) = &handle.stored {
                    let key = stored.id.record_key();
                    store.delete(&key).await?;
                    if let Some(user) = stored.user() {
                        tidy_index(store, user, &key).await;
                    }
                }
                handle.stored = None;
                handle.times = None;
                return Ok(Some(self.removal()));
            }
            Pending::Nothing | Pending::Renew => {}
        }
        let reissue = match handle.status {
            LoadStatus::Loaded { reissue } => reissue,
            _ => None,
        };
        let user_change = handle
            .user_key
            .take()
            .filter(|user| handle.stored.as_ref().and_then(|s| s.user()) != Some(user.as_str()));
        // Attaching a user to a session is a privilege change: it always gets a fresh id, even
        // if the application forgot `renew()` (else a planted id would be logged in).
        let renew = handle.pending == Pending::Renew || user_change.is_some();
        if !handle.changed && reissue.is_none() && !renew {
            return Ok(None);
        }
        let deadlines = collect_deadlines(&mut handle.data, now);
        let fields = split(&handle.data).map_err(serialize_error)?;

        let result = match handle.stored.take() {
            None => {
                let empty = !renew && deadlines.is_empty() && {
                    let whole: Vec<u8> =
                        fields.iter().flat_map(|(_, b)| b.iter().copied()).collect();
                    super::is_default_payload::<T>(&whole)?
                };
                if empty {
                    // A new visitor whose session is still empty: no record, no cookie.
                    return Ok(None);
                }
                self.create::<T>(store, handle, &fields, &deadlines, user_change, now)
                    .await
            }
            Some(old) if renew => {
                // Claim the old record first and go on only if this request removed it: a
                // renewal racing a logout or "log out everywhere" must not carry the session
                // over to a new id. (Should writing the new record then fail, the user is
                // logged out and the request answers 503.)
                let old_key = old.id.record_key();
                if !store.delete(&old_key).await? {
                    return Ok(self.ended(handle));
                }
                if let Some(user) = old.user() {
                    tidy_index(store, user, &old_key).await;
                }
                let user = user_change.or_else(|| old.user.clone());
                self.create::<T>(store, handle, &fields, &deadlines, user, now)
                    .await
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
                            stale: &stale,
                        },
                        false,
                        now,
                    )
                    .await;
                match written {
                    Ok(Some(mut stored)) => {
                        stored.cookie_due = old.cookie_due;
                        handle.stored = Some(Box::new(stored));
                        self.cookie_after_update(handle, now)
                    }
                    Ok(None) => return Ok(self.ended(handle)),
                    Err(error) => {
                        handle.stored = Some(old);
                        Err(error)
                    }
                }
            }
            Some(mut old) => {
                let result = self
                    .update::<T>(store, &mut old, handle, fields, &deadlines, reissue, now)
                    .await;
                match result {
                    Ok(true) => {
                        handle.stored = Some(old);
                        self.cookie_after_update(handle, now)
                    }
                    Ok(false) => return Ok(self.ended(handle)),
                    Err(error) => {
                        handle.stored = Some(old);
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
        handle.stored = None;
        handle.times = None;
        handle.changed = false;
        handle.pending = Pending::Nothing;
        handle.status = LoadStatus::Rejected(Rejection::UnknownSession);
        None
    }

    /// Writes the session as a new record under a fresh id and answers the cookie that
    /// carries the id.
    async fn create<T: SessionData>(
        &self,
        store: &dyn SessionStore,
        handle: &mut SessionHandle<T>,
        fields: &[(&'static str, Vec<u8>)],
        deadlines: &[(u8, i64)],
        user: Option<String>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        let id = SessionId::random().map_err(|e| SessionError::Rng(e.to_string()))?;
        let absolute = now.saturating_add(self.inner.config.absolute_timeout.whole_seconds());
        let times = TokenTimes {
            issued_at: now,
            last_active: now,
            absolute_deadline: absolute,
            field_deadlines: Vec::new(),
        };
        let content = RecordContent {
            fields,
            deadlines,
            user,
            stale: &[],
        };
        let stored = self
            .write_record::<T>(store, &id, now, absolute, content, true, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the store refused to create a record".into()))?;
        let set_cookie = self.seal_id::<T>(&id, &times)?;
        handle.stored = Some(Box::new(stored));
        handle.times = Some(times);
        Ok(Some(set_cookie))
    }

    /// Writes a whole record: created (replacing what the key held) or, with `create: false`,
    /// only if it still exists (`Ok(None)` otherwise). The user's index entry is written
    /// first, so a record never names a user whose index misses it.
    #[allow(clippy::too_many_arguments)]
    async fn write_record<T: SessionData>(
        &self,
        store: &dyn SessionStore,
        id: &SessionId,
        issued_at: i64,
        absolute: i64,
        content: RecordContent<'_>,
        create: bool,
        now: i64,
    ) -> Result<Option<Stored>, SessionError> {
        let RecordContent {
            fields,
            deadlines,
            user,
            stale,
        } = content;
        let meta_bytes = meta_bytes::<T>(issued_at, user.as_deref(), fields)?;
        let deadline_names: Vec<String> = deadlines
            .iter()
            .map(|(slot, _)| deadline_field(*slot))
            .collect();
        let deadline_bytes: Vec<Vec<u8>> = deadlines
            .iter()
            .map(|(_, deadline)| postcard::to_allocvec(deadline))
            .collect::<Result<_, _>>()
            .map_err(serialize_error)?;
        let mut set: Vec<(&str, &[u8])> = Vec::with_capacity(1 + fields.len() + deadlines.len());
        set.push((META, &meta_bytes));
        set.extend(fields.iter().map(|(name, bytes)| (*name, bytes.as_slice())));
        set.extend(
            deadline_names
                .iter()
                .map(String::as_str)
                .zip(deadline_bytes.iter().map(Vec::as_slice)),
        );
        let remove: Vec<&str> = stale
            .iter()
            .copied()
            .filter(|name| !set.iter().any(|(n, _)| n == name))
            .collect();
        let key = id.record_key();
        if let Some(user) = &user {
            store.index_add(user, &key, unix(absolute)).await?;
        }
        let written = store
            .save(
                &key,
                RecordWrite {
                    create,
                    set: &set,
                    remove: &remove,
                    expires_at: self.record_expiry(now, absolute),
                },
            )
            .await?;
        if !written {
            return Ok(None);
        }
        Ok(Some(Stored {
            id: id.clone(),
            issued_at,
            user,
            fields: fields.iter().map(|(_, bytes)| bytes.clone()).collect(),
            deadlines: deadlines.to_vec(),
            stale: Vec::new(),
            rewrite: false,
            cookie_due: false,
        }))
    }

    /// Writes the fields (and deadlines) that differ from the record as loaded.
    /// `Ok(false)`: the record no longer exists.
    #[allow(clippy::too_many_arguments)]
    async fn update<T: SessionData>(
        &self,
        store: &dyn SessionStore,
        old: &mut Stored,
        handle: &SessionHandle<T>,
        fields: Vec<(&'static str, Vec<u8>)>,
        deadlines: &[(u8, i64)],
        reissue: Option<Reissue>,
        now: i64,
    ) -> Result<bool, SessionError> {
        let changed: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(i, (_, bytes))| old.fields.get(*i) != Some(bytes))
            .map(|(i, _)| i)
            .collect();
        let set_deadlines: Vec<(String, Vec<u8>)> = deadlines
            .iter()
            .filter(|d| !old.deadlines.contains(d))
            .map(|(slot, deadline)| {
                postcard::to_allocvec(deadline).map(|bytes| (deadline_field(*slot), bytes))
            })
            .collect::<Result<_, _>>()
            .map_err(serialize_error)?;
        let removed: Vec<String> = old
            .deadlines
            .iter()
            .filter(|(slot, _)| !deadlines.iter().any(|(s, _)| s == slot))
            .map(|(slot, _)| deadline_field(*slot))
            .collect();
        let nothing_to_write = changed.is_empty() && set_deadlines.is_empty() && removed.is_empty();
        if nothing_to_write && reissue.is_none() {
            return Ok(true);
        }
        let mut set: Vec<(&str, &[u8])> = changed
            .iter()
            .map(|&i| (fields[i].0, fields[i].1.as_slice()))
            .collect();
        set.extend(
            set_deadlines
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice())),
        );
        let remove: Vec<&str> = removed.iter().map(String::as_str).collect();
        let absolute = handle
            .times
            .as_ref()
            .map_or(now, |times| times.absolute_deadline);
        let key = old.id.record_key();
        let written = store
            .save(
                &key,
                RecordWrite {
                    create: false,
                    set: &set,
                    remove: &remove,
                    expires_at: self.record_expiry(now, absolute),
                },
            )
            .await?;
        if !written {
            return Ok(false);
        }
        // Keep the written bytes as the new baseline (moved, not copied).
        for (i, (_, bytes)) in fields.into_iter().enumerate() {
            if changed.contains(&i)
                && let Some(slot) = old.fields.get_mut(i)
            {
                *slot = bytes;
            }
        }
        old.deadlines = deadlines.to_vec();
        Ok(true)
    }

    /// After an update in place: a new cookie only when the cookie itself must change (key
    /// rotation, encryption setting, idle deadline push).
    fn cookie_after_update<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        let (Some(stored), Some(old_times)) = (&mut handle.stored, &handle.times) else {
            return Ok(None);
        };
        if !std::mem::take(&mut stored.cookie_due) {
            return Ok(None);
        }
        let times = TokenTimes {
            issued_at: old_times.issued_at,
            last_active: now,
            absolute_deadline: old_times.absolute_deadline,
            field_deadlines: Vec::new(),
        };
        let set_cookie = self.seal_id::<T>(&stored.id, &times)?;
        handle.times = Some(times);
        Ok(Some(set_cookie))
    }

    fn seal_id<T: SessionData>(
        &self,
        id: &SessionId,
        times: &TokenTimes,
    ) -> Result<SetCookie, SessionError> {
        let token = self.inner.codec.seal(&SealInput {
            schema: &id_schema::<T>(),
            times,
            payload: id.as_bytes(),
        })?;
        self.set_cookie(&token)
    }

    /// Store mode: the live sessions of `user` (see [`SessionHandle::set_user_key`]), for an
    /// "active sessions" page, oldest first. Index entries whose record is gone or belongs to
    /// another user are dropped on the way.
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

/// When the live record under `key` was issued, if it belongs to `user`.
async fn issued_to(
    store: &dyn SessionStore,
    user: &str,
    key: &RecordKey,
) -> Result<Option<i64>, StoreError> {
    let fields = store.load(key).await?;
    Ok(fields.as_ref().and_then(|fields| {
        let (_, bytes) = fields.iter().find(|(name, _)| name == META)?;
        let meta = postcard::from_bytes::<MetaHead<'_>>(bytes).ok()?;
        (meta.user == Some(user)).then_some(meta.issued_at)
    }))
}

/// The `@meta` field of a record of `T`.
fn meta_bytes<T: SessionData>(
    issued_at: i64,
    user: Option<&str>,
    fields: &[(&'static str, Vec<u8>)],
) -> Result<Vec<u8>, SessionError> {
    let meta = Meta {
        name: T::SCHEMA.name,
        version: T::SCHEMA.version,
        fingerprint: T::SCHEMA.fingerprint,
        issued_at,
        user,
        fields: fields.iter().map(|(name, _)| *name).collect(),
    };
    postcard::to_allocvec(&meta).map_err(serialize_error)
}

/// Reads a record as `T`: schema checks and migrations as for a cookie payload, then expired
/// fields dropped. Answers whether any field expired.
fn decode_record<T: SessionData>(
    id: SessionId,
    mut fields: Vec<(String, Vec<u8>)>,
    now: i64,
) -> Result<(T, Stored, bool), Rejection> {
    // A record without `@meta` is the leftover of a write that raced a logout: not a session.
    let at = fields
        .iter()
        .position(|(name, _)| name == META)
        .ok_or(Rejection::UnknownSession)?;
    let meta_bytes = fields.swap_remove(at).1;
    let head: MetaHead<'_> =
        postcard::from_bytes(&meta_bytes).map_err(|_| Rejection::Undecodable)?;
    let ours = T::SCHEMA;
    let current = head.name == ours.name
        && head.version == ours.version
        && head.fingerprint == ours.fingerprint;
    // The field order: the struct's own for the current schema, the recorded one otherwise
    // (then every name of the record is kept, to remove what the new schema lacks).
    let order: Vec<&str> = if current {
        field_order::<T>().map_err(|_| Rejection::Undecodable)?
    } else {
        let meta: Meta<'_> =
            postcard::from_bytes(&meta_bytes).map_err(|_| Rejection::Undecodable)?;
        meta.fields
    };
    let stale: Vec<String> = if current {
        Vec::new()
    } else {
        fields.iter().map(|(name, _)| name.clone()).collect()
    };
    let mut deadlines: Vec<(u8, i64)> = Vec::new();
    for (name, bytes) in &fields {
        if let Some(slot) = name.strip_prefix(DEADLINE) {
            let slot = slot.parse().map_err(|_| Rejection::Undecodable)?;
            let deadline = postcard::from_bytes(bytes).map_err(|_| Rejection::Undecodable)?;
            deadlines.push((slot, deadline));
        }
    }
    // The struct fields in order; a missing one makes the record undecodable.
    let mut ordered = Vec::with_capacity(order.len());
    for name in &order {
        let at = fields
            .iter()
            .position(|(n, _)| n == name)
            .ok_or(Rejection::Undecodable)?;
        ordered.push(fields.swap_remove(at).1);
    }
    let payload: Vec<u8> = ordered.concat();
    let seen = SchemaRef {
        name: head.name,
        version: head.version,
        fingerprint: head.fingerprint,
    };
    let field_deadlines = FieldDeadlines {
        deadlines: &deadlines,
        now,
    };
    let (data, effects) = decode_payload::<T>(seen, &payload, &field_deadlines)?;
    Ok((
        data,
        Stored {
            id,
            issued_at: head.issued_at,
            user: head.user.map(str::to_owned),
            fields: ordered,
            // All deadlines as stored, so the next write removes those of dropped fields.
            deadlines,
            stale,
            rewrite: effects.migrated,
            cookie_due: false,
        },
        effects.fields_expired,
    ))
}
