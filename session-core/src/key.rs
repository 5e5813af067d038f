//! Secret keys: parsing, strength checks, and generation.
//!
//! A [`Key`] is the master secret an operator provides. It is never used directly: the token
//! layer derives separate signing and encryption sub-keys from it with HKDF-SHA256
//! (see [`crate::token`]). Key bytes are zeroized on drop and never printed; docs/security.md
//! lists what else is wiped and what is not.
//!
//! # Strength checks
//! A key is refused when it is shorter than 32 bytes; when it is a known placeholder; when it is
//! a pattern: every byte the byte `p` places before it plus a constant, for a `p` up to half the
//! key (repeated blocks, and ascending, descending or other arithmetic sequences); when it has
//! fewer than 12 distinct byte values; or when its text (the key as written, or its bytes when
//! most of them are text) is easy to guess according to zxcvbn.

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

/// Key text is judged in pieces of this many characters (see [`guesses_log10_per_char`]).
const PIECE_CHARS: usize = 16;

/// The cuts into pieces are tried at offsets this many characters apart.
const PIECE_STEP: usize = 4;

/// Parts zxcvbn recognises that are shorter than this are priced as unexplained characters.
const MIN_PART_CHARS: usize = 4;

/// Characters left out of key text before it is judged.
const SEPARATORS: &[char] = &[' ', '-', '_', '.', ',', ':', ';', '/', '+'];

/// Only the first this many characters of a key's text are judged, so that a huge value cannot
/// stall start-up (zxcvbn's cost grows with the length).
const MAX_JUDGED_CHARS: usize = 512;

/// The least accepted `log10` of the guesses key text needs, per character (see
/// [`guesses_log10_per_char`]).
///
/// A random character costs 1.0 (10 guesses), so random base64 and random printable text
/// score 0.9 to 1.0 (of 9,000 random 32-byte keys as base64 or printable text, the lowest
/// scored 0.907); phrases of words score
/// 0.35 to 0.72 (`MyCompanySessionKeyForProduction2024IsVerySecureOk` 0.60, `Correct Horse
/// Battery Staple 2024 is long!` 0.70). The unit tests check both sides.
const MIN_GUESSES_LOG10_PER_CHAR: f64 = 0.8;

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
#[derive(Clone, zeroize::ZeroizeOnDrop)]
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

    /// Parses a key written as text and checks its strength.
    ///
    /// Text made only of hex digits, an even number of them, is hex (`openssl rand -hex 32`);
    /// anything else is base64, standard or URL-safe alphabet, padded or not
    /// (`openssl rand -base64 32`, `session keygen`). Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// A [`KeyError`] that says what is wrong (placeholder text, neither hex nor base64, too
    /// short, a repeated pattern or a sequence, text easy to guess) and how to make a good key.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        check_placeholder(text)?;
        if let Some(bytes) = decode_hex(text) {
            // Hex is judged on its bytes: digits 0-9 and a-f are not text anyone types.
            return Self::checked(bytes);
        }
        let Some(bytes) = decode_base64(text) else {
            // A phrase is more often "not base64" by accident than base64: say what is wrong
            // with it rather than that it does not decode.
            check_guessable(text)?;
            return Err(KeyError::NotBase64);
        };
        let key = Self::checked(bytes)?;
        // Base64 of random bytes looks random; a phrase that happens to be valid base64 (say
        // `MyCompanySessionKeyForProduction2024IsVerySecureOkay`) decodes to bytes that look
        // random too. What an attacker guesses is the text as written, so it is judged as well.
        check_guessable(text)?;
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
        let distinct = distinct_values(&bytes);
        if distinct == 1 {
            return Err(KeyError::RepeatedByte);
        }
        if let Some(Pattern { period, step }) = find_pattern(&bytes) {
            return Err(if step == 0 {
                KeyError::RepeatedBlock { period }
            } else {
                KeyError::Sequence { period, step }
            });
        }
        // 32 random bytes have about 30 distinct values; fewer than 12 is a pattern.
        if distinct < 12 {
            return Err(KeyError::Repetitive { distinct });
        }
        if let Some(text) = text_in(&bytes) {
            check_placeholder(&text)?;
            check_guessable(&text)?;
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

/// Hex when the text is only hex digits, an even number of them. Random base64 of a 32-byte
/// key (43 or 44 characters) is all hex digits with odds below 1 in 10^20.
fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !text.len().is_multiple_of(2) || !text.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.as_bytes().chunks_exact(2) {
        bytes.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(bytes)
}

/// Base64 in any of the four common flavours, decoded into a buffer that is wiped on drop even
/// when a flavour fails half-way.
fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(text.len())]);
    let len = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode_slice(text, &mut bytes[..]).ok())?;
    bytes.truncate(len);
    Some(bytes)
}

fn distinct_values(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    for &b in bytes {
        seen[usize::from(b)] = true;
    }
    seen.iter().filter(|s| **s).count()
}

/// A key that repeats itself: every byte is the byte `period` places before it plus `step`
/// (wrapping), for a period up to half the key. A `step` of 0 is a repeated block (`abcabc`);
/// a period of 1 with a step is an arithmetic sequence (`0, 1, 2, ...`, `ff, fe, fd, ...`,
/// `0, 4, 8, ...`); longer periods with a step are interleaved sequences. For random bytes the
/// odds of any match are below 1 in 10^36 at 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pattern {
    /// How many bytes apart the bytes that determine each other are.
    period: usize,
    /// What each byte adds to the byte `period` places before it.
    step: u8,
}

/// The shortest [`Pattern`] the key follows, if any.
fn find_pattern(bytes: &[u8]) -> Option<Pattern> {
    (1..=bytes.len() / 2).find_map(|period| {
        let step = bytes[period].wrapping_sub(bytes[0]);
        bytes
            .iter()
            .zip(&bytes[period..])
            .all(|(before, after)| after.wrapping_sub(*before) == step)
            .then_some(Pattern { period, step })
    })
}

/// The text in key bytes when at least three quarters of them are text (UTF-8 characters that
/// are not control characters, or whitespace), for example a phrase with a NUL byte added. The
/// other bytes are left out. About one random 32-byte key in 1,000 is this much text; its
/// text is random too, and passes [`check_guessable`].
fn text_in(bytes: &[u8]) -> Option<Zeroizing<String>> {
    // Capacity for every byte, so pushing never reallocates (and never leaves a copy behind).
    let mut text = Zeroizing::new(String::with_capacity(bytes.len()));
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_whitespace() || !c.is_control() {
                text.push(c);
            }
        }
    }
    (text.len() * 4 >= bytes.len() * 3).then_some(text)
}

/// zxcvbn's estimate of the guesses `text` needs, as `log10` per character, for the first
/// [`MAX_JUDGED_CHARS`] characters.
///
/// zxcvbn is built for passwords: on long text its estimate saturates at `u64::MAX` (about
/// 10^19) and its search for the likeliest reading stops being exact, and it charges every
/// extra word a large constant, which makes a long phrase look random. So the text is judged as
/// pieces of [`PIECE_CHARS`] characters, at the offsets a multiple of [`PIECE_STEP`] apart, and
/// the cheapest cut wins (a word split by one cut is whole in another). Each piece is zxcvbn's
/// likeliest reading, priced as the product of the guesses of its parts: a part zxcvbn
/// recognises (a dictionary word, name, year or date, keyboard run, repeat or sequence) of at
/// least [`MIN_PART_CHARS`] characters costs what zxcvbn says, and any other character costs
/// 10 guesses, as zxcvbn counts a character it cannot explain. Shorter parts, and words spelled
/// backwards or in l33t (`g0es`), are priced as unexplained: random base64 is full of them by
/// chance. Separators (space, `-`, `_`, `.`, `,`, `:`, `;`, `/`, `+`) are left out first, since
/// they tell an attacker almost nothing.
fn guesses_log10_per_char(text: &str) -> f64 {
    use zxcvbn::matching::patterns::MatchPattern;

    let mut kept = Zeroizing::new(String::with_capacity(text.len()));
    kept.extend(
        text.chars()
            .filter(|c| !SEPARATORS.contains(c))
            .take(MAX_JUDGED_CHARS),
    );
    // Byte offsets of the characters, and of the end.
    let bounds: Vec<usize> = kept
        .char_indices()
        .map(|(index, _)| index)
        .chain([kept.len()])
        .collect();
    let chars = bounds.len() - 1;
    if chars == 0 {
        return 0.0;
    }
    let price = |piece: &str| -> f64 {
        zxcvbn::zxcvbn(piece, &[])
            .sequence()
            .iter()
            .map(|part| {
                let len = part.j + 1 - part.i;
                let recognised = match &part.pattern {
                    MatchPattern::BruteForce => false,
                    MatchPattern::Dictionary(word) => !word.l33t && !word.reversed,
                    _ => true,
                };
                let unexplained = len as f64;
                match part.guesses {
                    Some(guesses) if recognised && len >= MIN_PART_CHARS => {
                        (guesses as f64).log10().min(unexplained)
                    }
                    _ => unexplained,
                }
            })
            .sum()
    };
    let cheapest = (0..PIECE_CHARS.min(chars))
        .step_by(PIECE_STEP)
        .map(|offset| {
            let mut total = 0.0;
            let mut start = 0;
            let mut end = if offset == 0 { PIECE_CHARS } else { offset };
            while start < chars {
                let end_char = end.min(chars);
                // Pieces borrow from `kept`; zxcvbn's own copies are not wiped (docs/security.md).
                total += price(&kept[bounds[start]..bounds[end_char]]);
                start = end_char;
                end = start + PIECE_CHARS;
            }
            total
        })
        .fold(f64::INFINITY, f64::min);
    cheapest / chars as f64
}

/// Refuses text that zxcvbn finds easy to guess for its length (see
/// [`guesses_log10_per_char`] and [`MIN_GUESSES_LOG10_PER_CHAR`]).
fn check_guessable(text: &str) -> Result<(), KeyError> {
    if guesses_log10_per_char(text) < MIN_GUESSES_LOG10_PER_CHAR {
        return Err(KeyError::LooksTyped);
    }
    Ok(())
}

fn check_placeholder(text: &str) -> Result<(), KeyError> {
    let lower = Zeroizing::new(text.to_ascii_lowercase());
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

    fn random_bytes(len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        getrandom::getrandom(&mut bytes).expect("OS randomness");
        bytes
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Random printable ASCII, as a password manager makes it.
    fn random_printable(len: usize) -> String {
        random_bytes(len * 4)
            .into_iter()
            .filter(|b| *b < 190)
            .map(|b| char::from(0x20 + b % 95))
            .take(len)
            .collect()
    }

    /// Phrases typed by hand, none a placeholder.
    const PHRASES: &[&str] = &[
        "MyCompanySessionKeyForProduction2024IsVerySecureOk",
        "thisismyverylongsessionkeyforproductionusage",
        "Correct Horse Battery Staple 2024 is long!",
        "TheQuickBrownFoxJumpsOverTheLazyDogAgainAndAgain99",
        "my-company-session-key-for-production-2024-very-secure",
        "ThisIsMySuperSecretKeyThatNobodyWillEverGuess!!",
        "session-signing-key-acme-corp-production-eu-west-1",
        "ilovemycatfluffyverymuchandmydogtoo1234567",
        "JohnSmith1985-04-12CompanyNameSessionSecret",
        "Kubernetes-Session-Secret-For-Payments-API-v2",
        "qwertyuiopasdfghjklzxcvbnm1234567890QWERTYUIOPASDF",
    ];

    #[test]
    fn generated_keys_pass_their_own_checks() {
        for _ in 0..64 {
            let key = Key::generate();
            let again = Key::from_base64(&key.to_base64()).expect("generated key accepted");
            assert_eq!(again.material(), key.material());
        }
    }

    /// Raw, hex and base64 forms of random 32-byte keys are accepted every time.
    #[test]
    fn random_keys_are_always_accepted() {
        let engines = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD];
        for round in 0..1000 {
            let raw = random_bytes(32);
            let key = Key::from_bytes(raw.clone()).expect("random raw key accepted");
            assert_eq!(key.material(), &raw[..]);

            let mut text = hex(&raw);
            if round % 2 == 1 {
                text.make_ascii_uppercase();
            }
            let key = Key::from_base64(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(key.material(), &raw[..], "hex is read as hex");

            let text = engines[round % 4].encode(&raw);
            let key = Key::from_base64(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(key.material(), &raw[..]);
        }
        // Random printable text (a password manager's) goes through the guessability check.
        for _ in 0..200 {
            let text = random_printable(32);
            Key::from_bytes(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }

    /// Finding 5: `openssl rand -hex 32` was refused as "typed by hand" (read as base64 without
    /// upper case).
    #[test]
    fn accepts_openssl_rand_hex_32() {
        let text = "1bd391e31e8e7b81548cf46533b06550b8bd491b7f078a5414cf19312023d336";
        let key = Key::from_base64(text).expect("openssl hex accepted");
        assert_eq!(key.len(), 32);
        assert_eq!(&key.material()[..4], &[0x1b, 0xd3, 0x91, 0xe3]);
        let upper = Key::from_base64(&format!(" {}\n", text.to_uppercase())).expect("accepted");
        assert_eq!(upper.material(), key.material());
    }

    /// Finding 5: a phrase that happens to be valid base64 decodes to random-looking bytes and
    /// was accepted; the text as written is judged now. The review's phrase (50 characters)
    /// has non-zero trailing bits, so it was refused, but as "not base64", which sends the
    /// operator the wrong way; it is "typed by hand" now.
    #[test]
    fn refuses_a_phrase_written_as_base64() {
        let valid = "MyCompanySessionKeyForProduction2024IsVerySecureOkay";
        let decoded = decode_base64(valid).expect("52 characters are valid base64");
        assert!(decoded.len() >= MIN_KEY_BYTES && find_pattern(&decoded).is_none());
        assert!(
            text_in(&decoded).is_none(),
            "the decoded bytes are not text"
        );
        assert!(matches!(Key::from_base64(valid), Err(KeyError::LooksTyped)));

        let review = "MyCompanySessionKeyForProduction2024IsVerySecureOk";
        assert!(decode_base64(review).is_none());
        assert!(matches!(
            Key::from_base64(review),
            Err(KeyError::LooksTyped)
        ));
    }

    /// Finding 5: bytes 0..31 have 32 distinct values and were accepted.
    #[test]
    fn refuses_sequences() {
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            find_pattern(&ascending),
            Some(Pattern { period: 1, step: 1 })
        );
        let err = Key::from_bytes(ascending.clone()).expect_err("refused");
        assert!(matches!(err, KeyError::Sequence { period: 1, step: 1 }));
        assert!(err.to_string().contains("is a sequence"), "{err}");
        assert!(err.to_string().contains("session keygen"), "{err}");
        assert!(Key::from_base64(&hex(&ascending)).is_err());
        assert!(Key::from_base64(&STANDARD.encode(&ascending)).is_err());
        let descending: Vec<u8> = (0u8..48).rev().collect();
        assert_eq!(
            find_pattern(&descending),
            Some(Pattern {
                period: 1,
                step: 255
            })
        );
        assert!(Key::from_bytes(descending).is_err());
        let stepped: Vec<u8> = (0u8..40)
            .map(|i| i.wrapping_mul(37).wrapping_add(0x9b))
            .collect();
        assert_eq!(
            find_pattern(&stepped),
            Some(Pattern {
                period: 1,
                step: 37
            })
        );
        assert!(Key::from_bytes(stepped).is_err());
        // Two interleaved sequences: 0, 100, 1, 101, ...
        let interleaved: Vec<u8> = (0u8..32).map(|i| i / 2 + (i % 2) * 100).collect();
        assert_eq!(
            find_pattern(&interleaved),
            Some(Pattern { period: 2, step: 1 })
        );
        assert!(Key::from_bytes(interleaved).is_err());
    }

    /// Finding 5: a 12-byte block repeated has 12 distinct values and was accepted.
    #[test]
    fn refuses_a_short_block_repeated() {
        let block = [
            0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xf3, 0x9c, 0xc0, 0x60,
        ];
        let repeated: Vec<u8> = block.iter().copied().cycle().take(48).collect();
        assert_eq!(find_pattern(&repeated).map(|p| p.step), Some(0));
        assert!(find_pattern(&repeated).is_some_and(|p| 12 % p.period == 0));
        let err = Key::from_bytes(repeated.clone()).expect_err("refused");
        assert!(
            matches!(err, KeyError::RepeatedBlock { period: 12 }),
            "{err}"
        );
        assert!(err.to_string().contains("repeats a 12-byte block"), "{err}");
        assert!(Key::from_base64(&URL_SAFE_NO_PAD.encode(&repeated)).is_err());
        // Periods up to half the key: 16 random bytes twice are refused...
        let half: Vec<u8> = Key::generate().material()[..16].to_vec();
        let twice = [half.clone(), half].concat();
        assert!(find_pattern(&twice).is_some());
        // ...but a period longer than half the key is not a pattern.
        assert_eq!(find_pattern(&twice[..31]), None);
    }

    /// Finding 5: a typed phrase with one NUL byte was not "printable" and was accepted.
    #[test]
    fn refuses_a_typed_phrase_with_a_nul_byte() {
        let phrase = b"Correct Horse Battery Staple\0 2024 is long!".to_vec();
        let err = Key::from_bytes(phrase).expect_err("refused");
        assert!(matches!(err, KeyError::LooksTyped));
        assert!(err.to_string().contains("easy to guess"), "{err}");
    }

    /// Typed text is refused in every form, with a margin below the threshold.
    #[test]
    fn refuses_phrases_in_every_form() {
        for phrase in PHRASES {
            let score = guesses_log10_per_char(phrase);
            assert!(
                score < MIN_GUESSES_LOG10_PER_CHAR - 0.05,
                "{phrase}: {score}"
            );
            let refused = |result: Result<Key, KeyError>| {
                matches!(
                    result,
                    Err(KeyError::LooksTyped | KeyError::Placeholder { .. })
                )
            };
            assert!(refused(Key::from_bytes(phrase.as_bytes())), "{phrase}");
            assert!(refused(Key::from_base64(phrase)), "{phrase}");
            assert!(
                refused(Key::from_base64(&hex(phrase.as_bytes()))),
                "{phrase}"
            );
            assert!(
                refused(Key::from_base64(&STANDARD.encode(phrase))),
                "{phrase}"
            );
        }
    }

    #[test]
    fn refuses_short_keys() {
        let short = URL_SAFE_NO_PAD.encode([7u8, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14]);
        assert!(matches!(
            Key::from_base64(&short),
            Err(KeyError::TooShort { len: 14 })
        ));
        // `openssl rand -hex 16` is 16 bytes, not the 24 its digits would be as base64.
        assert!(matches!(
            Key::from_base64(&hex(&random_bytes(16))),
            Err(KeyError::TooShort { len: 16 })
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
            Err(KeyError::RepeatedBlock { period: 3 })
        ));
        // Few distinct values without a period.
        let few: Vec<u8> = Key::generate().material().iter().map(|b| b % 5).collect();
        assert!(matches!(
            Key::from_bytes(few),
            Err(KeyError::Repetitive { .. })
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
        // Valid base64 that decodes to 33 bytes, but words typed by hand.
        let typed = "thisismyverylongsessionkeyforproductionusage";
        assert!(matches!(Key::from_base64(typed), Err(KeyError::LooksTyped)));
        // Raw bytes that are printable text.
        let phrase = b"Correct Horse Battery Staple 2024 is long!".to_vec();
        assert!(matches!(Key::from_bytes(phrase), Err(KeyError::LooksTyped)));
    }

    #[test]
    fn refuses_non_base64() {
        // Random text with characters base64 does not have.
        let text = format!("{}%*", URL_SAFE_NO_PAD.encode(random_bytes(32)));
        assert!(matches!(Key::from_base64(&text), Err(KeyError::NotBase64)));
        // Text typed by hand is called what it is, base64 or not.
        assert!(matches!(
            Key::from_base64("%%%%not*base64%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"),
            Err(KeyError::LooksTyped)
        ));
    }

    #[test]
    fn accepts_every_base64_flavour() {
        let raw = Key::generate().material().to_vec();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let key = Key::from_base64(&engine.encode(&raw)).expect("accepted");
            assert_eq!(key.material(), &raw[..]);
        }
    }

    /// Finding 12: the key and the AES-256 state derived from it (inside AES-256-GCM-SIV) wipe
    /// themselves on drop. Fails to compile if `aes`'s `zeroize` feature or the derive on
    /// `Key` goes away.
    #[test]
    fn key_material_is_wiped_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Key>();
        wiped_on_drop::<aes::Aes256>();
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
