//! The `Cookie` header splitter, through the adapter contract's byte path
//! (`RequestSession::lend` with raw header bytes), in cookie and store mode.
//!
//! Input: the request's `Cookie` header values, separated by `\n` (at most 8), any bytes.
//!
//! Checked: when every header is UTF-8, the byte path and `SessionManager::load` agree;
//! a valid session pair added to any header (or as one more header) is always found,
//! whatever the other bytes are (non-UTF-8 cookies, junk, fewer than 8 refused session
//! cookies).
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::LoadStatus;
use session_fuzz::{AppV2, Fixture, block_on, lend_status};

/// How many of a request's session cookies core opens at most (`MAX_CANDIDATES` in
/// session-core/src/session/cookie_mode.rs): a flood of duplicates costs a few MAC checks only.
const MAX_CANDIDATES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let f = Fixture::get();
    let headers: Vec<&[u8]> = data.split(|&b| b == b'\n').take(8).collect();
    f.store.put(Some(f.store_record.clone()));
    for manager in [&f.plain, &f.stored] {
        let status = lend_status::<AppV2>(manager, &headers);
        let texts: Option<Vec<&str>> = headers
            .iter()
            .map(|h| std::str::from_utf8(h).ok())
            .collect();
        if let Some(texts) = texts {
            let handle = block_on(manager.load::<AppV2>(texts)).expect("the store never fails");
            assert_eq!(handle.status(), &status, "byte path and str path disagree");
        }
    }
    // A valid session cookie cannot be hidden by anything else in the request, as long as
    // fewer session pairs than core opens per request come with it (counted generously here:
    // every pair whose name trims to `session`, readable or not).
    let session_pairs = headers
        .iter()
        .flat_map(|h| h.split(|&b| b == b';'))
        .filter(|pair| {
            let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
            pair.contains(&b'=') && String::from_utf8_lossy(name).trim() == "session"
        })
        .count();
    if session_pairs >= MAX_CANDIDATES {
        return;
    }
    let at = usize::from(data.first().copied().unwrap_or(0)) % (headers.len() + 1);
    let pair = format!(";session={}", f.cookie_token);
    let mut owned: Vec<Vec<u8>> = headers.iter().map(|h| h.to_vec()).collect();
    match owned.get_mut(at) {
        Some(header) => header.extend_from_slice(pair.as_bytes()),
        None => owned.push(pair.into_bytes()),
    }
    let with_valid: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let status = lend_status::<AppV2>(&f.plain, &with_valid);
    assert!(
        matches!(status, LoadStatus::Loaded { .. }),
        "a valid session cookie was hidden: {status:?}"
    );
});
