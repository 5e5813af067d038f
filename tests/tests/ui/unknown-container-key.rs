use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", cookie = "sid")]
struct AppSession {
    user_id: Option<u64>,
}

fn main() {}
