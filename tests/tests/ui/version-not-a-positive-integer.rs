use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(version = -1)]
struct Negative {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(version = "2")]
struct Quoted {
    user_id: Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(version = 1.5)]
struct Fraction {
    user_id: Option<u64>,
}

fn main() {}
