use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    user_id: Option<u64>,
}

fn main() {
    assert_eq!(AppSession::SCHEMA.name, "app_session");
    assert_eq!(AppSession::SCHEMA.version, 1);
}
