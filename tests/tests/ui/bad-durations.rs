use serde::{Deserialize, Serialize};
use session_core::{Expiring, SessionData};

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession {
    #[session(expires_in = "15 minutes")]
    words: Expiring<bool>,
    #[session(expires_in = "0s")]
    zero: Expiring<bool>,
    #[session(expires_in = "-5m")]
    negative: Expiring<bool>,
    #[session(expires_in = "10x")]
    unknown_unit: Expiring<bool>,
    #[session(expires_in = "99999999999999d")]
    overflow: Expiring<bool>,
}

fn main() {}
