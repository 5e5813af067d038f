//! The sessions both benchmarks measure: the typical one of the issues (user id, name, two
//! roles, a 32-character CSRF token, a counter) and a large one with a list of URLs.

use serde::{Deserialize, Serialize};
use session_core::SessionData;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "app")]
pub(crate) struct Typical {
    pub(crate) user_id: u64,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
    pub(crate) csrf: String,
    pub(crate) counter: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, SessionData)]
#[session(name = "large")]
pub(crate) struct Large {
    pub(crate) base: Typical,
    pub(crate) recent: Vec<String>,
}

pub(crate) fn typical() -> Typical {
    Typical {
        user_id: 12_345,
        name: "alice".into(),
        roles: vec!["admin".into(), "editor".into()],
        csrf: "q7GdX2mP9vLk4RsT8wYz1BnC6HjE3fUa".into(),
        counter: 7,
    }
}

/// The typical session plus `urls` recently visited URLs (18 make a ~1 KB cookie, 58 ~3 KB).
pub(crate) fn large(urls: usize) -> Large {
    Large {
        base: typical(),
        recent: (0..urls)
            .map(|i| format!("/products/item-{i:04}/reviews?page=1"))
            .collect(),
    }
}
