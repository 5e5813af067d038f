//! Store mode: the cookie carries a signed session id, the data lives in a [`SessionStore`].
//!
//! The cookie token is sealed by the same [`Codec`](crate::Codec) as in cookie mode, with the
//! session id (32 bytes) as its payload and the schema's name at version 0 as its schema, so
//! a cookie-mode token is never taken for a store id and the other way round. Issue time, last
//! activity and the absolute deadline stay in the signed token and are enforced exactly as in
//! cookie mode; the record's expiry in the store follows them.
//!
//! This module holds what a store-mode handle keeps ([`StoreState`], [`Stored`]) and the
//! helpers its parts share; each part has one job:
//! - [`load`]: opens the id token and reads the record into a handle;
//! - [`save`]: decides what a save does (nothing, logout, renewal, migration, update) and
//!   which cookie answers it;
//! - [`write`](mod@write): writes a whole record or the fields that changed;
//! - [`record`]: the record layout (`@meta`, one field per struct field, `@deadline:<slot>`)
//!   and the split of a struct into those fields;
//! - [`user_index`]: the per-user index ("log out everywhere", "end my other sessions") and
//!   the generation check that closes its race with renewals. See [`crate::store`];
//! - [`events`]: the lifecycle events (created, renewed, ended, a user's sessions ended), in
//!   both modes.

use time::OffsetDateTime;

use super::{Mode, SessionHandle, SessionManager};
use crate::error::SessionError;
use crate::schema::{STORE_ID_VERSION, Schema, SessionData};
use crate::store::{Fields, RecordKey, SessionId, SessionStore};

pub(super) mod events;
mod load;
mod record;
mod save;
mod user_index;
mod write;

/// The fields of a session, each encoded with postcard, in declaration order (see
/// [`record`]): also how a payload of an earlier field list gets its appended defaults.
pub(crate) use record::split as split_fields;

/// The fingerprint of a store-id token's pseudo-schema (version 0).
const STORE_ID_FINGERPRINT: u32 = 0x5354_4f52;

/// What a store-mode handle keeps besides the data.
#[derive(Default)]
pub(super) struct StoreState {
    /// The record as loaded or last written; `None` before the first write (a new visitor, a
    /// refused cookie) and once the session ended.
    record: Option<Box<Stored>>,
    /// A user key set during this request, for the per-user index; taken by the next save.
    pending_user: Option<String>,
    /// A device label set during this request; taken by the next save.
    pending_device: Option<String>,
}

impl StoreState {
    /// Records `user` for the next save.
    pub(super) fn set_user_key(&mut self, user: String) {
        self.pending_user = Some(user);
    }

    /// Records the device label for the next save, cut to [`record::MAX_DEVICE_BYTES`].
    pub(super) fn set_device(&mut self, mut label: String) {
        if label.len() > record::MAX_DEVICE_BYTES {
            let mut end = record::MAX_DEVICE_BYTES;
            while !label.is_char_boundary(end) {
                end -= 1;
            }
            label.truncate(end);
        }
        self.pending_device = Some(label);
    }

    /// The device label set during this request, else the one of the record.
    pub(super) fn device(&self) -> Option<&str> {
        self.pending_device
            .as_deref()
            .or_else(|| self.record.as_ref().and_then(|r| record::device(&r.fields)))
    }

    /// The device label set during this request, when it differs from the record's.
    fn device_change(&self) -> Option<&str> {
        let recorded = self.record.as_ref().and_then(|r| record::device(&r.fields));
        self.pending_device
            .as_deref()
            .filter(|label| Some(*label) != recorded)
    }

    /// The record's key, once the session has a record.
    pub(super) fn record_key(&self) -> Option<RecordKey> {
        self.record.as_ref().map(|record| record.key)
    }

    /// The user key set during this request, else the one of the record.
    pub(super) fn user_key(&self) -> Option<&str> {
        self.pending_user.as_deref().or_else(|| self.record_user())
    }

    /// The user key of the record as loaded or last written.
    fn record_user(&self) -> Option<&str> {
        self.record.as_ref().and_then(|record| record.user())
    }
}

/// The record behind a loaded or saved store-mode session.
#[derive(Debug)]
struct Stored {
    id: SessionId,
    /// The record's key (the SHA-256 of `id`), computed once.
    key: RecordKey,
    issued_at: i64,
    user: Option<String>,
    /// The generation of the user's sessions this session was logged in with (0: none); a
    /// renewal carries it to the new record.
    generation: u64,
    /// The record's fields as loaded or last written: what an update compares with.
    fields: Fields,
    deadlines: Vec<(u8, i64)>,
    /// Written by an older schema version, or by an earlier field list of this one: the next
    /// save rewrites the whole record.
    rewrite: bool,
    /// With `rewrite`: the record's field names as loaded, to remove those the current
    /// schema no longer has.
    stale: Vec<String>,
    /// The cookie itself must be re-issued (key rotation, encryption setting, idle push).
    cookie_due: bool,
}

impl Stored {
    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

impl<T> SessionHandle<T> {
    /// The store-mode state. A handle loaded in cookie mode (by another manager) counts as one
    /// with no record yet, and becomes a store-mode handle here.
    fn store_state(&mut self) -> &mut StoreState {
        if let Mode::Cookie(_) = self.mode {
            self.mode = Mode::Store(StoreState::default());
        }
        match &mut self.mode {
            Mode::Store(state) => state,
            Mode::Cookie(_) => unreachable!("a store-mode handle since the line above"),
        }
    }
}

impl SessionManager {
    /// The server-side store, when sessions are kept in one.
    pub fn session_store(&self) -> Option<&dyn SessionStore> {
        self.inner.config.store.as_deref()
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

    /// The deadline of a session's per-user index entry written now: past the expiry of any
    /// write to its record until the next refresh of the cookie (a write pushes the record's
    /// expiry without a new index entry only before the refresh is due, which every server
    /// decides from the same `last_active` in the cookie), plus the clock skew allowed between
    /// the servers that prune the index and the backend that expires records; capped by the
    /// absolute deadline. So an index entry never leaves before its record.
    fn index_deadline(&self, now: i64, absolute_deadline: i64) -> OffsetDateTime {
        let config = &self.inner.config;
        let deadline = config.idle_timeout.map_or(absolute_deadline, |idle| {
            now.saturating_add(idle.whole_seconds())
                .saturating_add(config.refresh_interval.whole_seconds())
                .saturating_add(config.clock_skew.whole_seconds())
        });
        unix(deadline.min(absolute_deadline))
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

fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
