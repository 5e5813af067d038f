use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSessionV1 {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = AppSessionV1)]
struct AppSession {
    user_id: Option<u64>,
    visits: u64,
}

fn main() {}
