use serde::{Deserialize, Serialize};
use session_core::{Flash, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    #[session(flash, expires_in = "5m")]
    notice: Flash<String>,
}

fn main() {}
