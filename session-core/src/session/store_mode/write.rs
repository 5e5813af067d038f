//! Writing records: a whole record (created, or rewritten in the current layout after a
//! migration), or, for an update in place, only the fields and deadlines that differ from the
//! record as loaded. The user's index entry is written before a record that names the user,
//! and again whenever the record's idle deadline is pushed with the cookie's.

use super::record::{ACTIVE, DEVICE, GENERATION, META, deadline_field, meta_bytes};
use super::{Stored, serialize_error};
use crate::error::SessionError;
use crate::metrics::MeteredStore;
use crate::schema::SessionData;
use crate::session::{Reissue, SessionHandle, SessionManager};
use crate::store::{RecordWrite, SessionId};

/// What a whole-record write holds.
pub(super) struct RecordContent<'a> {
    pub(super) fields: &'a [(&'static str, Vec<u8>)],
    pub(super) deadlines: &'a [(u8, i64)],
    pub(super) user: Option<String>,
    /// The generation of the user's sessions the session was logged in with (0: none).
    pub(super) generation: u64,
    /// Fields of the record to remove (a migrated record's names the new schema lacks).
    pub(super) stale: &'a [&'a str],
    /// The device label the application gave the session, if any.
    pub(super) device: Option<&'a str>,
    /// When the session was last active, if not at its issue.
    pub(super) active: Option<i64>,
}

impl SessionManager {
    /// Writes a whole record: created (replacing what the key held) or, with `create: false`,
    /// only if it still exists (`Ok(None)` otherwise). The user's index entry is written
    /// first, so a record never names a user whose index misses it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_record<T: SessionData>(
        &self,
        store: MeteredStore<'_>,
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
            generation,
            stale,
            device,
            active,
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
        let generation_bytes = generation.to_le_bytes();
        let mut set: Vec<(&str, &[u8])> = Vec::with_capacity(2 + fields.len() + deadlines.len());
        set.push((META, &meta_bytes));
        if generation != 0 {
            set.push((GENERATION, &generation_bytes));
        }
        if let Some(device) = device {
            set.push((DEVICE, device.as_bytes()));
        }
        let active_bytes = active.map(i64::to_le_bytes);
        if let Some(active) = &active_bytes {
            set.push((ACTIVE, active));
        }
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
            store
                .index_add(user, &key, self.index_deadline(now, absolute))
                .await?;
        }
        let written = store
            .save(
                &key,
                RecordWrite {
                    create,
                    set: &set,
                    remove: &remove,
                    expires_at: self.record_expiry(now, absolute),
                    push_expiry: true,
                },
            )
            .await?;
        if !written {
            return Ok(None);
        }
        Ok(Some(Stored {
            id: id.clone(),
            key,
            issued_at,
            user,
            generation,
            fields: set.iter().copied().collect(),
            deadlines: deadlines.to_vec(),
            stale: Vec::new(),
            rewrite: false,
            cookie_due: false,
        }))
    }

    /// Writes the fields (and deadlines) that differ from the record as loaded, a changed
    /// `device` label, and, when the idle deadline is pushed, the time of last activity.
    /// `Ok(false)`: the record no longer exists.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn update<T: SessionData>(
        &self,
        store: MeteredStore<'_>,
        old: &mut Stored,
        handle: &SessionHandle<T>,
        fields: &[(&'static str, Vec<u8>)],
        deadlines: &[(u8, i64)],
        reissue: Option<Reissue>,
        device: Option<&str>,
        now: i64,
    ) -> Result<bool, SessionError> {
        let changed: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, (name, bytes))| old.fields.get(name) != Some(bytes.as_slice()))
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
        let nothing_to_write = changed.is_empty()
            && set_deadlines.is_empty()
            && removed.is_empty()
            && device.is_none();
        if nothing_to_write && reissue.is_none() && !old.cookie_due {
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
        if let Some(device) = device {
            set.push((DEVICE, device.as_bytes()));
        }
        // Last activity, for a "your devices" page: with each push of the idle deadline, so
        // at most once per refresh interval and never a write of its own.
        let active = now.to_le_bytes();
        if old.cookie_due {
            set.push((ACTIVE, &active));
        }
        let remove: Vec<&str> = removed.iter().map(String::as_str).collect();
        let absolute = handle
            .times
            .as_ref()
            .map_or(now, |times| times.absolute_deadline);
        let key = old.key;
        // The record's expiry covers the cookie's idle deadline, which moves only with the
        // cookie (`cookie_due`): a write between two pushes need not move it.
        let push_expiry = old.cookie_due || (set.is_empty() && remove.is_empty());
        if old.cookie_due
            && let Some(user) = old.user()
        {
            // The cookie's idle deadline moves on: the index entry goes first, so it never
            // leaves before the record (see `index_deadline`).
            store
                .index_add(user, &key, self.index_deadline(now, absolute))
                .await?;
        }
        let write = RecordWrite {
            create: false,
            set: &set,
            remove: &remove,
            expires_at: self.record_expiry(now, absolute),
            push_expiry,
        };
        if !store.save(&key, write).await? {
            return Ok(false);
        }
        // What was written is the new baseline.
        old.fields.apply(&write);
        old.deadlines = deadlines.to_vec();
        Ok(true)
    }
}
