use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    user_id: Option<u64>,
    #[session(default)]
    #[serde(rename = "cache", skip)]
    cached: Vec<u8>,
}

fn main() {}
