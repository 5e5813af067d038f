//! Key naming: the store's prefix, the head, field and per-user index keys, and names that
//! memcached cannot take in a key (or that would make it too long) hashed with SHA-256.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use session_core::store::RecordKey;

/// The longest key memcached accepts, in bytes.
const MAX_KEY: usize = 250;

/// The names of a store's keys, all starting with its prefix.
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of a record's head.
    pub(crate) fn head(&self, key: &RecordKey) -> String {
        format!("{}{}", self.prefix, key.to_hex())
    }

    /// The key of the field `name` of the record whose head is `head_key`.
    pub(crate) fn field(&self, head_key: &str, name: &str) -> String {
        let room = MAX_KEY.saturating_sub(head_key.len() + 1);
        format!("{head_key}:{}", key_part(name, room))
    }

    /// The key of a user's index.
    pub(crate) fn index(&self, user: &str) -> String {
        let room = MAX_KEY.saturating_sub(self.prefix.len() + "user:".len());
        format!("{}user:{}", self.prefix, key_part(user, room))
    }
}

/// `name` as the last part of a key with `room` bytes left: as it is when memcached accepts
/// it there, otherwise `#` and its SHA-256 in hex. Names kept as they are never start with
/// `#`, so two names never share a key.
fn key_part(name: &str, room: usize) -> Cow<'_, str> {
    if name.len() <= room && !name.starts_with('#') && name.bytes().all(|b| b.is_ascii_graphic()) {
        Cow::Borrowed(name)
    } else {
        let digest = RecordKey::from_bytes(Sha256::digest(name.as_bytes()).into());
        Cow::Owned(format!("#{}", digest.to_hex()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_memcached_cannot_take_are_hashed() {
        assert_eq!(key_part("@deadline:3", 100), "@deadline:3");
        assert_eq!(key_part("cart_items", 100), "cart_items");
        for odd in ["with space", "tab\t", "é", "#meta"] {
            let part = key_part(odd, 100);
            assert!(
                part.starts_with('#') && part.len() == 65,
                "{odd:?} -> {part}"
            );
        }
        assert_eq!(key_part("abcdef", 5).len(), 65);
        assert_ne!(key_part("a b", 100), key_part("a  b", 100));
    }
}
