//! The record layout: a head key (the exact deadline and the field names) plus one key per
//! field, and how a record is read, created, updated and deleted over them, with
//! compare-and-swap on the head (see "Not atomic across keys" on
//! [`MemcachedStore`](crate::MemcachedStore)).

use std::collections::{BTreeSet, HashMap};

use async_memcached::{Client, MetaProtocol};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use session_core::store::{Fields, RecordKey, RecordWrite};

use crate::commands::{
    CAS_ATTEMPTS, Cas, cas_set, delete_key, encode, read, read_cas, write_fields,
};
use crate::error::{Fail, contention};
use crate::expiry::{ttl_flag, unix_ms, unix_ms_ceil};
use crate::keys::Keys;

/// Reads of a record whose head keeps changing under a load before giving up.
const LOAD_ATTEMPTS: usize = 4;

/// The value of a record's head key.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    /// When the record expires, in Unix milliseconds rounded up.
    expires_at_ms: i64,
    /// The names of the record's fields, each stored under its own key.
    names: Vec<String>,
}

fn live(head: &Head, now: OffsetDateTime) -> bool {
    head.expires_at_ms > unix_ms(now)
}

pub(crate) async fn load(
    client: &mut Client,
    keys: &Keys,
    key: &RecordKey,
) -> Result<Option<Fields>, Fail> {
    let head_key = keys.head(key);
    for _ in 0..LOAD_ATTEMPTS {
        let Some((head, cas)) = read::<Head>(client, &head_key).await? else {
            return Ok(None);
        };
        if !live(&head, OffsetDateTime::now_utc()) {
            return Ok(None);
        }
        let field_keys: Vec<String> = head
            .names
            .iter()
            .map(|name| keys.field(&head_key, name))
            .collect();
        let mut found: HashMap<Vec<u8>, Vec<u8>> = if field_keys.is_empty() {
            HashMap::new()
        } else {
            client
                .meta_get_multi(&field_keys, Some(&["v"]))
                .await?
                .into_iter()
                .filter_map(|value| Some((value.key?, value.data.unwrap_or_default())))
                .collect()
        };
        let fields: Option<Fields> = head
            .names
            .into_iter()
            .zip(&field_keys)
            .map(|(name, key)| found.remove(key.as_bytes()).map(|bytes| (name, bytes)))
            .collect();
        if fields.is_some() {
            return Ok(fields);
        }
        // A listed field is missing. If the head is unchanged, the record is incomplete
        // (evicted or expiring) and must not be read; if it changed, an update ran
        // between the two reads: read again.
        if read_cas(client, &head_key).await? == Some(cas) {
            return Ok(None);
        }
    }
    Err(contention("reading a record"))
}

pub(crate) async fn create(
    client: &mut Client,
    keys: &Keys,
    key: &RecordKey,
    write: &RecordWrite<'_>,
) -> Result<bool, Fail> {
    let now = OffsetDateTime::now_utc();
    let head_key = keys.head(key);
    let ttl = ttl_flag(write.expires_at, now);
    let removing: BTreeSet<&str> = write.remove.iter().copied().collect();
    let items: Vec<(String, &[u8])> = write
        .set
        .iter()
        .filter(|(name, _)| !removing.contains(name))
        .map(|(name, bytes)| (keys.field(&head_key, name), *bytes))
        .collect();
    let mut names: Vec<String> = Vec::with_capacity(write.set.len());
    for (name, _) in write.set {
        if !removing.contains(name) && !names.iter().any(|n| n == name) {
            names.push((*name).to_owned());
        }
    }
    write_fields(client, &items, &ttl).await?;
    let head = encode(&Head {
        expires_at_ms: unix_ms_ceil(write.expires_at),
        names,
    })?;
    client
        .meta_set(&head_key, head.as_slice(), false, None, Some(&[&ttl]))
        .await?;
    Ok(true)
}

pub(crate) async fn update(
    client: &mut Client,
    keys: &Keys,
    key: &RecordKey,
    write: &RecordWrite<'_>,
) -> Result<bool, Fail> {
    let now = OffsetDateTime::now_utc();
    let head_key = keys.head(key);
    let Some((mut current, mut cas)) = read::<Head>(client, &head_key).await? else {
        return Ok(false);
    };
    if !live(&current, now) {
        return Ok(false);
    }
    let ttl = ttl_flag(write.expires_at, now);
    let removing: BTreeSet<&str> = write.remove.iter().copied().collect();
    let setting: BTreeSet<&str> = write
        .set
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !removing.contains(name))
        .collect();
    let items: Vec<(&str, String, &[u8])> = write
        .set
        .iter()
        .filter(|(name, _)| !removing.contains(name))
        .map(|(name, bytes)| (*name, keys.field(&head_key, name), *bytes))
        .collect();

    // The versions of the fields to remove, read before the head changes: they are
    // deleted only if still at that version, so a value that a concurrent update writes
    // meanwhile is never deleted (see "Not atomic across keys").
    let remove_keys: Vec<String> = removing
        .iter()
        .map(|name| keys.field(&head_key, name))
        .collect();
    let versions: HashMap<Vec<u8>, u64> = if remove_keys.is_empty() {
        HashMap::new()
    } else {
        client
            .meta_get_multi(&remove_keys, Some(&["c"]))
            .await?
            .into_iter()
            .filter_map(|value| Some((value.key?, value.cas?)))
            .collect()
    };

    let writes: Vec<(String, &[u8])> = items
        .iter()
        .map(|(_, key, bytes)| (key.clone(), *bytes))
        .collect();
    write_fields(client, &writes, &ttl).await?;
    let unchanged: Vec<String> = current
        .names
        .iter()
        .filter(|name| !removing.contains(name.as_str()) && !setting.contains(name.as_str()))
        .map(|name| keys.field(&head_key, name))
        .collect();
    if !unchanged.is_empty() {
        client.meta_get_multi(&unchanged, Some(&[&ttl])).await?;
    }

    let mut first_attempt = true;
    for _ in 0..CAS_ATTEMPTS {
        let mut names: Vec<String> = current
            .names
            .iter()
            .filter(|name| !removing.contains(name.as_str()))
            .cloned()
            .collect();
        for name in &setting {
            if !names.iter().any(|n| n == name) {
                names.push((*name).to_owned());
            }
        }
        let head = encode(&Head {
            expires_at_ms: unix_ms_ceil(write.expires_at),
            names,
        })?;
        match cas_set(client, &head_key, &head, cas, &ttl).await? {
            Cas::Stored => {
                if !first_attempt {
                    // Another writer changed the head since it was first read: it may
                    // have removed (and deleted) a field written above before this head
                    // listed it again. Write those fields once more.
                    let again: Vec<(String, &[u8])> = items
                        .iter()
                        .filter(|(name, _, _)| !current.names.iter().any(|n| n == name))
                        .map(|(_, key, bytes)| (key.clone(), *bytes))
                        .collect();
                    write_fields(client, &again, &ttl).await?;
                }
                for name in current
                    .names
                    .iter()
                    .filter(|n| removing.contains(n.as_str()))
                {
                    let field = keys.field(&head_key, name);
                    // No version: the field appeared after it was looked at, written by
                    // a concurrent update; it is left to expire.
                    if let Some(&version) = versions.get(field.as_bytes()) {
                        delete_key(client, &field, Some(version)).await?;
                    }
                }
                return Ok(true);
            }
            Cas::Conflict => {
                first_attempt = false;
                match read::<Head>(client, &head_key).await? {
                    Some((head, new_cas)) if live(&head, now) => {
                        current = head;
                        cas = new_cas;
                    }
                    _ => {
                        abandon(client, &writes).await;
                        return Ok(false);
                    }
                }
            }
            Cas::Missing => {
                abandon(client, &writes).await;
                return Ok(false);
            }
        }
    }
    Err(contention("updating a record"))
}

pub(crate) async fn delete(
    client: &mut Client,
    keys: &Keys,
    key: &RecordKey,
) -> Result<bool, Fail> {
    let head_key = keys.head(key);
    let Some(value) = client
        .meta_get(&head_key, false, None, Some(&["v", "c"]))
        .await?
    else {
        return Ok(false);
    };
    // A head that does not decode is deleted all the same.
    let head = postcard::from_bytes::<Head>(value.data.as_deref().unwrap_or_default()).ok();
    let live = head
        .as_ref()
        .is_some_and(|head| head.expires_at_ms > unix_ms_ceil(OffsetDateTime::now_utc()));
    // Compare-and-delete: of two concurrent deletes, only one finds the record.
    let deleted = delete_key(client, &head_key, value.cas).await?;
    for name in head.map(|head| head.names).unwrap_or_default() {
        delete_key(client, &keys.field(&head_key, &name), None).await?;
    }
    Ok(deleted && live)
}

/// Best effort: deletes the fields an update wrote before it found its record gone.
async fn abandon(client: &mut Client, writes: &[(String, &[u8])]) {
    for (key, _) in writes {
        if delete_key(client, key, None).await.is_err() {
            return;
        }
    }
}
