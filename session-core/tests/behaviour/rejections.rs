//! Every rejection reason, through the public API: the request gets a fresh session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use session_core::{LoadStatus, Rejection, SessionConfig};
use time::Duration;

use crate::support::*;

fn rejected(manager: &session_core::SessionManager, value: &str) -> Rejection {
    let handle = load::<Typical>(manager, &format!("session={value}"));
    assert!(handle.is_new(), "a refused cookie gives a fresh session");
    assert_eq!(handle.data(), &Typical::default());
    match handle.status() {
        LoadStatus::Rejected(rejection) => rejection.clone(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn rewrite(token: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).expect("base64");
    change(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn oversized_values_are_refused_before_decoding() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let huge = "A".repeat(4097);
    assert_eq!(
        rejected(&manager, &huge),
        Rejection::Oversized { len: 4097 }
    );
}

#[test]
fn malformed_values_are_refused() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    for value in ["", "!!!!", "%00", "AQ", "AQIA", "AQFr"] {
        let rejection = rejected(&manager, value);
        assert!(
            matches!(rejection, Rejection::Malformed(_)),
            "{value:?}: {rejection:?}"
        );
    }
}

#[test]
fn unknown_format_versions_are_refused() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let changed = rewrite(&token, |b| b[0] = 2);
    assert_eq!(
        rejected(&manager, &changed),
        Rejection::UnsupportedFormat { version: 2 }
    );
}

#[test]
fn key_ids_outside_the_ring_are_refused() {
    let clock = clock();
    let keys = keys(2);
    let minting = manager_with(SessionConfig::new(ring(&[("k9", &keys[0])])).clock(clock.clone()));
    let verifying = manager_with(SessionConfig::new(ring(&[("k1", &keys[1])])).clock(clock));
    let token = mint(&minting, Typical::sample());
    assert_eq!(rejected(&verifying, &token), Rejection::UnknownKey);
}

#[test]
fn another_purpose_is_refused() {
    let clock = clock();
    let keys = keys(1);
    let app_a = manager_with(
        SessionConfig::new(ring(&[("k1", &keys[0])]))
            .clock(clock.clone())
            .purpose("shop"),
    );
    let app_b = manager_with(
        SessionConfig::new(ring(&[("k1", &keys[0])]))
            .clock(clock)
            .purpose("admin"),
    );
    let token = mint(&app_a, Typical::sample());
    assert_eq!(rejected(&app_b, &token), Rejection::WrongPurpose);
}

#[test]
fn altered_tokens_fail_the_signature() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let len = URL_SAFE_NO_PAD.decode(&token).expect("base64").len();
    // Change the counter at the end of the payload, then the tag itself.
    for at in [len - 17, len - 1] {
        let changed = rewrite(&token, |b| b[at] ^= 0x01);
        assert_eq!(
            rejected(&manager, &changed),
            Rejection::BadSignature,
            "byte {at}"
        );
    }
}

#[test]
fn times_in_the_future_are_refused() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    clock.advance(Duration::minutes(10));
    let token = mint(&manager, Typical::sample());
    clock.advance(Duration::minutes(-10));
    assert_eq!(rejected(&manager, &token), Rejection::FromTheFuture);
    // Within the allowed skew (60 s by default) the token is fine.
    clock.advance(Duration::minutes(9));
    assert!(!load::<Typical>(&manager, &format!("session={token}")).is_new());
}

#[test]
fn payloads_that_do_not_fit_the_schema_are_refused() {
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct SameSchemaOtherShape {
        flag: bool,
    }
    impl session_core::SessionData for SameSchemaOtherShape {
        const SCHEMA: session_core::Schema = Typical::SCHEMA;
    }
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let handle = load::<SameSchemaOtherShape>(&manager, &format!("session={token}"));
    assert_eq!(
        handle.status(),
        &LoadStatus::Rejected(Rejection::Undecodable)
    );
}

#[test]
fn garbage_never_panics() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    for header in [
        "session",
        "session=",
        "=;=;=",
        "session=\"quoted\"",
        "session=\u{1F600}",
        "\u{0}\u{1}",
    ] {
        let handle = load::<Typical>(&manager, header);
        assert!(handle.is_new(), "{header:?}");
    }
}

/// A session type of `name`, `version` and `fingerprint`, with the fields of [`Typical`].
macro_rules! variant {
    ($ty:ident, $name:expr, $version:expr, $fingerprint:expr) => {
        #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
        struct $ty {
            user_id: u64,
        }
        impl session_core::SessionData for $ty {
            const SCHEMA: session_core::Schema = session_core::Schema {
                name: $name,
                version: $version,
                fingerprint: $fingerprint,
            };
        }
    };
}

variant!(OtherType, "other", 1, 0x1234_abcd);
variant!(NewerVersion, "app", 2, 0x1234_abcd);
variant!(OlderVersion, "app", 0, 0x1234_abcd);
variant!(ChangedFields, "app", 1, 0x0bad_f00d);

/// What saving an untouched session loaded from `cookie` answers.
fn answer_to<T: session_core::SessionData>(
    manager: &session_core::SessionManager,
    cookie: &str,
) -> Option<session_core::session::SetCookie> {
    let mut handle = load::<T>(manager, cookie);
    assert!(
        matches!(handle.status(), LoadStatus::Rejected(_)),
        "{:?}",
        handle.status()
    );
    save(manager, &mut handle)
}

#[test]
fn a_cookie_refused_for_good_is_removed_one_of_another_schema_or_a_newer_version_is_not() {
    let clock = clock();
    let (config, _) = config(&clock.clone());
    let manager = manager_with(config.idle_timeout(Some(Duration::minutes(30))));
    let typical = format!("session={}", mint(&manager, Typical::sample()));
    // Dead for everyone who could have written it: removed.
    for (what, removal) in [
        (
            "a tampered cookie",
            answer_to::<Typical>(&manager, &format!("{typical}x")),
        ),
        ("garbage", answer_to::<Typical>(&manager, "session=garbage")),
        (
            "changed fields, same version",
            answer_to::<ChangedFields>(&manager, &typical),
        ),
        (
            "an older version",
            answer_to::<NewerVersion>(&manager, &typical),
        ),
    ] {
        let removal = removal.unwrap_or_else(|| panic!("{what}: a removal"));
        assert!(removal.is_removal(), "{what}: {removal:?}");
    }
    // Maybe alive elsewhere: left alone.
    for (what, answer) in [
        (
            "another session type's cookie",
            answer_to::<OtherType>(&manager, &typical),
        ),
        (
            "a newer version's cookie (a rollout)",
            answer_to::<OlderVersion>(&manager, &typical),
        ),
    ] {
        assert!(answer.is_none(), "{what}: {answer:?}");
    }
    // A valid duplicate: nothing is removed.
    let mut handle = load::<Typical>(&manager, &format!("session=garbage; {typical}"));
    assert!(matches!(handle.status(), LoadStatus::Loaded { .. }));
    assert!(save(&manager, &mut handle).is_none());
    // A route that only looks writes nothing.
    let mut handle = load::<Typical>(&manager, "session=garbage");
    handle.leave_cookie_unchanged();
    assert!(save(&manager, &mut handle).is_none());
    // Expired: removed.
    clock.advance(Duration::minutes(31));
    let removal = answer_to::<Typical>(&manager, &typical).expect("a removal");
    assert!(removal.is_removal());
}
