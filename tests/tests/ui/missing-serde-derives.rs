use session_core::SessionData;

#[derive(SessionData, Default)]
struct AppSession {
    user_id: Option<u64>,
}

fn main() {}
