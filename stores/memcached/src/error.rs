//! Why an operation failed: the internal [`Fail`], and how it becomes a [`StoreError`].

use std::io;
use std::time::Duration;

use async_memcached::Error as McError;

use session_core::store::StoreError;

use crate::commands::CAS_ATTEMPTS;

/// Why an operation failed, before it becomes a [`StoreError`].
#[derive(Debug)]
pub(crate) enum Fail {
    Memcached(McError),
    Store(StoreError),
}

impl From<McError> for Fail {
    fn from(error: McError) -> Self {
        Self::Memcached(error)
    }
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Fail {
    /// The connection broke (as it does on a kept connection after memcached restarted).
    pub(crate) fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Memcached(McError::Io(_) | McError::ConnectionClosed)
        )
    }

    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Self::Memcached(error) => StoreError::unavailable(error),
            Self::Store(error) => error,
        }
    }
}

pub(crate) fn failure(message: String) -> Fail {
    Fail::Store(StoreError::unavailable(io::Error::other(message)))
}

pub(crate) fn contention(what: &str) -> Fail {
    failure(format!(
        "{what}: memcached kept changing under {CAS_ATTEMPTS} attempts"
    ))
}

pub(crate) fn timed_out(timeout: Duration) -> StoreError {
    StoreError::unavailable(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("memcached did not answer within {timeout:?}"),
    ))
}
