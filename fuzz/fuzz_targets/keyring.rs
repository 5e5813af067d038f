//! Key and keyring parsing: `Keyring::parse` (the `SESSION_KEYS` / key file syntax),
//! `Keyring::from_entries`, `Key::from_base64`, `Key::from_bytes` and `KeyId::new`, on any
//! text or bytes.
//!
//! Checked: an accepted ring has valid ids and keys of at least 32 bytes, builds a manager
//! whose tokens it verifies, and its `to_env_value` parses back to the same ring; every
//! error message formats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::{Key, KeyError, KeyId, Keyring, KeyringError, SessionConfig, SessionManager};
use session_fuzz::{AppV1, block_on, mint, sample_v1};

/// The strength checks are heuristics on the text (placeholder words, mixed case): writing
/// an accepted key in another base64 alphabet can trip them (`secret+key` becomes
/// `secret-key`). Only that is allowed to refuse a round trip.
fn placeholder(error: &KeyringError) -> bool {
    matches!(
        error,
        KeyringError::BadEntry {
            error: KeyError::Placeholder { .. } | KeyError::LooksTyped,
            ..
        }
    )
}

fn check_ring(ring: Keyring) {
    assert!(!ring.is_empty() && ring.len() == ring.ids().count());
    for (id, key) in ring.iter() {
        assert!(
            KeyId::new(id.as_str()).is_ok(),
            "invalid id {id:?} accepted"
        );
        assert!(key.len() >= 32, "short key accepted");
    }
    let text = ring.to_env_value();
    match Keyring::parse("round trip", &text) {
        Ok(again) => {
            let ids = |r: &Keyring| r.ids().map(|i| i.to_string()).collect::<Vec<_>>();
            assert_eq!(ids(&again), ids(&ring));
            assert_eq!(again.to_env_value(), text);
        }
        Err(error) => assert!(
            placeholder(&error),
            "to_env_value does not parse back: {error}"
        ),
    }
    let manager = SessionManager::new(SessionConfig::new(ring)).expect("any ring configures");
    let token = mint(&manager, sample_v1());
    assert!(manager.inspect(&token).is_ok());
    let header = format!("session={token}");
    let handle = block_on(manager.load::<AppV1>([header.as_str()])).expect("cookie mode");
    assert_eq!(handle.data(), &sample_v1());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Keyring::parse("SESSION_KEYS", &text) {
        Ok(ring) => check_ring(ring),
        Err(error) => drop(error.to_string()),
    }
    let entries: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(':')).collect();
    match Keyring::from_entries(entries) {
        Ok(ring) => check_ring(ring),
        Err(error) => drop(error.to_string()),
    }
    match Key::from_base64(&text) {
        Ok(key) => assert!(key.len() >= 32),
        Err(error) => drop(error.to_string()),
    }
    match Key::from_bytes(data) {
        Ok(key) => {
            assert!(key.len() >= 32);
            assert!(Keyring::new("k", key).is_ok());
        }
        Err(error) => drop(error.to_string()),
    }
    if let Ok(id) = KeyId::new(&text) {
        assert_eq!(id.as_str(), text);
        assert!(id.as_str().len() <= 16);
    }
});
