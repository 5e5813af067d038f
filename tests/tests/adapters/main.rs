//! Every adapter of this workspace through the adapter conformance suite of session-testing,
//! over real HTTP on loopback: one app module per adapter, one test per adapter.

mod actix_app;
mod axum_app;
mod rocket_app;
mod salvo_app;

use session_testing::adapter::{ConformanceApp, run_interop_suite, run_suite};

#[test]
fn axum() {
    run_suite(&axum_app::Axum);
}

#[test]
fn actix() {
    run_suite(&actix_app::Actix);
}

#[test]
fn rocket() {
    run_suite(&rocket_app::Rocket);
}

#[test]
fn salvo() {
    run_suite(&salvo_app::Salvo);
}

/// A session written by one adapter is read by every other with the same keys and store.
#[test]
fn adapters_interoperate() {
    let apps: [&dyn ConformanceApp; 4] = [
        &axum_app::Axum,
        &actix_app::Actix,
        &rocket_app::Rocket,
        &salvo_app::Salvo,
    ];
    run_interop_suite(&apps);
}

/// A session type other than the conformance one, for the cookie-claim test.
#[derive(Default, serde::Serialize, serde::Deserialize, session_core::SessionData)]
#[session(name = "other")]
struct Other {
    seen: bool,
}

/// Every adapter's middleware refuses, when it is built, a second session type on a cookie
/// name that another type's middleware uses with the same keys, and names the fix; another
/// cookie name is accepted.
#[test]
fn every_adapter_refuses_two_session_types_on_one_cookie() {
    use session_core::{ConfigError, CookieSettings, Keyring, SessionConfig};
    use session_testing::adapter::ConformanceSession as S;

    fn check<A, B>(
        build_a: impl Fn(SessionConfig) -> Result<A, ConfigError>,
        build_b: impl Fn(SessionConfig) -> Result<B, ConfigError>,
        adapter: &str,
    ) {
        let config = SessionConfig::new(Keyring::ephemeral_for_development());
        let _first = build_a(config.clone()).unwrap_or_else(|e| panic!("{adapter}: {e}"));
        let error = build_b(config.clone())
            .err()
            .unwrap_or_else(|| panic!("{adapter}: a second type on the same cookie was accepted"));
        assert!(
            matches!(error, ConfigError::CookieShared { .. })
                && error
                    .to_string()
                    .contains("CookieSettings::default().name("),
            "{adapter}: {error}"
        );
        build_b(config.cookie(CookieSettings::default().name("other_session")))
            .unwrap_or_else(|e| panic!("{adapter}: a cookie of its own: {e}"));
    }

    check(
        session_axum::SessionLayer::<S>::new,
        session_axum::SessionLayer::<Other>::new,
        "axum",
    );
    check(
        session_actix::SessionMiddleware::<S>::new,
        session_actix::SessionMiddleware::<Other>::new,
        "actix",
    );
    check(
        session_rocket::SessionFairing::<S>::new,
        session_rocket::SessionFairing::<Other>::new,
        "rocket",
    );
    check(
        session_salvo::SessionHandler::<S>::new,
        session_salvo::SessionHandler::<Other>::new,
        "salvo",
    );
}
