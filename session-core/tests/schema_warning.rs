//! A schema mismatch (a deployment changed the session struct) arrives with every request of
//! every user who had a session: the first in the process is logged at `warn` with what to do,
//! the rest at `debug`. A test binary of its own: the "first in the process" is global.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use session_core::{Keyring, Schema, SessionConfig, SessionData, SessionManager};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Before {
    user_id: u64,
}

impl SessionData for Before {
    const SCHEMA: Schema = Schema {
        name: "app",
        version: 1,
        fingerprint: 1,
    };
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct After {
    user_id: u64,
    theme: String,
}

impl SessionData for After {
    const SCHEMA: Schema = Schema {
        name: "app",
        version: 1,
        fingerprint: 2,
    };
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lines").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_first_schema_mismatch_warns_with_the_fix_the_rest_are_quiet() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let manager = SessionManager::new(SessionConfig::new(Keyring::ephemeral_for_development()))
        .expect("config");
    let cookies: Vec<String> = (0..3)
        .map(|id| {
            let mut handle = pollster::block_on(manager.load::<Before>([])).expect("loads");
            handle.data_mut().user_id = id + 1;
            let set_cookie = pollster::block_on(manager.save(&mut handle))
                .expect("saves")
                .expect("a cookie");
            format!("session={}", set_cookie.value())
        })
        .collect();
    for cookie in &cookies {
        let handle = pollster::block_on(manager.load::<After>([cookie.as_str()])).expect("loads");
        assert!(handle.is_new());
    }
    let text = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("utf8");
    let mismatches: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("schema_mismatch"))
        .collect();
    assert_eq!(mismatches.len(), 3, "{text}");
    assert!(
        mismatches[0].contains("WARN")
            && mismatches[0].contains("bump #[session(version")
            && mismatches[0].contains("further schema mismatches are logged at debug"),
        "{}",
        mismatches[0]
    );
    for line in &mismatches[1..] {
        assert!(line.contains("DEBUG"), "{line}");
    }
}
