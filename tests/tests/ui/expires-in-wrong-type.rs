use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    #[session(expires_in = "5m")]
    sudo: Option<bool>,
}

fn main() {}
