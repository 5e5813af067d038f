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
