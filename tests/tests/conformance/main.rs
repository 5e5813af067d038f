//! One conformance suite, written once, run against every adapter over real HTTP on loopback.
//!
//! Each adapter module starts the same small app (routes in `harness`) with a given
//! `SessionConfig`; `conformance!` instantiates every check of `suite` for it.

mod harness;
#[path = "../support/servers.rs"]
mod servers;
mod suite;

mod actix_app;
mod axum_app;
mod rocket_app;
mod salvo_app;

macro_rules! conformance {
    ($suite:ident, $adapter:ident, $backend:ident) => {
        mod $suite {
            use crate::harness::Backend::$backend as BACKEND;
            use crate::suite;
            use crate::$adapter as app;

            #[test]
            fn cookie_attributes() {
                suite::cookie_attributes(app::start, BACKEND);
            }
            #[test]
            fn no_cookie_on_untouched_or_read_requests() {
                suite::no_cookie_on_untouched_or_read_requests(app::start, BACKEND);
            }
            #[test]
            fn changed_data_is_reissued() {
                suite::changed_data_is_reissued(app::start, BACKEND);
            }
            #[test]
            fn bad_cookies_become_anonymous_sessions() {
                suite::bad_cookies_become_anonymous_sessions(app::start, BACKEND);
            }
            #[test]
            fn the_first_valid_duplicate_wins() {
                suite::the_first_valid_duplicate_wins(app::start, BACKEND);
            }
            #[test]
            fn logout_removes_the_cookie() {
                suite::logout_removes_the_cookie(app::start, BACKEND);
            }
            #[test]
            fn renew_reissues_with_a_fresh_issued_at() {
                suite::renew_reissues_with_a_fresh_issued_at(app::start, BACKEND);
            }
            #[test]
            fn rotation_reissues_under_the_current_key() {
                suite::rotation_reissues_under_the_current_key(app::start, BACKEND);
            }
            #[test]
            fn idle_absolute_and_field_expiry() {
                suite::idle_absolute_and_field_expiry(app::start, BACKEND);
            }
            #[test]
            fn flash_is_read_once() {
                suite::flash_is_read_once(app::start, BACKEND);
            }
            #[test]
            fn peek_never_writes() {
                suite::peek_never_writes(app::start, BACKEND);
            }
            #[test]
            fn encrypted_mode_round_trips() {
                suite::encrypted_mode_round_trips(app::start, BACKEND);
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

conformance!(axum, axum_app, Cookie);
conformance!(actix, actix_app, Cookie);
conformance!(rocket, rocket_app, Cookie);
conformance!(salvo, salvo_app, Cookie);
conformance!(axum_memory_store, axum_app, Memory);
conformance!(actix_memory_store, actix_app, Memory);
conformance!(rocket_memory_store, rocket_app, Memory);
conformance!(salvo_memory_store, salvo_app, Memory);
conformance!(axum_redis_store, axum_app, Redis);
conformance!(actix_redis_store, actix_app, Redis);
conformance!(rocket_redis_store, rocket_app, Redis);
conformance!(salvo_redis_store, salvo_app, Redis);
conformance!(axum_memcached_store, axum_app, Memcached);
conformance!(actix_memcached_store, actix_app, Memcached);
conformance!(rocket_memcached_store, rocket_app, Memcached);
conformance!(salvo_memcached_store, salvo_app, Memcached);

/// The outage check needs a store that runs as a server it can kill.
macro_rules! outage {
    ($name:ident, $adapter:ident, $backend:ident) => {
        #[test]
        fn $name() {
            suite::a_store_outage_answers_503_then_recovers(
                $adapter::start,
                harness::Backend::$backend,
            );
        }
    };
}

outage!(axum_redis_outage_answers_503_then_recovers, axum_app, Redis);
outage!(
    actix_redis_outage_answers_503_then_recovers,
    actix_app,
    Redis
);
outage!(
    rocket_redis_outage_answers_503_then_recovers,
    rocket_app,
    Redis
);
outage!(
    axum_memcached_outage_answers_503_then_recovers,
    axum_app,
    Memcached
);
outage!(
    actix_memcached_outage_answers_503_then_recovers,
    actix_app,
    Memcached
);
outage!(
    rocket_memcached_outage_answers_503_then_recovers,
    rocket_app,
    Memcached
);

const ALL: [(&str, harness::Start); 4] = [
    ("axum", axum_app::start),
    ("actix", actix_app::start),
    ("rocket", rocket_app::start),
    ("salvo", salvo_app::start),
];

/// A cookie minted by one adapter is accepted by every other with the same keys and schema.
#[test]
fn cookies_interoperate_between_adapters() {
    suite::cookies_interoperate(&ALL, harness::Backend::Cookie);
}

/// Three apps sharing one Redis share their sessions.
#[test]
fn sessions_in_one_redis_are_shared_between_adapters() {
    suite::cookies_interoperate(&ALL, harness::Backend::Redis);
}
