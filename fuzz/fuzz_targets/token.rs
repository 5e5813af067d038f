//! The token parser: every way a cookie value can be refused, and what it reads after the MAC.
//!
//! Input, by its first byte (mod 4):
//! - 0: the rest is the cookie value as text (lossy UTF-8): size bound, base64, format
//!   version, key id, MAC (bad signature, wrong purpose, retired key).
//! - 3: the rest is the token's bytes before base64, so mutations hit the binary layout.
//! - 1: key byte, `bytes` header, rest payload: signed with a valid MAC by the forge, so the
//!   header parser, flags, timestamps, schema checks and payload decoding are reached.
//! - 2: as 1, plus a 12-byte nonce before the payload: encrypted, with a valid AEAD tag.
//!
//! Every value goes to `inspect` and to a load on three cookie-mode managers (signed,
//! encrypted, current key only) and a store-mode one. Checked: `inspect` and `load` agree on
//! why a token is refused; a loaded session saves and loads back to the same data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::{LoadStatus, Rejection};
use session_fuzz::forge::Parts;
use session_fuzz::{AppV1, AppV2, Fixture, Reader, check_cookie_round_trip, is_loaded, load_value};

fuzz_target!(|data: &[u8]| {
    let f = Fixture::get();
    let mut r = Reader::new(data);
    let mode = r.u8() % 4;
    let token = match mode {
        0 => String::from_utf8_lossy(r.rest()).into_owned(),
        3 => {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r.rest())
        }
        _ => {
            let key = usize::from(r.u8() & 1);
            let header = r.bytes().to_vec();
            let nonce = (mode == 2).then(|| {
                let mut nonce = [0u8; 12];
                let got = r.take(12);
                nonce[..got.len()].copy_from_slice(got);
                nonce
            });
            let payload = r.rest().to_vec();
            f.forge.token(&Parts {
                key,
                header,
                nonce,
                payload,
            })
        }
    };
    // The cookie splitter cuts at `;` and trims: only such values reach the codec unchanged.
    let whole = !token.contains(';') && token.trim() == token;
    for manager in [&f.plain, &f.encrypted, &f.current_only] {
        let inspected = manager.inspect(&token);
        let handle = load_value::<AppV2>(manager, &token);
        // `inspect` also turns every timestamp into a date, which `load` never needs.
        let timestamp = Err(Rejection::Malformed("timestamp"));
        if is_loaded(&handle) {
            assert!(
                inspected.is_ok() || inspected == timestamp,
                "loaded, but inspect refuses it: {inspected:?}"
            );
        }
        if whole
            && let Err(rejection) = &inspected
            && inspected != timestamp
        {
            assert_eq!(
                handle.status(),
                &LoadStatus::Rejected(rejection.clone()),
                "inspect and load disagree"
            );
        }
        if is_loaded(&handle) {
            check_cookie_round_trip(manager, handle);
        }
        let _ = load_value::<AppV1>(manager, &token);
    }
    let _ = load_value::<AppV2>(&f.stored, &token);
});
