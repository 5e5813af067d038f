//! The per-user index: one key per user holding the postcard encoding of its record keys and
//! the latest expiry they were added with, changed with compare-and-swap loops.

use async_memcached::{Client, Error as McError, MetaProtocol, Status};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use session_core::store::RecordKey;

use crate::commands::{CAS_ATTEMPTS, Cas, cas_set, encode, read};
use crate::error::{Fail, contention};
use crate::expiry::{ttl_flag, ttl_flag_ms, unix_ms, unix_ms_ceil};
use crate::keys::Keys;

/// The value of a user's index key.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    /// The latest expiry any member was added with, in Unix milliseconds rounded up.
    expires_at_ms: i64,
    keys: Vec<[u8; 32]>,
}

pub(crate) async fn add(
    client: &mut Client,
    keys: &Keys,
    user: &str,
    key: &RecordKey,
    expires_at: OffsetDateTime,
) -> Result<(), Fail> {
    let index_key = keys.index(user);
    let at_ms = unix_ms_ceil(expires_at);
    for _ in 0..CAS_ATTEMPTS {
        let now = OffsetDateTime::now_utc();
        let outcome = match read::<Index>(client, &index_key).await? {
            None => {
                let index = encode(&Index {
                    expires_at_ms: at_ms,
                    keys: vec![*key.as_bytes()],
                })?;
                let ttl = ttl_flag(expires_at, now);
                match client
                    .meta_set(
                        &index_key,
                        index.as_slice(),
                        false,
                        None,
                        Some(&["ME", &ttl]),
                    )
                    .await
                {
                    Ok(_) => Cas::Stored,
                    Err(McError::Protocol(Status::NotStored)) => Cas::Conflict,
                    Err(error) => return Err(error.into()),
                }
            }
            Some((mut index, cas)) => {
                let present = index.keys.contains(key.as_bytes());
                if present && index.expires_at_ms >= at_ms {
                    return Ok(());
                }
                if !present {
                    index.keys.push(*key.as_bytes());
                }
                // Extended, never shortened.
                index.expires_at_ms = index.expires_at_ms.max(at_ms);
                let ttl = ttl_flag_ms(index.expires_at_ms, now);
                cas_set(client, &index_key, &encode(&index)?, cas, &ttl).await?
            }
        };
        if let Cas::Stored = outcome {
            return Ok(());
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
        let Some((mut index, cas)) = read::<Index>(client, &index_key).await? else {
            return Ok(());
        };
        let before = index.keys.len();
        index.keys.retain(|member| member != key.as_bytes());
        if index.keys.len() == before {
            return Ok(());
        }
        let outcome = if index.keys.is_empty() {
            let compare = format!("C{cas}");
            match client
                .meta_delete(&index_key, false, None, Some(&[&compare]))
                .await
            {
                Ok(_) => Cas::Stored,
                Err(McError::Protocol(Status::Exists)) => Cas::Conflict,
                Err(McError::Protocol(Status::NotFound)) => Cas::Missing,
                Err(error) => return Err(error.into()),
            }
        } else {
            let ttl = ttl_flag_ms(index.expires_at_ms, OffsetDateTime::now_utc());
            cas_set(client, &index_key, &encode(&index)?, cas, &ttl).await?
        };
        match outcome {
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
    let Some((index, _)) = read::<Index>(client, &keys.index(user)).await? else {
        return Ok(Vec::new());
    };
    if index.expires_at_ms <= unix_ms(OffsetDateTime::now_utc()) {
        return Ok(Vec::new());
    }
    Ok(index.keys.into_iter().map(RecordKey::from_bytes).collect())
}
