//! Key rotation: old keys verify and are re-issued under the current key; unknown keys and,
//! with the strict policy, retired keys are refused.

use session_core::session::Reissue;
use session_core::{LoadStatus, Rejection, RotationPolicy, SessionConfig};

use crate::support::*;

#[test]
fn tokens_from_an_older_key_are_accepted_and_reissued() {
    let clock = clock();
    let keys = keys(2);
    let before = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone()));
    let after = manager_with(
        SessionConfig::new(ring(&[("k2", &keys[1]), ("k1", &keys[0])])).clock(clock.clone()),
    );
    let token = mint(&before, Typical::sample());

    let mut handle = load::<Typical>(&after, &format!("session={token}"));
    assert_eq!(
        handle.status(),
        &LoadStatus::Loaded {
            reissue: Some(Reissue::RotatedKey)
        }
    );
    assert_eq!(handle.data(), &Typical::sample());

    // Nothing changed, but the response re-signs with the current key.
    let set_cookie = save(&after, &mut handle).expect("re-issued");
    let info = after.inspect(set_cookie.value()).expect("verifies");
    assert_eq!(info.key_id, "k2");
    assert!(info.signed_by_current_key);

    // The re-issued token is not re-issued again.
    let mut again = load::<Typical>(&after, &cookie_header(&set_cookie));
    assert_eq!(again.status(), &LoadStatus::Loaded { reissue: None });
    assert!(save(&after, &mut again).is_none());
}

#[test]
fn tokens_from_a_removed_key_are_refused() {
    let clock = clock();
    let keys = keys(2);
    let old = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone()));
    let new = manager_with(SessionConfig::new(ring(&[("k2", &keys[1])])).clock(clock));
    let token = mint(&old, Typical::sample());
    let handle = load::<Typical>(&new, &format!("session={token}"));
    assert_eq!(
        handle.status(),
        &LoadStatus::Rejected(Rejection::UnknownKey)
    );
}

#[test]
fn the_current_key_only_policy_forces_a_new_login() {
    let clock = clock();
    let keys = keys(2);
    let old = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone()));
    let strict = manager_with(
        SessionConfig::new(ring(&[("k2", &keys[1]), ("k1", &keys[0])]))
            .clock(clock)
            .rotation_policy(RotationPolicy::CurrentKeyOnly),
    );
    let token = mint(&old, Typical::sample());
    let handle = load::<Typical>(&strict, &format!("session={token}"));
    assert_eq!(
        handle.status(),
        &LoadStatus::Rejected(Rejection::RetiredKey)
    );
    // Tokens from the current key are still fine.
    let current = mint(&strict, Typical::sample());
    assert!(!load::<Typical>(&strict, &format!("session={current}")).is_new());
}
