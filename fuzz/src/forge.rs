//! Signs fuzzer-made tokens with the fixture's keys, so inputs get past the MAC check and
//! reach the header parser, decryption, the schema checks and the payload decoder.
//!
//! This mirrors session-core's token format version 1 (see the top of
//! `session-core/src/token.rs`):
//!
//! ```text
//! base64url-no-pad( 1 | key id length | key id | header (postcard)
//!                   | [nonce (12) | AES-256-GCM-SIV(payload, AAD = all before the nonce) | tag (16)]
//!                   or payload
//!                   | HMAC-SHA256(all of the above)[..16] )
//! ```
//!
//! with HKDF-SHA256 sub-keys (salt `session-core/v1`, info `mac\0<purpose>` and
//! `encrypt\0<purpose>`). [`crate::Fixture`] checks on start-up that a split and re-signed
//! minted token is the same string, so a change of format stops the fuzzers at once.

use aes_gcm_siv::aead::{AeadInPlace, KeyInit as _};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The format version byte.
pub const FORMAT_VERSION: u8 = 1;
/// The key ids of the fixture, signing key first.
pub const KEY_IDS: [&str; 2] = ["k2", "k1"];
/// The header flag of an encrypted payload.
pub const FLAG_ENCRYPTED: u8 = 1;
const MAC_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The token header after the key id, as session-core writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHeader {
    /// Bit 0: encrypted.
    pub flags: u8,
    /// One byte naming the purpose.
    pub purpose_tag: u8,
    /// The schema name.
    pub schema_name: String,
    /// The schema version (0 for store-mode ids).
    pub schema_version: u32,
    /// The schema fingerprint, little-endian.
    pub fingerprint: [u8; 4],
    /// Unix seconds.
    pub issued_at: u64,
    /// Seconds after `issued_at`.
    pub last_active_offset: u64,
    /// Seconds after `issued_at`.
    pub absolute_offset: u64,
    /// `(slot, seconds after issued_at)`.
    pub field_offsets: Vec<(u8, u64)>,
}

impl WireHeader {
    /// The postcard bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a header serializes")
    }

    /// Parses header bytes (ignoring what follows).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::take_from_bytes(bytes).ok().map(|(h, _)| h)
    }
}

/// A token taken apart: which key signs it, the header bytes, the nonce when encrypted, and
/// the plaintext payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// Index into [`KEY_IDS`].
    pub key: usize,
    /// The header bytes, as written (any bytes).
    pub header: Vec<u8>,
    /// `Some`: the payload is encrypted under this nonce.
    pub nonce: Option<[u8; NONCE_LEN]>,
    /// The plaintext payload.
    pub payload: Vec<u8>,
}

struct Keys {
    mac: Hmac<Sha256>,
    aead: Aes256GcmSiv,
}

/// Signs (and encrypts) tokens for one purpose with the fixture's keys.
pub struct Forge {
    keys: Vec<Keys>,
    purpose_tag: u8,
}

impl Forge {
    /// Derives the sub-keys of `keys` (signing key first) for `purpose`, e.g.
    /// `cookie=session;app=`.
    pub fn new(keys: &[Vec<u8>], purpose: &str) -> Self {
        let keys = keys
            .iter()
            .map(|material| {
                let hkdf = Hkdf::<Sha256>::new(Some(b"session-core/v1"), material);
                let expand = |label: &str| {
                    let mut out = [0u8; 32];
                    let info = [label.as_bytes(), b"\0", purpose.as_bytes()].concat();
                    hkdf.expand(&info, &mut out).expect("32 bytes");
                    out
                };
                Keys {
                    mac: <Hmac<Sha256> as Mac>::new_from_slice(&expand("mac"))
                        .expect("any key length"),
                    aead: Aes256GcmSiv::new((&expand("encrypt")).into()),
                }
            })
            .collect();
        let digest = Sha256::new()
            .chain_update(b"session-core purpose\0")
            .chain_update(purpose)
            .finalize();
        Self {
            keys,
            purpose_tag: digest[0],
        }
    }

    /// The purpose byte of this forge's headers.
    pub fn purpose_tag(&self) -> u8 {
        self.purpose_tag
    }

    /// The token for `parts`, with a valid MAC (and AEAD tag when encrypted).
    pub fn token(&self, parts: &Parts) -> String {
        URL_SAFE_NO_PAD.encode(self.token_bytes(parts))
    }

    /// [`token`](Self::token) before base64.
    pub fn token_bytes(&self, parts: &Parts) -> Vec<u8> {
        let key_index = parts.key.min(self.keys.len() - 1);
        let key = &self.keys[key_index];
        let id = KEY_IDS[key_index].as_bytes();
        let mut bytes = vec![FORMAT_VERSION, id.len() as u8];
        bytes.extend_from_slice(id);
        bytes.extend_from_slice(&parts.header);
        match &parts.nonce {
            Some(nonce) => {
                let aad_end = bytes.len();
                bytes.extend_from_slice(nonce);
                let mut sealed = parts.payload.clone();
                let tag = key
                    .aead
                    .encrypt_in_place_detached(
                        Nonce::from_slice(nonce),
                        &bytes[..aad_end],
                        &mut sealed,
                    )
                    .expect("payload small enough");
                bytes.extend_from_slice(&sealed);
                bytes.extend_from_slice(&tag);
            }
            None => bytes.extend_from_slice(&parts.payload),
        }
        let mut mac = key.mac.clone();
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        bytes
    }

    /// Takes a valid token of the fixture's keys apart (for seeds and the self-check).
    pub fn split(&self, token: &str) -> Option<Parts> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != FORMAT_VERSION || bytes.len() < 2 + MAC_LEN {
            return None;
        }
        let (&id_len, rest) = rest.split_first()?;
        let id = rest.get(..usize::from(id_len))?;
        let key = KEY_IDS.iter().position(|k| k.as_bytes() == id)?;
        let signed = &bytes[..bytes.len() - MAC_LEN];
        let header_start = 2 + usize::from(id_len);
        let (header, body) =
            postcard::take_from_bytes::<WireHeader>(signed.get(header_start..)?).ok()?;
        let header_bytes = signed[header_start..signed.len() - body.len()].to_vec();
        if header.flags & FLAG_ENCRYPTED == 0 {
            return Some(Parts {
                key,
                header: header_bytes,
                nonce: None,
                payload: body.to_vec(),
            });
        }
        if body.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let aad = &signed[..signed.len() - body.len()];
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().ok()?;
        let (sealed, tag) = body[NONCE_LEN..].split_at(body.len() - NONCE_LEN - TAG_LEN);
        let mut payload = sealed.to_vec();
        self.keys[key]
            .aead
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut payload, tag.into())
            .ok()?;
        Some(Parts {
            key,
            header: header_bytes,
            nonce: Some(nonce),
            payload,
        })
    }
}
