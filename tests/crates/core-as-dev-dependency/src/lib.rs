//! An application with its adapter in `[dependencies]` and session-core in
//! `[dev-dependencies]`: the library build cannot see session-core, so the derive must reach
//! it through the adapter.

use serde::{Deserialize, Serialize};
use session_actix::SessionData;

/// The application's session.
#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
pub struct AppSession {
    /// Pages seen.
    pub visits: u64,
}
