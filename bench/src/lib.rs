//! What every bench server shares: the typical session of the issue (user id, name, two roles,
//! a 32-character CSRF token, a counter), and the port from the command line.

use serde::{Deserialize, Serialize};
use session_core::SessionData;

/// The typical session.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "bench")]
pub struct Typical {
    /// User id.
    pub user_id: u64,
    /// Display name.
    pub name: String,
    /// Two roles.
    pub roles: Vec<String>,
    /// A 32-character CSRF token.
    pub csrf: String,
    /// The counter the write route increments.
    pub counter: u64,
}

impl Typical {
    /// The value every variant starts from (`GET /init`).
    pub fn sample() -> Self {
        Self {
            user_id: 12_345,
            name: "alice".into(),
            roles: vec!["admin".into(), "editor".into()],
            csrf: "q7GdX2mP9vLk4RsT8wYz1BnC6HjE3fUa".into(),
            counter: 0,
        }
    }
}

/// `<binary> <variant> <port>` from the command line; exits with usage on anything else.
pub fn args(variants: &[&str]) -> (String, u16) {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_default();
    let port = args.next().and_then(|p| p.parse().ok());
    match port {
        Some(port) if variants.contains(&variant.as_str()) => (variant, port),
        _ => {
            eprintln!("usage: <bench-server> <{}> <port>", variants.join("|"));
            std::process::exit(2)
        }
    }
}

/// A fixed 64-byte key for the peers that take raw key bytes (benchmarks only).
pub const PEER_KEY: [u8; 64] = *b"0123456789abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUV!@#$%^&*()";
