use serde::{Deserialize, Serialize};
use session_core::{Expiring, Flash, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSessionV1 {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = AppSessionV1)]
struct AppSessionV2 {
    user_id: Option<u64>,
    #[session(expires_in = "1h30m")]
    sudo: Expiring<bool>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 3, migrate_from = AppSessionV2)]
struct AppSession {
    user_id: Option<u64>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(expires_in = "2d")]
    remember: Expiring<String>,
    #[session(flash)]
    notice: Flash<String>,
    visits: u64,
}

impl From<AppSessionV1> for AppSessionV2 {
    fn from(old: AppSessionV1) -> Self {
        Self { user_id: old.user_id, ..Self::default() }
    }
}

impl From<AppSessionV2> for AppSession {
    fn from(old: AppSessionV2) -> Self {
        Self { user_id: old.user_id, sudo: old.sudo, ..Self::default() }
    }
}

fn assert_send_sync<T: Send + Sync>() {}

fn main() {
    assert_send_sync::<AppSession>();
    assert_eq!(AppSession::SCHEMA.version, 3);
    assert_ne!(AppSession::SCHEMA.fingerprint, AppSessionV2::SCHEMA.fingerprint);
}
