//! A rejection is one tracing event with a reason, never the token or a key.

use time::Duration;

use crate::support::*;

#[test]
fn tampering_is_one_warning_without_the_token() {
    let (config, keys) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let mut forged = token.clone();
    forged.replace_range(40..41, if &token[40..41] == "A" { "B" } else { "A" });
    let lines = captured_lines(|| {
        load::<Typical>(&manager, &format!("session={forged}"));
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("reason=") && line.contains("cookie=\"session\""),
        "{line}"
    );
    assert!(
        !line.contains(&forged[..20]) && !line.contains(&keys[0]) && !line.contains("alice"),
        "{line}"
    );
}

#[test]
fn expiry_is_one_info_event() {
    let clock = clock();
    let (config, _) = config(&clock);
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    clock.advance(Duration::hours(2));
    let lines = captured_lines(|| {
        load::<Typical>(&manager, &format!("session={token}"));
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("INFO") && lines[0].contains("expired_idle"),
        "{}",
        lines[0]
    );
}

#[test]
fn valid_and_absent_cookies_log_nothing() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let lines = captured_lines(|| {
        load::<Typical>(&manager, &format!("session={token}"));
        load::<Typical>(&manager, "other=1");
    });
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn the_ephemeral_key_warns_every_time() {
    let lines = captured_lines(|| {
        session_core::Keyring::ephemeral_for_development();
        session_core::Keyring::ephemeral_for_development();
    });
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("WARN") && l.contains("SESSION_KEYS")),
        "{lines:?}"
    );
}

/// `?session` in a log line shows how the session came to be, never the token or the payload.
#[test]
fn a_session_in_debug_output_is_redacted() {
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let handle = load::<Typical>(&manager, &format!("session={token}"));
    let shown = format!("{handle:?}");
    for secret in [
        token.as_str(),
        "alice",
        "q7GdX2mP9vLk4RsT8wYz1BnC6HjE3fUa",
        "12345",
    ] {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    assert!(
        shown.contains("Loaded") && shown.contains("<Typical redacted>"),
        "{shown}"
    );
    // The data itself, on purpose.
    assert!(format!("{:?}", &*handle).contains("alice"));
}

#[test]
fn a_refused_cross_origin_request_is_one_warning_naming_the_reason() {
    use session_core::adapter::{RequestFacts, RequestSession};
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let headers = [
        ("host", "shop.example"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ];
    let lines = captured_lines(|| {
        let facts = RequestFacts::new("POST", "/login", |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        });
        let refusal = RequestSession::<Typical>::new(manager.clone(), &facts)
            .expect_err("a cross-site post is refused");
        let failure = refusal.failure().expect("a failure to answer");
        assert_eq!(failure.status(), 403);
        assert!(
            failure.body().contains("Sec-Fetch-Site"),
            "{}",
            failure.body()
        );
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.contains("WARN") && line.contains("cross-origin request refused"),
        "{line}"
    );
    assert!(
        line.contains("evil.example") && line.contains("/login") && line.contains("POST"),
        "{line}"
    );
}

#[test]
fn forgeries_log_at_warn_and_an_unsigned_purpose_tag_is_only_a_hint() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (config, _) = config(&clock());
    let manager = manager_with(config);
    let token = mint(&manager, Typical::sample());
    let rewrite = |change: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        change(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let id_len = usize::from(URL_SAFE_NO_PAD.decode(&token).expect("base64")[1]);
    // A key id that is not in the ring: a forgery until proved otherwise.
    let unknown_key = rewrite(&|b| b[2] ^= 0x01);
    // A random forgery under a known id, with the purpose byte (after the flags) changed.
    let other_purpose = rewrite(&|b| b[2 + id_len + 1] ^= 0x55);
    for (forged, reason, says) in [
        (unknown_key, "unknown_key", "not in the keyring"),
        (other_purpose, "wrong_purpose", "only a hint"),
    ] {
        let lines = captured_lines(|| {
            load::<Typical>(&manager, &format!("session={forged}"));
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(line.contains("WARN") && line.contains(reason), "{line}");
        assert!(line.contains(says), "{line}");
    }
}
