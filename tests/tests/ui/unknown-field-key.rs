use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    #[session(ttl = "5m")]
    user_id: Option<u64>,
}

fn main() {}
