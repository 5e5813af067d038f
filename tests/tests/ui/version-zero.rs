use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(version = 0)]
struct AppSession {
    user_id: Option<u64>,
}

fn main() {}
