//! The lifecycle events (OWASP session management cheat sheet, "logging"): a session was
//! created, renewed (new id), ended, and a user's sessions were ended. Each is one `tracing`
//! event at info level with target `session`, naming sessions by a short reference (8 hex
//! digits of a SHA-256 of the record key, or in cookie mode of the token's MAC), never by
//! the id, the token or the user key. Both modes use these functions, so the messages agree.

use std::fmt::Display;

use crate::metrics::{self, EndCause};
use crate::store::{LogRef, RecordKey};

/// A new session was written (store mode: a new record; cookie mode: a first token).
pub(in crate::session) fn created(session: &RecordKey) {
    created_ref(session.log_ref());
}

pub(in crate::session) fn created_ref(session: impl Display) {
    metrics::created();
    tracing::info!(target: "session", session = %session, "session created");
}

/// A session moved to a new id (at login, on a privilege change); `previous` no longer works.
pub(in crate::session) fn renewed(session: &RecordKey, previous: &RecordKey) {
    renewed_ref(session.log_ref(), previous.log_ref());
}

pub(in crate::session) fn renewed_ref(session: impl Display, previous: impl Display) {
    metrics::renewed();
    tracing::info!(
        target: "session",
        session = %session,
        previous = %previous,
        "session renewed (new id)"
    );
}

/// A session ended: by its own logout, or by the application (logged as "ended by the
/// application").
pub(in crate::session) fn ended(session: &RecordKey, cause: EndCause) {
    ended_ref(session.log_ref(), cause);
}

pub(in crate::session) fn ended_ref(session: impl Display, cause: EndCause) {
    metrics::ended(cause, 1);
    let cause = cause.log_cause();
    tracing::info!(target: "session", session = %session, cause, "session ended");
}

/// The sessions of a user were ended ("log out everywhere"), all but `kept` if given.
pub(in crate::session) fn user_sessions_ended(user: &str, ended: usize, kept: Option<&RecordKey>) {
    metrics::ended(EndCause::Revoked, ended);
    let user = LogRef::of(user.as_bytes());
    match kept {
        None => tracing::info!(target: "session", user = %user, ended, "user's sessions ended"),
        Some(kept) => tracing::info!(
            target: "session",
            user = %user,
            ended,
            kept = %kept.log_ref(),
            "user's sessions ended"
        ),
    }
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;

    use serde::{Deserialize, Serialize};

    use crate::store::MemoryStore;
    use crate::{Keyring, ManualClock, Schema, SessionConfig, SessionData, SessionManager};

    #[derive(Debug, Default, Serialize, Deserialize)]
    struct App {
        user: Option<String>,
        visits: u32,
    }

    impl SessionData for App {
        const SCHEMA: Schema = Schema {
            name: "events",
            version: 1,
            fingerprint: 0x0e0e_0e0e,
        };
    }

    thread_local! {
        static CAPTURE: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    }

    struct ThreadCapture;

    impl std::io::Write for ThreadCapture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            CAPTURE.with(|c| {
                if let Some(lines) = c.borrow_mut().as_mut() {
                    lines.extend_from_slice(buf);
                }
            });
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The `session` events at info level that `action` emits on this thread. One global
    /// subscriber for the test binary (scoped ones race on tracing's callsite cache), writing
    /// into a buffer of the thread that is capturing.
    fn events(action: impl FnOnce()) -> Vec<String> {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .without_time()
                .with_writer(|| ThreadCapture)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        });
        CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
        action();
        let bytes = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
        String::from_utf8(bytes)
            .expect("utf8")
            .lines()
            .filter(|line| line.contains("INFO session:"))
            .map(str::to_owned)
            .collect()
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        pollster::block_on(future)
    }

    /// The value of `name=` in an event line.
    fn field<'a>(line: &'a str, name: &str) -> &'a str {
        let start = line
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            + name.len()
            + 2;
        line[start..].split(' ').next().expect("a value")
    }

    fn is_ref(value: &str) -> bool {
        value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn manager(store: bool) -> SessionManager {
        let mut config = SessionConfig::new(Keyring::ephemeral_for_development())
            .clock(ManualClock::new(time::OffsetDateTime::now_utc()));
        if store {
            config = config.store(Arc::new(MemoryStore::new(100)));
        }
        SessionManager::new(config).expect("config")
    }

    /// Loads the session of `token` (none: a new visitor), lets `change` act on it, saves it;
    /// answers the new token, if a cookie was set.
    fn request(
        manager: &SessionManager,
        token: Option<&str>,
        change: impl FnOnce(&mut crate::SessionHandle<App>),
    ) -> Option<String> {
        let header = token.map(|t| format!("session={t}"));
        let mut handle = run(manager.load::<App>(header.as_deref())).expect("load");
        change(&mut handle);
        run(manager.save(&mut handle))
            .expect("save")
            .map(|c| c.value().to_owned())
    }

    #[test]
    fn store_mode_logs_created_renewed_ended_and_user_sessions_ended_once_each() {
        let manager = manager(true);
        let mut token = None;
        let created = events(|| {
            token = request(&manager, None, |s| s.data_mut().visits = 1);
        });
        let token = token.expect("a cookie");
        assert_eq!(created.len(), 1, "{created:?}");
        assert!(created[0].contains("session created"), "{created:?}");
        let first = field(&created[0], "session").to_owned();
        assert!(is_ref(&first), "{created:?}");

        // Updates and refreshes are not lifecycle events.
        assert!(
            events(|| {
                request(&manager, Some(&token), |s| s.data_mut().visits = 2);
            })
            .is_empty()
        );

        let mut renewed_token = None;
        let renewed = events(|| {
            renewed_token = request(&manager, Some(&token), |s| {
                s.renew();
                s.set_user_key("alice").expect("store mode");
            });
        });
        let renewed_token = renewed_token.expect("a new id");
        assert_eq!(renewed.len(), 1, "{renewed:?}");
        assert!(renewed[0].contains("session renewed"), "{renewed:?}");
        assert_eq!(field(&renewed[0], "previous"), first, "{renewed:?}");
        let second = field(&renewed[0], "session").to_owned();
        assert!(is_ref(&second) && second != first, "{renewed:?}");

        let ended = events(|| {
            request(&manager, Some(&renewed_token), crate::SessionHandle::logout);
        });
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert!(
            ended[0].contains("session ended") && ended[0].contains("cause=\"logout\""),
            "{ended:?}"
        );
        assert_eq!(field(&ended[0], "session"), second);

        let phone = request(&manager, None, |s| {
            s.set_user_key("alice").expect("store mode");
        })
        .expect("login");
        request(&manager, None, |s| {
            s.set_user_key("alice").expect("store mode");
        })
        .expect("login");
        let all = events(|| {
            let header = format!("session={phone}");
            let mut handle = run(manager.load::<App>([header.as_str()])).expect("load");
            assert_eq!(
                run(manager.end_other_sessions(&mut handle)).expect("end"),
                1
            );
            assert_eq!(run(manager.end_user_sessions("alice")).expect("end"), 1);
        });
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(
            all.iter().all(|l| l.contains("user's sessions ended")),
            "{all:?}"
        );
        assert!(all[0].contains("ended=1") && is_ref(field(&all[0], "kept")));
        assert!(is_ref(field(&all[1], "user")) && !all[1].contains("kept="));

        // Never the id, the token or the user key.
        let logged = [created, renewed, ended, all].concat().join("\n");
        for secret in [
            token.as_str(),
            renewed_token.as_str(),
            phone.as_str(),
            "alice",
        ] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
    }

    #[test]
    fn cookie_mode_logs_created_renewed_and_ended_by_a_reference_to_the_mac() {
        let manager = manager(false);
        let mut token = None;
        let created = events(|| {
            token = request(&manager, None, |s| s.data_mut().visits = 1);
        });
        let token = token.expect("a cookie");
        assert_eq!(created.len(), 1, "{created:?}");
        assert!(created[0].contains("session created"), "{created:?}");
        let first = field(&created[0], "session").to_owned();
        assert!(is_ref(&first));

        assert!(
            events(|| {
                request(&manager, Some(&token), |s| s.data_mut().visits = 2);
            })
            .is_empty()
        );

        let mut renewed_token = None;
        let renewed = events(|| {
            renewed_token = request(&manager, Some(&token), |s| {
                s.renew();
                s.data_mut().user = Some("alice".into());
            });
        });
        let renewed_token = renewed_token.expect("a new token");
        assert_eq!(renewed.len(), 1, "{renewed:?}");
        assert!(renewed[0].contains("session renewed"), "{renewed:?}");
        assert_eq!(field(&renewed[0], "previous"), first);
        let second = field(&renewed[0], "session").to_owned();
        assert_ne!(second, first);

        let ended = events(|| {
            request(&manager, Some(&renewed_token), crate::SessionHandle::logout);
        });
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert!(ended[0].contains("session ended"), "{ended:?}");
        assert_eq!(
            field(&ended[0], "session"),
            second,
            "the same reference as at renewal"
        );

        let logged = [created, renewed, ended].concat().join("\n");
        for secret in [&token[..16], &renewed_token[..16]] {
            assert!(!logged.contains(secret), "{secret} in {logged}");
        }
    }
}
