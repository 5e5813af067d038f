// Code that reaches session-core only through a re-export, as a framework crate would.
mod framework {
    pub mod sessions {
        pub use session_core::*;
    }
}

use framework::sessions::{Expiring, SessionData};
use serde::{Deserialize, Serialize};

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(crate = "framework::sessions", name = "app")]
struct AppSession {
    #[session(expires_in = "10m")]
    sudo: Expiring<bool>,
}

fn main() {
    assert_eq!(<AppSession as framework::sessions::SessionData>::SCHEMA.name, "app");
}
