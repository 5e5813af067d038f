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

#[test]
fn secure_cookies_over_plain_http_from_remote_hosts_are_diagnosed() {
    use session_core::RequestOrigin;
    let (config, _) = config(&clock());
    let manager = manager_with(config.clone());
    let origin = |host, proto, forwarded| RequestOrigin {
        scheme: None,
        host,
        forwarded_proto: proto,
        forwarded,
    };
    assert!(manager.cookie_dropped_by_browsers(&origin(Some("shop.example.com"), None, None)));
    assert!(manager.cookie_dropped_by_browsers(&origin(Some("10.0.0.5:8080"), Some("http"), None)));
    for host in [
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
        "app.localhost",
    ] {
        assert!(
            !manager.cookie_dropped_by_browsers(&origin(Some(host), None, None)),
            "{host}"
        );
    }
    assert!(!manager.cookie_dropped_by_browsers(&origin(
        Some("shop.example.com"),
        Some("https"),
        None
    )));
    assert!(!manager.cookie_dropped_by_browsers(&origin(
        Some("shop.example.com"),
        None,
        Some("for=1.2.3.4;proto=https")
    )));
    let https = RequestOrigin {
        scheme: Some("https"),
        ..origin(Some("shop.example.com"), None, None)
    };
    assert!(!manager.cookie_dropped_by_browsers(&https));
    let insecure = manager_with(config.cookie(CookieSettings::default().secure(false)));
    assert!(!insecure.cookie_dropped_by_browsers(&origin(Some("shop.example.com"), None, None)));

    let lines = captured_lines(|| {
        manager.warn_cookie_dropped_by_browsers();
        manager.warn_cookie_dropped_by_browsers();
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("X-Forwarded-Proto: https") && lines[0].contains("localhost"),
        "{}",
        lines[0]
    );
}
