//! Configuration mistakes stop start-up with a message that says how to fix them.

use session_core::{ConfigError, CookieSettings, SameSite, SessionConfig, SessionManager};
use time::Duration;

use crate::support::*;

fn refused(config: SessionConfig) -> ConfigError {
    SessionManager::new(config).expect_err("refused")
}

#[test]
fn contradictory_cookie_settings_are_refused() {
    let (config, _) = config(&clock());
    let err = refused(
        config.clone().cookie(
            CookieSettings::default()
                .same_site(SameSite::None)
                .secure(false),
        ),
    );
    assert!(matches!(err, ConfigError::SameSiteNoneWithoutSecure { .. }));
    assert!(err.to_string().contains("requires Secure"), "{err}");
    let err = refused(
        config.clone().cookie(
            CookieSettings::default()
                .name("__Host-s")
                .domain("example.com"),
        ),
    );
    assert!(matches!(err, ConfigError::HostPrefixWithDomain { .. }));
    let err = refused(config.cookie(CookieSettings::default().name("__Host-s").path("/admin")));
    assert!(err.to_string().contains("Path=/"), "{err}");
}

#[test]
fn impossible_timeouts_are_refused() {
    let (config, _) = config(&clock());
    assert!(matches!(
        refused(config.clone().absolute_timeout(Duration::ZERO)),
        ConfigError::InvalidTimeout {
            setting: "absolute timeout",
            ..
        }
    ));
    assert!(matches!(
        refused(config.clone().idle_timeout(Some(Duration::days(2)))),
        ConfigError::IdleLongerThanAbsolute { .. }
    ));
    assert!(matches!(
        refused(config.idle_timeout(Some(Duration::seconds(30)))),
        ConfigError::RefreshNotShorterThanIdle { .. }
    ));
}

/// One request through the adapter contract that writes a cookie; answers the warnings it
/// logged (the lifecycle events are `info`).
fn request_writing_a_cookie(manager: &SessionManager, headers: &[(&str, &str)]) -> Vec<String> {
    use session_core::adapter::{RequestFacts, RequestSession};
    let lines = captured_lines(|| {
        run(async {
            let facts = RequestFacts::new("GET", "/", |name| {
                headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_bytes())
            });
            let session = RequestSession::<Typical>::new(manager.clone(), &facts).expect("a GET");
            let mut lent = session.lend([]).await.expect("lent");
            lent.counter += 1;
            drop(lent);
            let outcome = session.finish(200).await;
            assert!(outcome.failure().is_none());
            assert!(outcome.headers().iter().any(|h| h.name() == "set-cookie"));
        })
    });
    lines.into_iter().filter(|l| l.contains("WARN")).collect()
}

#[test]
fn secure_cookies_over_plain_http_from_remote_hosts_are_diagnosed() {
    use session_core::adapter::RequestFacts;
    let facts = |host: Option<&'static str>,
                 proto: Option<&'static str>,
                 forwarded: Option<&'static str>| {
        RequestFacts::new("GET", "/", move |name| {
            match name {
                "host" => host,
                "x-forwarded-proto" => proto,
                "forwarded" => forwarded,
                _ => None,
            }
            .map(str::as_bytes)
        })
    };
    assert!(facts(Some("shop.example.com"), None, None).is_plain_http_from_remote_host());
    assert!(facts(Some("10.0.0.5:8080"), Some("http"), None).is_plain_http_from_remote_host());
    for host in [
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
        "app.localhost",
        "App.LocalHost:8080",
    ] {
        assert!(
            !facts(Some(host), None, None).is_plain_http_from_remote_host(),
            "{host}"
        );
    }
    for host in ["notlocalhost", "localhost.example.com", ".localhost.evil"] {
        assert!(
            facts(Some(host), None, None).is_plain_http_from_remote_host(),
            "{host}"
        );
    }
    assert!(
        !facts(
            Some("shop.example.com"),
            None,
            Some("For=1.2.3.4;Proto=HTTPS")
        )
        .is_plain_http_from_remote_host(),
        "Forwarded is read without regard to case"
    );
    assert!(!facts(Some("shop.example.com"), Some("https"), None).is_plain_http_from_remote_host());
    assert!(
        !facts(
            Some("shop.example.com"),
            None,
            Some("for=1.2.3.4;proto=https")
        )
        .is_plain_http_from_remote_host()
    );
    let https = facts(Some("shop.example.com"), None, None).scheme(Some("https"));
    assert!(!https.is_plain_http_from_remote_host());

    // The warning: once per manager, only for a Secure cookie, with the fix.
    let (config, _) = config(&clock());
    let insecure = manager_with(
        config
            .clone()
            .cookie(CookieSettings::default().secure(false)),
    );
    let remote = [("host", "shop.example.com")];
    assert!(request_writing_a_cookie(&insecure, &remote).is_empty());
    let manager = manager_with(config);
    assert!(request_writing_a_cookie(&manager, &[("host", "localhost:3000")]).is_empty());
    let lines = request_writing_a_cookie(&manager, &remote);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("X-Forwarded-Proto: https") && lines[0].contains("localhost"),
        "{}",
        lines[0]
    );
    assert!(request_writing_a_cookie(&manager, &remote).is_empty());
}

/// `fn main() -> Result<(), Box<dyn Error>>` prints the error with `Debug`: it must carry the
/// reason and the fix, exactly as `Display` does.
#[test]
fn operator_errors_print_their_fix_through_debug() {
    let short = format!("k1:{}", base64_of(b"short"));
    let error = session_core::Keyring::parse("SESSION_KEYS", &short).expect_err("refused");
    let shown = format!("{error:?}");
    assert_eq!(shown, error.to_string());
    assert!(
        shown.contains("SESSION_KEYS")
            && shown.contains("at least 32 random bytes")
            && shown.contains("session keygen"),
        "{shown}"
    );
    let (config, _) = config(&clock());
    let error = refused(
        config.cookie(
            CookieSettings::default()
                .same_site(SameSite::None)
                .secure(false),
        ),
    );
    let boxed: Box<dyn std::error::Error> = Box::new(error.clone());
    assert_eq!(format!("{boxed:?}"), error.to_string());
    assert!(format!("{boxed:?}").contains("keep `secure(true)`"));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
