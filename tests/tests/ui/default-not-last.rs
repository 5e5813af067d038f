use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    user_id: Option<u64>,
    #[session(default)]
    theme: String,
    visits: u64,
}

fn main() {}
