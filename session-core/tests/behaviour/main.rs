//! Behaviour of session-core through its public API, one module per behaviour.

mod support;

mod claims;
mod cookies;
mod devices;
mod expiry;
mod logging;
#[cfg(all(feature = "metrics", feature = "memory-store"))]
mod metrics;
mod modes;
mod properties;
mod rejections;
mod remember;
mod revocation;
mod rotation;
mod saving;
mod schema;
mod test_helpers;
