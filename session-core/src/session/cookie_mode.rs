//! Cookie mode: the whole session, serialized and sealed by the [`Codec`](crate::Codec), is the
//! cookie. Loading opens and checks the token; saving seals a new one only when the payload's
//! bytes (or its field deadlines) changed, or a re-issue is due.

use super::store_mode::events;
use super::{LoadStatus, Mode, Pending, Reissue, SessionHandle, SessionManager, SetCookie};
use crate::error::SessionError;
use crate::rejection::Rejection;
use crate::schema::{
    DecodeEffects, FieldDeadlines, SessionData, collect_deadlines, decode_payload,
};
use crate::store::LogRef;
use crate::token::{MAC_LEN, SealInput, TokenTimes};

/// What a cookie-mode handle keeps besides the data: the decoded token (or the payload last
/// written) and where the payload sits in it, to tell a real change from a mutable borrow
/// that changed nothing.
pub(super) struct CookieState {
    bytes: Vec<u8>,
    payload: std::ops::Range<usize>,
    /// The MAC of the token as loaded, for the lifecycle events' reference.
    mac: Option<[u8; MAC_LEN]>,
}

impl CookieState {
    /// Nothing loaded yet (allocates nothing).
    pub(super) const EMPTY: Self = Self {
        bytes: Vec::new(),
        payload: 0..0,
        mac: None,
    };

    /// The payload as loaded or last written.
    fn payload(&self) -> &[u8] {
        &self.bytes[self.payload.clone()]
    }
}

/// At most this many of a request's session cookies are opened (their MAC checked).
const MAX_CANDIDATES: usize = 8;

/// When a token was last issued (its last-active time), then when its session began.
fn recency<T>(handle: &SessionHandle<T>) -> (i64, i64) {
    handle
        .times
        .as_ref()
        .map_or((i64::MIN, i64::MIN), |t| (t.last_active, t.issued_at))
}

impl SessionManager {
    pub(super) fn load_cookie<'h, T: SessionData>(
        &self,
        values: impl Iterator<Item = &'h str>,
        now: i64,
    ) -> SessionHandle<T> {
        let cookie = &self.inner.config.cookie;
        let mut first_rejection = None;
        let mut all_dead = true;
        let mut buf = Vec::new();
        // Duplicates: the most recently issued of the tokens that verify wins (a sibling
        // subdomain may plant its own valid session ahead of the victim's; browsers send the
        // longer path first). A flood of duplicates costs a few MAC checks at most.
        let mut best: Option<SessionHandle<T>> = None;
        for value in values.take(MAX_CANDIDATES) {
            match self.decode::<T>(value, now, &mut buf) {
                Ok(handle) => {
                    if best.as_ref().is_none_or(|b| recency(&handle) > recency(b)) {
                        best = Some(handle);
                    }
                }
                Err(rejection) => {
                    all_dead &= rejection.ends_the_cookie();
                    first_rejection.get_or_insert(rejection);
                }
            }
        }
        if let Some(handle) = best {
            crate::metrics::loaded();
            if let Some(rejection) = first_rejection {
                tracing::debug!(target: "session", cookie = cookie.cookie_name(), reason = Rejection::code(&rejection), "skipped a duplicate session cookie that was refused");
            }
            return handle;
        }
        let mode = Mode::Cookie(CookieState::EMPTY);
        match first_rejection {
            None => SessionHandle::fresh(LoadStatus::New, mode),
            Some(rejection) => {
                rejection.log(cookie.cookie_name());
                let mut handle = SessionHandle::fresh(LoadStatus::Rejected(rejection), mode);
                handle.remove_refused = all_dead;
                handle
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
        if self
            .inner
            .config
            .revocations
            .revokes(&data, times.issued_at)
        {
            return Err(Rejection::Revoked);
        }
        let reissue = if effects.migrated {
            Some(Reissue::Migrated)
        } else if effects.fields_appended {
            Some(Reissue::FieldsAppended)
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
        let mac = buf
            .len()
            .checked_sub(MAC_LEN)
            .and_then(|at| buf[at..].try_into().ok());
        Ok(SessionHandle {
            data,
            status: LoadStatus::Loaded { reissue },
            times: Some(times),
            changed: false,
            pending: Pending::Nothing,
            mode: Mode::Cookie(CookieState {
                bytes: std::mem::take(buf),
                payload,
                mac,
            }),
            remove_refused: false,
            remember: None,
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
            if let Mode::Cookie(CookieState { mac: Some(mac), .. }) = &handle.mode {
                events::ended_ref(LogRef::of(mac), crate::metrics::EndCause::Logout);
            }
            return Ok(Some(self.removal()));
        }
        if handle.pending == Pending::ReadOnly {
            return Ok(None);
        }
        let reissue = matches!(handle.status, LoadStatus::Loaded { reissue: Some(_) });
        let renew = handle.pending == Pending::Renew;
        let lifetime_changed = handle.lifetime_changed();
        if !handle.changed && !reissue && !renew && !lifetime_changed {
            return Ok(None);
        }
        let persistent = handle.is_remembered();
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
                if !reissue
                    && !lifetime_changed
                    && payload == loaded
                    && field_deadlines == old.field_deadlines
                {
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
                    persistent,
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
                persistent,
            },
        };
        let token = self.inner.codec.seal(&SealInput {
            schema: &T::SCHEMA,
            times: &times,
            payload: &payload,
        })?;
        let set_cookie = self.set_cookie(&token, &times, now)?;
        match (&handle.times, &handle.mode) {
            (None, _) => events::created_ref(TokenRef(&token)),
            (Some(_), Mode::Cookie(CookieState { mac: Some(mac), .. })) if renew => {
                events::renewed_ref(TokenRef(&token), LogRef::of(mac));
            }
            _ => {}
        }
        handle.times = Some(times);
        handle.mode = Mode::Cookie(CookieState {
            payload: 0..payload.len(),
            bytes: payload,
            mac: None,
        });
        handle.changed = false;
        handle.pending = Pending::Nothing;
        handle.status = LoadStatus::Loaded { reissue: None };
        Ok(Some(set_cookie))
    }
}

/// The log reference of a token: of its MAC (its last bytes), computed only when an event is
/// written.
struct TokenRef<'a>(&'a str);

impl std::fmt::Display for TokenRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(self.0)
            .unwrap_or_default();
        let mac = &bytes[bytes.len().saturating_sub(MAC_LEN)..];
        std::fmt::Display::fmt(&LogRef::of(mac), f)
    }
}
