//! [`CsrfToken`]: a synchronizer token bound to the session, for browsers that send neither
//! `Sec-Fetch-Site` nor `Origin`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

const SECRET_LEN: usize = 32;
/// The length of an issued token: base64url of a 32-byte mask and the 32-byte masked secret.
const TOKEN_LEN: usize = (2 * SECRET_LEN * 4).div_ceil(3);

/// A synchronizer token bound to the session: the second line of defence against cross-site
/// request forgery, for applications that must serve browsers sending neither
/// `Sec-Fetch-Site` nor `Origin` (the header-based
/// [`CrossOriginProtection`](crate::CrossOriginProtection), on by default, covers every
/// browser since 2020).
///
/// Add a field of this type to the session struct, put [`issue`](Self::issue) in each form
/// (a hidden field) or page (a `<meta>` tag for scripts, sent back in a header), and
/// [`verify`](Self::verify) what comes back before changing anything:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use session_core::{CsrfToken, SessionData};
///
/// #[derive(SessionData, Serialize, Deserialize, Default)]
/// struct AppSession {
///     user_id: Option<u64>,
///     csrf: CsrfToken,
/// }
///
/// let mut session = AppSession::default();
/// // GET /form: render the token into the form.
/// let token = session.csrf.issue();
/// // POST /form: refuse the request unless the token came back.
/// assert!(session.csrf.verify(&token));
/// assert!(!session.csrf.verify("forged"));
/// // A token of another session (or of a logged-out one) does not verify.
/// assert!(!AppSession::default().csrf.verify(&token));
/// ```
///
/// The secret (32 random bytes) is created by the first `issue` and lives in the session, so
/// it ends with it: [`logout`](crate::SessionHandle::logout) resets it. Every `issue` masks
/// the secret with fresh random bytes, so no two responses carry the same token and a
/// compression side channel (BREACH) learns nothing; `verify` unmasks and compares in constant
/// time. In cookie mode the secret rides in the signed cookie (encrypt the cookie with
/// [`SessionConfig::encrypt`](crate::SessionConfig::encrypt) to hide it from the client too);
/// in store mode it stays on the server. Call [`reset`](Self::reset) at login for a fresh
/// secret. `Debug` shows whether a secret exists, never the secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CsrfToken {
    secret: Option<[u8; SECRET_LEN]>,
}

impl CsrfToken {
    /// A token for this response: the session's secret (created on the first call, which
    /// changes the session) masked with fresh random bytes. 86 URL-safe characters.
    ///
    /// # Panics
    /// When the operating system's random number generator fails, which it does not on a
    /// supported system once booted.
    pub fn issue(&mut self) -> String {
        let secret = *self.secret.get_or_insert_with(random_bytes);
        let mask = random_bytes();
        let mut token = [0u8; 2 * SECRET_LEN];
        token[..SECRET_LEN].copy_from_slice(&mask);
        for (i, byte) in token[SECRET_LEN..].iter_mut().enumerate() {
            *byte = secret[i] ^ mask[i];
        }
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Whether `submitted` is a token [`issue`](Self::issue)d for this session's current
    /// secret. Never panics; anything malformed, and anything when the session has no secret
    /// yet, is `false`.
    pub fn verify(&self, submitted: &str) -> bool {
        let Some(secret) = &self.secret else {
            return false;
        };
        if submitted.len() != TOKEN_LEN {
            return false;
        }
        let mut token = [0u8; 2 * SECRET_LEN];
        match URL_SAFE_NO_PAD.decode_slice(submitted.as_bytes(), &mut token) {
            Ok(len) if len == token.len() => {}
            _ => return false,
        }
        let mut unmasked = [0u8; SECRET_LEN];
        for (i, byte) in unmasked.iter_mut().enumerate() {
            *byte = token[i] ^ token[SECRET_LEN + i];
        }
        unmasked.ct_eq(secret).into()
    }

    /// Forgets the secret: tokens issued so far stop verifying, and the next
    /// [`issue`](Self::issue) creates a new one. Call it at login.
    pub fn reset(&mut self) {
        self.secret = None;
    }
}

fn random_bytes() -> [u8; SECRET_LEN] {
    let mut bytes = [0u8; SECRET_LEN];
    getrandom::getrandom(&mut bytes).expect("the operating system's random number generator");
    bytes
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.secret.is_some() {
            "<secret>"
        } else {
            "<none yet>"
        };
        f.debug_tuple("CsrfToken")
            .field(&format_args!("{state}"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_per_issue_and_verify_only_for_their_secret() {
        let mut csrf = CsrfToken::default();
        assert!(!csrf.verify(""), "no secret yet");
        let first = csrf.issue();
        let second = csrf.issue();
        assert_eq!(first.len(), TOKEN_LEN);
        assert_ne!(first, second, "a fresh mask every time");
        assert!(csrf.verify(&first) && csrf.verify(&second));

        let mut other = CsrfToken::default();
        let theirs = other.issue();
        assert!(!csrf.verify(&theirs));

        // Flipping any character breaks it; so do wrong lengths and non-base64.
        for i in 0..first.len() {
            let mut bytes = first.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(!csrf.verify(&changed), "position {i}");
        }
        for bad in [
            &first[1..],
            &format!("{first}A"),
            &"!".repeat(TOKEN_LEN),
            "ü",
        ] {
            assert!(!csrf.verify(bad));
        }

        csrf.reset();
        assert!(!csrf.verify(&first));
        let debug = format!("{csrf:?} {other:?}");
        assert_eq!(debug, "CsrfToken(<none yet>) CsrfToken(<secret>)");
    }

    #[test]
    fn the_secret_survives_the_session_encoding() {
        let mut csrf = CsrfToken::default();
        let token = csrf.issue();
        let bytes = postcard::to_allocvec(&csrf).expect("encodes");
        let back: CsrfToken = postcard::from_bytes(&bytes).expect("decodes");
        assert!(back.verify(&token));
        let empty = postcard::to_allocvec(&CsrfToken::default()).expect("encodes");
        assert_eq!(empty, [0], "an unused token costs one byte");
    }
}
