//! Loading in store mode: opens the cookie's id token, looks the record up and reads it into
//! a handle.

use super::events;
use super::record::decode_record;
use super::user_index::tidy_index;
use super::{STORE_ID_FINGERPRINT, StoreState};
use crate::error::SessionError;
use crate::metrics::MeteredStore;
use crate::rejection::{Rejection, SchemaMismatch};
use crate::schema::{STORE_ID_VERSION, SessionData, check_name};
use crate::session::{LoadStatus, Mode, Pending, Reissue, SessionHandle, SessionManager};
use crate::store::{RecordKey, SessionId};
use crate::token::TokenTimes;

/// At most this many of a request's session cookies are looked up in the store.
const MAX_LOOKUPS: usize = 3;
/// At most this many of a request's session cookies are opened (their MAC checked).
const MAX_CANDIDATES: usize = 8;

impl SessionManager {
    pub(in crate::session) async fn load_stored<T: SessionData>(
        &self,
        store: MeteredStore<'_>,
        values: Vec<&str>,
        now: i64,
    ) -> Result<SessionHandle<T>, SessionError> {
        let cookie = self.inner.config.cookie.cookie_name();
        let mut first_rejection = None;
        let mut all_dead = true;
        let mut buf = Vec::new();
        // Duplicates: the most recently issued of the tokens that verify is looked up first
        // (a sibling subdomain may plant its own valid session ahead of the victim's).
        let mut verified = Vec::new();
        for value in values.into_iter().take(MAX_CANDIDATES) {
            match self.open_id::<T>(value, now, &mut buf) {
                Ok(opened) => verified.push(opened),
                Err(rejection) => {
                    all_dead &= rejection.ends_the_cookie();
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        // Tokens past the lookups are never looked up: nothing is known about them.
        all_dead &= verified.len() <= MAX_LOOKUPS;
        verified.sort_by_key(|(_, _, times, _, _)| {
            std::cmp::Reverse((times.last_active, times.issued_at))
        });
        // A client could collect its own old tokens and send dozens: a few lookups only.
        for (id, key, times, refresh_due, cookie_reissue) in verified.into_iter().take(MAX_LOOKUPS)
        {
            let Some(fields) = store.load(&key).await? else {
                first_rejection.get_or_insert(Rejection::UnknownSession);
                continue;
            };
            match decode_record::<T>(id, key, fields, now) {
                Ok((data, stored, _))
                    if self
                        .inner
                        .config
                        .revocations
                        .revokes(&data, times.issued_at) =>
                {
                    // Revoked by the application: the record goes, so no listing shows it.
                    if store.delete(&key).await? {
                        events::ended(&key, crate::metrics::EndCause::Revoked);
                    }
                    if let Some(user) = stored.user() {
                        tidy_index(store, user, &key).await;
                    }
                    first_rejection.get_or_insert(Rejection::Revoked);
                }
                Ok((data, mut stored, effects)) => {
                    stored.cookie_due = cookie_reissue.is_some() || refresh_due;
                    let reissue = if effects.migrated {
                        Some(Reissue::Migrated)
                    } else if effects.fields_appended {
                        Some(Reissue::FieldsAppended)
                    } else {
                        cookie_reissue
                            .or(refresh_due.then_some(Reissue::RefreshDue))
                            .or(effects.fields_expired.then_some(Reissue::FieldExpired))
                    };
                    crate::metrics::loaded();
                    return Ok(SessionHandle {
                        data,
                        status: LoadStatus::Loaded { reissue },
                        times: Some(times),
                        changed: false,
                        pending: Pending::Nothing,
                        mode: Mode::Store(StoreState {
                            record: Some(Box::new(stored)),
                            pending_user: None,
                            pending_device: None,
                        }),
                        remove_refused: false,
                        remember: None,
                    });
                }
                Err(rejection) => {
                    all_dead &= rejection.ends_the_cookie();
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        let mode = Mode::Store(StoreState::default());
        Ok(match first_rejection {
            None => SessionHandle::fresh(LoadStatus::New, mode),
            Some(rejection) => {
                rejection.log(cookie);
                let mut handle = SessionHandle::fresh(LoadStatus::Rejected(rejection), mode);
                handle.remove_refused = all_dead;
                handle
            }
        })
    }

    /// Opens a store-id token: the id and its record key, its times, whether the idle
    /// deadline is due for a push, and why the cookie itself must be re-issued (key rotation,
    /// encryption setting).
    fn open_id<T: SessionData>(
        &self,
        value: &str,
        now: i64,
        buf: &mut Vec<u8>,
    ) -> Result<(SessionId, RecordKey, TokenTimes, bool, Option<Reissue>), Rejection> {
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
        // The record key is the SHA-256 of the id: computed once per token, then kept beside
        // the verified token (a CPU without SHA instructions spends more on it than on all
        // the rest of a cached open).
        let key = match opened.payload_sha256 {
            Some(digest) => RecordKey::from_bytes(digest),
            None => {
                let key = id.record_key();
                self.inner
                    .codec
                    .remember_payload_sha256(value, *key.as_bytes());
                key
            }
        };
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
        Ok((id, key, times, refresh_due, reissue))
    }
}
