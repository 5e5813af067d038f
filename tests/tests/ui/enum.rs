use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
enum AppSession {
    #[default]
    Anonymous,
    User(u64),
}

fn main() {}
