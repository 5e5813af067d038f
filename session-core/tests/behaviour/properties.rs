//! Property tests: round trips, and every bit flip, truncation, other key or other purpose is
//! refused without a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use session_core::{LoadStatus, SessionConfig};

use crate::support::*;

fn typical() -> impl Strategy<Value = Typical> {
    (
        any::<u64>(),
        ".{0,40}",
        proptest::collection::vec("[a-z]{0,12}", 0..5),
        "[A-Za-z0-9]{0,64}",
        any::<u64>(),
    )
        .prop_map(|(user_id, name, roles, csrf, counter)| Typical {
            user_id,
            name,
            roles,
            csrf,
            counter,
        })
}

fn refused(manager: &session_core::SessionManager, value: &str) -> bool {
    matches!(
        load::<Typical>(manager, &format!("session={value}")).status(),
        LoadStatus::Rejected(_)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_payloads_round_trip(data in typical(), encrypt in any::<bool>()) {
        let (config, _) = config(&clock());
        let manager = manager_with(config.encrypt(encrypt));
        let token = mint(&manager, data.clone());
        let handle = load::<Typical>(&manager, &format!("session={token}"));
        prop_assert_eq!(handle.data(), &data);
    }

    #[test]
    fn every_bit_flip_is_refused(data in typical(), encrypt in any::<bool>()) {
        let (config, _) = config(&clock());
        let manager = manager_with(config.encrypt(encrypt));
        let token = mint(&manager, data);
        let bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(refused(&manager, &URL_SAFE_NO_PAD.encode(&flipped)), "bit {} accepted", bit);
        }
    }

    #[test]
    fn every_truncation_is_refused(data in typical()) {
        let (config, _) = config(&clock());
        let manager = manager_with(config);
        let token = mint(&manager, data);
        for end in 0..token.len() {
            prop_assert!(refused(&manager, &token[..end]), "prefix of {} accepted", end);
        }
        let bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        for end in 0..bytes.len() {
            prop_assert!(refused(&manager, &URL_SAFE_NO_PAD.encode(&bytes[..end])));
        }
    }

    #[test]
    fn tokens_never_verify_under_another_key_or_purpose(data in typical(), purpose in "[a-z]{1,8}") {
        let clock = clock();
        let keys = keys(2);
        let minting = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone()));
        let other_key = manager_with(SessionConfig::new(ring(&[("k1", &keys[1])])).clock(clock.clone()));
        let other_purpose = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock).purpose(purpose));
        let token = mint(&minting, data);
        prop_assert!(refused(&other_key, &token));
        prop_assert!(refused(&other_purpose, &token));
    }

    #[test]
    fn arbitrary_cookie_headers_never_panic(header in ".{0,300}", value in "[A-Za-z0-9_-]{0,200}") {
        let (config, _) = config(&clock());
        let manager = manager_with(config);
        let handle = load::<Typical>(&manager, &header);
        prop_assert!(handle.is_new());
        let handle = load::<Typical>(&manager, &format!("session={value}"));
        prop_assert!(handle.is_new());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A manager that has seen a cookie before (its cache of verified tokens is warm) loads it
    /// exactly as a manager seeing it for the first time: same status, same data, same
    /// re-issue, at every point of the idle and absolute timeouts.
    #[test]
    fn a_repeated_cookie_loads_as_on_first_sight(
        data in typical(),
        encrypt in any::<bool>(),
        steps in proptest::collection::vec(0i64..2_000, 1..8),
    ) {
        let clock = clock();
        let (config, _) = config(&clock);
        let config = config.encrypt(encrypt);
        let warm = manager_with(config.clone());
        let token = mint(&warm, data);
        let header = format!("session={token}");
        for step in steps {
            clock.advance(time::Duration::seconds(step));
            let cold = manager_with(config.clone());
            let mut seen = load::<Typical>(&warm, &header);
            let mut first = load::<Typical>(&cold, &header);
            prop_assert_eq!(format!("{:?}", seen.status()), format!("{:?}", first.status()));
            prop_assert_eq!(seen.data(), first.data());
            prop_assert_eq!(seen.issued_at(), first.issued_at());
            let reissued = save(&warm, &mut seen).map(|c| c.value().len());
            let first_reissued = save(&cold, &mut first).map(|c| c.value().len());
            prop_assert_eq!(reissued.is_some(), first_reissued.is_some());
        }
    }
}
