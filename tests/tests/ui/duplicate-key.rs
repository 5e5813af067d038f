use serde::{Deserialize, Serialize};
use session_core::{Expiring, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(version = 2, version = 3)]
struct AppSession {
    #[session(expires_in = "5m", expires_in = "10m")]
    sudo: Expiring<bool>,
    #[session(default, default)]
    theme: String,
}

fn main() {}
