use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(Serialize, Deserialize, Default)]
struct OldSession {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = OldSession)]
struct AppSession {
    user_id: Option<u64>,
}

impl From<OldSession> for AppSession {
    fn from(old: OldSession) -> Self {
        Self { user_id: old.user_id }
    }
}

fn main() {}
