use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct CartSession {
    items: Vec<u32>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = CartSession)]
struct AppSession {
    items: Vec<u32>,
}

impl From<CartSession> for AppSession {
    fn from(old: CartSession) -> Self {
        Self { items: old.items }
    }
}

fn main() {}
