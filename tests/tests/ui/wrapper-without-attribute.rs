use serde::{Deserialize, Serialize};
use session_core::{Expiring, Flash, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    sudo: Expiring<bool>,
    notice: Flash<String>,
}

fn main() {}
