//! Behaviour of session-core through its public API, one module per behaviour.

mod support;

mod cookies;
mod expiry;
mod logging;
mod modes;
mod properties;
mod rejections;
mod rotation;
mod saving;
mod schema;
mod test_helpers;
