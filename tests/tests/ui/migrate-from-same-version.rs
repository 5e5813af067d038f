use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2)]
struct AppSessionOld {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = AppSessionOld)]
struct AppSession {
    user_id: Option<u64>,
}

impl From<AppSessionOld> for AppSession {
    fn from(old: AppSessionOld) -> Self {
        Self { user_id: old.user_id }
    }
}

fn main() {}
