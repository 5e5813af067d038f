use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(SessionData, Serialize, Deserialize, Default)]
struct AppSession<T> {
    data: T,
}

fn main() {}
