//! The memcached commands that the record and the per-user index share: postcard values read
//! with their CAS value, compare-and-swap sets, conditional deletes and pipelined field writes.

use async_memcached::{Client, Error as McError, MetaProtocol, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;

use session_core::store::StoreError;

use crate::error::{Fail, failure};

/// Attempts of a compare-and-swap loop before giving up with [`StoreError::Unavailable`].
pub(crate) const CAS_ATTEMPTS: usize = 32;

/// Outcome of a compare-and-swap write.
pub(crate) enum Cas {
    Stored,
    Conflict,
    Missing,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Fail> {
    postcard::to_allocvec(value).map_err(|e| Fail::Store(StoreError::unavailable(e)))
}

/// The value under `key`, decoded, and its CAS value.
pub(crate) async fn read<T: DeserializeOwned>(
    client: &mut Client,
    key: &str,
) -> Result<Option<(T, u64)>, Fail> {
    let Some(value) = client.meta_get(key, false, None, Some(&["v", "c"])).await? else {
        return Ok(None);
    };
    let decoded = postcard::from_bytes(value.data.as_deref().unwrap_or_default())
        .map_err(|e| StoreError::Corrupt(format!("memcached key {key:?}: {e}")))?;
    let cas = value.cas.ok_or_else(|| {
        failure("memcached returned no CAS value (is it running with -C?)".to_owned())
    })?;
    Ok(Some((decoded, cas)))
}

pub(crate) async fn read_cas(client: &mut Client, key: &str) -> Result<Option<u64>, Fail> {
    Ok(client
        .meta_get(key, false, None, Some(&["c"]))
        .await?
        .and_then(|value| value.cas))
}

/// Sets every `(key, bytes)` in one pipelined round trip.
pub(crate) async fn write_fields(
    client: &mut Client,
    items: &[(String, &[u8])],
    ttl: &str,
) -> Result<(), Fail> {
    if items.is_empty() {
        return Ok(());
    }
    let refused = client.meta_set_multi(items, Some(&[ttl])).await?;
    match refused.first() {
        None => Ok(()),
        Some(value) => Err(failure(format!(
            "memcached did not store a field: {:?}",
            value.status
        ))),
    }
}

pub(crate) async fn cas_set(
    client: &mut Client,
    key: &str,
    value: &[u8],
    cas: u64,
    ttl: &str,
) -> Result<Cas, Fail> {
    let compare = format!("C{cas}");
    match client
        .meta_set(key, value, false, None, Some(&[&compare, ttl]))
        .await
    {
        Ok(_) => Ok(Cas::Stored),
        Err(McError::Protocol(Status::Exists)) => Ok(Cas::Conflict),
        Err(McError::Protocol(Status::NotFound)) => Ok(Cas::Missing),
        Err(error) => Err(error.into()),
    }
}

/// Deletes `key` (only at `version`, when given); answers whether this call deleted it.
pub(crate) async fn delete_key(
    client: &mut Client,
    key: &str,
    version: Option<u64>,
) -> Result<bool, Fail> {
    let compare = version.map(|cas| format!("C{cas}"));
    let flags: Vec<&str> = compare.iter().map(String::as_str).collect();
    match client
        .meta_delete(key, false, None, Some(flags.as_slice()))
        .await
    {
        Ok(_) => Ok(true),
        Err(McError::Protocol(Status::NotFound)) | Err(McError::Protocol(Status::Exists)) => {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
