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
