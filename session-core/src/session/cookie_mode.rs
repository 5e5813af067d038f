//! Cookie mode: the whole session, serialized and sealed by the [`Codec`](crate::Codec), is the
//! cookie. Loading opens and checks the token; saving seals a new one only when the payload's
//! bytes (or its field deadlines) changed, or a re-issue is due.

use super::{LoadStatus, Mode, Pending, Reissue, SessionHandle, SessionManager, SetCookie};
use crate::error::SessionError;
use crate::rejection::Rejection;
use crate::schema::{
    DecodeEffects, FieldDeadlines, SessionData, collect_deadlines, decode_payload,
};
use crate::token::{SealInput, TokenTimes};

/// What a cookie-mode handle keeps besides the data: the decoded token (or the payload last
/// written) and where the payload sits in it, to tell a real change from a mutable borrow
/// that changed nothing.
pub(super) struct CookieState {
    bytes: Vec<u8>,
    payload: std::ops::Range<usize>,
}

impl CookieState {
    /// Nothing loaded yet (allocates nothing).
    pub(super) const EMPTY: Self = Self {
        bytes: Vec::new(),
        payload: 0..0,
    };

    /// The payload as loaded or last written.
    fn payload(&self) -> &[u8] {
        &self.bytes[self.payload.clone()]
    }
}

impl SessionManager {
    pub(super) fn load_cookie<'h, T: SessionData>(
        &self,
        values: impl Iterator<Item = &'h str>,
        now: i64,
    ) -> SessionHandle<T> {
        let cookie = &self.inner.config.cookie;
        let mut first_rejection = None;
        let mut buf = Vec::new();
        for value in values {
            match self.decode::<T>(value, now, &mut buf) {
                Ok(handle) => {
                    if let Some(rejection) = first_rejection {
                        tracing::debug!(target: "session", cookie = cookie.cookie_name(), reason = Rejection::code(&rejection), "skipped a duplicate session cookie that was refused");
                    }
                    return handle;
                }
                Err(rejection) => {
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        let mode = Mode::Cookie(CookieState::EMPTY);
        match first_rejection {
            None => SessionHandle::fresh(LoadStatus::New, mode),
            Some(rejection) => {
                rejection.log(cookie.cookie_name());
                SessionHandle::fresh(LoadStatus::Rejected(rejection), mode)
            }
        }
    }

    fn decode<T: SessionData>(
        &self,
        value: &str,
        now: i64,
        buf: &mut Vec<u8>,
    ) -> Result<SessionHandle<T>, Rejection> {
        let opened = self.inner.codec.open(value, buf)?;
        let times = opened.times;
        let (refresh_due, _) = self.check_times(&times, now)?;
        let deadlines = FieldDeadlines {
            deadlines: &times.field_deadlines,
            now,
        };
        let (data, effects): (T, DecodeEffects) =
            decode_payload(opened.schema, opened.payload, &deadlines)?;
        let reissue = if effects.migrated {
            Some(Reissue::Migrated)
        } else if !opened.signed_by_current_key {
            Some(Reissue::RotatedKey)
        } else if effects.fields_expired {
            Some(Reissue::FieldExpired)
        } else if opened.encrypted != self.inner.codec.encrypts() {
            Some(Reissue::EncryptionChanged)
        } else if refresh_due {
            Some(Reissue::RefreshDue)
        } else {
            None
        };
        let payload = opened.payload_start..opened.payload_start + opened.payload.len();
        Ok(SessionHandle {
            data,
            status: LoadStatus::Loaded { reissue },
            times: Some(times),
            changed: false,
            pending: Pending::Nothing,
            mode: Mode::Cookie(CookieState {
                bytes: std::mem::take(buf),
                payload,
            }),
        })
    }

    /// Saves `handle` as a cookie. A handle loaded in store mode (by another manager) counts
    /// as one with no payload loaded, and becomes a cookie-mode handle once written.
    pub(super) fn save_cookie<T: SessionData>(
        &self,
        handle: &mut SessionHandle<T>,
        now: i64,
    ) -> Result<Option<SetCookie>, SessionError> {
        let config = &self.inner.config;
        if handle.pending == Pending::Logout {
            return Ok(Some(self.removal()));
        }
        if handle.pending == Pending::ReadOnly {
            return Ok(None);
        }
        let reissue = matches!(handle.status, LoadStatus::Loaded { reissue: Some(_) });
        let renew = handle.pending == Pending::Renew;
        if !handle.changed && !reissue && !renew {
            return Ok(None);
        }
        let field_deadlines = collect_deadlines(&mut handle.data, now);
        let loaded: &[u8] = match &handle.mode {
            Mode::Cookie(state) => state.payload(),
            Mode::Store(_) => &[],
        };
        // Sized like the last payload, so postcard rarely has to grow the buffer.
        let capacity = loaded.len().max(32) + 16;
        let payload = postcard::to_extend(&handle.data, Vec::with_capacity(capacity))
            .map_err(|e| SessionError::Serialize(e.to_string()))?;
        let absolute = config.absolute_timeout.whole_seconds();
        let times = match (&handle.times, renew) {
            (Some(old), false) => {
                if !reissue && payload == loaded && field_deadlines == old.field_deadlines {
                    // Marked as changed, but the bytes are the same: nothing to send.
                    return Ok(None);
                }
                TokenTimes {
                    issued_at: old.issued_at,
                    last_active: now,
                    absolute_deadline: old
                        .absolute_deadline
                        .min(old.issued_at.saturating_add(absolute)),
                    field_deadlines,
                }
            }
            (None, false)
                if field_deadlines.is_empty() && super::is_default_payload::<T>(&payload)? =>
            {
                // A new visitor whose session was borrowed but is still empty: no cookie.
                return Ok(None);
            }
            _ => TokenTimes {
                issued_at: now,
                last_active: now,
                absolute_deadline: now.saturating_add(absolute),
                field_deadlines,
            },
        };
        let token = self.inner.codec.seal(&SealInput {
            schema: &T::SCHEMA,
            times: &times,
            payload: &payload,
        })?;
        let set_cookie = self.set_cookie(&token)?;
        handle.times = Some(times);
        handle.mode = Mode::Cookie(CookieState {
            payload: 0..payload.len(),
            bytes: payload,
        });
        handle.changed = false;
        handle.pending = Pending::Nothing;
        handle.status = LoadStatus::Loaded { reissue: None };
        Ok(Some(set_cookie))
    }
}
