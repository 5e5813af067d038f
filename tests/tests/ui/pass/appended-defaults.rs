use serde::{Deserialize, Serialize};
use session_core::{Expiring, Flash, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSessionBefore {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSession {
    user_id: Option<u64>,
    #[session(default)]
    #[serde(rename = "t")]
    theme: String,
    #[session(default, expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash, default)]
    notice: Flash<String>,
}

/// Every field defaulted: the empty field list is a prefix too.
#[derive(SessionData, Serialize, Deserialize, Default)]
struct AllDefault {
    #[session(default)]
    a: u8,
    #[session(default)]
    b: u8,
}

fn main() {
    let before = AppSessionBefore::SCHEMA.fingerprint;
    assert_eq!(AppSession::PREFIXES.len(), 3);
    assert_eq!(AppSession::PREFIXES[2].fingerprint, before);
    assert_eq!(AppSession::PREFIXES[2].appended, 3);
    assert_eq!(AllDefault::PREFIXES.len(), 2);
}
