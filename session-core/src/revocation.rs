//! Revoking sessions the signature and deadlines still accept: the application's own check,
//! run on every load before the handler ([`SessionConfig::revoke_if`]).
//!
//! [`SessionConfig::revoke_if`]: crate::SessionConfig::revoke_if

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::schema::SessionData;

/// A check on sessions of one type: `true` revokes.
type Check = Arc<dyn Fn(&dyn Any, OffsetDateTime) -> bool + Send + Sync>;

/// The checks of a configuration, by session type.
#[derive(Clone, Default)]
pub(crate) struct Revocations {
    checks: Vec<(TypeId, Check)>,
}

impl Revocations {
    /// Adds a check for sessions of `T`.
    pub(crate) fn add<T: SessionData>(
        &mut self,
        check: impl Fn(&T, OffsetDateTime) -> bool + Send + Sync + 'static,
    ) {
        let check: Check = Arc::new(move |session: &dyn Any, issued_at| {
            session
                .downcast_ref::<T>()
                .is_some_and(|session| check(session, issued_at))
        });
        self.checks.push((TypeId::of::<T>(), check));
    }

    /// Whether a check for `T` revokes `session`, issued at `issued_at` (Unix seconds).
    pub(crate) fn revokes<T: SessionData>(&self, session: &T, issued_at: i64) -> bool {
        if self.checks.is_empty() {
            return false;
        }
        let Ok(issued_at) = OffsetDateTime::from_unix_timestamp(issued_at) else {
            return false;
        };
        let ty = TypeId::of::<T>();
        self.checks
            .iter()
            .any(|(of, check)| *of == ty && check(session, issued_at))
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} revocation check(s)", self.checks.len())
    }
}
