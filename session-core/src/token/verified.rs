//! Tokens verified recently: a browser sends the same cookie on every request until it
//! changes, so the base64 decoding, the MAC check and the decryption of a token need to run
//! once per token, not once per request. A token the codec seals enters at once (the
//! browser sends it next), holding what verifying it would have put here.
//!
//! Only what depends on the token's bytes alone is kept: its decoded (and decrypted) bytes, the
//! index of the key that verified it and its parsed header (schema, times, where the payload
//! is). The codec that owns the cache has one keyring and one rotation policy for its whole
//! life, so that index means the same on every hit.
//! Everything that depends on the time or on the configuration (the deadlines, the field
//! deadlines, the schema and its migrations) runs on every request, hit or miss, exactly as
//! without the cache.
//!
//! A hit needs the whole cookie value to be equal, compared in constant time: a cache that
//! answered faster for a longer matching prefix would let a client learn a cached token of
//! another user byte by byte. Bounded: a fixed number of slots, each holding one token; a new
//! token takes its slot from the one before. A client that floods the slots only costs the
//! cache its hits.

use std::sync::{Mutex, PoisonError};

use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize as _, Zeroizing};

use super::Layout;

/// Slots in the cache (a power of two). At about 300 bytes a token and 100 for its parsed
/// header, at most ~1.6 MB.
const SLOTS: usize = 4096;
/// Values shorter than this are never cached (no real token is).
const MIN_VALUE: usize = 16;

struct Entry {
    value: Vec<u8>,
    /// The decoded token, decrypted in place when it was encrypted: what `open` works on.
    plain: Zeroizing<Vec<u8>>,
    key_index: usize,
    header_start: usize,
    /// The SHA-256 of the payload, once a caller computed it (store mode: the record key).
    payload_sha256: Option<[u8; 32]>,
    /// The parsed header (`None` only for a sealed token whose header does not parse).
    layout: Option<Layout>,
}

/// Whether two cookie values are equal, in time that depends on their length only (which is
/// public: it is the length of the cookie the client sent). Eight bytes at a time, with one
/// optimisation barrier at the end instead of `subtle`'s one per byte, which were most of a
/// cache hit's cost.
fn same_value(cached: &[u8], value: &[u8]) -> bool {
    if cached.len() != value.len() {
        return false;
    }
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    };
    // Differences OR-ed together without a branch, then one constant-time test of the sum
    // (the scheme of the `constant_time_eq` crate).
    let (a, b) = (cached.chunks_exact(8), value.chunks_exact(8));
    let tails = word(a.remainder()) ^ word(b.remainder());
    let differences = a
        .zip(b)
        .fold(tails, |acc, (a, b)| acc | (word(a) ^ word(b)));
    bool::from(differences.ct_eq(&0))
}

/// What a hit restores: the key that verified the token and where its header starts.
pub(super) struct Hit {
    pub key_index: usize,
    pub header_start: usize,
    pub payload_sha256: Option<[u8; 32]>,
    pub layout: Option<Layout>,
}

pub(super) struct VerifiedCache {
    slots: Box<[Mutex<Option<Entry>>]>,
    /// Spreads values over slots; random per process, so slot collisions cannot be planned
    /// from outside.
    seed: u64,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl VerifiedCache {
    pub(super) fn new() -> Self {
        let mut seed = [0u8; 8];
        // Without randomness the spread is only less even; the cache stays correct.
        let _ = getrandom::getrandom(&mut seed);
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            seed: u64::from_le_bytes(seed) | 1,
        }
    }

    fn slot(&self, value: &[u8]) -> Option<&Mutex<Option<Entry>>> {
        if value.len() < MIN_VALUE {
            return None;
        }
        // The last characters encode the MAC: they differ between any two tokens.
        let tail: [u8; 8] = value[value.len() - 8..].try_into().ok()?;
        let mixed = (u64::from_le_bytes(tail) ^ value.len() as u64).wrapping_mul(self.seed);
        let index = (mixed >> (64 - SLOTS.trailing_zeros())) as usize;
        self.slots.get(index)
    }

    /// On a hit, fills `buf` with the token's decoded bytes and answers how it verified.
    pub(super) fn get(&self, value: &[u8], buf: &mut Vec<u8>) -> Option<Hit> {
        let slot = self.slot(value)?;
        let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = guard.as_ref()?;
        if !same_value(&entry.value, value) {
            return None;
        }
        buf.clear();
        buf.extend_from_slice(&entry.plain);
        Some(Hit {
            key_index: entry.key_index,
            header_start: entry.header_start,
            payload_sha256: entry.payload_sha256,
            layout: entry.layout.clone(),
        })
    }

    /// Keeps the SHA-256 of the payload of the token `value`, if the token is still cached.
    pub(super) fn remember_payload_sha256(&self, value: &[u8], digest: [u8; 32]) {
        let Some(slot) = self.slot(value) else {
            return;
        };
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = guard.as_mut()
            && same_value(&entry.value, value)
        {
            entry.payload_sha256 = Some(digest);
        }
    }

    /// Keeps a token that verified, replacing whatever held its slot (in that slot's buffers,
    /// wiped first, so a miss costs no allocation once the slot has been used).
    pub(super) fn put(
        &self,
        value: &[u8],
        plain: &[u8],
        key_index: usize,
        header_start: usize,
        layout: Option<&Layout>,
    ) {
        let Some(slot) = self.slot(value) else {
            return;
        };
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_mut() {
            Some(entry) => {
                entry.value.clear();
                entry.value.extend_from_slice(value);
                // Zeroes the old bytes and the spare capacity, keeps the allocation.
                entry.plain.zeroize();
                entry.plain.extend_from_slice(plain);
                entry.key_index = key_index;
                entry.header_start = header_start;
                entry.payload_sha256 = None;
                entry.layout = layout.cloned();
            }
            None => {
                *guard = Some(Entry {
                    value: value.to_vec(),
                    plain: Zeroizing::new(plain.to_vec()),
                    key_index,
                    header_start,
                    payload_sha256: None,
                    layout: layout.cloned(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{VerifiedCache, same_value};

    #[test]
    fn a_payload_digest_belongs_to_its_token_only() {
        let cache = VerifiedCache::new();
        let value = b"a-token-value-long-enough";
        let mut buf = Vec::new();
        cache.put(value, b"plain", 1, 2, None);
        assert_eq!(
            cache.get(value, &mut buf).map(|h| h.payload_sha256),
            Some(None)
        );
        cache.remember_payload_sha256(value, [7; 32]);
        let hit = cache.get(value, &mut buf).expect("cached");
        assert_eq!(
            (hit.payload_sha256, hit.key_index, buf.as_slice()),
            (Some([7; 32]), 1, &b"plain"[..])
        );
        // Another value (same length, so possibly the same slot) never gets or sets it.
        let other = b"a-token-value-long-enougH";
        cache.remember_payload_sha256(other, [9; 32]);
        assert_eq!(
            cache.get(value, &mut buf).and_then(|h| h.payload_sha256),
            Some([7; 32])
        );
        // A token that takes the slot over starts without one.
        cache.put(value, b"plain", 1, 2, None);
        assert_eq!(
            cache.get(value, &mut buf).and_then(|h| h.payload_sha256),
            None
        );
    }

    #[test]
    fn values_are_equal_only_when_every_byte_is() {
        let value: Vec<u8> = (0..=200u8).collect();
        for len in [0, 1, 7, 8, 9, 16, 17, 130, 167, 201] {
            let a = &value[..len];
            assert!(same_value(a, a), "equal at length {len}");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x01;
                assert!(!same_value(a, &b), "differs at {at} of {len}");
            }
        }
        assert!(!same_value(b"abc", b"abcd"));
        assert!(
            !same_value(b"abcdefgh\0", b"abcdefgh"),
            "a longer value is never equal"
        );
    }
}
