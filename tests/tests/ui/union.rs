use session_core::SessionData;

#[derive(SessionData)]
union AppSession {
    id: u64,
    flag: bool,
}

fn main() {}
