//! One conformance suite, written once, run against every adapter over real HTTP on loopback.
//!
//! Each adapter module starts the same small app (routes in `harness`) with a given
//! `SessionConfig`; `conformance!` instantiates every check of `suite` for it.

mod harness;
mod suite;

mod actix_app;
mod axum_app;
mod rocket_app;

macro_rules! conformance {
    ($suite:ident, $adapter:ident) => {
        mod $suite {
            use crate::suite;
            use crate::$adapter as app;

            #[test]
            fn cookie_attributes() {
                suite::cookie_attributes(app::start);
            }
            #[test]
            fn no_cookie_on_untouched_or_read_requests() {
                suite::no_cookie_on_untouched_or_read_requests(app::start);
            }
            #[test]
            fn changed_data_is_reissued() {
                suite::changed_data_is_reissued(app::start);
            }
            #[test]
            fn bad_cookies_become_anonymous_sessions() {
                suite::bad_cookies_become_anonymous_sessions(app::start);
            }
            #[test]
            fn the_first_valid_duplicate_wins() {
                suite::the_first_valid_duplicate_wins(app::start);
            }
            #[test]
            fn logout_removes_the_cookie() {
                suite::logout_removes_the_cookie(app::start);
            }
            #[test]
            fn renew_reissues_with_a_fresh_issued_at() {
                suite::renew_reissues_with_a_fresh_issued_at(app::start);
            }
            #[test]
            fn rotation_reissues_under_the_current_key() {
                suite::rotation_reissues_under_the_current_key(app::start);
            }
            #[test]
            fn idle_absolute_and_field_expiry() {
                suite::idle_absolute_and_field_expiry(app::start);
            }
            #[test]
            fn flash_is_read_once() {
                suite::flash_is_read_once(app::start);
            }
            #[test]
            fn peek_never_writes() {
                suite::peek_never_writes(app::start);
            }
            #[test]
            fn encrypted_mode_round_trips() {
                suite::encrypted_mode_round_trips(app::start);
            }
            #[test]
            fn a_missing_layer_names_the_fix() {
                suite::a_missing_layer_names_the_fix(
                    app::start_without_layer,
                    app::MISSING_LAYER_HINT,
                );
            }
        }
    };
}

conformance!(axum, axum_app);
conformance!(actix, actix_app);
conformance!(rocket, rocket_app);

/// A cookie minted by one adapter is accepted by every other with the same keys and schema.
#[test]
fn cookies_interoperate_between_adapters() {
    suite::cookies_interoperate(&[
        ("axum", axum_app::start),
        ("actix", actix_app::start),
        ("rocket", rocket_app::start),
    ]);
}
