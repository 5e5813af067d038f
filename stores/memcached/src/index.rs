//! The per-user index: one key per user holding the postcard encoding of its entries (record
//! key and deadline), its generation and its expiry, changed with compare-and-swap loops.
//! Every rewrite drops the entries whose deadline passed; past the cap, an add ends the
//! oldest sessions (deletes their records) before the index stops listing them. The item's
//! memcached expiry is its latest live deadline (with a generation, it only moves later).

use async_memcached::{Client, Error as McError, MetaProtocol, Status};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use session_core::store::{RecordKey, StoreError};

use crate::commands::{CAS_ATTEMPTS, Cas, cas_set, encode};
use crate::error::{Fail, contention, failure};
use crate::expiry::{ttl_flag_ms, unix_ms, unix_ms_ceil};
use crate::keys::Keys;
use crate::record;

/// The first byte of an index in this layout. (The layout of version 0.1 starts with a
/// varint of a Unix time in milliseconds, whose first byte is at least 0x80.)
const FORMAT: u8 = 2;

/// The value of a user's index key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    format: u8,
    /// 0 until a "log out everywhere".
    generation: u64,
    /// When the item expires, in Unix milliseconds.
    expires_at_ms: i64,
    /// Record keys and their deadlines (Unix milliseconds, rounded up), in no order.
    entries: Vec<([u8; 32], i64)>,
}

/// The index as version 0.1 wrote it: one expiry for all its keys.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct IndexV1 {
    expires_at_ms: i64,
    keys: Vec<[u8; 32]>,
}

impl Index {
    fn decode(key: &str, bytes: &[u8]) -> Result<Self, Fail> {
        let corrupt = |e: postcard::Error| {
            Fail::Store(StoreError::Corrupt(format!("memcached key {key:?}: {e}")))
        };
        if bytes.first() == Some(&FORMAT) {
            return postcard::from_bytes(bytes).map_err(corrupt);
        }
        let old: IndexV1 = postcard::from_bytes(bytes).map_err(corrupt)?;
        Ok(Self {
            format: FORMAT,
            generation: 0,
            expires_at_ms: old.expires_at_ms,
            entries: old
                .keys
                .into_iter()
                .map(|key| (key, old.expires_at_ms))
                .collect(),
        })
    }

    fn prune(&mut self, now_ms: i64) {
        self.entries.retain(|(_, deadline)| *deadline > now_ms);
    }

    /// Sets the expiry after a change; `false` when nothing is left worth keeping.
    fn settle(&mut self) -> bool {
        let latest = self.entries.iter().map(|(_, deadline)| *deadline).max();
        match latest {
            Some(latest) if self.generation == 0 => self.expires_at_ms = latest,
            Some(latest) => self.expires_at_ms = self.expires_at_ms.max(latest),
            None => {}
        }
        latest.is_some() || self.generation != 0
    }
}

/// The index under `key` and its CAS value.
async fn read(client: &mut Client, key: &str) -> Result<Option<(Index, u64)>, Fail> {
    let Some(value) = client.meta_get(key, false, None, Some(&["v", "c"])).await? else {
        return Ok(None);
    };
    let index = Index::decode(key, value.data.as_deref().unwrap_or_default())?;
    let cas = value.cas.ok_or_else(|| {
        failure("memcached returned no CAS value (is it running with -C?)".to_owned())
    })?;
    Ok(Some((index, cas)))
}

/// Writes `index` under `key`: added when `cas` is `None`, else compared and swapped;
/// deleted (compared) when `keep` is false.
async fn write(
    client: &mut Client,
    key: &str,
    index: &Index,
    cas: Option<u64>,
    keep: bool,
) -> Result<Cas, Fail> {
    let now = OffsetDateTime::now_utc();
    match (cas, keep) {
        (None, false) => Ok(Cas::Stored),
        (None, true) => {
            let ttl = ttl_flag_ms(index.expires_at_ms, now);
            match client
                .meta_set(
                    key,
                    encode(index)?.as_slice(),
                    false,
                    None,
                    Some(&["ME", &ttl]),
                )
                .await
            {
                Ok(_) => Ok(Cas::Stored),
                Err(McError::Protocol(Status::NotStored)) => Ok(Cas::Conflict),
                Err(error) => Err(error.into()),
            }
        }
        (Some(cas), true) => {
            let ttl = ttl_flag_ms(index.expires_at_ms, now);
            cas_set(client, key, &encode(index)?, cas, &ttl).await
        }
        (Some(cas), false) => {
            let compare = format!("C{cas}");
            match client
                .meta_delete(key, false, None, Some(&[&compare]))
                .await
            {
                Ok(_) => Ok(Cas::Stored),
                Err(McError::Protocol(Status::Exists)) => Ok(Cas::Conflict),
                Err(McError::Protocol(Status::NotFound)) => Ok(Cas::Missing),
                Err(error) => Err(error.into()),
            }
        }
    }
}

pub(crate) async fn add(
    client: &mut Client,
    keys: &Keys,
    user: &str,
    key: &RecordKey,
    expires_at: OffsetDateTime,
    max: usize,
) -> Result<(), Fail> {
    let index_key = keys.index(user);
    let at_ms = unix_ms_ceil(expires_at);
    for _ in 0..CAS_ATTEMPTS {
        let now_ms = unix_ms(OffsetDateTime::now_utc());
        let (mut index, cas) = match read(client, &index_key).await? {
            Some((index, cas)) => (index, Some(cas)),
            None => (
                Index {
                    format: FORMAT,
                    ..Index::default()
                },
                None,
            ),
        };
        let before = index.entries.len();
        index.prune(now_ms);
        let mut changed = index.entries.len() != before || cas.is_none();
        match index.entries.iter_mut().find(|(k, _)| k == key.as_bytes()) {
            Some((_, deadline)) => {
                changed |= at_ms > *deadline;
                *deadline = (*deadline).max(at_ms);
            }
            None => {
                changed = true;
                index.entries.push((*key.as_bytes(), at_ms));
            }
        }
        if !changed {
            // Already there with a later deadline, nothing ended: nothing to write.
            return Ok(());
        }
        // Past the cap, the oldest (earliest deadline) others are ended before the index
        // stops listing them: should a later step fail, they are still listed.
        if index.entries.len() > max {
            index.entries.sort_by_key(|(_, deadline)| *deadline);
            let over = index.entries.len() - max;
            let mut ended = Vec::with_capacity(over);
            index.entries.retain(|entry| {
                if ended.len() < over && entry.0 != *key.as_bytes() {
                    ended.push(entry.0);
                    false
                } else {
                    true
                }
            });
            for oldest in ended {
                record::delete(client, keys, &RecordKey::from_bytes(oldest)).await?;
            }
        }
        index.settle();
        match write(client, &index_key, &index, cas, true).await? {
            Cas::Stored => return Ok(()),
            Cas::Conflict | Cas::Missing => {}
        }
    }
    Err(contention("adding to a user's index"))
}

pub(crate) async fn remove(
    client: &mut Client,
    keys: &Keys,
    user: &str,
    key: &RecordKey,
) -> Result<(), Fail> {
    let index_key = keys.index(user);
    for _ in 0..CAS_ATTEMPTS {
        let Some((mut index, cas)) = read(client, &index_key).await? else {
            return Ok(());
        };
        let before = index.entries.len();
        index.entries.retain(|(member, _)| member != key.as_bytes());
        if index.entries.len() == before {
            return Ok(());
        }
        index.prune(unix_ms(OffsetDateTime::now_utc()));
        if index.generation == 0 {
            // Without a generation the expiry follows the latest live entry, also downwards.
            index.expires_at_ms = 0;
        }
        let keep = index.settle();
        match write(client, &index_key, &index, Some(cas), keep).await? {
            Cas::Stored | Cas::Missing => return Ok(()),
            Cas::Conflict => {}
        }
    }
    Err(contention("removing from a user's index"))
}

pub(crate) async fn members(
    client: &mut Client,
    keys: &Keys,
    user: &str,
) -> Result<Vec<RecordKey>, Fail> {
    let Some((mut index, _)) = read(client, &keys.index(user)).await? else {
        return Ok(Vec::new());
    };
    index.prune(unix_ms(OffsetDateTime::now_utc()));
    index.entries.sort_by_key(|(_, deadline)| *deadline);
    Ok(index
        .entries
        .into_iter()
        .map(|(key, _)| RecordKey::from_bytes(key))
        .collect())
}

pub(crate) async fn generation(client: &mut Client, keys: &Keys, user: &str) -> Result<u64, Fail> {
    Ok(read(client, &keys.index(user))
        .await?
        .map_or(0, |(index, _)| index.generation))
}

pub(crate) async fn set_generation(
    client: &mut Client,
    keys: &Keys,
    user: &str,
    generation: u64,
    keep_until: OffsetDateTime,
) -> Result<(), Fail> {
    let index_key = keys.index(user);
    for _ in 0..CAS_ATTEMPTS {
        let (mut index, cas) = match read(client, &index_key).await? {
            Some((index, cas)) => (index, Some(cas)),
            None => (
                Index {
                    format: FORMAT,
                    ..Index::default()
                },
                None,
            ),
        };
        index.prune(unix_ms(OffsetDateTime::now_utc()));
        index.generation = generation;
        index.expires_at_ms = index.expires_at_ms.max(unix_ms_ceil(keep_until));
        index.settle();
        match write(client, &index_key, &index, cas, true).await? {
            Cas::Stored => return Ok(()),
            Cas::Conflict | Cas::Missing => {}
        }
    }
    Err(contention("setting a user's generation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_of_version_0_1_is_read_with_its_expiry_for_every_entry() {
        let at = 1_700_000_000_123;
        let old = postcard::to_allocvec(&IndexV1 {
            expires_at_ms: at,
            keys: vec![[1; 32], [2; 32]],
        })
        .expect("encode");
        let index = Index::decode("k", &old).expect("decode");
        assert_eq!(index.entries, vec![([1; 32], at), ([2; 32], at)]);
        assert_eq!((index.generation, index.expires_at_ms), (0, at));

        let new = Index {
            format: FORMAT,
            generation: 9,
            expires_at_ms: at,
            entries: vec![([3; 32], at + 1)],
        };
        let read = Index::decode("k", &encode(&new).expect("encode")).expect("decode");
        assert_eq!((read.generation, read.entries), (9, new.entries));
    }
}
