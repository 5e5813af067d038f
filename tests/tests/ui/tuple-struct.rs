use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession(Option<u64>, u64);

fn main() {}
