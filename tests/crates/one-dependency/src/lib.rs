//! An application that depends on session-axum alone: the derive, the schema lock and the
//! `time` types `ManualClock` takes all come through it.

use serde::{Deserialize, Serialize};
use session_axum::SessionData;

/// The application's session.
#[derive(SessionData, Serialize, Deserialize, Default, Debug, PartialEq)]
#[session(name = "app")]
pub struct AppSession {
    /// Who is logged in.
    pub user_id: Option<u64>,
}
