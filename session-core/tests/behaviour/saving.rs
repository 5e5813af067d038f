//! When a response carries a Set-Cookie, and what it says.

use base64::Engine as _;
use session_core::{CookieSettings, LoadStatus, SessionConfig, SessionError};
use time::Duration;

use crate::support::*;

#[test]
fn untouched_sessions_send_no_cookie() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let mut fresh = load::<Typical>(&manager, "");
    assert_eq!(fresh.status(), &LoadStatus::New);
    assert!(save(&manager, &mut fresh).is_none());

    let token = mint(&manager, Typical::sample());
    let mut loaded = load::<Typical>(&manager, &format!("session={token}"));
    assert!(save(&manager, &mut loaded).is_none());

    // A new visitor whose empty session was borrowed mutably (a flash checked, say): no cookie.
    let mut visitor = load::<WithFields>(&manager, "");
    assert_eq!(visitor.data_mut().notice.take(), None);
    assert!(save(&manager, &mut visitor).is_none());

    // Borrowed mutably but left as it was: still nothing to send.
    let mut touched = load::<Typical>(&manager, &format!("session={token}"));
    touched.data_mut().counter += 0;
    assert!(save(&manager, &mut touched).is_none());
}

#[test]
fn changed_data_is_reissued_and_read_back() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    handle.data_mut().counter += 1;
    let set_cookie = save(&manager, &mut handle).expect("changed");
    assert!(!set_cookie.is_removal());
    let again = load::<Typical>(&manager, &cookie_header(&set_cookie));
    assert_eq!(again.data().counter, 8);
}

#[test]
fn logout_removes_the_cookie() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    handle.logout();
    assert_eq!(handle.data(), &Typical::default());
    let removal = save(&manager, &mut handle).expect("removal");
    assert!(removal.is_removal());
    assert_eq!(removal.value(), "");
    assert!(
        removal.header_value().contains("Max-Age=0"),
        "{}",
        removal.header_value()
    );
}

#[test]
fn renew_restarts_the_lifetime_and_keeps_the_data() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(
        config
            .idle_timeout(None)
            .absolute_timeout(Duration::hours(1)),
    );
    let token = mint(&manager, Typical::sample());
    clock.advance(Duration::minutes(50));
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    let issued = handle.issued_at().expect("loaded");
    handle.renew();
    let renewed = save(&manager, &mut handle).expect("renewed");
    let info = manager.inspect(renewed.value()).expect("valid");
    assert_eq!(info.issued_at, issued + Duration::minutes(50));
    clock.advance(Duration::minutes(30));
    let later = load::<Typical>(&manager, &cookie_header(&renewed));
    assert_eq!(
        later.data(),
        &Typical::sample(),
        "renewed session outlives the old deadline"
    );
}

#[test]
fn the_first_accepted_of_several_cookies_wins() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let first = mint(
        &manager,
        Typical {
            counter: 1,
            ..Typical::sample()
        },
    );
    let second = mint(
        &manager,
        Typical {
            counter: 2,
            ..Typical::sample()
        },
    );
    let handle = load::<Typical>(
        &manager,
        &format!("session=garbage; session={second}; session={first}"),
    );
    assert_eq!(handle.data().counter, 2);
    let handle = run(manager.load::<Typical>([
        format!("session={first}").as_str(),
        format!("session={second}").as_str(),
    ]))
    .expect("cookie mode never fails");
    assert_eq!(handle.data().counter, 1);
}

#[test]
fn too_large_sessions_are_an_error_that_names_the_fix() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let mut handle = load::<Typical>(&manager, "");
    handle.data_mut().name = "x".repeat(5000);
    let err = run(manager.save(&mut handle)).expect_err("too large");
    assert!(matches!(err, SessionError::TooLarge { limit: 4096, .. }));
    assert!(err.to_string().contains("server-side store"), "{err}");
}

#[test]
fn a_typical_signed_session_is_small() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    assert!(token.len() <= 130, "typical token is {} bytes", token.len());
}

#[test]
fn encrypted_sessions_hide_the_payload_and_round_trip() {
    let clock = clock();
    let keys = keys(1);
    let signed = manager_with(SessionConfig::new(ring(&[("k1", &keys[0])])).clock(clock.clone()));
    let sealed = manager_with(
        SessionConfig::new(ring(&[("k1", &keys[0])]))
            .clock(clock)
            .encrypt(true),
    );

    let plain_token = mint(&signed, Typical::sample());
    let plain = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&plain_token)
        .expect("b64");
    assert!(
        plain.windows(5).any(|w| w == b"alice"),
        "signed tokens are readable"
    );

    let token = mint(&sealed, Typical::sample());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .expect("b64");
    assert!(
        !bytes.windows(5).any(|w| w == b"alice"),
        "encrypted tokens are not"
    );
    let handle = load::<Typical>(&sealed, &format!("session={token}"));
    assert_eq!(handle.data(), &Typical::sample());
    assert!(sealed.inspect(&token).expect("valid").encrypted);

    // Switching encryption on re-issues old signed tokens encrypted.
    let mut upgraded = load::<Typical>(&sealed, &format!("session={plain_token}"));
    let set_cookie = save(&sealed, &mut upgraded).expect("re-issued");
    assert!(sealed.inspect(set_cookie.value()).expect("valid").encrypted);
}

#[test]
fn set_cookie_uses_the_configured_attributes() {
    let (config, _) = config(&clock());
    let manager = manager_with(
        config.cookie(
            CookieSettings::default()
                .name("__Host-app")
                .max_age(Duration::hours(1)),
        ),
    );
    let mut handle = load::<Typical>(&manager, "");
    handle.data_mut().counter = 1;
    let header = save(&manager, &mut handle)
        .expect("changed")
        .into_header_value();
    assert!(header.starts_with("__Host-app="), "{header}");
    for part in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=3600",
    ] {
        assert!(header.contains(part), "{header}");
    }
}

#[test]
fn read_only_requests_never_write_even_when_a_refresh_is_due() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    clock.advance(Duration::minutes(10));
    let mut handle = load::<Typical>(&manager, &format!("session={token}"));
    assert!(matches!(
        handle.status(),
        LoadStatus::Loaded { reissue: Some(_) }
    ));
    handle.leave_cookie_unchanged();
    handle.data_mut().counter = 99;
    handle.renew();
    assert!(save(&manager, &mut handle).is_none());
    // Logout still removes the cookie.
    handle.logout();
    assert!(save(&manager, &mut handle).expect("removal").is_removal());
}
