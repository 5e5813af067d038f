//! Secret keys: parsing, strength checks, and generation.
//!
//! A [`Key`] is the master secret an operator provides. It is never used directly: the token
//! layer derives separate signing and encryption sub-keys from it with HKDF-SHA256
//! (see [`crate::token`]). Key material is zeroized on drop and never printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The smallest accepted key, in bytes (256 bits).
pub(crate) const MIN_KEY_BYTES: usize = 32;

/// The largest accepted key id, in bytes. Ids travel in every token, so keep them short.
pub(crate) const MAX_KEY_ID_LEN: usize = 16;

/// Words that show a key was typed by hand or copied from an example rather than generated.
const PLACEHOLDERS: &[&str] = &[
    "your-very-secret-key",
    "your-secret-key",
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "passwd",
    "default",
    "example",
    "insecure",
    "replace",
    "todo",
    "test",
    "demo",
    "qwerty",
    "letmein",
    "12345",
];

/// A master secret key of at least 32 random bytes.
///
/// `Debug` and `Display` never show the material, and the bytes are zeroized when the key is
/// dropped.
///
/// ```
/// use session_core::Key;
///
/// let key = Key::generate();
/// assert_eq!(format!("{key:?}"), "Key(<redacted, 32 bytes>)");
/// assert!(Key::from_base64("changeme").is_err());
/// ```
#[derive(Clone)]
pub struct Key {
    bytes: Zeroizing<Vec<u8>>,
}

impl Key {
    /// Makes a fresh 32-byte key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self::generate_with_len(MIN_KEY_BYTES).expect("32 is an accepted key length")
    }

    /// Makes a fresh key of `len` bytes from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] when `len` is below 32, and [`KeyError::Rng`]
    /// when the operating system cannot supply randomness.
    pub fn generate_with_len(len: usize) -> Result<Self, KeyError> {
        if len < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len });
        }
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        getrandom::getrandom(&mut bytes).map_err(|e| KeyError::Rng(e.to_string()))?;
        Ok(Self { bytes })
    }

    /// Parses a key written as base64 (standard or URL-safe alphabet, padded or not) and checks
    /// its strength.
    ///
    /// # Errors
    /// A [`KeyError`] that says what is wrong (placeholder text, not base64, too short, one
    /// repeated byte, text typed by hand) and how to make a good key.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        check_placeholder(text)?;
        let decoded = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .map(Zeroizing::new)
            .ok_or(KeyError::NotBase64)?;
        let key = Self::checked(decoded)?;
        // Random base64 of 32 bytes or more is 43+ characters that almost surely mix upper and
        // lower case (a miss has odds below 1 in 10^9); text without both was typed by hand.
        let has_upper = text.bytes().any(|b| b.is_ascii_uppercase());
        let has_lower = text.bytes().any(|b| b.is_ascii_lowercase());
        if !(has_upper && has_lower) {
            return Err(KeyError::LooksTyped);
        }
        Ok(key)
    }

    /// Takes raw key bytes (for example fetched from a secret manager) and checks their
    /// strength.
    ///
    /// # Errors
    /// The same strength errors as [`Key::from_base64`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(bytes.into());
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check_placeholder(text)?;
        }
        Self::checked(bytes)
    }

    fn checked(bytes: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len: bytes.len() });
        }
        let mut seen = [false; 256];
        for &b in bytes.iter() {
            seen[usize::from(b)] = true;
        }
        let distinct = seen.iter().filter(|s| **s).count();
        if distinct == 1 {
            return Err(KeyError::RepeatedByte);
        }
        // 32 random bytes have about 30 distinct values; fewer than 12 is a pattern.
        if distinct < 12 {
            return Err(KeyError::Repetitive { distinct });
        }
        // 32 random bytes are all printable ASCII with odds of about 1 in 10^13.
        if bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(KeyError::LooksTyped);
        }
        Ok(Self { bytes })
    }

    /// The key length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: an accepted key is never empty. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The key as unpadded URL-safe base64, the form `SESSION_KEYS` entries use.
    ///
    /// This is the only way to see the material; it exists for key generation tools.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&*self.bytes))
    }

    pub(crate) fn material(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(<redacted, {} bytes>)", self.bytes.len())
    }
}

fn check_placeholder(text: &str) -> Result<(), KeyError> {
    let lower = text.to_ascii_lowercase();
    // Only text that could be a typed phrase is checked; base64 of random bytes containing,
    // say, "test" by chance must not be refused, so a hit counts only when the word is a large
    // part of the text.
    for word in PLACEHOLDERS {
        if lower.contains(word) && word.len() * 4 >= lower.len() {
            return Err(KeyError::Placeholder { word });
        }
    }
    if lower.contains("your-very-secret-key") || lower.contains("secret-key") {
        return Err(KeyError::Placeholder { word: "secret-key" });
    }
    Ok(())
}

/// A short name for a key, carried in every token so the verifier knows which key signed it.
///
/// Ids are 1 to 16 characters from `[A-Za-z0-9._-]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Checks and wraps an id.
    ///
    /// # Errors
    /// [`KeyError::InvalidId`] when the id is empty, too long, or uses other characters.
    pub fn new(id: &str) -> Result<Self, KeyError> {
        let valid = !id.is_empty()
            && id.len() <= MAX_KEY_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(KeyError::InvalidId {
                id: id.chars().take(40).collect(),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:?})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_pass_their_own_checks() {
        for _ in 0..64 {
            let key = Key::generate();
            let again = Key::from_base64(&key.to_base64()).expect("generated key accepted");
            assert_eq!(again.material(), key.material());
        }
    }

    #[test]
    fn refuses_short_keys() {
        let short = URL_SAFE_NO_PAD.encode([7u8, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]);
        assert!(matches!(
            Key::from_base64(&short),
            Err(KeyError::TooShort { len: 14 })
        ));
    }

    #[test]
    fn refuses_repeated_bytes() {
        let text = STANDARD.encode([0xAAu8; 32]);
        assert!(matches!(
            Key::from_base64(&text),
            Err(KeyError::RepeatedByte)
        ));
        let pattern: Vec<u8> = (0..48).map(|i| [0x01, 0x80, 0xfe][i % 3]).collect();
        assert!(matches!(
            Key::from_bytes(pattern),
            Err(KeyError::Repetitive { distinct: 3 })
        ));
    }

    #[test]
    fn refuses_placeholders_and_typed_text() {
        for text in [
            "your-very-secret-key",
            "changeme",
            "secret",
            "password",
            "SECRET",
        ] {
            assert!(
                matches!(Key::from_base64(text), Err(KeyError::Placeholder { .. })),
                "{text} accepted"
            );
        }
        // Valid base64 that decodes to 33 bytes, but all lower case: typed by hand.
        let typed = "thisismyverylongsessionkeyforproductionusage";
        assert!(matches!(Key::from_base64(typed), Err(KeyError::LooksTyped)));
        // Raw bytes that are printable text.
        let phrase = b"Correct Horse Battery Staple 2024 is long!".to_vec();
        assert!(matches!(Key::from_bytes(phrase), Err(KeyError::LooksTyped)));
    }

    #[test]
    fn refuses_non_base64() {
        assert!(matches!(
            Key::from_base64("%%%%not*base64%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"),
            Err(KeyError::NotBase64)
        ));
    }

    #[test]
    fn accepts_every_base64_flavour() {
        let raw: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(0x9b))
            .collect();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let key = Key::from_base64(&engine.encode(&raw)).expect("accepted");
            assert_eq!(key.material(), &raw[..]);
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key::generate();
        let shown = format!("{key:?} {:#?}", key);
        assert!(!shown.contains(key.to_base64().as_str()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn key_ids_are_short_and_plain() {
        assert!(KeyId::new("k1").is_ok());
        assert!(KeyId::new("2026-11.a_b").is_ok());
        assert!(KeyId::new("").is_err());
        assert!(KeyId::new("has space").is_err());
        assert!(KeyId::new("k:1").is_err());
        assert!(KeyId::new("abcdefghijklmnopq").is_err());
    }
}
